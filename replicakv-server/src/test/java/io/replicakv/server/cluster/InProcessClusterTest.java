package io.replicakv.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.ring.Slots;
import io.replicakv.server.testing.HeadlessBrowser;
import io.replicakv.server.testing.InProcessCluster;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisCluster;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * Three nodes in one JVM sharing a linearizable in-memory metadata store: routing by the ring,
 * proxying, redirects and the Redis Cluster commands. (The Raft-backed store has its own tests.)
 */
class InProcessClusterTest {
  @TempDir static Path dir;
  static InProcessCluster nodes;

  @BeforeAll
  static void startCluster() throws Exception {
    nodes = InProcessCluster.builder(dir).set("replication", "off").start();
    // every node routes by the same, final view before a test writes (a node still on an older
    // view would keep a key whose slot the newer ring gives to another member)
    org.awaitility.Awaitility.await("every node on the latest metadata version")
        .atMost(java.time.Duration.ofSeconds(30))
        .pollInterval(java.time.Duration.ofMillis(50))
        .until(
            () ->
                nodes.servers().stream()
                    .allMatch(
                        s -> {
                          try (Jedis j = new Jedis("127.0.0.1", s.port())) {
                            return j.clusterInfo()
                                .contains(
                                    "replicakv_metadata_version:"
                                        + nodes.metadata().current().version());
                          }
                        }));
  }

  @AfterAll
  static void stopCluster() {
    if (nodes != null) {
      nodes.close();
    }
  }

  @Test
  void everyNodeAnswersForEveryKeyAndDataLivesOnItsOwner() {
    Map<String, String> written = new HashMap<>();
    try (Jedis first = new Jedis("127.0.0.1", nodes.server(0).port())) {
      for (int i = 0; i < 300; i++) {
        first.set("key:" + i, "v" + i);
        written.put("key:" + i, "v" + i);
      }
    }
    int[] localCounts = new int[3];
    for (int n = 0; n < 3; n++) {
      try (Jedis j = new Jedis("127.0.0.1", nodes.server(n).port())) {
        for (Map.Entry<String, String> e : written.entrySet()) {
          assertThat(j.get(e.getKey())).isEqualTo(e.getValue());
        }
        localCounts[n] = (int) j.dbSize(); // DBSIZE is node-local
      }
    }
    assertThat(localCounts[0] + localCounts[1] + localCounts[2]).isEqualTo(300);
    for (int count : localCounts) {
      assertThat(count).as("each node owns part of the keys").isBetween(50, 160);
    }
  }

  @Test
  void multiKeyCommandsNeedKeysOnOneNode() {
    try (Jedis j = new Jedis("127.0.0.1", nodes.server(1).port())) {
      j.mset("{user1}.a", "1", "{user1}.b", "2");
      assertThat(j.mget("{user1}.a", "{user1}.b")).containsExactly("1", "2");
      String[] spread = keysOnDifferentNodes();
      try {
        j.mset(spread[0], "x", spread[1], "y");
        throw new AssertionError("MSET across nodes should fail");
      } catch (JedisDataException e) {
        assertThat(e.getMessage()).startsWith("CROSSSLOT");
      }
    }
  }

  @Test
  void clusterCommandsDescribeTheRingAndJedisClusterRoutesByThem() {
    try (Jedis j = new Jedis("127.0.0.1", nodes.server(2).port())) {
      assertThat(j.clusterMyId()).isEqualTo("n3");
      assertThat(j.clusterInfo()).contains("cluster_state:ok").contains("cluster_known_nodes:3");
      assertThat(j.clusterKeySlot("{user1}.a")).isEqualTo(Slots.slot("user1"));
      List<Object> slots = j.clusterSlots();
      long covered = 0;
      for (Object range : slots) {
        List<?> r = (List<?>) range;
        covered += (Long) r.get(1) - (Long) r.get(0) + 1;
      }
      assertThat(covered).isEqualTo(Slots.SLOT_COUNT);
      String nodes = j.clusterNodes();
      assertThat(nodes.lines().count()).isEqualTo(3);
      assertThat(nodes).contains("myself,master");
    }
    Set<HostAndPort> seeds = Set.of(new HostAndPort("127.0.0.1", nodes.server(0).port()));
    try (JedisCluster cluster = new JedisCluster(seeds)) {
      for (int i = 0; i < 100; i++) {
        cluster.set("jc:" + i, Integer.toString(i));
      }
      for (int i = 0; i < 100; i++) {
        assertThat(cluster.get("jc:" + i)).isEqualTo(Integer.toString(i));
      }
      assertThat(
              cluster.getClusterNodes().keySet().stream()
                  .map(Object::toString)
                  .collect(Collectors.toSet()))
          .hasSize(3);
    }
  }

