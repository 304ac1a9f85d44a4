package io.replicakv.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.core.ring.Slots;
import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.testing.InProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisCluster;

/**
 * Staged joins committed one after the other, a replacement, and a join watched by a Redis Cluster
 * client in redirect mode, each with a writer running: every acknowledged write reads back from
 * every node afterwards.
 */
class MembershipMoveTest {
  static final int KEY_COUNT = 2000;
  static final long SEED = 7;
  static final Duration MOVE_DEADLINE = Duration.ofSeconds(90);

  /** Slow enough that each move takes a second or more, so writes land in every phase. */
  static final String THROTTLE_BYTES_PER_SECOND = "40000";

  /** Client read timeout: the machine running the tests may be loaded. */
  static final int CLIENT_TIMEOUT_MILLIS = 30_000;

  @TempDir Path dir;
  InProcessCluster nodes;

  @BeforeEach
  void createCluster() throws Exception {
    // each test starts its nodes; KeyMover semantics (data on the ring owner alone)
    nodes = InProcessCluster.builder(dir).nodes(0).set("replication", "off").start();
  }

  @AfterEach
  void stop() {
    nodes.close();
  }

  private ReplicaKvServer start(String id, boolean join, String routing) throws Exception {
    return start(id, join, routing, THROTTLE_BYTES_PER_SECOND);
  }

  private ReplicaKvServer start(String id, boolean join, String routing, String throttle)
      throws Exception {
    return nodes.startNode(
        id, join, Map.of("move-throttle-bytes-per-sec", throttle, "routing", routing));
  }

  private Map<String, String> threeNodesWithKeys(String routing) throws Exception {
    for (int i = 1; i <= 3; i++) {
      start("n" + i, false, routing);
    }
    Map<String, String> acknowledged = new ConcurrentHashMap<>();
    for (int i = 0; i < KEY_COUNT; i++) {
      acknowledged.put("key:" + i, "initial");
    }
    try (JedisCluster c = cluster()) {
      acknowledged.forEach(c::set);
    }
    return acknowledged;
  }

  private JedisCluster cluster() {
    return new JedisCluster(
        Set.of(new HostAndPort("127.0.0.1", nodes.server(0).port())), CLIENT_TIMEOUT_MILLIS, 10);
  }

  /**
   * Writes random keys through a cluster client until stopped; a write that fails is tried again
   * until acknowledged, and every failure is counted: TRYAGAIN apart from all others.
   */
  static final class ClusterWriter implements Runnable {
    final JedisCluster client;
    final Map<String, String> acknowledged;
    final AtomicBoolean stop = new AtomicBoolean();
    final AtomicLong writes = new AtomicLong();
    final AtomicLong tryAgain = new AtomicLong();
    final AtomicLong otherErrors = new AtomicLong();
    final List<String> otherErrorMessages =
        java.util.Collections.synchronizedList(new ArrayList<>());
    final Random random;
    long counter;

    ClusterWriter(JedisCluster client, Map<String, String> acknowledged, long seed) {
      this.client = client;
      this.acknowledged = acknowledged;
      this.random = new Random(seed);
    }

    @Override
    public void run() {
      while (!stop.get()) {
        String key = "key:" + random.nextInt(KEY_COUNT);
        String value = "v" + counter++;
        while (true) {
          try {
            client.set(key, value);
            break;
          } catch (RuntimeException e) {
            if (String.valueOf(e.getMessage()).startsWith("TRYAGAIN")) {
              tryAgain.incrementAndGet();
            } else {
              otherErrors.incrementAndGet();
              if (otherErrorMessages.size() < 20) {
                otherErrorMessages.add(e.toString());
              }
            }
          }
        }
        acknowledged.put(key, value);
        writes.incrementAndGet();
      }
    }
  }

  private Thread startWriter(ClusterWriter writer) {
    Thread thread = new Thread(writer, "cluster-writer");
    thread.start();
    await().atMost(MOVE_DEADLINE).until(() -> writer.writes.get() >= 100);
    return thread;
  }

  private void stopWriter(ClusterWriter writer, Thread thread) throws InterruptedException {
    long now = writer.writes.get();
    await().atMost(MOVE_DEADLINE).until(() -> writer.writes.get() >= now + 100);
    writer.stop.set(true);
    thread.join(MOVE_DEADLINE.toMillis());
    assertThat(thread.isAlive()).isFalse();
  }

  private void commitAndAwait(String kind, String... ids) {
    List<String> args = new ArrayList<>(List.of("COMMIT", kind));
    args.addAll(List.of(ids));
    assertThat(cluster(nodes.server(0), args.toArray(String[]::new))).isEqualTo("OK");
    String heir = ids[ids.length - 1];
    await()
        .atMost(MOVE_DEADLINE)
        .until(() -> nodes.metadata().current().members().get(heir).state() == MemberState.UP);
  }

