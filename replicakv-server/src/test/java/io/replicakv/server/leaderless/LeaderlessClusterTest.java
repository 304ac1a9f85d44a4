package io.replicakv.server.leaderless;

import static io.replicakv.server.testing.InProcessCluster.command;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.testing.InProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * Three real servers in one JVM (in-memory metadata, loopback, dynamic ports) serving a leaderless
 * keyspace N=3, R=2, W=2 (strict quorums, siblings) through RESP, end to end: commands, peer
 * frames, record logs, restart.
 */
class LeaderlessClusterTest {
  private static final Duration DEADLINE = Duration.ofSeconds(30);

  @TempDir Path dir;
  private InProcessCluster cluster;
  private int keyspace;

  @BeforeEach
  void startCluster() throws Exception {
    cluster =
        InProcessCluster.builder(dir)
            .deadline(DEADLINE)
            .clientTimeout(Duration.ofSeconds(10))
            .start();
    keyspace = cluster.createKeyspace("carts", "style", "leaderless", "r", "2", "w", "2");
    assertThat(keyspace).isPositive();
    cluster.awaitQuorumReads(keyspace, 3);
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

  private Jedis leaderless(int node) {
    return cluster.jedis(node, keyspace);
  }

  @SuppressWarnings("unchecked")
  private static List<String> kvGet(Jedis j, String key, String... options) {
    List<String> args = new ArrayList<>(List.of(key));
    args.addAll(List.of(options));
    List<Object> raw = (List<Object>) j.sendCommand(command("KV.GET"), args.toArray(new String[0]));
    List<String> out = new ArrayList<>();
    for (Object item : raw) {
      out.add(new String((byte[]) item, StandardCharsets.UTF_8));
    }
    return out;
  }

  @Test
  void setAndGetThroughEveryNodeAndKeyspaceZeroIsUntouched() {
    for (int writer = 0; writer < 3; writer++) {
      try (Jedis j = leaderless(writer)) {
        assertThat(j.set("cart-" + writer, "v" + writer)).isEqualTo("OK");
      }
      for (int reader = 0; reader < 3; reader++) {
        try (Jedis j = leaderless(reader)) {
          assertThat(j.get("cart-" + writer)).isEqualTo("v" + writer);
        }
      }
    }
    try (Jedis j = leaderless(1)) {
      assertThat(j.set("cart-0", "v0-again")).isEqualTo("OK");
      assertThat(j.get("cart-0")).isEqualTo("v0-again");
      assertThat(j.del("cart-0")).isEqualTo(1);
      assertThat(j.get("cart-0")).isNull();
      assertThatThrownBy(() -> j.hset("h", "f", "v"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("conflicts=crdt");
      assertThatThrownBy(() -> j.append("text", "v"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("not supported on a leaderless keyspace");
      assertThatThrownBy(() -> j.incr("counter"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("conflicts=crdt");
    }
    // keyspace 0 replicates: its group may still be electing a leader (TRYAGAIN) right after start
    await()
        .atMost(DEADLINE)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              try (Jedis j = jedis(2)) {
                assertThat(j.set("plain", "single-leader")).isEqualTo("OK");
              }
            });
    // reads too may meet a leader change right after start (an election, or the preferred
    // leader taking its group back): TRYAGAIN means nothing ran, so they are retried
    await()
        .atMost(DEADLINE)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              try (Jedis j = jedis(2)) {
                assertThat(j.get("plain")).isEqualTo("single-leader");
                assertThat(j.get("cart-1")).isNull();
              }
              try (Jedis j = jedis(0)) {
                assertThat(j.get("plain")).isEqualTo("single-leader");
              }
            });
    try (Jedis j = jedis(2)) {
      assertThatThrownBy(() -> j.sendCommand(command("KV.GET"), "x"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("works only on a leaderless keyspace");
    }
  }

  @Test
  void blindConcurrentWritesAreSiblingsUntilAWriteWithTheirContext() throws Exception {
    try (Jedis a = leaderless(0);
        Jedis b = leaderless(1);
        Jedis c = leaderless(2)) {
      assertThat(a.sendCommand(command("KV.PUT"), "s", "", "left")).isNotNull();
      assertThat(b.sendCommand(command("KV.PUT"), "s", "", "right")).isNotNull();
      List<String> siblings = kvGet(c, "s");
      assertThat(siblings.subList(1, siblings.size())).containsExactlyInAnyOrder("left", "right");
      assertThatThrownBy(() -> c.get("s"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("CONFLICT key has 2 siblings")
          .hasMessageContaining("KV.GET");
      c.sendCommand(command("KV.PUT"), "s", siblings.get(0), "merged");
      for (Jedis j : List.of(a, b, c)) {
        assertThat(kvGet(j, "s").subList(1, 2)).containsExactly("merged");
        assertThat(kvGet(j, "s")).hasSize(2);
        assertThat(j.get("s")).isEqualTo("merged");
      }
    }
    String metrics = cluster.httpGet(2, "/metrics");
    assertThat(metrics)
        .contains("replicakv_leaderless_sibling_reads_refused_total 1")
        .contains("replicakv_leaderless_reads_ok_total{keyspace=\"" + keyspace + "\"}");
  }

  @Test
  void writesSucceedWithANodeDownAndTheRestartedNodeCatchesUp() throws Exception {
    try (Jedis j = leaderless(0)) {
      assertThat(j.set("k", "before")).isEqualTo("OK");
    }
    cluster.stop(2);
    List<String> acknowledged = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      try (Jedis j = leaderless(i % 2)) {
        assertThat(j.set("k", "during-" + i)).isEqualTo("OK");
        acknowledged.add("during-" + i);
      }
      try (Jedis j = leaderless((i + 1) % 2)) {
        assertThat(j.get("k")).isEqualTo("during-" + i);
      }
    }
    try (Jedis j = leaderless(0)) {
      assertThatThrownBy(() -> j.sendCommand(command("KV.GET"), "k", "R", "3"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageMatching("(NOREPLICAS|TIMEOUT).*");
    }
    cluster.restart(2);
    String latest = acknowledged.get(acknowledged.size() - 1);
    await()
        .atMost(DEADLINE)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              try (Jedis j = leaderless(2)) {
                assertThat(kvGet(j, "k", "R", "1").subList(1, 2)).containsExactly(latest);
              }
            });
    for (int node = 0; node < 3; node++) {
      try (Jedis j = leaderless(node)) {
        assertThat(j.get("k")).isEqualTo(latest);
      }
    }
  }

  @Test
  void crdtKeyspaceCountsAndCollectsFromEveryNode() {
    int crdt;
    try (Jedis j = jedis(1)) {
      crdt =
          ((Long)
                  j.sendCommand(
                      command("KEYSPACE"),
                      "CREATE",
                      "tallies",
                      "style",
                      "leaderless",
                      "conflicts",
                      "crdt"))
              .intValue();
    }
    await()
        .atMost(DEADLINE)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (int node = 0; node < 3; node++) {
                try (Jedis j = jedis(node)) {
                  j.select(crdt);
                  assertThat(j.smembers("warm-up")).isEmpty();
                }
              }
            });
    // Sequential increments through different coordinators: with N=3, W=2 each reply counts every
    // increment acknowledged before it (the quorums share an owner), even when the coordinating
    // node has not merged the previous write yet (LeaderlessCommands, INCR).
    long expected = 0;
    for (int node = 0; node < 3; node++) {
      try (Jedis j = jedis(node)) {
        j.select(crdt);
        expected += 5;
        assertThat(j.incrBy("hits", 5)).isEqualTo(expected);
        expected -= 1;
        assertThat(j.decr("hits")).isEqualTo(expected);
        assertThat(j.sadd("tags", "from-" + node, "shared")).isEqualTo(2);
      }
    }
    try (Jedis j = jedis(2)) {
      j.select(crdt);
      assertThat(j.get("hits")).isEqualTo(Long.toString(expected));
      assertThat(j.smembers("tags"))
          .containsExactlyInAnyOrder("from-0", "from-1", "from-2", "shared");
      assertThat(j.srem("tags", "shared")).isEqualTo(1);
      assertThat(j.smembers("tags")).containsExactlyInAnyOrder("from-0", "from-1", "from-2");
      assertThatThrownBy(() -> j.set("hits", "1"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("WRONGTYPE");
      assertThatThrownBy(() -> j.sadd("hits", "x"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("WRONGTYPE");
    }
  }

  private int createCrdtKeyspace(String name) {
    int crdt;
    try (Jedis j = jedis(0)) {
      crdt =
          ((Long)
                  j.sendCommand(
                      command("KEYSPACE"),
                      "CREATE",
                      name,
                      "style",
                      "leaderless",
                      "conflicts",
                      "crdt"))
              .intValue();
    }
    await()
        .atMost(DEADLINE)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (int node = 0; node < 3; node++) {
                try (Jedis j = jedis(node)) {
                  j.select(crdt);
                  assertThat(j.hgetAll("warm-up")).isEmpty();
                }
              }
            });
    return crdt;
  }

  @Test
  void crdtHashesAndRegistersThroughEveryNode() {
    int crdt = createCrdtKeyspace("profiles");
    for (int node = 0; node < 3; node++) {
      try (Jedis j = jedis(node)) {
        j.select(crdt);
        assertThat(j.hset("user:1", Map.of("from-" + node, "v" + node))).isEqualTo(1);
        assertThat(j.hincrBy("user:1", "visits", 10)).isEqualTo(10L * (node + 1));
        assertThat(j.set("name", "written-by-" + node)).isEqualTo("OK");
      }
    }
    try (Jedis j = jedis(1)) {
      j.select(crdt);
      assertThat(j.hgetAll("user:1"))
          .containsExactlyInAnyOrderEntriesOf(
              Map.of("from-0", "v0", "from-1", "v1", "from-2", "v2", "visits", "30"));
      assertThat(j.hget("user:1", "from-2")).isEqualTo("v2");
      assertThat(j.hget("user:1", "missing")).isNull();
      assertThat(j.hlen("user:1")).isEqualTo(4);
      assertThat(j.hexists("user:1", "visits")).isTrue();
      assertThat(j.hdel("user:1", "from-0", "missing")).isEqualTo(1);
      assertThat(j.hgetAll("user:1")).doesNotContainKey("from-0").containsKey("from-1");
      assertThat(j.hset("user:1", "visits", "7")).isEqualTo(1);
      assertThat(j.hincrBy("user:1", "visits", 1)).isEqualTo(8);
      assertThat(j.hset("user:1", "text", "abc")).isEqualTo(1);
      assertThatThrownBy(() -> j.hincrBy("user:1", "text", 1))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("not an integer");
      // A register: the last SET wins on every replica, no siblings, no CONFLICT error.
      assertThat(j.get("name")).isEqualTo("written-by-2");
      assertThat(j.del("name")).isEqualTo(1);
      assertThat(j.get("name")).isNull();
      assertThat(j.del("never-written")).isZero();
      // Types stick to keys: every command of another type is refused, reads included.
      assertThatThrownBy(() -> j.get("user:1"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageStartingWith("WRONGTYPE");
      assertThatThrownBy(() -> j.smembers("user:1"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageStartingWith("WRONGTYPE");
      assertThatThrownBy(() -> j.incr("user:1"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageStartingWith("WRONGTYPE");
      assertThat(j.incrBy("hits", 2)).isEqualTo(2);
      assertThatThrownBy(() -> j.hset("hits", "f", "v"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageStartingWith("WRONGTYPE");
      assertThatThrownBy(() -> j.hget("hits", "f"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageStartingWith("WRONGTYPE");
    }
    for (int node = 0; node < 3; node++) {
      try (Jedis j = jedis(node)) {
        j.select(crdt);
        assertThat(j.hget("user:1", "visits")).as("node %s", node).isEqualTo("8");
      }
    }
  }
}
