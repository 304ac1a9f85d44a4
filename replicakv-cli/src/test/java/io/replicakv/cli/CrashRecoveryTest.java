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
 * Crash safety under {@code fsync=always}: every write the server acknowledged survives kill -9.
 *
 * <p>Four writer connections each alternate {@code SET crash:W:I <value>} (every key written once,
 * with a value that names it) and {@code INCR counter:W}, recording what the server acknowledged.
 * Once at least {@link #ACKED_WRITES_BEFORE_KILL} writes are acknowledged the server gets SIGKILL
 * while writes are still in flight. The restarted server, on the same data folder, must return
 * every acknowledged SET with its exact value and every counter at least at its acknowledged
 * increments (an increment that was logged but whose reply was lost may count too; never more than
 * the increments sent).
 */
class CrashRecoveryTest {
  /** Acknowledged writes (SET + INCR, all connections) before the kill. */
  static final int ACKED_WRITES_BEFORE_KILL = 2_000;

  /** Writer connections. */
  static final int WRITERS = 4;

  /** Upper bound on operations per writer, so a server that never dies cannot hang the test. */
  static final int OPERATIONS_PER_WRITER_MAX = 20_000;

  /** Padding that makes each SET record about 100 bytes, so the log grows past snapshot sizes. */
  static final String PADDING = "x".repeat(64);

  /** Deadline for the writers to reach {@link #ACKED_WRITES_BEFORE_KILL}. */
  static final Duration WRITE_DEADLINE = Duration.ofSeconds(60);

  @TempDir Path tmp;
  private final List<ServerProcess> servers = new ArrayList<>();

  @AfterEach
  void stopServers() {
    servers.forEach(ServerProcess::close);
  }

  @Test
  void acknowledgedWritesSurviveKillNine() throws Exception {
    Path data = tmp.resolve("data");
    ServerProcess first = start(data, "--fsync=always");
    List<Writer> writers = writeUntilKilled(first, false);
    assertAcknowledgedWritesPresent(start(data, "--fsync=always"), writers);
  }

  @Test
  void acknowledgedWritesSurviveKillNineWhileSnapshotsAreTaken() throws Exception {
    Path data = tmp.resolve("data");
    String[] args = {
      "--fsync=always", "--set", "snapshot-log-size=64kb", "--set", "log-segment-size=32kb"
    };
    ServerProcess first = start(data, args);
    List<Writer> writers = writeUntilKilled(first, true);
    ServerProcess second = start(data, args);
    assertAcknowledgedWritesPresent(second, writers);
  }

  private ServerProcess start(Path data, String... args) throws IOException {
    ServerProcess s = ServerProcess.start(data, args);
    servers.add(s);
    return s;
  }

  /** Runs the writers, kills the server once enough writes are acknowledged, joins the writers. */
  private List<Writer> writeUntilKilled(ServerProcess server, boolean withSnapshots)
      throws Exception {
    AtomicInteger acked = new AtomicInteger();
    List<Writer> writers = new ArrayList<>();
    for (int w = 0; w < WRITERS; w++) {
      writers.add(new Writer(w, server.port(), acked, withSnapshots && w == 0));
    }
    writers.forEach(Thread::start);
    await("acknowledged writes")
        .atMost(WRITE_DEADLINE)
        .until(
            () -> {
              if (!server.isAlive()) {
                throw new AssertionError("server died on its own:\n" + server.output());
              }
              return acked.get() >= ACKED_WRITES_BEFORE_KILL
                  && (!withSnapshots
                      || Http.metric(server.httpPort(), "replicakv_snapshots_total") >= 2);
            });
    double snapshots = Http.metric(server.httpPort(), "replicakv_snapshots_total");
    server.kill9();
    System.out.printf(
        "kill -9 after %d acknowledged writes (%d snapshots taken)%n",
        acked.get(), (long) snapshots);
    for (Writer w : writers) {
      w.join(WRITE_DEADLINE.toMillis());
      assertThat(w.isAlive()).as("writer %s stopped after the kill", w.id).isFalse();
      assertThat(w.unexpected).as("writer %s failure", w.id).isNull();
    }
    assertThat(acked.get()).isGreaterThanOrEqualTo(ACKED_WRITES_BEFORE_KILL);
    return writers;
  }

  private static void assertAcknowledgedWritesPresent(ServerProcess server, List<Writer> writers)
      throws IOException {
    try (RespConnection c = server.connect()) {
      for (Writer w : writers) {
        for (int i : w.ackedSets) {
          Object value = c.call("GET", key(w.id, i));
          assertThat(value).as("GET %s after the crash", key(w.id, i)).isEqualTo(value(w.id, i));
        }
        Object counter = c.call("GET", "counter:" + w.id);
        long count = counter == null ? 0 : Long.parseLong((String) counter);
        assertThat(count)
            .as("counter:%s after the crash", w.id)
            .isGreaterThanOrEqualTo(w.ackedIncrements)
            .isLessThanOrEqualTo(w.sentIncrements);
      }
    }
  }

  static String key(int writer, int i) {
    return "crash:" + writer + ":" + i;
  }

  static String value(int writer, int i) {
    return "value-" + writer + "-" + i + "-" + PADDING;
  }

  /** One connection writing until the server goes away. */
  static final class Writer extends Thread {
    final int id;
    private final int port;
    private final AtomicInteger acked;
    private final boolean requestSnapshots;
    final List<Integer> ackedSets = new ArrayList<>();
    long ackedIncrements;
    long sentIncrements;
    volatile Throwable unexpected;

    Writer(int id, int port, AtomicInteger acked, boolean requestSnapshots) {
      super("crash-writer-" + id);
      this.id = id;
      this.port = port;
      this.acked = acked;
      this.requestSnapshots = requestSnapshots;
    }

    @Override
    public void run() {
      try (RespConnection c = new RespConnection(port)) {
        for (int i = 0; i < OPERATIONS_PER_WRITER_MAX; i++) {
          if (requestSnapshots && i % 250 == 0) {
            // Either "Background saving started" or an error saying one is running: both fine.
            c.call("BGSAVE");
          }
          if (i % 2 == 0) {
            Object reply = c.call("SET", key(id, i), value(id, i));
            if (!"OK".equals(reply)) {
              throw new AssertionError("SET " + key(id, i) + " got " + reply);
            }
            ackedSets.add(i);
          } else {
            sentIncrements++;
            Object reply = c.call("INCR", "counter:" + id);
            if (!(reply instanceof Long)) {
              throw new AssertionError("INCR got " + reply);
            }
            ackedIncrements++;
          }
          acked.incrementAndGet();
        }
      } catch (IOException e) {
        // The kill: the connection is gone, whatever was not acknowledged may be lost.
      } catch (Throwable t) {
        unexpected = t;
      }
    }
  }
}
