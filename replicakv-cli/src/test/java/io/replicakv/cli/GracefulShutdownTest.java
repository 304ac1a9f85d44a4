package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM is a clean stop: the node stops accepting, finishes what it read, syncs the log and exits
 * with 0 within {@link ServerProcess#STOP_DEADLINE}. Even under {@code fsync=never}, where nothing
 * forces the log to disk while running, every acknowledged write is in the log after the exit.
 */
class GracefulShutdownTest {
  /** Keys written before the SIGTERM in the quiet test. */
  static final int KEYS = 1_000;

  /** Acknowledged writes before the SIGTERM in the busy test. */
  static final int ACKED_WRITES_BEFORE_STOP = 1_000;

  @TempDir Path tmp;
  private final List<ServerProcess> servers = new ArrayList<>();

  @AfterEach
  void stopServers() {
    servers.forEach(ServerProcess::close);
  }

  @Test
  void sigtermExitsZeroAndKeepsEveryWriteUnderFsyncNever() throws Exception {
    Path data = tmp.resolve("data");
    ServerProcess first = start(data, "--fsync=never");
    try (RespConnection c = first.connect()) {
      for (int i = 0; i < KEYS; i++) {
        assertThat(c.call("SET", "quiet:" + i, "v" + i)).isEqualTo("OK");
      }
      assertThat(c.call("HSET", "quiet:hash", "f", "hv")).isEqualTo(1L);
      assertThat(c.call("SADD", "quiet:set", "a", "b")).isEqualTo(2L);
    }
    long started = System.nanoTime();
    assertThat(first.terminate()).as("exit code after SIGTERM:\n%s", first.output()).isZero();
    long stopMillis = (System.nanoTime() - started) / 1_000_000;
    assertThat(stopMillis).isLessThan(ServerProcess.STOP_DEADLINE.toMillis());
    assertThat(first.output()).contains("log synced");

    ServerProcess second = start(data, "--fsync=never");
    try (RespConnection c = second.connect()) {
      assertThat(c.call("DBSIZE")).isEqualTo((long) KEYS + 2);
      for (int i = 0; i < KEYS; i++) {
        assertThat(c.call("GET", "quiet:" + i)).isEqualTo("v" + i);
      }
      assertThat(c.call("HGET", "quiet:hash", "f")).isEqualTo("hv");
      assertThat(c.call("SISMEMBER", "quiet:set", "b")).isEqualTo(1L);
    }
  }

  @Test
  void sigtermDuringWritesKeepsEveryAcknowledgedWrite() throws Exception {
    Path data = tmp.resolve("data");
    ServerProcess first = start(data, "--fsync=never");
    AtomicInteger acked = new AtomicInteger();
    List<CrashRecoveryTest.Writer> writers = new ArrayList<>();
    for (int w = 0; w < CrashRecoveryTest.WRITERS; w++) {
      writers.add(new CrashRecoveryTest.Writer(w, first.port(), acked, false));
    }
    writers.forEach(Thread::start);
    await("acknowledged writes")
        .atMost(Duration.ofSeconds(60))
        .until(() -> acked.get() >= ACKED_WRITES_BEFORE_STOP || !first.isAlive());
    assertThat(first.terminate()).as("exit code after SIGTERM:\n%s", first.output()).isZero();
    for (CrashRecoveryTest.Writer w : writers) {
      w.join(ServerProcess.STOP_DEADLINE.toMillis());
      assertThat(w.isAlive()).isFalse();
      assertThat(w.unexpected).as("writer %s failure", w.id).isNull();
    }

    ServerProcess second = start(data, "--fsync=never");
    try (RespConnection c = second.connect()) {
      for (CrashRecoveryTest.Writer w : writers) {
        for (int i : w.ackedSets) {
          assertThat(c.call("GET", CrashRecoveryTest.key(w.id, i)))
              .as("GET %s", CrashRecoveryTest.key(w.id, i))
              .isEqualTo(CrashRecoveryTest.value(w.id, i));
        }
        Object counter = c.call("GET", "counter:" + w.id);
        long count = counter == null ? 0 : Long.parseLong((String) counter);
        assertThat(count).isBetween(w.ackedIncrements, w.sentIncrements);
      }
    }
  }

  @Test
  void shutdownCommandStopsLikeSigtermAndKeepsEveryWrite() throws Exception {
    Path data = tmp.resolve("shutdown");
    ServerProcess first = start(data, "--fsync=never");
    try (RespConnection c = first.connect()) {
      for (int i = 0; i < KEYS; i++) {
        assertThat(c.call("SET", "shut:" + i, "v" + i)).isEqualTo("OK");
      }
      assertThat(c.call("SHUTDOWN", "NOSAVE", "NOW")).isEqualTo("OK");
    }
    assertThat(first.awaitExit()).as("exit code after SHUTDOWN:\n%s", first.output()).isZero();
    assertThat(first.output()).contains("log synced");
    ServerProcess second = start(data, "--fsync=never");
    try (RespConnection c = second.connect()) {
      assertThat(c.call("DBSIZE")).isEqualTo((long) KEYS);
      assertThat(c.call("GET", "shut:" + (KEYS - 1))).isEqualTo("v" + (KEYS - 1));
      assertThat(c.call("SHUTDOWN", "LATER").toString()).contains("syntax error");
      assertThat(c.call("SHUTDOWN", "ABORT").toString()).contains("No shutdown in progress");
    }
    assertThat(second.isAlive()).isTrue();
  }

  private ServerProcess start(Path data, String... args) throws IOException {
    ServerProcess s = ServerProcess.start(data, args);
    servers.add(s);
    return s;
  }
}
