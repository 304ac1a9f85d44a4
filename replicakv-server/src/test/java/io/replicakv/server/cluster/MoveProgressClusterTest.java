package io.replicakv.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.core.ring.RingDiff;
import io.replicakv.core.ring.Slots;
import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.move.KeyMover;
import io.replicakv.server.testing.InProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A plan's key and byte counts equal what the keys hold, and a join reports its progress on every
 * source through CLUSTER MOVEPROGRESS, /metrics and /admin/cluster: planned bytes fixed at the
 * copy's start, copied bytes growing to exactly the planned ones, then "done".
 */
class MoveProgressClusterTest {
  static final int KEY_COUNT = 2000;
  static final int VALUE_BYTES = 40;
  static final int TAGGED_KEYS = 20;
  static final Duration DEADLINE = Duration.ofSeconds(60);

  /** About 25 KB per source move at this pace: a second or two, so the copy is seen running. */
  static final String THROTTLE_BYTES_PER_SECOND = "15000";

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

  private ReplicaKvServer start(String id, boolean join) throws Exception {
    return nodes.startNode(
        id, join, Map.of("move-throttle-bytes-per-sec", THROTTLE_BYTES_PER_SECOND));
  }

  @Test
  void planCountsKeysAndBytesAndAJoinReportsItsProgressOnEverySource() throws Exception {
    start("n1", false);
    start("n2", false);
    await()
        .atMost(DEADLINE)
        .until(
            () ->
                nodes.metadata().current().members().size() == 2
                    && nodes.metadata().current().ring().nodes().size() == 2);
    Map<String, Integer> written = new LinkedHashMap<>(); // key -> value length, keyspace 0 and 1
    try (Jedis j = new Jedis("127.0.0.1", nodes.server(0).port())) {
      for (int i = 0; i < KEY_COUNT; i++) {
        j.set("key:" + i, "v".repeat(VALUE_BYTES));
        written.put("key:" + i, VALUE_BYTES);
      }
      for (int i = 0; i < TAGGED_KEYS; i++) {
        j.hset("{tag}h" + i, "field", "x".repeat(i));
        written.put("{tag}h" + i, "field".length() + i);
      }
    }

    // the plan's counts are what the keys in the moving slots hold
    List<RingDiff.SlotMove> moves = KeyMover.plan(nodes.metadata().current(), "n3", true);
    Map<String, long[]> expectedBySource = new TreeMap<>();
    long[] expected = new long[2];
    written.forEach(
        (key, valueBytes) -> {
          int slot = Slots.slot(key);
          for (RingDiff.SlotMove m : moves) {
            if (slot >= m.firstSlot() && slot <= m.lastSlot()) {
              long bytes = key.getBytes(StandardCharsets.UTF_8).length + valueBytes;
              long[] bySource = expectedBySource.computeIfAbsent(m.fromNode(), s -> new long[2]);
              bySource[0]++;
              bySource[1] += bytes;
              expected[0]++;
              expected[1] += bytes;
            }
          }
        });
    assertThat(expectedBySource.keySet()).containsExactly("n1", "n2");
    String plan = cluster(nodes.server(1), "PLAN", "JOIN", "n3");
    assertThat(plan.lines().findFirst().get())
        .contains(", " + expected[0] + " keys move, ")
        .contains("(" + expected[1] + " bytes of keys and values)");
    assertThat(plan).contains("total n1 -> n3 ").contains("total n2 -> n3 ");

    // COUNTKEYSINSLOT and GETKEYSINSLOT on the owner of the hash tag's slot
    int tagSlot = Slots.slot("tag");
    ReplicaKvServer owner = server(nodes.metadata().current().ownerOf(tagSlot).id());
    try (Jedis j = new Jedis("127.0.0.1", owner.port())) {
      assertThat(j.clusterCountKeysInSlot(tagSlot)).isEqualTo(TAGGED_KEYS);
      assertThat(j.clusterGetKeysInSlot(tagSlot, 5))
          .hasSize(5)
          .allMatch(k -> k.startsWith("{tag}h"));
      assertThat(j.clusterGetKeysInSlot(tagSlot, 1000)).hasSize(TAGGED_KEYS);
    }

    start("n3", true);
    await().atMost(DEADLINE).until(() -> nodes.metadata().current().members().get("n3") != null);
    assertThat(cluster(nodes.server(0), "COMMIT", "JOIN", "n3")).isEqualTo("OK");
    Map<String, List<Map<String, String>>> seen = new TreeMap<>();
    await()
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              for (String id : List.of("n1", "n2")) {
                seen.computeIfAbsent(id, k -> new ArrayList<>())
                    .add(fields(cluster(server(id), "MOVEPROGRESS", "n3")));
              }
              return nodes.metadata().current().members().get("n3").state() == MemberState.UP;
            });
    for (String id : List.of("n1", "n2")) {
      List<Map<String, String>> reports = seen.get(id);
      int copyReports = 0;
      long previous = -1;
      for (Map<String, String> f : reports) {
        if (!f.get("member").equals("n3")) {
          continue;
        }
        assertThat(f.get("targets")).isEqualTo("n3");
        assertThat(f.get("throttle_bytes_per_sec")).isEqualTo(THROTTLE_BYTES_PER_SECOND);
        if (!f.get("phase").equals("copy")) {
          continue;
        }
        long planned = Long.parseLong(f.get("planned_bytes"));
        if (planned == 0
            && f.get("planned_keys").equals("0")
            && Long.parseLong(f.get("copied_bytes")) == 0) {
          continue; // the copy has not started yet (the withdraw round trip)
        }
        assertThat(planned).as("%s planned bytes", id).isEqualTo(expectedBySource.get(id)[1]);
        assertThat(Long.parseLong(f.get("planned_keys"))).isEqualTo(expectedBySource.get(id)[0]);
        long copied = Long.parseLong(f.get("copied_bytes"));
        assertThat(copied)
            .as("%s copied bytes non-decreasing", id)
            .isGreaterThanOrEqualTo(previous);
        assertThat(copied).isLessThanOrEqualTo(planned);
        previous = copied;
        copyReports++;
      }
      assertThat(copyReports).as("%s seen copying with its plan", id).isPositive();
      assertThat(reports.get(0).get("watched_state")).isEqualTo("JOINING");
      assertThat(reports.get(0).get("watched_sources")).isEqualTo("n1,n2");
    }
    for (String id : List.of("n1", "n2")) {
      await()
          .atMost(DEADLINE)
          .until(
              () -> fields(cluster(server(id), "MOVEPROGRESS")).get("last_result").equals("done"));
      Map<String, String> f = fields(cluster(server(id), "MOVEPROGRESS", "n3"));
      assertThat(f.get("phase")).isEqualTo("idle");
      assertThat(f.get("last_member")).isEqualTo("n3");
      assertThat(f.get("watched_state")).isEqualTo("UP");
      String metrics = httpGet(server(id).httpPort(), "/metrics");
      assertThat(metrics)
          .contains("replicakv_moving_bytes{stage=\"planned\"} 0")
          .contains("replicakv_move_eta_seconds 0");
      assertThat(httpGet(server(id).httpPort(), "/admin/cluster"))
          .contains("\"moveProgress\"")
          .contains("\"lastMember\" : \"n3\"");
    }
    // the last copy report of each source had sent exactly its plan
    for (String id : List.of("n1", "n2")) {
      Map<String, String> lastCopy = null;
      for (Map<String, String> f : seen.get(id)) {
        if (f.get("member").equals("n3") && !f.get("phase").equals("copy")) {
          lastCopy = f;
          break;
        }
      }
      if (lastCopy != null) {
        assertThat(lastCopy.get("copied_bytes")).isEqualTo(lastCopy.get("planned_bytes"));
      }
    }
  }

  private ReplicaKvServer server(String id) {
    return nodes.server(id);
  }

  static Map<String, String> fields(String text) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String line : text.split("\r?\n")) {
      int colon = line.indexOf(':');
      if (colon > 0) {
        out.put(line.substring(0, colon), line.substring(colon + 1));
      }
    }
    return out;
  }

  private static String cluster(ReplicaKvServer s, String... args) {
    try (Jedis j = new Jedis("127.0.0.1", s.port())) {
      Object reply = j.sendCommand(redis.clients.jedis.Protocol.Command.CLUSTER, args);
      return reply instanceof byte[] b
          ? new String(b, StandardCharsets.UTF_8)
          : String.valueOf(reply);
    }
  }

  private static String httpGet(int port, String path) throws Exception {
    java.net.HttpURLConnection c =
        (java.net.HttpURLConnection)
            java.net.URI.create("http://127.0.0.1:" + port + path).toURL().openConnection();
    try (java.io.InputStream in = c.getInputStream()) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } finally {
      c.disconnect();
    }
  }
}
