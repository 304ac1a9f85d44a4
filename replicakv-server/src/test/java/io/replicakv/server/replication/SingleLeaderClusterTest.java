package io.replicakv.server.replication;

import static io.replicakv.server.testing.InProcessCluster.command;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.testing.HeadlessBrowser;
import io.replicakv.server.testing.InProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * Three real servers in one JVM (in-memory metadata, loopback, dynamic ports) replicating keyspace
 * 0 and created single-leader keyspaces: writes through any node land on the group leader and are
 * applied by both followers (read with LOCALGET, which does not route), logical replay of INCR and
 * expiry deadlines, INFO replication and /metrics, and acks=all refusing to answer OK once a
 * follower is gone.
 */
class SingleLeaderClusterTest {
  private static final Duration DEADLINE = Duration.ofSeconds(90);

  @TempDir Path dir;
  private InProcessCluster cluster;

  @BeforeEach
  void startCluster() throws Exception {
    cluster =
        InProcessCluster.builder(dir)
            .fastReplication()
            .deadline(DEADLINE)
            .clientTimeout(Duration.ofSeconds(20))
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

  private String localGet(int node, int keyspace, String key) {
    return cluster.localGet(node, keyspace, key);
  }

  private long localExpireAt(int node, String key) {
    try (Jedis j = jedis(node)) {
      return (Long) j.sendCommand(command("LOCALGET"), key, "EXPIREAT");
    }
  }

  @Test
  void writesThroughAnyNodeAreAppliedByEveryReplicaAndReplayLogically() {
    for (int writer = 0; writer < 3; writer++) {
      try (Jedis j = jedis(writer)) {
        for (int i = 0; i < 20; i++) {
          assertThat(j.set("k-" + writer + "-" + i, "v" + i)).isEqualTo("OK");
        }
        for (int i = 0; i < 5; i++) {
          j.incr("counter");
        }
        assertThat(j.setex("session-" + writer, 500, "s")).isEqualTo("OK");
      }
    }
    try (Jedis j = jedis(1)) {
      assertThat(j.get("counter")).isEqualTo("15");
      assertThat(j.set("to-expire", "x")).isEqualTo("OK");
      assertThat(j.expire("to-expire", 700)).isEqualTo(1);
      assertThat(j.incrBy("counter", 100)).isEqualTo(115);
    }
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () -> {
              for (int node = 0; node < 3; node++) {
                for (int writer = 0; writer < 3; writer++) {
                  for (int i = 0; i < 20; i++) {
                    assertThat(localGet(node, 0, "k-" + writer + "-" + i))
                        .as("node %s key k-%s-%s", node, writer, i)
                        .isEqualTo("v" + i);
                  }
                }
                assertThat(localGet(node, 0, "counter")).as("counter on %s", node).isEqualTo("115");
              }
            });
    // expiry deadlines travel as absolute times: every replica holds the same one
    for (String key : List.of("session-0", "session-1", "session-2", "to-expire")) {
      long leaderView = localExpireAt(0, key);
      assertThat(leaderView).as(key).isPositive();
      for (int node = 1; node < 3; node++) {
        assertThat(localExpireAt(node, key)).as("%s on node %s", key, node).isEqualTo(leaderView);
      }
    }
  }

  @Test
  void infoAndMetricsShowRolesEpochsAndFollowerLag() throws Exception {
    try (Jedis j = jedis(0)) {
      for (int i = 0; i < 50; i++) {
        j.set("m-" + i, "x");
      }
    }
    int leaders = 0;
    for (int node = 0; node < 3; node++) {
      for (InProcessCluster.Group g : cluster.groups(node, 0).values()) {
        leaders += g.role().equals("leader") ? 1 : 0;
        assertThat(g.epoch()).isPositive();
      }
    }
    assertThat(leaders).as("each group has exactly one leader across the nodes").isPositive();
    String info;
    try (Jedis j = jedis(0)) {
      info = j.info("replication");
    }
    assertThat(info).contains("replica_groups:").contains("role:master");
    String metrics = "";
    for (int node = 0; node < 3; node++) {
      metrics += cluster.httpGet(node, "/metrics");
    }
    assertThat(metrics)
        .containsPattern(
            "replicakv_replication_lag_records\\{keyspace=\"0\",partition=\"\\d+\",follower=\"n\\d\"\\} \\d+")
        .containsPattern("replicakv_replication_leader\\{keyspace=\"0\",partition=\"\\d+\"\\} 1")
        .containsPattern(
            "replicakv_replication_epoch\\{keyspace=\"0\",partition=\"\\d+\"\\} [1-9]");
  }

