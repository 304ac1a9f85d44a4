package io.replicakv.server.leaderless;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.cluster.InMemoryMetadataStore;
import io.replicakv.server.config.ServerConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.commands.ProtocolCommand;

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
  private final List<ReplicaKvServer> servers = new ArrayList<>();
  private final List<ServerConfig> configs = new ArrayList<>();
  private InMemoryMetadataStore metadata;

  private static ProtocolCommand command(String name) {
    byte[] raw = name.getBytes(StandardCharsets.UTF_8);
    return () -> raw;
  }

  @BeforeEach
  void startCluster() throws Exception {
    metadata = new InMemoryMetadataStore("test");
    for (int i = 1; i <= 3; i++) {
      ServerConfig config =
          ServerConfig.load(
              null,
              Map.of(
                  "port", "0",
                  "http-port", "0",
                  "peer-port", "0",
                  "bind", "127.0.0.1",
                  "data-dir", dir.resolve("n" + i).toString(),
                  "node-id", "n" + i,
                  "cluster-voters", "n1@127.0.0.1:1",
                  "leaderless-anti-entropy-interval-ms", "0"));
      configs.add(config);
      servers.add(new ReplicaKvServer(config).withMetadataStore(metadata).start());
    }
  }

  @AfterEach
  void stopCluster() {
    for (ReplicaKvServer server : servers) {
      if (server != null) {
        server.close();
      }
    }
    metadata.close();
  }

  private Jedis jedis(int node) {
    return new Jedis("127.0.0.1", servers.get(node).port(), 60_000);
  }

  private int createKeyspace(int warmUpReadQuorum, String... options) {
    List<String> args = new ArrayList<>(List.of("CREATE"));
    args.addAll(List.of(options));
    int number;
    try (Jedis j = jedis(0)) {
      number = ((Long) j.sendCommand(command("KEYSPACE"), args.toArray(new String[0]))).intValue();
    }
    for (int node = 0; node < servers.size(); node++) {
      int n = node;
      await()
          .atMost(DEADLINE)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                try (Jedis j = jedis(n)) {
                  j.select(number);
                  assertThat(
                          j.sendCommand(
                              command("KV.GET"),
                              "warm-up",
                              "R",
                              Integer.toString(warmUpReadQuorum)))
                      .isInstanceOf(List.class);
                }
              });
    }
    return number;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> fields(Object reply) {
    List<Object> flat = (List<Object>) reply;
    Map<String, Object> out = new HashMap<>();
    for (int i = 0; i + 1 < flat.size(); i += 2) {
      Object value = flat.get(i + 1);
      out.put(
          new String((byte[]) flat.get(i), StandardCharsets.UTF_8),
          value instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : value);
    }
    return out;
  }

  private Map<String, Object> repair(int node, String keyspace) {
    try (Jedis j = jedis(node)) {
      return fields(j.sendCommand(command("KV.REPAIR"), keyspace));
    }
  }

  private void restart(int node) throws Exception {
    servers.set(node, new ReplicaKvServer(configs.get(node)).withMetadataStore(metadata).start());
  }

  @Test
  void repairPassFindsAndShipsExactlyTheWritesANodeMissedThenFindsNothing() throws Exception {
    int keyspace = createKeyspace(3, "strict", "style", "leaderless", "r", "2", "w", "2");
    servers.get(2).close();
    servers.set(2, null);
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
    servers.get(2).close();
    servers.set(2, null);
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
    String metrics = get(servers.get(0).httpPort(), "/metrics");
    assertThat(metrics).contains("replicakv_leaderless_hints_pending{keyspace=\"" + keyspace);
    assertThat(get(servers.get(0).httpPort(), "/admin/leaderless"))
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
      assertThat(servers.get(node).node().leaderless.service(keyspace).hintLedgerAgrees()).isTrue();
    }
    Map<String, Object> pass = repair(0, "sloppy");
    System.out.println("pass after handoff: " + pass);
    assertThat(pass.get("converged")).isEqualTo(1L);
    String overHttp =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(
                            "http://127.0.0.1:"
                                + servers.get(1).httpPort()
                                + "/admin/leaderless/repair?keyspace="
                                + keyspace))
                    .POST(java.net.http.HttpRequest.BodyPublishers.noBody())
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString())
            .body();
    assertThat(overHttp).contains("\"converged\":1").contains("\"differing_keys\":0");
    assertThat(get(servers.get(0).httpPort(), "/admin/leaderless"))
        .contains("\"hints_pending_by_owner\" : { }");
  }

  static String get(int port, String path) throws Exception {
    return java.net.http.HttpClient.newHttpClient()
        .send(
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create("http://127.0.0.1:" + port + path))
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofString())
        .body();
  }
}
