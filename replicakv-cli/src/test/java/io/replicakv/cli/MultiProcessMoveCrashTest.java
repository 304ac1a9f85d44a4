package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * Crashes during a join, with real processes and kill -9: the joiner dies mid-copy, or a source
 * dies right after it handed its slots over. After a restart on the same data folder the join
 * completes, every key is held by exactly one node, and every write a client saw acknowledged reads
 * back from every node.
 */
class MultiProcessMoveCrashTest {
  static final int KEY_COUNT = 1500;
  static final int VALUE_BYTES = 100;
  static final long SEED = 23;
  static final Duration DEADLINE = Duration.ofSeconds(180);

  /** Slow enough that a source's copy takes seconds, so the crash lands in the middle. */
  static final String THROTTLE_BYTES_PER_SECOND = "10000";

  /** The joiner holds this many keys before it is killed: well into its copy. */
  static final int KEYS_BEFORE_KILL = 60;

  @TempDir Path dir;
  private final List<ServerProcess> nodes = new ArrayList<>();
  private final List<String[]> arguments = new ArrayList<>();

  @AfterEach
  void stop() {
    nodes.forEach(ServerProcess::close);
  }

  @Test
  void aJoinerKilledMidCopyRestartsAndItsJoinCompletes() throws Exception {
    Map<String, String> acknowledged = threeNodesWithKeys();
    ServerProcess joiner = startJoiner();
    assertThat(clusterCommand(nodes.get(0), "COMMIT", "JOIN", "n4")).isEqualTo("OK");
    AckedWriter writer = writer(nodes.get(0).port(), acknowledged);
    await("the joiner is in the middle of its copy")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(20))
        .until(() -> dbSize(joiner) >= KEYS_BEFORE_KILL);
    assertThat(stateOf("n4")).as("the join is still running").isEqualTo("JOINING");
    joiner.kill9();
    long writesAtKill = writer.acknowledgedWrites();
    restart(3);
    awaitUp("n4");
    stopWriter(writer, writesAtKill);
    awaitAllKeysOnce();
    checkEveryKeyEverywhere(acknowledged);
    assertThat(dbSize(nodes.get(3))).isPositive();
    System.out.printf(
        "joiner crash: %d writes (%d during the crash), %d retried%n",
        writer.acknowledgedWrites(), writer.acknowledgedWrites() - writesAtKill, writer.retries());
  }

  @Test
  void aSourceKilledRightAfterItsHandoverComesBackAndNothingIsLost() throws Exception {
    Map<String, String> acknowledged = threeNodesWithKeys();
    ServerProcess joiner = startJoiner();
    assertThat(clusterCommand(nodes.get(0), "COMMIT", "JOIN", "n4")).isEqualTo("OK");
    // the writer talks to the joiner, which forwards: any source may be the one that dies
    AckedWriter writer = writer(joiner.port(), acknowledged);
    int[] handedOver = {-1};
    await("a source hands its slots over")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(10))
        .until(
            () -> {
              for (int i = 0; i < 3; i++) {
                if (moveStatus(nodes.get(i)).contains("status: handed over")) {
                  handedOver[0] = i;
                  return true;
                }
              }
              return false;
            });
    int victim = handedOver[0];
    nodes.get(victim).kill9();
    assertThat(stateOf("n4")).as("other sources had not handed over yet").isEqualTo("JOINING");
    long writesAtKill = writer.acknowledgedWrites();
    awaitUp("n4"); // the last source's handover flips the join; the dead one is not needed
    restart(victim);
    stopWriter(writer, writesAtKill);
    // the restarted source deletes the stale copies of what it handed over at start-up (or at the
    // flip, if it came back before it), so every key ends on exactly one node
    awaitAllKeysOnce();
    checkEveryKeyEverywhere(acknowledged);
    System.out.printf(
        "source n%d killed after its handover: %d writes, %d retried%n",
        victim + 1, writer.acknowledgedWrites(), writer.retries());
  }

  private Map<String, String> threeNodesWithKeys() throws Exception {
    int[] metadataPorts = ServerProcess.freePorts(3);
    String voters = ServerProcess.voterList(metadataPorts);
    for (int i = 0; i < 3; i++) {
      start(
          "n" + (i + 1),
          "--set=cluster-voters=" + voters,
          "--set=metadata-port=" + metadataPorts[i]);
    }
    try {
      ServerProcess.awaitKnownNodes(nodes, 3, DEADLINE);
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      printStartupLines();
      throw e;
    }
    Map<String, String> acknowledged = new ConcurrentHashMap<>();
    try (Jedis j = new Jedis("127.0.0.1", nodes.get(0).port(), 30_000)) {
      for (int i = 0; i < KEY_COUNT; i++) {
        String value = "initial-" + "x".repeat(VALUE_BYTES);
        j.set("key:" + i, value);
        acknowledged.put("key:" + i, value);
      }
    }
    return acknowledged;
  }

  /** What each node said about registering, for a start-up that did not complete. */
  private void printStartupLines() {
    for (ServerProcess n : nodes) {
      System.out.println("node on port " + n.port() + ":");
      n.output()
          .lines()
          .filter(l -> l.contains("ClusterNode") || l.contains("MetadataStore"))
          .limit(30)
          .forEach(l -> System.out.println("  " + l.substring(0, Math.min(l.length(), 300))));
    }
  }

  private ServerProcess startJoiner() throws Exception {
    ServerProcess joiner = start("n4", "--set=join=127.0.0.1:" + nodes.get(1).port());
    await("the new node is registered")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> "STAGED".equals(stateOf("n4")));
    return joiner;
  }

  private ServerProcess start(String id, String... extra) throws Exception {
    List<String> args = new ArrayList<>();
    args.add("--set=node-id=" + id);
    args.add("--set=peer-port=0");
    args.add("--set=heartbeat-interval-ms=200");
    // KeyMover semantics (data on the ring owner alone); joins on replicated keyspaces are step 9
    args.add("--set=replication=off");
    args.add("--set=fsync=always");
    args.add("--set=move-throttle-bytes-per-sec=" + THROTTLE_BYTES_PER_SECOND);
    args.addAll(List.of(extra));
    String[] all = args.toArray(String[]::new);
    ServerProcess p = ServerProcess.start(dir.resolve(id), all);
    nodes.add(p);
    arguments.add(all);
    return p;
  }

  /** Starts node {@code index} again on its data folder, with its arguments (new client ports). */
  private void restart(int index) throws Exception {
    String id = "n" + (index + 1);
    nodes.set(index, ServerProcess.start(dir.resolve(id), arguments.get(index)));
  }

  private void awaitUp(String id) {
    await(id + " is UP")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> "UP".equals(stateOf(id)));
  }

  private void stopWriter(AckedWriter writer, long writesAtKill) throws InterruptedException {
    await("writes go on after the crash")
        .atMost(DEADLINE)
        .until(() -> writer.acknowledgedWrites() >= writesAtKill + 100 || writer.isDone());
    writer.stopAndCheck();
  }

  private void awaitAllKeysOnce() {
    try {
      await("every key held by exactly one node")
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(200))
          .until(() -> totalKeys() == KEY_COUNT);
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      for (ServerProcess n : nodes) {
        System.out.println(
            "node on port " + n.port() + ": " + dbSize(n) + " keys\n" + moveStatus(n));
      }
      System.out.println(clusterCommand(nodes.get(0), "STATUS"));
      throw e;
    }
  }

  /** The member's state as CLUSTER STATUS on the first live node prints it, or null. */
  private String stateOf(String id) {
    Pattern line = Pattern.compile("(?m)^\\s+" + Pattern.quote(id) + "\\s+([A-Z]+)\\s");
    for (ServerProcess n : nodes) {
      if (!n.isAlive()) {
        continue;
      }
      try (Jedis j = new Jedis("127.0.0.1", n.port(), 30_000)) {
        Object reply = j.sendCommand(redis.clients.jedis.Protocol.Command.CLUSTER, "STATUS");
        String text = new String((byte[]) reply, java.nio.charset.StandardCharsets.UTF_8);
        java.util.regex.Matcher m = line.matcher(text);
        return m.find() ? m.group(1) : null;
      } catch (RuntimeException e) {
        // try the next node
      }
    }
    return null;
  }

  private static String moveStatus(ServerProcess n) {
    return clusterCommand(n, "MOVESTATUS");
  }

  private static String clusterCommand(ServerProcess n, String... args) {
    try (Jedis j = new Jedis("127.0.0.1", n.port(), 30_000)) {
      Object reply = j.sendCommand(redis.clients.jedis.Protocol.Command.CLUSTER, args);
      return reply instanceof byte[] b
          ? new String(b, java.nio.charset.StandardCharsets.UTF_8)
          : String.valueOf(reply);
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
    try (Jedis j = new Jedis("127.0.0.1", n.port(), 30_000)) {
      return j.dbSize();
    }
  }

  /** Every acknowledged value through every node; TRYAGAIN (views settling) is retried. */
  private void checkEveryKeyEverywhere(Map<String, String> acknowledged) {
    for (ServerProcess n : nodes) {
      try (Jedis j = new Jedis("127.0.0.1", n.port(), 30_000)) {
        acknowledged.forEach(
            (k, v) -> assertThat(get(j, k)).as(k + " via " + n.port()).isEqualTo(v));
      }
    }
  }

  private static String get(Jedis j, String key) {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (true) {
      try {
        return j.get(key);
      } catch (JedisDataException e) {
        if (!String.valueOf(e.getMessage()).startsWith("TRYAGAIN")
            || System.nanoTime() > deadline) {
          throw e;
        }
      }
    }
  }

  /**
   * Overwrites random keys through one node until stopped; a write refused with TRYAGAIN or
   * CLUSTERDOWN (a node is down) is tried again until acknowledged. Any other error fails it.
   */
  private static AckedWriter writer(int port, Map<String, String> acknowledged) {
    Random random = new Random(SEED);
    return AckedWriter.throughPort(port)
        .keys(n -> "key:" + random.nextInt(KEY_COUNT))
        .values(n -> "v" + n)
        .retryOnly("TRYAGAIN", "CLUSTERDOWN")
        .acknowledgedInto(acknowledged)
        .name("writer")
        .start();
  }
}