  @Test
  void acksAllNeverAnswersOkWithAFollowerGoneAndAcksNoneKeepsAccepting() throws Exception {
    int all;
    int none;
    try (Jedis j = jedis(0)) {
      all =
          ((Long)
                  j.sendCommand(
                      command("KEYSPACE"),
                      "CREATE",
                      "sync",
                      "style",
                      "single-leader",
                      "acks",
                      "all"))
              .intValue();
      none =
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
    cluster.awaitLeaders(all);
    cluster.awaitLeaders(none);
    // a key whose group (in both keyspaces, whose rings are the same) is not led by n3
    String key = null;
    for (int i = 0; key == null && i < 2_000; i++) {
      String candidate = "sync-key-" + i;
      if (!leaderOf(all, candidate).equals("n3") && !leaderOf(none, candidate).equals("n3")) {
        key = candidate;
      }
    }
    assertThat(key).as("a key led by n1 or n2 in both keyspaces").isNotNull();
    try (Jedis j = jedis(0)) {
      j.select(all);
      assertThat(j.set(key, "before")).isEqualTo("OK");
    }
    cluster.stop(2);
    List<String> outcomes = new ArrayList<>();
    String finalKey = key;
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () -> {
              try (Jedis j = jedis(0)) {
                j.select(all);
                String outcome;
                try {
                  outcome = j.set(finalKey, "after-" + outcomes.size());
                } catch (JedisDataException e) {
                  outcome = e.getMessage();
                }
                outcomes.add(outcome);
                assertThat(outcome).startsWith("NOREPLICAS");
              }
            });
    assertThat(outcomes).noneMatch(o -> o.equals("OK"));
    assertThat(outcomes)
        .allMatch(
            o -> o.startsWith("NOREPLICAS") || o.startsWith("TRYAGAIN write outcome unknown"));
    System.out.println("acks=all outcomes with n3 gone: " + outcomes);
    try (Jedis j = jedis(1)) {
      j.select(none);
      for (int i = 0; i < 20; i++) {
        assertThat(j.set(key, "async-" + i)).isEqualTo("OK");
      }
      assertThat(j.get(key)).isEqualTo("async-19");
    }
    // the stopped follower's lag shows in bytes too, in /metrics and /admin/replication
    String lagBytes =
        "replicakv_replication_lag_bytes\\{keyspace=\""
            + none
            + "\",partition=\"\\d+\",follower=\"n3\"\\} [1-9]\\d*";
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () ->
                assertThat(cluster.httpGet(0, "/metrics") + cluster.httpGet(1, "/metrics"))
                    .containsPattern(lagBytes));
    String admin =
        cluster.httpGet(0, "/admin/replication") + cluster.httpGet(1, "/admin/replication");
    assertThat(admin)
        .contains("\"enabled\" : true")
        .containsPattern(
            "\"member\" : \"n3\",\\s*\"matchOffset\" : \\d+,\\s*\"lagRecords\" : [1-9]")
        .containsPattern("\"lagBytes\" : [1-9]");
  }

  @Test
  void dashboardShowsTheReplicaGroupsInAHeadlessBrowser() throws Exception {
    String dom =
        HeadlessBrowser.dumpDom(
            "http://127.0.0.1:" + cluster.server(0).httpPort() + "/dashboard",
            dir.resolve("chromium-profile"));
    // the script filled the replica-group table from /admin/replication: keyspace 0's groups,
    // each with its role and leader, and the followers of the groups this node leads
    assertThat(dom)
        .containsPattern("\\d+ replica groups here, leading \\d+")
        .containsPattern("<td class=\"(leader|follower)\">(leader|follower)</td>")
        .containsPattern("n[23] 0 / 0 / \\d+");
  }

  /** The leader of the group holding {@code key} in {@code keyspace}, from node 1. */
  private String leaderOf(int keyspace, String key) {
    return cluster.leaderOf(0, keyspace, key);
  }
}
