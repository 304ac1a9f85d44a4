package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisCluster;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * Three server processes with a Raft metadata quorum on loopback: every node answers for every key,
 * Redis Cluster clients route by CLUSTER SLOTS / NODES, the metadata survives the loss of one voter
 * and refuses changes with a clear error when the majority is gone, while data keeps being served
 * by the nodes that are up.
 */
class MultiProcessClusterTest {
  @TempDir Path dir;
  private final List<ServerProcess> nodes = new ArrayList<>();
  private String[] thirdArgs;

  @AfterEach
  void stop() {
    nodes.forEach(ServerProcess::close);
  }

  private void startCluster() throws Exception {
    int[] metadataPorts = ServerProcess.freePorts(3);
    StringBuilder voters = new StringBuilder();
    for (int i = 0; i < 3; i++) {
      voters
          .append(i > 0 ? "," : "")
          .append("n")
          .append(i + 1)
          .append("@127.0.0.1:")
          .append(metadataPorts[i]);
    }
    for (int i = 0; i < 3; i++) {
      String[] args = {
        "--set=node-id=n" + (i + 1),
        "--set=cluster-voters=" + voters,
        "--set=metadata-port=" + metadataPorts[i],
        "--set=peer-port=0",
        "--set=heartbeat-interval-ms=200",
        // keys on their owner alone (CLUSTERDOWN when it dies); SingleLeaderFailoverTest covers
        // the replicated keyspace 0
        "--set=replication=off",
        "--set=failover-timeout-ms=2000"
      };
      nodes.add(ServerProcess.start(dir.resolve("n" + (i + 1)), args));
      if (i == 2) {
        thirdArgs = args;
      }
    }
    // cluster_state:ok also says the node finished registering: before that it refuses keyed
    // commands with CLUSTERDOWN, which JedisCluster does not retry
    await("three members registered")
        .atMost(Duration.ofSeconds(180))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                nodes.stream()
                    .allMatch(
                        n -> {
                          String info = LocalCluster.query(n.port(), "CLUSTER INFO");
                          return info.contains("cluster_known_nodes:3")
                              && info.contains("cluster_state:ok");
                        }));
  }

  @Test
  void clusterServesEveryKeyFromEveryNodeAndSurvivesAMinorityLoss() throws Exception {
    startCluster();
    Map<String, String> written = new HashMap<>();
    try (Jedis j = new Jedis("127.0.0.1", nodes.get(0).port())) {
      for (int i = 0; i < 500; i++) {
        j.set("k" + i, "v" + i);
        written.put("k" + i, "v" + i);
      }
    }
    long total = 0;
    for (ServerProcess n : nodes) {
      try (Jedis j = new Jedis("127.0.0.1", n.port())) {
        written.forEach((k, v) -> assertThat(j.get(k)).isEqualTo(v));
        total += j.dbSize();
      }
    }
    assertThat(total).as("each key stored once, on its owner").isEqualTo(500);

    Set<HostAndPort> seeds = Set.of(new HostAndPort("127.0.0.1", nodes.get(1).port()));
    try (JedisCluster cluster = new JedisCluster(seeds)) {
      for (int i = 0; i < 200; i++) {
        cluster.set("jc" + i, "x" + i);
      }
      for (int i = 0; i < 200; i++) {
        assertThat(cluster.get("jc" + i)).isEqualTo("x" + i);
      }
    }
    RedisClusterClient lettuce =
        RedisClusterClient.create("redis://127.0.0.1:" + nodes.get(2).port());
    try (StatefulRedisClusterConnection<String, String> c = lettuce.connect()) {
      for (int i = 0; i < 200; i++) {
        c.sync().set("lc" + i, "y" + i);
      }
      for (int i = 0; i < 200; i++) {
        assertThat(c.sync().get("lc" + i)).isEqualTo("y" + i);
      }
      assertThat(c.getPartitions().size()).isEqualTo(3);
    } finally {
      lettuce.shutdown();
    }

    // A silent member is marked DOWN and its slots answer CLUSTERDOWN; back, it serves its data
    // again.
    String onThird = keyOwnedBy(written, "n3");
    Path thirdDir = dir.resolve("n3");
    nodes.get(2).kill9();
    try (Jedis j = new Jedis("127.0.0.1", nodes.get(0).port())) {
      await("n3 marked down")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  j.clusterNodes()
                      .lines()
                      .anyMatch(l -> l.startsWith("n3 ") && l.contains("fail")));
      try {
        j.get(onThird);
        throw new AssertionError("a key of a down node must not be served");
      } catch (JedisDataException e) {
        assertThat(e.getMessage()).startsWith("CLUSTERDOWN");
      }
    }
    nodes.set(2, ServerProcess.start(thirdDir, thirdArgs));
    // the restarted node answers pings (and so counts as up) before it has registered again;
    // until then it refuses keyed commands, forwarded ones included
    await("n3 registered again")
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .until(
            () ->
                LocalCluster.query(nodes.get(2).port(), "CLUSTER INFO")
                    .contains("cluster_state:ok"));
    try (Jedis j = new Jedis("127.0.0.1", nodes.get(0).port())) {
      await("n3 up again")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  j.clusterNodes()
                      .lines()
                      .anyMatch(l -> l.startsWith("n3 ") && !l.contains("fail")));
      assertThat(j.get(onThird)).isEqualTo(written.get(onThird));
    }

    // One voter lost: metadata changes still commit.
    nodes.get(2).kill9();
    try (Jedis j = new Jedis("127.0.0.1", nodes.get(0).port())) {
      Object number =
          j.sendCommand(() -> "KEYSPACE".getBytes(), "CREATE", "orders", "style", "single-leader");
      assertThat((Long) number).isGreaterThanOrEqualTo(16L);
    }
    // Majority lost: changes fail with a clear error; data of the live node is still served.
    nodes.get(1).kill9();
    try (Jedis j = new Jedis("127.0.0.1", nodes.get(0).port(), 30_000)) {
      long started = System.nanoTime();
      try {
        j.sendCommand(() -> "KEYSPACE".getBytes(), "CREATE", "more", "style", "single-leader");
        throw new AssertionError("a change without a metadata majority must fail");
      } catch (JedisDataException e) {
        assertThat(e.getMessage()).startsWith("CLUSTERDOWN metadata change not committed");
      }
      long tookMillis = (System.nanoTime() - started) / 1_000_000;
      System.out.println("metadata change without a majority failed after " + tookMillis + " ms");
      assertThat(tookMillis).isLessThan(20_000);
      String local = null;
      for (String k : written.keySet()) {
        if (j.clusterKeySlot(k) >= 0 && ownedBy(j, k, "n1")) {
          local = k;
          break;
        }
      }
      assertThat(local).isNotNull();
      assertThat(j.get(local)).isEqualTo(written.get(local));
      j.set(local, "after");
      assertThat(j.get(local)).isEqualTo("after");
    }
  }

  private String keyOwnedBy(Map<String, String> written, String id) {
    try (Jedis j = new Jedis("127.0.0.1", nodes.get(0).port())) {
      for (String k : written.keySet()) {
        if (ownedBy(j, k, id)) {
          return k;
        }
      }
    }
    throw new AssertionError("no key on " + id);
  }

  private static boolean ownedBy(Jedis j, String key, String id) {
    long slot = j.clusterKeySlot(key);
    for (Object range : j.clusterSlots()) {
      List<?> r = (List<?>) range;
      if ((Long) r.get(0) <= slot && slot <= (Long) r.get(1)) {
        List<?> node = (List<?>) r.get(2);
        return new String((byte[]) node.get(2)).equals(id);
      }
    }
    return false;
  }
}
