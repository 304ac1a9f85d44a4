package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.config.ServerConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * The process-test writer against one real server in this JVM (loopback, dynamic port): what it
 * records as acknowledged reads back; error replies are skipped and counted, retried, or end it
 * with a failure that {@link AckedWriter#stopAndCheck} reports; a lost connection either fails it
 * or, with a reconnect condition, is followed by writes to the restarted server, and every key then
 * holds its acknowledged value or one whose outcome was unknown.
 */
class AckedWriterTest {
  static final Duration DEADLINE = Duration.ofMinutes(2);

  /** Keys the writers cycle through, so that later writes overwrite earlier ones. */
  static final int KEYS = 20;

  /** Value size that fills a 1 MB maxmemory within about a hundred writes. */
  static final int BIG_VALUE_BYTES = 10 * 1024;

  @TempDir Path dir;
  private ReplicaKvServer server;

  @BeforeEach
  void startServer() throws Exception {
    server = start();
  }

  @AfterEach
  void stopServer() {
    if (server != null) {
      server.close();
    }
  }

  private ReplicaKvServer start() throws Exception {
    return new ReplicaKvServer(
            ServerConfig.load(
                null,
                Map.of(
                    "port", "0",
                    "http-port", "0",
                    "peer-port", "0",
                    "bind", "127.0.0.1",
                    "data-dir", dir.resolve("n1").toString())))
        .start();
  }

  private Jedis client() {
    return new Jedis("127.0.0.1", server.port(), 30_000);
  }

  @Test
  void everyAcknowledgedWriteReadsBackWithItsLastValue() throws Exception {
    AckedWriter writer =
        AckedWriter.throughPort(server.port()).keys(n -> "k" + n % KEYS).name("plain").start();
    writer.awaitAcknowledged(KEYS, DEADLINE);
    await().atMost(DEADLINE).until(() -> writer.acknowledgedWrites() >= 10L * KEYS);
    long acknowledged = writer.stopAndCheck();
    assertThat(acknowledged).isGreaterThanOrEqualTo(10L * KEYS);
    assertThat(writer.acknowledged).hasSize(KEYS);
    assertThat(writer.uncertain).isEmpty();
    assertThat(writer.errorCounts()).isEmpty();
    try (Jedis j = client()) {
      writer.acknowledged.forEach((k, v) -> assertThat(j.get(k)).as(k).isEqualTo(v));
    }
  }

  @Test
  void errorRepliesAreSkippedAndCountedOrEndTheWriterWithAFailure() throws Exception {
    try (Jedis j = client()) {
      assertThat(j.configSet("maxmemory", "1mb")).isEqualTo("OK");
    }
    String big = "x".repeat(BIG_VALUE_BYTES);
    AckedWriter skipping =
        AckedWriter.throughPort(server.port())
            .keys(n -> "big" + n)
            .values(n -> big + n)
            .name("skipping")
            .start();
    await("OOM replies counted")
        .atMost(DEADLINE)
        .until(() -> skipping.errorCounts().getOrDefault("OOM", 0L) >= 10);
    skipping.stopAndCheck();
    assertThat(skipping.acknowledged).isNotEmpty();
    assertThat(skipping.distinctErrors()).anyMatch(e -> e.startsWith("OOM"));
    try (Jedis j = client()) {
      skipping.acknowledged.forEach((k, v) -> assertThat(j.get(k)).as(k).isEqualTo(v));
    }

    AckedWriter failing =
        AckedWriter.throughPort(server.port())
            .keys(n -> "other" + n)
            .values(n -> big + n)
            .retryOnly("TRYAGAIN")
            .name("failing")
            .start();
    await("the writer ends on OOM").atMost(DEADLINE).until(failing::isDone);
    assertThat(failing.failure())
        .isInstanceOf(JedisDataException.class)
        .hasMessageStartingWith("OOM");
    assertThatThrownBy(failing::stopAndCheck)
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("writer failure");
  }

  @Test
  void aLostConnectionFailsTheWriterUnlessItMayReconnect() throws Exception {
    AckedWriter strict =
        AckedWriter.throughPort(server.port()).keys(n -> "s" + n % KEYS).name("strict").start();
    AtomicInteger port = new AtomicInteger(server.port());
    AtomicBoolean up = new AtomicBoolean(true);
    AckedWriter patient =
        AckedWriter.through(() -> new Jedis("127.0.0.1", port.get(), 30_000))
            .keys(n -> "p" + n % KEYS)
            .reconnectWhen(up::get, DEADLINE)
            .name("patient")
            .start();
    strict.awaitAcknowledged(KEYS, DEADLINE);
    patient.awaitAcknowledged(KEYS, DEADLINE);

    up.set(false);
    server.close();
    server = null;
    await("the strict writer ends").atMost(DEADLINE).until(strict::isDone);
    assertThat(strict.failure()).isInstanceOf(JedisConnectionException.class);
    assertThat(strict.errorCounts()).containsKey(AckedWriter.CONNECTION);
    assertThatThrownBy(strict::stopAndCheck).isInstanceOf(AssertionError.class);

    // the same data directory on a new port: the patient writer reconnects and goes on
    server = start();
    patient.markFault();
    port.set(server.port());
    up.set(true);
    await("writes after the restart")
        .atMost(DEADLINE)
        .until(() -> patient.acknowledgedAfterFault() >= 10L * KEYS);
    patient.stopAndCheck();
    assertThat(patient.isDone()).isTrue();
    assertThat(patient.errorCounts()).containsKey(AckedWriter.CONNECTION);
    try (Jedis j = client()) {
      for (Map.Entry<String, String> write : patient.acknowledged.entrySet()) {
        Set<String> possible =
            new HashSet<>(patient.uncertain.getOrDefault(write.getKey(), Set.of()));
        possible.add(write.getValue());
        assertThat(j.get(write.getKey())).as(write.getKey()).isIn(possible);
      }
    }
  }
}
