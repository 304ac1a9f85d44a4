package io.replicakv.server.replication;

import static io.replicakv.server.testing.InProcessCluster.command;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.testing.InProcessCluster;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * Planned switchover and preferred-leader return on three real servers in one JVM (in-memory
 * metadata, loopback, dynamic ports; n1 hosts the controllers): a group switched over and back
 * under a continuous write load (acks=none on a created keyspace, the default acks=1 on keyspace 0)
 * loses no acknowledged write and records no divergent write; a closed leader's groups come back to
 * it after a restart when {@code replication-preferred-leader} is on, and stay away when it is off.
 */
class SwitchoverClusterTest {
  /** Generous: several JVMs of other work share two cores. */
  private static final Duration DEADLINE = Duration.ofMinutes(3);

  /** Switchovers in each direction per keyspace in the load test. */
  private static final int ROUNDS = 3;

  /** Keys each writer cycles through (all in one slot, so in one group). */
  private static final int KEYS = 50;

  @TempDir Path dir;
  private InProcessCluster cluster;

  private void startCluster(boolean preferredLeader) throws Exception {
    cluster =
        InProcessCluster.builder(dir)
            .fastReplication()
            .set("replication-preferred-leader", preferredLeader ? "on" : "off")
            .deadline(DEADLINE)
            .clientTimeout(Duration.ofSeconds(60))
            .awaitLeaders()
            .start();
  }

  @AfterEach
  void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private Jedis jedis(int node) {
    return cluster.jedis(node);
  }

  private static int index(String member) {
    return InProcessCluster.index(member);
  }

  private String leaderOf(int askedNode, int keyspace, String key) {
    return cluster.leaderOf(askedNode, keyspace, key);
  }

  private String localGet(int node, int keyspace, String key) {
    return cluster.localGet(node, keyspace, key);
  }

  /** One writer: SET of {tag}:i to increasing values through {@code node}, until stopped. */
  private final class Writer implements Runnable {
    final int node;
    final int keyspace;
    final String tag;
    final AtomicBoolean stop = new AtomicBoolean();
    final AtomicLong acknowledged = new AtomicLong();
    final AtomicLong refused = new AtomicLong();

    /** Per key: the last acknowledged value, then every value whose outcome is unknown. */
    final Map<String, Set<String>> possible = new ConcurrentHashMap<>();

    Writer(int node, int keyspace, String tag) {
      this.node = node;
      this.keyspace = keyspace;
      this.tag = tag;
    }

    @Override
    public void run() {
      long n = 0;
      long stopAtNanos = System.nanoTime() + DEADLINE.toNanos() * 2;
      while (!stop.get() && System.nanoTime() < stopAtNanos) {
        try (Jedis j = jedis(node)) {
          j.select(keyspace);
          while (!stop.get() && System.nanoTime() < stopAtNanos) {
            String key = "{" + tag + "}:" + (n % KEYS);
            String value = "v" + n++;
            try {
              String reply = j.set(key, value);
              if ("OK".equals(reply)) {
                Set<String> s = new LinkedHashSet<>();
                s.add(value);
                possible.put(key, s);
                acknowledged.incrementAndGet();
              }
            } catch (JedisDataException e) {
              refused.incrementAndGet();
              if (e.getMessage().contains("outcome unknown")
                  || e.getMessage().contains("may or may not")) {
                possible.computeIfAbsent(key, k -> new LinkedHashSet<>()).add(value);
              }
            }
          }
        } catch (JedisConnectionException e) {
          // the connection broke mid-command: that write's outcome is unknown
          refused.incrementAndGet();
        }
      }
    }
  }

  private Object replication(int node, String... args) {
    try (Jedis j = jedis(node)) {
      return j.sendCommand(command("REPLICATION"), args);
    }
  }

  private static String text(Object reply) {
    return new String((byte[]) reply, StandardCharsets.UTF_8);
  }

