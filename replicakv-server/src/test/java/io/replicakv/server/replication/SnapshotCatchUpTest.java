package io.replicakv.server.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.core.ring.Slots;
import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.cluster.InMemoryMetadataStore;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.config.ServerConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.commands.ProtocolCommand;

/**
 * Partition snapshots on the serving path, in-process (in-memory metadata, loopback, dynamic
 * ports): a node that joins gets the data of the groups it now replicates by snapshot; a follower
 * stopped while more writes than retention covers happen catches up by snapshot; group files stay
 * bounded by compaction; a restart of every node reads back every acknowledged write.
 */
class SnapshotCatchUpTest {
  private static final Duration DEADLINE = Duration.ofMinutes(4);
  private static final int KEYSPACE = 0;

  @TempDir Path dir;
  private final List<ReplicaKvServer> servers = new ArrayList<>();
  private final List<ServerConfig> configs = new ArrayList<>();
  private InMemoryMetadataStore metadata;

  private static ProtocolCommand command(String name) {
    byte[] raw = name.getBytes(StandardCharsets.UTF_8);
    return () -> raw;
  }

  @AfterEach
  void stop() {
    for (ReplicaKvServer server : servers) {
      if (server != null) {
        server.close();
      }
    }
    if (metadata != null) {
      metadata.close();
    }
  }

  private ServerConfig config(String id, String retained, String join) {
    Map<String, String> settings = new HashMap<>();
    settings.put("port", "0");
    settings.put("http-port", "0");
    settings.put("peer-port", "0");
    settings.put("bind", "127.0.0.1");
    settings.put("data-dir", dir.resolve(id).toString());
    settings.put("node-id", id);
    settings.put("cluster-voters", "n1@127.0.0.1:1");
    settings.put("failover-timeout-ms", "3000");
    settings.put("heartbeat-interval-ms", "200");
    settings.put("replication-write-timeout-ms", "5000");
    settings.put("replication-max-lag-ms", "2000");
    if (retained != null) {
      settings.put("replication-log-retained-records", retained);
    }
    if (join != null) {
      settings.put("join", join);
    }
    return ServerConfig.load(null, settings);
  }

  private void start(ServerConfig config) throws Exception {
    configs.add(config);
    servers.add(new ReplicaKvServer(config).withMetadataStore(metadata).start());
  }

  private Jedis jedis(int node) {
    Jedis j = new Jedis("127.0.0.1", servers.get(node).port(), 60_000);
    j.select(KEYSPACE);
    return j;
  }