  @Test
  void adminHttpShowsTheClusterAndMetricsCountForwards() throws Exception {
    String cluster = httpGet(nodes.server(1).httpPort(), "/admin/cluster");
    assertThat(cluster)
        .contains("\"mode\" : \"cluster\"")
        .contains("\"self\" : \"n2\"")
        .contains("memberList")
        .contains("\"id\" : \"n3\"");
    try (Jedis j = new Jedis("127.0.0.1", nodes.server(0).port())) {
      j.set(keyOwnedByOtherThan("n1"), "x");
    }
    String metrics = httpGet(nodes.server(0).httpPort(), "/metrics");
    assertThat(metrics)
        .containsPattern("replicakv_forwarded_commands_total [1-9]")
        .containsPattern("replicakv_metadata_version [1-9]");
  }

  @Test
  void dashboardRendersTheMembersInAHeadlessBrowser() throws Exception {
    String page = httpGet(nodes.server(0).httpPort(), "/dashboard");
    assertThat(page).contains("<title>ReplicaKV</title>").contains("/admin/cluster");
    assertThat(httpGet(nodes.server(0).httpPort(), "/admin/cluster")).contains("\"ranges\"");
    String dom =
        HeadlessBrowser.dumpDom(
            "http://127.0.0.1:" + nodes.server(0).httpPort() + "/dashboard",
            dir.resolve("chromium-profile"));
    // the script filled the members table from /admin/cluster and drew the ring
    assertThat(dom)
        .contains(">n1<")
        .contains(">n2<")
        .contains(">n3<")
        .contains("metadata version")
        .containsPattern("\\d+ ranges");
  }

  private static String httpGet(int port, String path) throws Exception {
    java.net.HttpURLConnection c =
        (java.net.HttpURLConnection)
            java.net.URI.create("http://127.0.0.1:" + port + path).toURL().openConnection();
    try (java.io.InputStream in = c.getInputStream()) {
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    } finally {
      c.disconnect();
    }
  }

  @Test
  void redirectModeAnswersMovedWithTheOwnersAddress() {
    try (Jedis j = new Jedis("127.0.0.1", nodes.server(0).port())) {
      j.configSet("routing", "redirect");
      try {
        String remote = keyOwnedByOtherThan("n1");
        try {
          j.get(remote);
          throw new AssertionError("expected MOVED");
        } catch (redis.clients.jedis.exceptions.JedisMovedDataException e) {
          assertThat(e.getSlot()).isEqualTo(Slots.slot(remote));
          assertThat(e.getTargetNode().getPort())
              .isIn(nodes.server(1).port(), nodes.server(2).port());
        }
      } finally {
        j.configSet("routing", "proxy");
      }
    }
  }

  private static String keyOwnedByOtherThan(String id) {
    ClusterView v = nodes.metadata().current();
    for (int i = 0; ; i++) {
      String k = "k" + i;
      if (!v.ownerOf(Slots.slot(k)).id().equals(id)) {
        return k;
      }
    }
  }

  private static String[] keysOnDifferentNodes() {
    ClusterView v = nodes.metadata().current();
    String first = "a0";
    String firstOwner = v.ownerOf(Slots.slot(first)).id();
    for (int i = 1; ; i++) {
      String k = "a" + i;
      if (!v.ownerOf(Slots.slot(k)).id().equals(firstOwner)) {
        return new String[] {first, k};
      }
    }
  }
}
