package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A fourth server process joins a three-process cluster knowing only one member's address (it
 * learns the Raft voters with CLUSTER VOTERS and runs as a non-voter); it waits STAGED until the
 * CLI commits its join ({@code cluster plan join}, {@code cluster commit join}), then its share of
 * the keys moves to it, and every key still reads back from every node; then a node leaves through
 * the CLI ({@code cluster plan leave}, {@code cluster commit leave}) and its keys move to the
 * others. A writer overwrites keys through the first node during both moves; every value it saw
 * acknowledged reads back from every node afterwards.
 */
class MultiProcessMoveTest {
  static final int KEY_COUNT = 600;
  static final Duration DEADLINE = Duration.ofSeconds(120);

  @TempDir Path dir;
  private final List<ServerProcess> nodes = new ArrayList<>();

  @AfterEach
  void stop() {
    nodes.forEach(ServerProcess::close);
  }

  @Test
  void aNodeJoinsWithOneAddressAndTakesOverItsKeys() throws Exception {
    int[] metadataPorts = ServerProcess.freePorts(3);
    String voters = ServerProcess.voterList(metadataPorts);
    for (int i = 0; i < 3; i++) {
      nodes.add(
          ServerProcess.start(
              dir.resolve("n" + (i + 1)),
              "--set=node-id=n" + (i + 1),
              "--set=cluster-voters=" + voters,
              "--set=metadata-port=" + metadataPorts[i],
              "--set=peer-port=0",
              "--set=replication=off",
              "--set=heartbeat-interval-ms=200"));
    }
    ServerProcess.awaitKnownNodes(nodes, 3, DEADLINE);
    Map<String, String> written = new java.util.concurrent.ConcurrentHashMap<>();
    try (Jedis j = new Jedis("127.0.0.1", nodes.get(0).port())) {
      for (int i = 0; i < KEY_COUNT; i++) {
        j.set("k" + i, "v" + i);
        written.put("k" + i, "v" + i);
      }
    }
    nodes.add(
        ServerProcess.start(
            dir.resolve("n4"),
            "--set=node-id=n4",
            "--set=join=127.0.0.1:" + nodes.get(1).port(),
            "--set=peer-port=0",
            "--set=replication=off",
            "--set=heartbeat-interval-ms=200"));
    ServerProcess joiner = nodes.get(3);
    await("the new node is registered, STAGED")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> LocalCluster.query(nodes.get(0).port(), "CLUSTER NODES").contains("n4 "));
    assertThat(dbSize(joiner)).isZero();
    String first = "--node=127.0.0.1:" + nodes.get(0).port();
    assertThat(cli("cluster", "plan", "join", "n4", first)).startsWith("plan join n4");
    AckedWriter joinWriter = overwriter(nodes.get(0).port(), written, 1);
    // commit waits for the move with a progress bar (plain lines: the output is no terminal)
    assertThat(cli("cluster", "commit", "join", "n4", first)).contains("OK").contains("100%");
    await("keys moved to the joiner and deleted at their sources")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> dbSize(joiner) > 0 && totalKeys() == KEY_COUNT);
    assertThat(dbSize(joiner)).isLessThanOrEqualTo((long) (1.2 * KEY_COUNT / 4));
    System.out.printf(
        "join: %d of %d keys moved to the joiner (ideal %d), %d overwrites acknowledged during it%n",
        dbSize(joiner), KEY_COUNT, KEY_COUNT / 4, joinWriter.stopAndCheck());
    for (ServerProcess n : nodes) {
      try (Jedis j = new Jedis("127.0.0.1", n.port())) {
        written.forEach((k, v) -> assertThat(get(j, k)).as(k).isEqualTo(v));
      }
    }
    assertThat(LocalCluster.query(joiner.port(), "CLUSTER INFO")).contains("cluster_known_nodes:4");

    ServerProcess leaver = nodes.get(1);
    String node = "--node=127.0.0.1:" + nodes.get(0).port();
    String plan = cli("cluster", "plan", "leave", "n2", node);
    assertThat(plan).startsWith("plan leave n2").contains(", " + dbSize(leaver) + " keys move");
    AckedWriter leaveWriter = overwriter(nodes.get(0).port(), written, 2);
    assertThat(cli("cluster", "commit", "leave", "n2", node, "--no-wait")).contains("OK");
    await("n2's keys moved away")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> dbSize(leaver) == 0 && totalKeys() == KEY_COUNT);
    System.out.printf("leave: %d overwrites acknowledged during it%n", leaveWriter.stopAndCheck());
    for (ServerProcess n : nodes) {
      try (Jedis j = new Jedis("127.0.0.1", n.port())) {
        written.forEach((k, v) -> assertThat(get(j, k)).as(k).isEqualTo(v));
      }
    }
    assertThat(cli("cluster", "moves", "--node=127.0.0.1:" + leaver.port()))
        .contains("moves_completed: 2");
  }

  /**
   * Overwrites the test's keys with new values through one node while a move runs, retrying on
   * TRYAGAIN and CLUSTERDOWN (any other error fails it), and records each value a reply
   * acknowledged into {@code acknowledged}.
   */
  private static AckedWriter overwriter(int port, Map<String, String> acknowledged, long round) {
    java.util.Random random = new java.util.Random(round);
    return AckedWriter.throughPort(port)
        .keys(n -> "k" + random.nextInt(KEY_COUNT))
        .values(n -> "w" + round + "-" + n)
        .retryOnly("TRYAGAIN", "CLUSTERDOWN")
        .acknowledgedInto(acknowledged)
        .name("overwriter-" + round)
        .start();
  }

  /** Runs the CLI in this JVM and returns what it printed; fails the test on a non-zero exit. */
  private static String cli(String... args) {
    java.io.PrintStream saved = System.out;
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    int code;
    try {
      System.setOut(
          new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
      code = new picocli.CommandLine(new Main()).execute(args);
    } finally {
      System.setOut(saved);
    }
    String out = captured.toString(java.nio.charset.StandardCharsets.UTF_8);
    assertThat(code).as(String.join(" ", args) + " printed " + out).isZero();
    return out;
  }

  /**
   * GET, retried while it answers TRYAGAIN: right after a flip, nodes apply the new metadata
   * version at slightly different times (the joiner polls as a non-voter), and a command between
   * two stale views is refused rather than run on the wrong node.
   */
  private static String get(Jedis j, String key) {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (true) {
      try {
        return j.get(key);
      } catch (redis.clients.jedis.exceptions.JedisDataException e) {
        if (!String.valueOf(e.getMessage()).startsWith("TRYAGAIN")
            || System.nanoTime() > deadline) {
          throw e;
        }
      }
    }
  }

  private long totalKeys() {
    long total = 0;
    for (ServerProcess n : nodes) {
      total += dbSize(n);
    }
    return total;
  }

  private static long dbSize(ServerProcess n) {
    try (Jedis j = new Jedis("127.0.0.1", n.port())) {
      return j.dbSize();
    }
  }
}