  @Test
  void twoStagedNodesJoinOneAfterTheOtherWhileAWriterRuns() throws Exception {
    Map<String, String> acknowledged = threeNodesWithKeys("proxy");
    try (JedisCluster client = cluster()) {
      ClusterWriter writer = new ClusterWriter(client, acknowledged, SEED);
      Thread thread = startWriter(writer);
      start("n4", true, "proxy");
      start("n5", true, "proxy");
      assertThat(nodes.metadata().current().members().get("n5").state())
          .isEqualTo(MemberState.STAGED);
      commitAndAwait("JOIN", "n4");
      assertThat(nodes.metadata().current().members().get("n5").state())
          .isEqualTo(MemberState.STAGED);
      assertThat(dbSize(nodes.server(4))).isZero();
      commitAndAwait("JOIN", "n5");
      stopWriter(writer, thread);
      assertThat(writer.otherErrors.get()).as("%s", writer.otherErrorMessages).isZero();
      System.out.printf(
          "two joins: %d writes, %d TRYAGAIN%n", writer.writes.get(), writer.tryAgain.get());
    }
    await().atMost(MOVE_DEADLINE).until(() -> totalKeys() == KEY_COUNT);
    assertThat(dbSize(nodes.server(3))).isPositive();
    assertThat(dbSize(nodes.server(4))).isPositive();
    checkEveryKeyEverywhere(acknowledged);
  }

  @Test
  void aReplacementTakesExactlyTheReplacedNodesSlotsAndKeys() throws Exception {
    Map<String, String> acknowledged = threeNodesWithKeys("proxy");
    start("n4", true, "proxy");
    ClusterView before = nodes.metadata().current();
    for (ReplicaKvServer server : nodes.servers()) {
      await().atMost(MOVE_DEADLINE).until(() -> metadataVersion(server) >= before.version());
    }
    long[] sizes = {dbSize(nodes.server(0)), dbSize(nodes.server(1)), dbSize(nodes.server(2))};
    String plan = cluster(nodes.server(2), "PLAN", "REPLACE", "n2", "n4");
    assertThat(plan).startsWith("plan replace n2 n4").contains(", " + sizes[1] + " keys move");
    assertThat(plan.lines().skip(1)).allMatch(line -> line.contains(" n2 -> n4 "));
    try (JedisCluster client = cluster()) {
      ClusterWriter writer = new ClusterWriter(client, acknowledged, SEED + 1);
      Thread thread = startWriter(writer);
      commitAndAwait("REPLACE", "n2", "n4");
      stopWriter(writer, thread);
      assertThat(writer.otherErrors.get()).as("%s", writer.otherErrorMessages).isZero();
    }
    ClusterView after = nodes.metadata().current();
    assertThat(after.members().get("n2").state()).isEqualTo(MemberState.LEFT);
    for (int s = 0; s < Slots.SLOT_COUNT; s++) {
      String owner = before.ownerOf(s).id();
      assertThat(after.ownerOf(s).id())
          .as("slot %s", s)
          .isEqualTo(owner.equals("n2") ? "n4" : owner);
    }
    await().atMost(MOVE_DEADLINE).until(() -> dbSize(nodes.server(1)) == 0);
    // the writer only overwrites existing keys: the other nodes hold exactly what they held
    assertThat(dbSize(nodes.server(0))).isEqualTo(sizes[0]);
    assertThat(dbSize(nodes.server(2))).isEqualTo(sizes[2]);
    assertThat(dbSize(nodes.server(3))).isEqualTo(sizes[1]);
    assertThat(cluster(nodes.server(0), "MOVESTATUS")).contains("keys_sent: 0\n");
    checkEveryKeyEverywhere(acknowledged);
  }

