package io.replicakv.cli;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Plain HTTP GETs against a node's admin port, and a reader for single Prometheus samples. */
final class Http {
  /** How long one admin request may take. */
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

  record Response(int status, String contentType, String connection, String body) {}

  private Http() {}

  /**
   * One GET over a fresh connection. HttpURLConnection rather than java.net.http.HttpClient: one
   * HttpClient shared by all test classes failed later connects with ClosedChannelException in
   * full-suite runs (cause not pinned down; a fresh synchronous connection avoids the question).
   */
  static Response get(int port, String path) throws IOException {
    HttpURLConnection c =
        (HttpURLConnection) URI.create("http://127.0.0.1:" + port + path).toURL().openConnection();
    c.setConnectTimeout((int) REQUEST_TIMEOUT.toMillis());
    c.setReadTimeout((int) REQUEST_TIMEOUT.toMillis());
    c.setUseCaches(false);
    try {
      int status = c.getResponseCode();
      InputStream body = status >= 400 ? c.getErrorStream() : c.getInputStream();
      String text = body == null ? "" : new String(body.readAllBytes(), StandardCharsets.UTF_8);
      return new Response(
          status,
          Objects.requireNonNullElse(c.getHeaderField("Content-Type"), ""),
          Objects.requireNonNullElse(c.getHeaderField("Connection"), ""),
          text);
    } finally {
      c.disconnect();
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
