package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The HTTP admin port of a real server process: health, Prometheus metrics, INFO as JSON. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdminHttpTest {
  /** Requests sent back to back over one pooled HTTP client. */
  static final int SEQUENTIAL_REQUESTS = 20;

  private static final ObjectMapper JSON = new ObjectMapper();

  private Path tmp;
  private ServerProcess server;

  @BeforeAll
  void startServer() throws IOException {
    tmp = Files.createTempDirectory("replicakv-http");
    server = ServerProcess.start(tmp.resolve("data"), "--fsync=always");
  }

  @AfterAll
  void stopServer() throws IOException {
    server.close();
    ServerProcess.deleteTree(tmp);
  }

  @Test
  void healthIsOkJson() throws IOException {
    Http.Response r = Http.get(server.httpPort(), "/health");
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.contentType()).startsWith("application/json");
    assertThat(JSON.readTree(r.body()).path("status").asText()).isEqualTo("ok");
  }

  @Test
  void metricsCountSetsAndShowLogAndSnapshotState() throws IOException {
    String before = Http.get(server.httpPort(), "/metrics").body();
    double setsBefore = Http.sample(before, "replicakv_commands_total{command=\"set\"}");
    try (RespConnection c = server.connect()) {
      assertThat(c.call("SET", "metric-key", "v")).isEqualTo("OK");
      assertThat(c.call("SET", "metric-key", "w")).isEqualTo("OK");
    }
    Http.Response r = Http.get(server.httpPort(), "/metrics");
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.contentType()).startsWith("text/plain");
    String text = r.body();
    double sets = Http.sample(text, "replicakv_commands_total{command=\"set\"}");
    assertThat(sets).isEqualTo((Double.isNaN(setsBefore) ? 0 : setsBefore) + 2);
    // fsync=always: the two writes were synced before their replies.
    assertThat(Http.sample(text, "replicakv_log_fsyncs_total")).isGreaterThanOrEqualTo(1);
    assertThat(Http.sample(text, "replicakv_snapshot_age_seconds")).isNotNaN();
    assertThat(text).contains("# TYPE replicakv_commands_total counter");
  }

  @Test
  void adminInfoIsJsonWithKeyspace() throws IOException {
    try (RespConnection c = server.connect()) {
      assertThat(c.call("SET", "info-key", "v")).isEqualTo("OK");
      assertThat(c.call("SELECT", "3")).isEqualTo("OK");
      assertThat(c.call("SET", "info-key-3", "v")).isEqualTo("OK");
    }
    Http.Response r = Http.get(server.httpPort(), "/admin/info");
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.contentType()).startsWith("application/json");
    JsonNode info = JSON.readTree(r.body());
    assertThat(info.path("keyspace").isObject()).as(r.body()).isTrue();
    assertThat(info.path("keyspace").path("db0").asText()).startsWith("keys=");
    assertThat(info.path("keyspace").path("db3").asText()).startsWith("keys=1");
    assertThat(info.path("server").path("tcp_port").asText()).isEqualTo("" + server.port());
  }

  /**
   * The admin port closes after each response, so it must say {@code Connection: close} (RFC 9112
   * section 9.6); else a keep-alive client may reuse the socket the server is closing.
   */
  @Test
  void backToBackRequestsFromOneKeepAliveClientAllSucceed() throws IOException {
    for (int i = 0; i < SEQUENTIAL_REQUESTS; i++) {
      Http.Response r = Http.get(server.httpPort(), i % 2 == 0 ? "/health" : "/metrics");
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.connection()).isEqualToIgnoringCase("close");
    }
  }

  @Test
  void unknownPathIs404() throws IOException {
    assertThat(Http.get(server.httpPort(), "/nope").status()).isEqualTo(404);
  }
}
