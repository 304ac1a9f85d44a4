package io.replicakv.cli;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Plain HTTP GETs against a node's admin port, and a reader for single Prometheus samples. */
final class Http {
  /** How long one admin request may take. */
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

  private static final HttpClient CLIENT =
      HttpClient.newBuilder().connectTimeout(REQUEST_TIMEOUT).build();

  record Response(int status, String contentType, String connection, String body) {}

  private Http() {}

  static Response get(int port, String path) throws IOException {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(REQUEST_TIMEOUT)
            .GET()
            .build();
    try {
      HttpResponse<String> r = CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
      return new Response(
          r.statusCode(),
          r.headers().firstValue("content-type").orElse(""),
          r.headers().firstValue("connection").orElse(""),
          r.body());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /**
   * The value of the first sample whose name and labels are exactly {@code series} (e.g. {@code
   * replicakv_snapshots_total} or {@code replicakv_commands_total{command="set"}}), or NaN.
   */
  static double sample(String metricsText, String series) {
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(series) + " ([-+0-9.eE]+|NaN)$")
            .matcher(metricsText);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  static double metric(int port, String series) throws IOException {
    return sample(get(port, "/metrics").body(), series);
  }
}
