package io.replicakv.server.leaderless;

import static io.replicakv.server.testing.InProcessCluster.command;
import static io.replicakv.server.testing.InProcessCluster.fields;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.testing.InProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * Three real servers in one JVM with scheduled anti-entropy off, so that only the operator's pass
 * ({@code KV.REPAIR}) and hinted handoff move data after a node missed writes: the pass finds and
 * repairs exactly the missed keys, a second pass finds nothing, and hints for a returning node
 * drain to zero per owner ({@code KV.HINTS}, INFO, /metrics).
 */
class LeaderlessRepairTest {
  private static final Duration DEADLINE = Duration.ofSeconds(90);
  private static final int KEYS = 300;

  @TempDir Path dir;
  private InProcessCluster cluster;

  @BeforeEach
  void startCluster() throws Exception {
    cluster =
        InProcessCluster.builder(dir)
            .set("leaderless-anti-entropy-interval-ms", "0")
            .deadline(DEADLINE)
            .clientTimeout(Duration.ofSeconds(60))
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

  /** Creates keyspace {@code name}; returns once every node answers reads at the given quorum. */
  private int createKeyspace(int warmUpReadQuorum, String name, String... options) {
    int number = cluster.createKeyspace(name, options);
    cluster.awaitQuorumReads(number, warmUpReadQuorum);
    return number;
  }

  private Map<String, Object> repair(int node, String keyspace) {
    try (Jedis j = jedis(node)) {
      return fields(j.sendCommand(command("KV.REPAIR"), keyspace));
    }
  }

  private void restart(int node) throws Exception {
    cluster.restart(node);
  }

  @Test
  void repairPassFindsAndShipsExactlyTheWritesANodeMissedThenFindsNothing() throws Exception {
    int keyspace = createKeyspace(3, "strict", "style", "leaderless", "r", "2", "w", "2");
    cluster.stop(2);
    try (Jedis j = jedis(0)) {
      j.select(keyspace);
      for (int i = 0; i < KEYS; i++) {
        assertThat(j.set("k" + i, "v" + i)).isEqualTo("OK");
      }
    }
    restart(2);
    await()
        .atMost(DEADLINE)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              try (Jedis j = jedis(2)) {
                j.select(keyspace);
                assertThat(j.sendCommand(command("KV.GET"), "warm-up", "R", "3"))
                    .isInstanceOf(List.class);
              }
            });

    Map<String, Object> first = repair(1, "strict");
    System.out.println("first pass: " + first);
    // N=3 on 3 nodes: n3 missed every key, and each is compared against n1 and n2
    assertThat((Long) first.get("differing_keys")).isBetween((long) KEYS, 2L * KEYS);
    assertThat((Long) first.get("keys_repaired")).isEqualTo(KEYS);
    assertThat((Long) first.get("keys_compared"))
        .isGreaterThanOrEqualTo((Long) first.get("differing_keys"));
    assertThat((Long) first.get("bytes_shipped")).isPositive();
    assertThat(first.get("converged")).isEqualTo(1L);
    assertThat(first.get("partitions_differing")).isEqualTo(0L);
    assertThat(first.get("unreachable")).isEqualTo("");

    Map<String, Object> second = repair(2, Integer.toString(keyspace));
    System.out.println("second pass: " + second);
    assertThat(second.get("differing_keys")).isEqualTo(0L);
    assertThat(second.get("keys_compared")).isEqualTo(0L);
    assertThat(second.get("keys_repaired")).isEqualTo(0L);
    assertThat(second.get("converged")).isEqualTo(1L);
    assertThat(second.get("rounds")).isEqualTo(1L);

    // converged means every partition's Merkle roots are equal on its three owners; the values
    // also read back through n3 as coordinator
    try (Jedis j = jedis(2)) {
      j.select(keyspace);
      for (int i = 0; i < KEYS; i += 17) {
        @SuppressWarnings("unchecked")
        List<Object> values = (List<Object>) j.sendCommand(command("KV.GET"), "k" + i, "R", "3");
        assertThat(new String((byte[]) values.get(1), StandardCharsets.UTF_8)).isEqualTo("v" + i);
      }
    }
    String info;
    try (Jedis j = jedis(1)) {
      info = j.info("leaderless");
    }
    assertThat(info).contains("repairs_completed:1").contains("ks" + keyspace + "_hints_pending:0");
  }

  @Test
  void hintsForADownOwnerAreCountedPerOwnerAndDrainWhenItReturns() throws Exception {
    int keyspace =
        createKeyspace(
            2,
            "sloppy",
            "style",
            "leaderless",
            "replicas",
            "2",
            "r",
            "1",
            "w",
            "2",
            "sloppy",
            "true");
    cluster.stop(2);
    try (Jedis j = jedis(0)) {
      j.select(keyspace);
      await()
          .atMost(DEADLINE)
          .ignoreExceptions()
          .untilAsserted(() -> assertThat(j.set("probe", "x")).isEqualTo("OK"));
      for (int i = 0; i < KEYS; i++) {
        String key = "h" + i;
        String value = "v" + i;
        // a loaded machine can time a write out (it may still have been applied): write it again
        await()
            .atMost(DEADLINE)
            .ignoreExceptionsInstanceOf(redis.clients.jedis.exceptions.JedisDataException.class)
            .untilAsserted(() -> assertThat(j.set(key, value)).isEqualTo("OK"));
      }
    }
    long pending = 0;
    for (int node = 0; node < 2; node++) {
      try (Jedis j = jedis(node)) {
        Map<String, Object> hints = fields(j.sendCommand(command("KV.HINTS"), "sloppy"));
        assertThat(hints.keySet()).isSubsetOf(List.of("n3"));
        pending += hints.isEmpty() ? 0 : (Long) hints.get("n3");
      }
    }
    System.out.println("hints pending for n3: " + pending);
    // N=2 of 3 nodes: about two thirds of the keys have n3 as an owner
    assertThat(pending).isBetween(KEYS / 3L, (long) KEYS);
    String metrics = cluster.httpGet(0, "/metrics");
    assertThat(metrics).contains("replicakv_leaderless_hints_pending{keyspace=\"" + keyspace);
    assertThat(cluster.httpGet(0, "/admin/leaderless"))
        .contains("\"hints_pending_by_owner\"")
        .contains("\"n3\"");

    restart(2);
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () -> {
              for (int node = 0; node < 2; node++) {
                try (Jedis j = jedis(node)) {
                  assertThat(fields(j.sendCommand(command("KV.HINTS"), "sloppy"))).isEmpty();
                }
              }
            });
    for (int node = 0; node < 2; node++) {
      assertThat(cluster.server(node).node().leaderless.service(keyspace).hintLedgerAgrees())
          .isTrue();
    }
    Map<String, Object> pass = repair(0, "sloppy");
    System.out.println("pass after handoff: " + pass);
    assertThat(pass.get("converged")).isEqualTo(1L);
    String overHttp = cluster.httpPost(1, "/admin/leaderless/repair?keyspace=" + keyspace).body();
    assertThat(overHttp).contains("\"converged\":1").contains("\"differing_keys\":0");
    assertThat(cluster.httpGet(0, "/admin/leaderless"))
        .contains("\"hints_pending_by_owner\" : { }");
  }
}