  @Test
  void switchoverAndBackUnderLoadLosesNothingAndRecordsNoDivergentWrite() throws Exception {
    startCluster(true);
    int async;
    try (Jedis j = jedis(0)) {
      async =
          ((Long)
                  j.sendCommand(
                      command("KEYSPACE"),
                      "CREATE",
                      "async",
                      "style",
                      "single-leader",
                      "acks",
                      "none"))
              .intValue();
    }
    cluster.awaitLeaders(async);
    List<Writer> writers = List.of(new Writer(1, async, "sw"), new Writer(2, 0, "sw"));
    List<Thread> threads = new ArrayList<>();
    for (Writer w : writers) {
      Thread t = new Thread(w, "writer-" + w.keyspace);
      t.start();
      threads.add(t);
    }
    long slot;
    try (Jedis j = jedis(0)) {
      slot = j.clusterKeySlot("{sw}");
    }
    List<String> outcomes = new ArrayList<>();
    try {
      for (int keyspace : List.of(async, 0)) {
        for (int round = 0; round < ROUNDS; round++) {
          Writer w = keyspace == 0 ? writers.get(1) : writers.get(0);
          long before = w.acknowledged.get();
          await().atMost(DEADLINE).until(() -> w.acknowledged.get() > before + 20);
          String from = leaderOf(0, keyspace, "{sw}");
          // asked through each node in turn: n1 hosts the controllers, n2 and n3 forward
          int askedNode = round % 3;
          String target;
          Object reply;
          if (round % 2 == 0) {
            reply =
                replication(
                    askedNode, "SWITCHOVER", Integer.toString(keyspace), Long.toString(slot));
            target = null;
          } else {
            target = from.equals("n3") ? "n2" : "n3";
            reply =
                replication(
                    askedNode,
                    "SWITCHOVER",
                    Integer.toString(keyspace),
                    Long.toString(slot),
                    "TO",
                    target);
          }
          String answer = reply instanceof byte[] b ? new String(b) : String.valueOf(reply);
          outcomes.add(answer);
          assertThat(answer).as("switchover answer").contains(from + " -> ");
          String to = answer.replaceAll(".*" + from + " -> (n\\d+).*", "$1");
          if (target != null) {
            assertThat(to).isEqualTo(target);
          }
          assertThat(to).isNotEqualTo(from);
          // answered once the new leader holds the lease: it takes a write at once
          try (Jedis j = jedis(index(to))) {
            j.select(keyspace);
            assertThat(j.set("{sw}:after-switchover", to)).isEqualTo("OK");
          }
          assertThat(leaderOf(index(to), keyspace, "{sw}")).isEqualTo(to);
        }
      }
      // and once over HTTP, through a node that does not host the controllers
      long before = writers.get(0).acknowledged.get();
      await().atMost(DEADLINE).until(() -> writers.get(0).acknowledged.get() > before + 20);
      HttpResponse<String> http =
          cluster.httpPost(2, "/admin/replication/switchover?keyspace=" + async + "&slot=" + slot);
      outcomes.add(http.body());
      assertThat(http.statusCode()).as(http.body()).isEqualTo(200);
      assertThat(http.body()).contains("\"ok\" : true").contains(" -> ");
      long after = writers.get(0).acknowledged.get();
      await().atMost(DEADLINE).until(() -> writers.get(0).acknowledged.get() > after + 20);
    } finally {
      writers.forEach(w -> w.stop.set(true));
      for (Thread t : threads) {
        t.join(DEADLINE.toMillis());
      }
    }
    System.out.println("switchover answers: " + outcomes);
    for (Writer w : writers) {
      System.out.println(
          "keyspace "
              + w.keyspace
              + ": "
              + w.acknowledged.get()
              + " writes acknowledged, "
              + w.refused.get()
              + " refused");
      assertThat(w.acknowledged.get()).isGreaterThan(100);
      String leader = leaderOf(0, w.keyspace, "{sw}");
      // every acknowledged write reads back from the leader, and then from every replica
      for (Map.Entry<String, Set<String>> e : w.possible.entrySet()) {
        String onLeader = localGet(index(leader), w.keyspace, e.getKey());
        assertThat(e.getValue()).as("%s on leader %s", e.getKey(), leader).contains(onLeader);
      }
      await()
          .atMost(DEADLINE)
          .untilAsserted(
              () -> {
                for (String key : w.possible.keySet()) {
                  String onLeader = localGet(index(leader), w.keyspace, key);
                  for (int node = 0; node < 3; node++) {
                    assertThat(localGet(node, w.keyspace, key))
                        .as("%s on n%s", key, node + 1)
                        .isEqualTo(onLeader);
                  }
                }
              });
    }
    for (int node = 0; node < 3; node++) {
      String metrics = cluster.httpGet(node, "/metrics");
      assertThat(metrics)
          .contains("replicakv_replication_divergent_writes_total{keyspace=\"" + async + "\"} 0")
          .contains("replicakv_replication_divergent_writes_total{keyspace=\"0\"} 0");
      assertThat((List<?>) replication(node, "DIVERGENT", "ALL", "LOCAL")).isEmpty();
    }
    assertThat((List<?>) replication(1, "DIVERGENT")).isEmpty();
  }

