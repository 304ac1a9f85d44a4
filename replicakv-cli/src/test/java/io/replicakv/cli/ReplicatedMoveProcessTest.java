package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * The default configuration (keyspace 0 replicated, N = min(3, nodes), acks=1) through a join and a
 * leave of separate server processes while a writer keeps overwriting keys: every value a reply
 * acknowledged reads back through every node afterwards, and each key is held by at least N nodes'
 * own copies ({@code LOCALGET}), so the replica groups re-formed by the ring change hold the data,
 * not only their leaders.
 */
class ReplicatedMoveProcessTest {
  static final int KEY_COUNT = 400;
  static final Duration DEADLINE = Duration.ofSeconds(180);

  @TempDir(cleanup = org.junit.jupiter.api.io.CleanupMode.ON_SUCCESS)
  Path dir;

  private final List<ServerProcess> nodes = new ArrayList<>();

  @AfterEach
  void stop() {
    nodes.forEach(ServerProcess::close);
  }

  @Test
  void joinAndLeaveKeepEveryAcknowledgedWriteOnEveryReplica() throws Exception {
    int[] metadataPorts = ServerProcess.freePorts(3);
    StringBuilder voters = new StringBuilder();
    for (int i = 0; i < 3; i++) {
      voters.append(i > 0 ? "," : "").append("n").append(i + 1).append("@127.0.0.1:");
      voters.append(metadataPorts[i]);
    }
    for (int i = 0; i < 3; i++) {
      nodes.add(
          ServerProcess.start(
              dir.resolve("n" + (i + 1)),
              "--set=node-id=n" + (i + 1),
              "--set=cluster-voters=" + voters,
              "--set=metadata-port=" + metadataPorts[i],
              "--set=peer-port=0",
              "--set=heartbeat-interval-ms=200"));
    }
    Map<String, String> acknowledged = new ConcurrentHashMap<>();
    try (Jedis j = new Jedis("127.0.0.1", nodes.get(0).port(), 30_000)) {
      for (int i = 0; i < KEY_COUNT; i++) {
        set(j, "k" + i, "v" + i);
        acknowledged.put("k" + i, "v" + i);
      }
    }
    assertEveryAcknowledgedValueEverywhere(acknowledged, nodes);
    nodes.add(
        ServerProcess.start(
            dir.resolve("n4"),
            "--set=node-id=n4",
            "--set=join=127.0.0.1:" + nodes.get(1).port(),
            "--set=peer-port=0",
            "--set=heartbeat-interval-ms=200"));
    await("the new node is registered, STAGED")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .until(() -> LocalCluster.query(nodes.get(0).port(), "CLUSTER NODES").contains("n4 "));
    String first = "--node=127.0.0.1:" + nodes.get(0).port();
    Writer joinWriter = Writer.start(nodes.get(0).port(), acknowledged, 1);
    assertThat(cli("cluster", "commit", "join", "n4", first)).contains("OK");
    System.out.printf("join: %d overwrites acknowledged during it%n", joinWriter.stopAndCheck());
    assertEveryAcknowledgedValueEverywhere(acknowledged, nodes);

    Writer leaveWriter = Writer.start(nodes.get(0).port(), acknowledged, 2);
    assertThat(cli("cluster", "commit", "leave", "n2", first)).contains("OK");
    System.out.printf("leave: %d overwrites acknowledged during it%n", leaveWriter.stopAndCheck());
    List<ServerProcess> staying = List.of(nodes.get(0), nodes.get(2), nodes.get(3));
    assertEveryAcknowledgedValueEverywhere(acknowledged, staying);
  }