  @Test
  void aClusterClientInRedirectModeFollowsAskDuringAJoinWithoutErrors() throws Exception {
    Map<String, String> acknowledged = threeNodesWithKeys("redirect");
    start("n4", true, "redirect");
    try (JedisCluster client = cluster()) {
      ClusterWriter writer = new ClusterWriter(client, acknowledged, SEED + 2);
      Thread thread = startWriter(writer);
      commitAndAwait("JOIN", "n4");
      stopWriter(writer, thread);
      assertThat(writer.otherErrors.get()).as("%s", writer.otherErrorMessages).isZero();
      System.out.printf(
          "redirect join: %d writes, %d TRYAGAIN%n", writer.writes.get(), writer.tryAgain.get());
      for (Map.Entry<String, String> e : acknowledged.entrySet()) {
        assertThat(client.get(e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
      }
    }
    await().atMost(MOVE_DEADLINE).until(() -> totalKeys() == KEY_COUNT);
  }

  /** So slow that the join below is still copying when the test ends. */
  static final String CRAWL_BYTES_PER_SECOND = "2000";

  /**
   * The Redis migration protocol by hand: with n1's handover recorded (proposed here directly, so
   * the window stays open), n1 answers ASK, the target answers MOVED unless the command comes right
   * after ASKING, and a third node sends the client to the owner.
   */
  @Test
  void askingIsAOneShotPermissionOnTheImportingNode() throws Exception {
    for (int i = 1; i <= 3; i++) {
      start("n" + i, false, "redirect", CRAWL_BYTES_PER_SECOND);
    }
    try (JedisCluster c = cluster()) {
      for (int i = 0; i < KEY_COUNT; i++) {
        c.set("key:" + i, "initial");
      }
    }
    ReplicaKvServer joiner = start("n4", true, "redirect", CRAWL_BYTES_PER_SECOND);
    assertThat(cluster(nodes.server(0), "COMMIT", "JOIN", "n4")).isEqualTo("OK");
    nodes.metadata().propose(new MetadataChange.SourceReady("n4", "n1")).get();
    ClusterView view = nodes.metadata().current();
    assertThat(view.members().get("n4").state()).isEqualTo(MemberState.JOINING);
    String key = null;
    for (int i = 0; key == null; i++) {
      int slot = Slots.slot(("probe:" + i).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      if ("n4".equals(view.handoverTarget(slot))) {
        assertThat(view.ownerOf(slot).id()).isEqualTo("n1");
        key = "probe:" + i;
      }
    }
    String probe = key;
    long version = view.version();
    for (ReplicaKvServer server : nodes.servers()) {
      await()
          .atMost(MOVE_DEADLINE)
          .until(() -> metadataVersion(server) >= version); // every node saw the handover
    }
    try (Jedis atSource = new Jedis("127.0.0.1", nodes.server(0).port());
        Jedis atOther = new Jedis("127.0.0.1", nodes.server(1).port());
        Jedis atTarget = new Jedis("127.0.0.1", joiner.port())) {
      assertThat(errorOf(() -> atSource.set(probe, "x")))
          .isEqualTo("ASK " + Slots.slot(probe.getBytes()) + " 127.0.0.1:" + joiner.port());
      assertThat(errorOf(() -> atOther.get(probe)))
          .isEqualTo(
              "MOVED " + Slots.slot(probe.getBytes()) + " 127.0.0.1:" + nodes.server(0).port());
      assertThat(errorOf(() -> atTarget.set(probe, "x"))).startsWith("MOVED ");
      assertThat(atTarget.sendCommand(redis.clients.jedis.Protocol.Command.ASKING))
          .isEqualTo("OK".getBytes());
      assertThat(atTarget.set(probe, "x")).isEqualTo("OK");
      assertThat(errorOf(() -> atTarget.get(probe))).startsWith("MOVED ");
      atTarget.sendCommand(redis.clients.jedis.Protocol.Command.ASKING);
      assertThat(atTarget.get(probe)).isEqualTo("x");
    }
    assertThat(errorOf(() -> cluster(nodes.server(1), "CANCEL", "n4")))
        .startsWith("ERR not cancelled: the move of n4 is past its handover point: 1 of 3");
  }

  private static long metadataVersion(ReplicaKvServer s) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("replicakv_metadata_version:(\\d+)")
            .matcher(cluster(s, "INFO"));
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  private static String errorOf(Runnable command) {
    try {
      command.run();
      return "no error";
    } catch (redis.clients.jedis.exceptions.JedisDataException e) {
      return e.getMessage();
    }
  }

  private static String cluster(ReplicaKvServer s, String... args) {
    try (Jedis j = new Jedis("127.0.0.1", s.port(), CLIENT_TIMEOUT_MILLIS)) {
      Object reply = j.sendCommand(redis.clients.jedis.Protocol.Command.CLUSTER, args);
      return reply instanceof byte[] b
          ? new String(b, java.nio.charset.StandardCharsets.UTF_8)
          : String.valueOf(reply);
    }
  }

  private long totalKeys() {
    long total = 0;
    for (ReplicaKvServer s : nodes.servers()) {
      total += dbSize(s);
    }
    return total;
  }

  private static long dbSize(ReplicaKvServer s) {
    try (Jedis j = new Jedis("127.0.0.1", s.port(), CLIENT_TIMEOUT_MILLIS)) {
      return j.dbSize();
    }
  }

  /** Every acknowledged value, read through every node (proxy: each forwards to the owner). */
  private void checkEveryKeyEverywhere(Map<String, String> acknowledged) {
    for (ReplicaKvServer s : nodes.servers()) {
      try (Jedis j = new Jedis("127.0.0.1", s.port(), CLIENT_TIMEOUT_MILLIS)) {
        List<Map.Entry<String, String>> expected = new ArrayList<>(acknowledged.entrySet());
        redis.clients.jedis.Pipeline p = j.pipelined();
        List<redis.clients.jedis.Response<String>> got = new ArrayList<>();
        for (Map.Entry<String, String> e : expected) {
          got.add(p.get(e.getKey()));
        }
        p.sync();
        for (int i = 0; i < expected.size(); i++) {
          assertThat(got.get(i).get())
              .as(expected.get(i).getKey() + " via " + s.port())
              .isEqualTo(expected.get(i).getValue());
        }
      }
    }
  }
}
