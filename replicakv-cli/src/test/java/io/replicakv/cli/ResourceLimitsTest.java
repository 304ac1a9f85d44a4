package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * maxclients, maxmemory and client-output-buffer-limit against a real server process (heap {@link
 * ServerProcess#CHILD_HEAP}): each limit refuses what passes it with Redis's error, and the server
 * keeps serving everybody else.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ResourceLimitsTest {
  /** Deadline for connection counts and disconnects to show in the metrics. */
  static final Duration SETTLE_DEADLINE = Duration.ofSeconds(10);

  /** Value size for the maxmemory fill. */
  static final int FILL_VALUE_BYTES = 10 * 1024;

  /** SETs the fill may take before it must have met -OOM (1 MB / 10 KB = about 100). */
  static final int FILL_WRITES_MAX = 1_000;

  /** Size of the key that the slow reader asks for again and again. */
  static final int BIG_VALUE_BYTES = 1 << 20;

  /** GETs of the big key the slow reader pipelines: 2 GB of replies if all were kept. */
  static final int SLOW_READER_GETS = 2_000;

  /** RSS the server may gain while a client refuses to read its replies. */
  static final long SLOW_READER_RSS_GROWTH_MAX_BYTES = 160L << 20;

  /** Value size for the never-reading client under the default (256mb) limit. */
  static final int MEDIUM_VALUE_BYTES = 16 * 1024;

  /** Batches of 1,000 GETs that client tries to send: 32 GB of replies if all were produced. */
  static final int MEDIUM_BATCHES = 2_000;

  /** RSS the server may gain before the never-reading client's reads pause (one read batch). */
  static final long PAUSED_READER_RSS_GROWTH_MAX_BYTES = 400L << 20;

  static final String GET_SERIES = "replicakv_commands_total{command=\"get\"}";

  private Path tmp;
  private ServerProcess server;
  private RespConnection admin;

  @BeforeAll
  void startServer() throws IOException {
    tmp = Files.createTempDirectory("replicakv-limits");
    server = ServerProcess.start(tmp.resolve("data"), "--fsync=never");
  }

  @AfterAll
  void stopServer() throws IOException {
    server.close();
    ServerProcess.deleteTree(tmp);
  }

  @BeforeEach
  void connectAdmin() throws IOException {
    admin = server.connect();
    assertThat(admin.call("FLUSHALL")).isEqualTo("OK");
  }

  @AfterEach
  void resetLimits() throws IOException {
    assertThat(server.isAlive()).as(server.output()).isTrue();
    try (RespConnection c = server.connect()) {
      assertThat(c.call("CONFIG", "SET", "maxclients", "10000")).isEqualTo("OK");
      assertThat(c.call("CONFIG", "SET", "maxmemory", "0")).isEqualTo("OK");
      assertThat(c.call("CONFIG", "SET", "client-output-buffer-limit", "256mb")).isEqualTo("OK");
    }
    admin.close();
  }

  @Test
  void connectionPastMaxclientsIsRefusedWithRedisError() throws IOException {
    awaitConnectedClients(1);
    assertThat(admin.call("CONFIG", "SET", "maxclients", "5")).isEqualTo("OK");
    List<RespConnection> clients = new ArrayList<>();
    try {
      for (int i = 0; i < 4; i++) {
        RespConnection c = server.connect();
        clients.add(c);
        assertThat(c.call("PING")).isEqualTo("PONG");
      }
      try (RespConnection sixth = server.connect()) {
        assertThat(sixth.read())
            .isEqualTo(new RespConnection.Error("ERR max number of clients reached"));
        assertThat(sixth.closedByServer(5_000)).isTrue();
      }
      clients.removeFirst().close();
      awaitConnectedClients(4);
      try (RespConnection again = server.connect()) {
        assertThat(again.call("PING")).isEqualTo("PONG");
      }
      assertThat(Http.metric(server.httpPort(), "replicakv_connections_rejected_total"))
          .isGreaterThanOrEqualTo(1);
    } finally {
      for (RespConnection c : clients) {
        c.close();
      }
    }
  }

  @Test
  void writesPastMaxmemoryGetOomWhileReadsAndDeletesGoOn() throws IOException {
    assertThat(admin.call("CONFIG", "SET", "maxmemory", "1mb")).isEqualTo("OK");
    String value = "m".repeat(FILL_VALUE_BYTES);
    int written = 0;
    Object reply = null;
    while (written < FILL_WRITES_MAX) {
      reply = admin.call("SET", "fill:" + written, value);
      if (!"OK".equals(reply)) {
        break;
      }
      written++;
    }
    assertThat(reply)
        .isEqualTo(
            new RespConnection.Error("OOM command not allowed when used memory > 'maxmemory'."));
    assertThat(written).isBetween(1, FILL_WRITES_MAX - 1);
    assertThat(admin.call("GET", "fill:0")).isEqualTo(value);
    assertThat(admin.call("DBSIZE")).isEqualTo((long) written);
    assertThat(admin.call("DEL", "fill:0", "fill:1")).isEqualTo(2L);
    assertThat(admin.call("EXISTS", "fill:0")).isEqualTo(0L);
    assertThat(Http.metric(server.httpPort(), "replicakv_oom_rejections_total"))
        .isGreaterThanOrEqualTo(1);
    // Freed memory takes writes again.
    assertThat(admin.call("SET", "fill:0", "small")).isEqualTo("OK");
  }

  @Test
  void clientThatNeverReadsIsDisconnectedAndOthersGoOn() throws Exception {
    assertThat(admin.call("CONFIG", "SET", "client-output-buffer-limit", "8mb")).isEqualTo("OK");
    assertThat(admin.call("SET", "bigkey", "b".repeat(BIG_VALUE_BYTES))).isEqualTo("OK");
    long rssBefore = server.residentBytes();
    double disconnectsBefore =
        Http.metric(server.httpPort(), "replicakv_output_limit_disconnects_total");
    try (RespConnection slow = server.connect()) {
      slow.setReceiveBufferBytes(4096);
      byte[] pipeline =
          "GET bigkey\r\n".repeat(SLOW_READER_GETS).getBytes(StandardCharsets.US_ASCII);
      slow.send(pipeline);
      // Meanwhile another client is served.
      try (RespConnection other = server.connect()) {
        assertThat(other.call("SET", "small", "1")).isEqualTo("OK");
        assertThat(other.call("GET", "small")).isEqualTo("1");
        assertThat(other.call("STRLEN", "bigkey")).isEqualTo((long) BIG_VALUE_BYTES);
      }
      await("slow reader disconnected")
          .atMost(SETTLE_DEADLINE)
          .until(
              () ->
                  Http.metric(server.httpPort(), "replicakv_output_limit_disconnects_total")
                      > disconnectsBefore);
      long rssAfter = server.residentBytes();
      if (rssBefore > 0 && rssAfter > 0) {
        System.out.printf(
            "slow reader: server RSS %d MB -> %d MB%n", rssBefore >> 20, rssAfter >> 20);
        assertThat(rssAfter - rssBefore).isLessThan(SLOW_READER_RSS_GROWTH_MAX_BYTES);
      }
      assertThat(slow.closedByServer(10_000)).isTrue();
    }
    assertThat(admin.call("GET", "small")).isEqualTo("1");
  }

  @Test
  void clientThatNeverReadsUnderDefaultLimitDoesNotExhaustTheServer() throws Exception {
    String medium = "d".repeat(MEDIUM_VALUE_BYTES);
    assertThat(admin.call("SET", "medium", medium)).isEqualTo("OK");
    long rssBefore = server.residentBytes();
    try (RespConnection slow = server.connect()) {
      slow.setReceiveBufferBytes(4096);
      Thread sender =
          Thread.ofPlatform()
              .daemon()
              .start(
                  () -> {
                    byte[] batch =
                        "GET medium\r\n".repeat(1_000).getBytes(StandardCharsets.US_ASCII);
                    try {
                      for (int i = 0; i < MEDIUM_BATCHES; i++) {
                        slow.send(batch);
                      }
                    } catch (IOException e) {
                      // disconnected: allowed
                    }
                  });
      // The server protects itself by pausing reads (or disconnecting): the GET count settles.
      double[] lastGets = {-1};
      await("server stops producing replies for the never-reading client")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(500))
          .until(
              () -> {
                double gets = Http.metric(server.httpPort(), GET_SERIES);
                boolean settled = gets == lastGets[0];
                lastGets[0] = gets;
                return settled;
              });
      assertThat(lastGets[0]).isLessThan(MEDIUM_BATCHES * 1_000.0);
      for (int i = 0; i < 20; i++) {
        try (RespConnection other = server.connect()) {
          assertThat(other.call("SET", "small", "" + i)).isEqualTo("OK");
          assertThat(other.call("GET", "small")).isEqualTo("" + i);
        }
      }
      long rssAfter = server.residentBytes();
      System.out.printf(
          "never-reading client, default limit: %.0f GETs answered, server RSS %d MB -> %d MB%n",
          lastGets[0], rssBefore >> 20, rssAfter >> 20);
      if (rssBefore > 0 && rssAfter > 0) {
        assertThat(rssAfter - rssBefore).isLessThan(PAUSED_READER_RSS_GROWTH_MAX_BYTES);
      }
      assertThat(server.isAlive()).as(server.output()).isTrue();
      slow.close();
      sender.join(SETTLE_DEADLINE.toMillis());
    }
    assertThat(server.output()).doesNotContain("OutOfMemoryError");
    assertThat(admin.call("GET", "small")).isEqualTo("19");
  }

  private void awaitConnectedClients(int expected) {
    await("connected clients = " + expected)
        .atMost(SETTLE_DEADLINE)
        .until(() -> Http.metric(server.httpPort(), "replicakv_connected_clients") == expected);
  }
}