  /** Until writes on keys over every slot range succeed through node 0. */
  private void awaitWritable(String prefix) {
    await()
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(300))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              try (Jedis j = jedis(0)) {
                for (int i = 0; i < 64; i++) {
                  assertThat(j.set(prefix + i, "w")).isEqualTo("OK");
                }
              }
            });
  }

  /** Writes {@code count} keys "prefix:i" through node 0, pipelined; returns the acknowledged. */
  private Map<String, String> write(String prefix, int count) {
    Map<String, String> acknowledged = new LinkedHashMap<>();
    try (Jedis j = jedis(0)) {
      for (int from = 0; from < count; from += 200) {
        Pipeline p = j.pipelined();
        Map<String, Response<String>> replies = new LinkedHashMap<>();
        for (int i = from; i < Math.min(count, from + 200); i++) {
          replies.put(prefix + ":" + i, p.set(prefix + ":" + i, "v" + i));
        }
        p.sync();
        replies.forEach(
            (key, reply) -> {
              try {
                if ("OK".equals(reply.get())) {
                  acknowledged.put(key, "v" + key.substring(key.indexOf(':') + 1));
                }
              } catch (RuntimeException refused) {
                // not acknowledged: not checked
              }
            });
      }
    }
    return acknowledged;
  }

  /** The acknowledged keys whose slot {@code member} replicates in the current view. */
  private Map<String, String> replicatedBy(String member, Map<String, String> keys) {
    ReplicaGroups groups = ReplicaGroups.of(metadata.current(), KEYSPACE);
    Map<String, String> out = new LinkedHashMap<>();
    keys.forEach(
        (key, value) -> {
          ReplicaGroups.Group group =
              groups.groupOfSlot(Slots.slot(key.getBytes(StandardCharsets.UTF_8)));
          if (group.replicas().contains(member)) {
            out.put(key, value);
          }
        });
    return out;
  }

  private void awaitHolds(int node, Map<String, String> keys) {
    await("node " + node + " holds " + keys.size() + " keys")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              List<String> missing = new ArrayList<>();
              try (Jedis j = jedis(node)) {
                for (Map.Entry<String, String> e : keys.entrySet()) {
                  Object raw = j.sendCommand(command("LOCALGET"), e.getKey());
                  String held =
                      raw == null ? null : new String((byte[]) raw, StandardCharsets.UTF_8);
                  if (!e.getValue().equals(held)) {
                    missing.add(e.getKey());
                  }
                }
              }
              assertThat(missing).as("keys missing or stale on node %s", node).isEmpty();
            });
  }

  /** Whether INFO replication on {@code node} lists {@code member} as an in-sync follower. */
  private boolean listedInSync(int node, String member) {
    try (Jedis j = jedis(node)) {
      return java.util.regex.Pattern.compile(
              "group_\\d+_\\d+_follower_" + member + ":[^\\r\\n]*in_sync=1")
          .matcher(j.info("replication"))
          .find();
    }
  }

  private long counter(int node, String name) {
    return servers.get(node).node().replication.counters().getOrDefault(name, 0L);
  }

  @Test
  void aJoiningNodeGetsTheDataOfItsGroupsBySnapshot() throws Exception {
    metadata = new InMemoryMetadataStore("test");
    for (int i = 1; i <= 3; i++) {
      start(config("n" + i, null, null));
    }
    awaitWritable("warm-up-");
    // a write refused while a group's leadership settles is not counted; most must go through
    Map<String, String> acknowledged = write("before", 3_000);
    assertThat(acknowledged.size()).isGreaterThan(2_000);

    start(config("n4", null, "127.0.0.1:" + servers.get(0).port()));
    try (Jedis j = jedis(2)) {
      assertThat(j.sendCommand(command("CLUSTER"), "COMMIT", "JOIN", "n4")).isNotNull();
    }
    await()
        .atMost(DEADLINE)
        .until(() -> metadata.current().members().get("n4").state() == MemberState.UP);
    Map<String, String> onJoiner = replicatedBy("n4", acknowledged);
    // 4 nodes, N=3: the joiner replicates about three quarters of the slots
    assertThat(onJoiner.size()).isGreaterThan(acknowledged.size() / 2);
    awaitHolds(3, onJoiner);
    assertThat(counter(3, "snapshot_installs")).isGreaterThan(0);
    long sent = 0;
    for (int node = 0; node < 3; node++) {
      sent += counter(node, "snapshot_keys_sent");
    }
    assertThat(sent).isGreaterThan(0);
    // and the groups keep replicating: a write after the join reaches the joiner's copy too
    awaitWritable("after-join-");
    Map<String, String> after = write("after", 500);
    awaitHolds(3, replicatedBy("n4", after));
  }

  private static long groupFileBytesMax(Path dataDir) throws IOException {
    Path replication = dataDir.resolve("replication");
    try (Stream<Path> files = Files.list(replication)) {
      return files
          .filter(f -> f.getFileName().toString().endsWith(".log"))
          .mapToLong(
              f -> {
                try {
                  return Files.size(f);
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              })
          .max()
          .orElse(0);
    }
  }

  @Test
  void aFollowerBehindRetentionCatchesUpBySnapshotAndFilesStayBounded() throws Exception {
    metadata = new InMemoryMetadataStore("test");
    for (int i = 1; i <= 3; i++) {
      start(config("n" + i, "200", null));
    }
    awaitWritable("warm-up-");
    Map<String, String> acknowledged = new LinkedHashMap<>(write("first", 500));

    servers.get(2).close();
    servers.set(2, null);
    awaitWritable("failed-over-"); // the groups n3 led elect another leader first
    acknowledged.putAll(write("away", 1_000));
    // once n3 has left every in-sync set, the leaders trim past its position (retention 200)
    await("n3 out of every in-sync set")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(300))
        .until(() -> !listedInSync(0, "n3") && !listedInSync(1, "n3"));
    // at least 1,000 acknowledged writes past the retention of 200 (a write refused during a
    // leader change is simply not counted, so write until that many were acknowledged)
    Map<String, String> more = new LinkedHashMap<>();
    for (int round = 0; more.size() < 1_000 && round < 20; round++) {
      more.putAll(write("away-more-" + round, 1_000 - more.size()));
    }
    assertThat(more).hasSizeGreaterThanOrEqualTo(1_000);
    acknowledged.putAll(more);
    servers.set(2, new ReplicaKvServer(configs.get(2)).withMetadataStore(metadata).start());
    awaitHolds(2, acknowledged);
    assertThat(counter(2, "snapshot_installs")).isGreaterThan(0);

    // 10,000 more writes: every group file stays near its retention (compaction)
    acknowledged.putAll(write("bulk", 10_000));
    assertThat(acknowledged.size()).isGreaterThan(12_000);
    for (int node = 0; node < 3; node++) {
      assertThat(counter(node, "log_compactions")).isGreaterThan(0);
      // 200 retained + at most 2 x 200 appended before a rewrite, each record well under 200 bytes
      assertThat(groupFileBytesMax(dir.resolve("n" + (node + 1)))).isLessThan(160_000);
    }

    // every node restarts: each reads back everything (from its own files and storage)
    for (int node = 0; node < 3; node++) {
      servers.get(node).close();
      servers.set(node, null);
    }
    for (int node = 0; node < 3; node++) {
      servers.set(node, new ReplicaKvServer(configs.get(node)).withMetadataStore(metadata).start());
    }
    awaitWritable("after-restart-");
    for (int node = 0; node < 3; node++) {
      awaitHolds(node, acknowledged);
    }
    try (Jedis j = jedis(1)) {
      for (Map.Entry<String, String> e : acknowledged.entrySet()) {
        assertThat(j.get(e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
      }
    }
  }
}