  @Test
  void drainMovesEveryGroupAwayFromANode() throws Exception {
    startCluster(true);
    // n2 leads the groups it is first in once their elections (or preferred-leader moves) are done
    await("n2 leads at least one group")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(300))
        .ignoreExceptions()
        .until(
            () -> {
              return cluster.groups(1).stream().anyMatch(g -> g.role().equals("leader"));
            });
    List<?> lines = (List<?>) replication(2, "DRAIN", "n2");
    List<String> texts = lines.stream().map(SwitchoverClusterTest::text).toList();
    System.out.println("drain n2: " + texts);
    assertThat(texts)
        .isNotEmpty()
        .allMatch(l -> l.startsWith("OK group 0/") && l.contains("n2 -> "));
    List<InProcessCluster.Group> groups = cluster.groups(0);
    for (InProcessCluster.Group g : groups) {
      assertThat(g.leader()).as("%s", groups).isNotEqualTo("n2");
    }
    // the preferred-leader return leaves a drained node alone while it stays up
    await()
        .during(Duration.ofSeconds(5))
        .atMost(Duration.ofSeconds(30))
        .until(() -> !leadsAny(0, "n2"));
  }

  private boolean leadsAny(int askedNode, String member) {
    return cluster.groups(askedNode).stream().anyMatch(g -> g.leader().equals(member));
  }

  @Test
  void leadershipReturnsToTheRestartedPreferredLeader() throws Exception {
    startCluster(true);
    String victim = closeAGroupLeaderAndWriteOn();
    restart(victim);
    await()
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .ignoreExceptions()
        .until(() -> leaderOf(0, 0, "{" + tag + "}").equals(victim));
    assertAcknowledgedWritesEverywhere();
  }

  @Test
  void withPreferredLeaderOffLeadershipStaysWithTheSurvivor() throws Exception {
    startCluster(false);
    String victim = closeAGroupLeaderAndWriteOn();
    String survivor = leaderOf(0, 0, "{" + tag + "}");
    restart(victim);
    // the restarted node is back in sync (it holds every acknowledged write) ...
    assertAcknowledgedWritesEverywhere();
    // ... and still does not lead the group
    await()
        .during(Duration.ofSeconds(8))
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .until(() -> leaderOf(0, 0, "{" + tag + "}").equals(survivor));
  }

  private String tag;
  private final Map<String, String> acknowledged = new HashMap<>();

  /**
   * Closes the leader of a group whose first replica (its preferred leader) is n2 or n3, never the
   * controller host n1, after switching the group over to that replica if another leads it; then
   * writes through n1 until the survivors accept writes to the group again.
   */
  private String closeAGroupLeaderAndWriteOn() throws Exception {
    String victim = null;
    for (int i = 0; victim == null && i < 1_000; i++) {
      String candidate = "pl" + i;
      long slot;
      try (Jedis j = jedis(0)) {
        slot = j.clusterKeySlot("{" + candidate + "}");
      }
      List<?> rows = (List<?>) replication(0, "GROUPS", "0", Long.toString(slot));
      assertThat(rows).hasSize(1);
      List<?> row = (List<?>) rows.get(0);
      String first = text(row.get(2)).split(",")[0];
      if (first.equals("n1")) {
        continue;
      }
      tag = candidate;
      victim = first;
      if (!text(row.get(3)).equals(first)) {
        Object moved = replication(0, "SWITCHOVER", "0", Long.toString(slot), "TO", first);
        System.out.println("to the preferred leader first: " + text(moved));
      }
      assertThat(leaderOf(0, 0, "{" + tag + "}")).isEqualTo(first);
    }
    assertThat(victim).as("a group led by n2 or n3").isNotNull();
    try (Jedis j = jedis(0)) {
      for (int i = 0; i < 20; i++) {
        assertThat(j.set("{" + tag + "}:" + i, "before")).isEqualTo("OK");
        acknowledged.put("{" + tag + "}:" + i, "before");
      }
    }
    cluster.stop(index(victim));
    String gone = victim;
    await()
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              try (Jedis j = jedis(0)) {
                assertThat(j.set("{" + tag + "}:during", "x")).isEqualTo("OK");
              }
            });
    assertThat(leaderOf(0, 0, "{" + tag + "}")).isNotEqualTo(gone);
    try (Jedis j = jedis(0)) {
      for (int i = 0; i < 20; i++) {
        assertThat(j.set("{" + tag + "}:" + i, "after")).isEqualTo("OK");
        acknowledged.put("{" + tag + "}:" + i, "after");
      }
    }
    return victim;
  }

  private void restart(String member) throws Exception {
    cluster.restart(index(member));
  }

  private void assertAcknowledgedWritesEverywhere() {
    await()
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (Map.Entry<String, String> e : acknowledged.entrySet()) {
                for (int node = 0; node < 3; node++) {
                  assertThat(localGet(node, 0, e.getKey()))
                      .as("%s on n%s", e.getKey(), node + 1)
                      .isEqualTo(e.getValue());
                }
              }
            });
    try (Jedis j = jedis(0)) {
      for (Map.Entry<String, String> e : acknowledged.entrySet()) {
        assertThat(j.get(e.getKey())).isEqualTo(e.getValue());
      }
    }
  }
}