  /** Through every node the last acknowledged value; in the nodes' own copies at least 3 times. */
  private static void assertEveryAcknowledgedValueEverywhere(
      Map<String, String> acknowledged, List<ServerProcess> members) {
    List<String> wrong = new ArrayList<>();
    for (ServerProcess n : members) {
      try (Jedis j = new Jedis("127.0.0.1", n.port(), 30_000)) {
        acknowledged.forEach(
            (k, v) -> {
              String got = retried(() -> j.get(k));
              if (!v.equals(got)) {
                wrong.add(k + " through " + n.port() + ": " + got + " != " + v + where(members, k));
              }
            });
      }
    }
    assertThat(wrong).as("acknowledged values not read back").isEmpty();
    await("every key held by 3 replicas' own copies")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofSeconds(1))
        .untilAsserted(
            () -> {
              Map<String, Integer> copies = new java.util.HashMap<>();
              for (ServerProcess n : members) {
                try (Jedis j = new Jedis("127.0.0.1", n.port(), 30_000)) {
                  for (Map.Entry<String, String> e : acknowledged.entrySet()) {
                    Object raw = j.sendCommand(() -> bytes("LOCALGET"), e.getKey());
                    if (raw != null
                        && e.getValue().equals(new String((byte[]) raw, StandardCharsets.UTF_8))) {
                      copies.merge(e.getKey(), 1, Integer::sum);
                    }
                  }
                }
              }
              List<String> short3 =
                  acknowledged.keySet().stream()
                      .filter(k -> copies.getOrDefault(k, 0) < 3)
                      .sorted()
                      .toList();
              assertThat(short3).as("keys with fewer than 3 up-to-date copies").isEmpty();
            });
  }

  /** For a failure message: the key's slot, its group leader and each node's own copy. */
  private static String where(List<ServerProcess> members, String key) {
    StringBuilder b = new StringBuilder();
    for (ServerProcess n : members) {
      try (Jedis j = new Jedis("127.0.0.1", n.port(), 30_000)) {
        long slot = j.clusterKeySlot(key);
        Object leader =
            j.sendCommand(() -> bytes("CLUSTER"), bytes("REPLICALEADER"), bytes("" + slot));
        Object own = j.sendCommand(() -> bytes("LOCALGET"), bytes(key));
        b.append(" | ")
            .append(n.port())
            .append(" slot ")
            .append(slot)
            .append(" leader ")
            .append(leader == null ? null : new String((byte[]) leader, StandardCharsets.UTF_8))
            .append(" own ")
            .append(own == null ? null : new String((byte[]) own, StandardCharsets.UTF_8));
      } catch (RuntimeException e) {
        b.append(" | ").append(n.port()).append(' ').append(e.getMessage());
      }
    }
    return b.toString();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** Retryable refusals while groups re-form: the command was not run (or is idempotent here). */
  private static boolean retryable(JedisDataException e) {
    String m = String.valueOf(e.getMessage());
    return m.startsWith("TRYAGAIN") || m.startsWith("CLUSTERDOWN") || m.startsWith("NOREPLICAS");
  }

  private static <T> T retried(java.util.function.Supplier<T> call) {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (true) {
      try {
        return call.get();
      } catch (JedisDataException e) {
        if (!retryable(e) || System.nanoTime() > deadline) {
          throw e;
        }
      }
    }
  }

  /** SET retried on a refusal; a retried SET writes the same value, so it is idempotent. */
  private static void set(Jedis j, String key, String value) {
    retried(() -> j.set(key, value));
  }

  /** Overwrites the keys through one node and records every value a reply acknowledged. */
  static final class Writer implements Runnable {
    final int port;
    final Map<String, String> acknowledged;
    final Random random;
    final AtomicBoolean stop = new AtomicBoolean();
    final AtomicLong writes = new AtomicLong();
    final Thread thread;
    final long round;
    volatile Throwable failure;

    private Writer(int port, Map<String, String> acknowledged, long round) {
      this.port = port;
      this.acknowledged = acknowledged;
      this.round = round;
      this.random = new Random(round);
      this.thread = new Thread(this, "writer-" + round);
    }

    static Writer start(int port, Map<String, String> acknowledged, long round) {
      Writer w = new Writer(port, acknowledged, round);
      w.thread.start();
      return w;
    }

    @Override
    public void run() {
      try (Jedis j = new Jedis("127.0.0.1", port, 30_000)) {
        for (long n = 0; !stop.get(); n++) {
          String key = "k" + random.nextInt(KEY_COUNT);
          String value = "w" + round + "-" + n;
          set(j, key, value);
          acknowledged.put(key, value);
          writes.incrementAndGet();
        }
      } catch (Throwable t) {
        failure = t;
      }
    }

    long stopAndCheck() throws InterruptedException {
      stop.set(true);
      thread.join(DEADLINE.toMillis());
      assertThat(thread.isAlive()).as("writer stopped").isFalse();
      assertThat(failure).as("writer failure").isNull();
      assertThat(writes.get()).as("writes acknowledged during the move").isPositive();
      return writes.get();
    }
  }

  /** Runs the CLI in this JVM and returns what it printed; fails the test on a non-zero exit. */
  private static String cli(String... args) {
    java.io.PrintStream saved = System.out;
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    int code;
    try {
      System.setOut(new java.io.PrintStream(captured, true, StandardCharsets.UTF_8));
      code = new picocli.CommandLine(new Main()).execute(args);
    } finally {
      System.setOut(saved);
    }
    String out = captured.toString(StandardCharsets.UTF_8);
    assertThat(code).as(String.join(" ", args) + " printed " + out).isZero();
    return out;
  }
}
