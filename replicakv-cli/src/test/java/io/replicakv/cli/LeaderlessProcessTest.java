package io.replicakv.cli;

import static io.replicakv.cli.FaultCluster.command;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.commands.ProtocolCommand;

/**
 * Five server processes behind a fault proxy ({@link FaultCluster}) serving a leaderless keyspace
 * N=3 R=2 W=2 with a sloppy quorum, under a Jedis write load: (a) one node killed with SIGKILL and
 * restarted, (b) one node cut from all the others and healed. After each: the hints for the node
 * drain to zero on every member, an operator's anti-entropy pass ({@code KV.REPAIR}) converges and
 * a second one finds no differing key, and every acknowledged write reads back at R=2. The numbers
 * (writes acknowledged, errors by kind, hints stored and handed off, keys repaired) are printed.
 *
 * <p>One cluster serves both tests (five JVMs cost more to start than the tests run). Scheduled
 * anti-entropy stays on at its defaults: it is part of how the keyspace heals, and the pass
 * afterwards shows what it had not yet done.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LeaderlessProcessTest {
  /** Hint drain, restart, repair: generous, the machine is shared and loaded. */
  static final Duration DEADLINE = Duration.ofMinutes(5);

  /** Writes acknowledged in each step of a test's load before the next fault step. */
  static final int WRITES_PER_STEP = 400;

  private static final ProtocolCommand KV_GET = command("KV.GET");
  private static final ProtocolCommand KV_HINTS = command("KV.HINTS");
  private static final ProtocolCommand KV_REPAIR = command("KV.REPAIR");
  private static final String KEYSPACE = "carts";

  private FaultCluster cluster;
  private int keyspace;

  @BeforeAll
  void startCluster(@TempDir Path dir) throws Exception {
    cluster = FaultCluster.start(dir, 5, 3, "--fsync=always");
    keyspace =
        cluster.createKeyspace(
            KEYSPACE, "style", "leaderless", "replicas", "3", "r", "2", "w", "2", "sloppy", "true");
  }

  @AfterAll
  void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private void awaitServing(String id) {
    await(id + " serves keyspace " + KEYSPACE)
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              try (Jedis j = cluster.client(id)) {
                j.select(keyspace);
                assertThat(j.sendCommand(KV_GET, "warm-up", "R", "3")).isInstanceOf(List.class);
              }
            });
  }

  /** Writers on the given coordinators, each its own keys, counting acknowledgements and errors. */
  private final class Load implements AutoCloseable {
    final Map<String, String> acknowledged = new ConcurrentHashMap<>();
    final List<AckedWriter> writers = new ArrayList<>();

    Load(String phase, String... coordinators) {
      for (int t = 0; t < coordinators.length; t++) {
        String node = coordinators[t];
        String prefix = phase + "-" + node + "-" + t + "-";
        writers.add(
            AckedWriter.through(() -> cluster.client(node))
                .keyspace(keyspace)
                .keys(i -> prefix + i)
                .values(i -> "v" + i)
                // every error reply is counted by kind and the next key written
                .onError(message -> AckedWriter.OnError.SKIP)
                // a refused connection fails at once: wait for the node before trying again, on
                // the condition, not a fixed pause
                .reconnectWhen(() -> cluster.node(node).isAlive(), DEADLINE)
                .acknowledgedInto(acknowledged)
                .name("load-" + prefix)
                .start());
      }
    }

    void awaitAcknowledged(int atLeast) {
      await("at least " + atLeast + " acknowledged writes")
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(100))
          .until(() -> acknowledged.size() >= atLeast);
    }

    Map<String, Long> errorCounts() {
      Map<String, Long> out = new TreeMap<>();
      for (AckedWriter w : writers) {
        w.errorCounts().forEach((kind, count) -> out.merge(kind, count, Long::sum));
      }
      return out;
    }

    @Override
    public void close() throws InterruptedException {
      for (AckedWriter w : writers) {
        w.stop();
      }
      for (AckedWriter w : writers) {
        assertThat(w.failure()).as("writer failure").isNull();
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> fields(Object reply) {
    List<Object> flat = (List<Object>) reply;
    Map<String, Object> out = new TreeMap<>();
    for (int i = 0; i + 1 < flat.size(); i += 2) {
      Object value = flat.get(i + 1);
      out.put(
          new String((byte[]) flat.get(i), StandardCharsets.UTF_8),
          value instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : value);
    }
    return out;
  }

  /** The nodes whose process runs. */
  private List<String> liveIds() {
    return cluster.ids().stream().filter(id -> cluster.node(id).isAlive()).toList();
  }

  /** Every node runs, serves the keyspace and the network is healed (a failed test left none). */
  @org.junit.jupiter.api.BeforeEach
  void everyNodeServing() throws Exception {
    cluster.healAll();
    for (String id : cluster.ids()) {
      if (!cluster.node(id).isAlive()) {
        cluster.restart(id);
      }
      awaitServing(id);
    }
  }

  /** Hints held on every running node, summed per owner. */
  private Map<String, Long> hintsEverywhere() {
    Map<String, Long> total = new TreeMap<>();
    for (String id : liveIds()) {
      try (Jedis j = cluster.client(id)) {
        fields(j.sendCommand(KV_HINTS, KEYSPACE))
            .forEach((owner, count) -> total.merge(owner, (Long) count, Long::sum));
      }
    }
    return total;
  }

  /** A leaderless counter from INFO, summed over the nodes. */
  private long infoSum(String counter) {
    long sum = 0;
    for (String id : liveIds()) {
      try (Jedis j = cluster.client(id)) {
        for (String line : j.info("leaderless").split("\r\n")) {
          if (line.startsWith("ks" + keyspace + "_" + counter + ":")) {
            sum += Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
          }
        }
      }
    }
    return sum;
  }

  private Map<String, Object> repair(String via) {
    try (Jedis j = new Jedis("127.0.0.1", cluster.node(via).port(), 400_000)) {
      return fields(j.sendCommand(KV_REPAIR, KEYSPACE));
    }
  }

  /** Hints drain, a pass converges, a second pass finds nothing, every write reads back at R=2. */
  private void assertHealed(String phase, Load load) {
    await(phase + ": hints for every owner handed off on every node")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .ignoreExceptions()
        .until(() -> hintsEverywhere().isEmpty());
    Map<String, Object> first = repair("n1");
    Map<String, Object> second = repair("n2");
    int read = 0;
    List<String> wrong = new ArrayList<>();
    try (Jedis j = cluster.client("n5")) {
      j.select(keyspace);
      for (Map.Entry<String, String> write : new TreeMap<>(load.acknowledged).entrySet()) {
        String value = j.get(write.getKey());
        read++;
        if (!write.getValue().equals(value)) {
          wrong.add(write.getKey() + "=" + value + " (wrote " + write.getValue() + ")");
        }
      }
    }
    Map<String, Object> numbers = new HashMap<>();
    numbers.put("writes_acknowledged", load.acknowledged.size());
    numbers.put("errors_by_kind", load.errorCounts());
    numbers.put("hints_stored", infoSum("hints_stored"));
    numbers.put("hints_handed_off", infoSum("hints_handed_off"));
    numbers.put("first_pass", first);
    numbers.put("second_pass", second);
    numbers.put("acknowledged_read_back_at_r2", read - wrong.size());
    System.out.println("leaderless " + phase + ": " + new TreeMap<>(numbers));
    assertThat(wrong).as("acknowledged writes that did not read back").isEmpty();
    assertThat(first.get("converged")).as("first pass %s", first).isEqualTo(1L);
    assertThat(second.get("converged")).as("second pass %s", second).isEqualTo(1L);
    assertThat(second.get("differing_keys")).as("second pass %s", second).isEqualTo(0L);
    assertThat(second.get("keys_repaired")).as("second pass %s", second).isEqualTo(0L);
  }

  @Test
  void killedAndRestartedNodeLosesNoAcknowledgedWriteAndConverges() throws Exception {
    long handedOffBefore = infoSum("hints_handed_off");
    Load load = new Load("kill", "n1", "n2", "n5");
    try {
      load.awaitAcknowledged(WRITES_PER_STEP);
      cluster.kill9("n3");
      int atKill = load.acknowledged.size();
      load.awaitAcknowledged(atKill + WRITES_PER_STEP);
      assertThat(hintsEverywhere()).containsKey("n3");
      cluster.restart("n3");
      awaitServing("n3");
      load.awaitAcknowledged(load.acknowledged.size() + WRITES_PER_STEP);
    } finally {
      load.close();
    }
    assertHealed("kill -9 n3 and restart", load);
    assertThat(infoSum("hints_handed_off")).isGreaterThan(handedOffBefore);
  }

  @Test
  void nodeCutFromTheRestLosesNoAcknowledgedWriteAndConvergesAfterTheHeal() throws Exception {
    long handedOffBefore = infoSum("hints_handed_off");
    Load load = new Load("cut", "n1", "n2", "n4");
    try {
      load.awaitAcknowledged(WRITES_PER_STEP);
      for (String other : cluster.ids()) {
        if (!other.equals("n4")) {
          cluster.cut("n4", other);
        }
      }
      int atCut = load.acknowledged.size();
      load.awaitAcknowledged(atCut + WRITES_PER_STEP);
      await("hints for n4 stored while it is cut")
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(500))
          .until(() -> hintsEverywhere().containsKey("n4"));
      cluster.healAll();
      load.awaitAcknowledged(load.acknowledged.size() + WRITES_PER_STEP);
    } finally {
      load.close();
    }
    assertHealed("n4 cut from all and healed", load);
    assertThat(infoSum("hints_handed_off")).isGreaterThan(handedOffBefore);
  }
}
