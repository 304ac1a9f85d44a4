package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.commands.ProtocolCommand;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * The divergent-writes record between three server processes behind the fault proxy: the group of
 * an {@code acks=none} keyspace is switched over with {@code replicakv cluster failover} to a node
 * that does not host the controllers, that leader is cut off from both other nodes, it keeps
 * acknowledging writes until its lease lapses, the others fail over, the cut heals: every write the
 * old leader acknowledged that the new leader does not hold is listed by {@code REPLICATION
 * DIVERGENT} (and {@code replicakv cluster divergent}, {@code GET /admin/replication/divergent},
 * the metric) with its key and value ("with acks=none, every lost write appears in the
 * divergent-writes record").
 */
class DivergentWritesProcessTest {
  static final long FAILOVER_TIMEOUT_MILLIS = 3_000;

  /** Generous: several JVMs of other work share two cores. */
  static final Duration DEADLINE = Duration.ofMinutes(3);

  /** The cut-off leader is written to for at most this long (its lease lapses much sooner). */
  static final Duration LOSSY_WRITES_MAX = Duration.ofSeconds(20);

  private static final Pattern CONTROLLERS = Pattern.compile("controllers_hosted:(\\d+)");

  private FaultCluster cluster;

  private static ProtocolCommand command(String name) {
    byte[] raw = name.getBytes(StandardCharsets.UTF_8);
    return () -> raw;
  }

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private String leaderOf(String askedNode, int keyspace, String key) {
    try (Jedis j = cluster.client(askedNode)) {
      long slot = j.clusterKeySlot(key);
      j.select(keyspace);
      Object leader = j.sendCommand(command("CLUSTER"), "REPLICALEADER", Long.toString(slot));
      return new String((byte[]) leader, StandardCharsets.UTF_8);
    }
  }

  private String controllerHost() {
    for (String id : cluster.ids()) {
      try (Jedis j = cluster.client(id)) {
        Matcher m = CONTROLLERS.matcher(j.info("replication"));
        if (m.find() && Long.parseLong(m.group(1)) > 0) {
          return id;
        }
      }
    }
    return null;
  }

  @Test
  void everyWriteACutOffLeaderAcknowledgedAndLostIsListed(@TempDir Path dir) throws Exception {
    cluster =
        FaultCluster.start(
            dir,
            3,
            "--set=heartbeat-interval-ms=200",
            "--set=failover-timeout-ms=" + FAILOVER_TIMEOUT_MILLIS,
            "--set=replication-write-timeout-ms=2000",
            "--set=replication-preferred-leader=off");
    // a loaded machine can miss the metadata commit deadline: retry, the keyspace may exist already
    int lossy =
        await("keyspace lossy created")
            .atMost(DEADLINE)
            .pollInterval(Duration.ofSeconds(1))
            .ignoreExceptions()
            .until(
                () -> {
                  try (Jedis j = cluster.client("n1")) {
                    try {
                      j.sendCommand(
                          command("KEYSPACE"),
                          "CREATE",
                          "lossy",
                          "style",
                          "single-leader",
                          "acks",
                          "none");
                    } catch (JedisDataException e) {
                      System.out.println("KEYSPACE CREATE: " + e.getMessage());
                    }
                    List<?> rows =
                        (List<?>) j.sendCommand(command("REPLICATION"), "GROUPS", "lossy");
                    return rows.isEmpty()
                        ? -1
                        : Integer.parseInt(text(((List<?>) rows.get(0)).get(0)));
                  }
                },
                number -> number > 0);
    for (String node : cluster.ids()) {
      try (Jedis j = cluster.client(node)) {
        await("writes through " + node)
            .atMost(DEADLINE)
            .pollInterval(Duration.ofMillis(250))
            .ignoreExceptions()
            .until(
                () -> {
                  j.select(lossy);
                  return "OK".equals(j.set("{dv}:warm", "w"));
                });
      }
    }
    String host =
        await("a controller host").atMost(DEADLINE).until(this::controllerHost, h -> h != null);
    String victim = host.equals("n3") ? "n2" : "n3";
    long slot;
    try (Jedis j = cluster.client(host)) {
      slot = j.clusterKeySlot("{dv}");
    }
    // the group's leader must not host the controllers (else the cut would keep its lease)
    CliRun.Result moved =
        CliRun.run(
            dir,
            "cluster",
            "failover",
            "--keyspace",
            "lossy",
            "--slot",
            Long.toString(slot),
            "--to",
            victim,
            "--node",
            "127.0.0.1:" + cluster.node("n1").port());
    System.out.println("cluster failover: " + moved.output());
    assertThat(moved.exitCode()).as(moved.output()).isZero();
    assertThat(leaderOf(host, lossy, "{dv}")).isEqualTo(victim);
    try (Jedis j = cluster.client(victim)) {
      j.select(lossy);
      for (int i = 0; i < 10; i++) {
        assertThat(j.set("{dv}:kept-" + i, "k" + i)).isEqualTo("OK");
      }
    }
    // acks=none: the kept writes count as replicated only once the followers hold them
    await("the followers hold the writes made before the cut")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(250))
        .ignoreExceptions()
        .until(
            () -> {
              for (String other : cluster.ids()) {
                try (Jedis j = cluster.client(other)) {
                  j.select(lossy);
                  Object own =
                      j.sendCommand(
                          () -> "LOCALGET".getBytes(java.nio.charset.StandardCharsets.UTF_8),
                          "{dv}:kept-9".getBytes(java.nio.charset.StandardCharsets.UTF_8));
                  if (own == null
                      || !"k9"
                          .equals(
                              new String((byte[]) own, java.nio.charset.StandardCharsets.UTF_8))) {
                    return false;
                  }
                }
              }
              return true;
            });
    for (String other : cluster.ids()) {
      if (!other.equals(victim)) {
        cluster.cut(victim, other);
      }
    }
    Map<String, String> acknowledged = new LinkedHashMap<>();
    List<String> refusals = new ArrayList<>();
    try (Jedis j = cluster.client(victim)) {
      j.select(lossy);
      long endNanos = System.nanoTime() + LOSSY_WRITES_MAX.toNanos();
      for (int i = 0; System.nanoTime() < endNanos && refusals.size() < 3; i++) {
        String key = "{dv}:lost-" + i;
        String value = "lost-value-" + i;
        try {
          if ("OK".equals(j.set(key, value))) {
            acknowledged.put(key, value);
          }
        } catch (JedisDataException e) {
          refusals.add(e.getMessage());
        }
      }
    }
    System.out.println(
        acknowledged.size() + " writes acknowledged by the cut-off leader; then " + refusals);
    assertThat(acknowledged)
        .as("the cut-off leader acknowledged writes until its lease lapsed")
        .isNotEmpty();
    assertThat(refusals).as("and then refused them").isNotEmpty();
    String survivor = cluster.ids().stream().filter(id -> !id.equals(victim)).findFirst().get();
    String newLeader =
        await("failover away from " + victim)
            .atMost(DEADLINE)
            .pollInterval(Duration.ofMillis(250))
            .ignoreExceptions()
            .until(
                () -> leaderOf(survivor, lossy, "{dv}"),
                l -> l.startsWith("n") && !l.equals(victim));
    cluster.healAll();
    // the old leader follows again: it truncated its un-replicated tail into the record
    await("the old leader follows " + newLeader)
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(250))
        .ignoreExceptions()
        .until(() -> leaderOf(victim, lossy, "{dv}").equals(newLeader));
    Map<String, String> lost = new LinkedHashMap<>();
    try (Jedis j = cluster.client(newLeader)) {
      j.select(lossy);
      for (Map.Entry<String, String> e : acknowledged.entrySet()) {
        if (!e.getValue().equals(j.get(e.getKey()))) {
          lost.put(e.getKey(), e.getValue());
        }
      }
      for (int i = 0; i < 10; i++) {
        assertThat(j.get("{dv}:kept-" + i)).isEqualTo("k" + i);
      }
    }
    System.out.println(lost.size() + " acknowledged writes are not on the new leader");
    assertThat(lost).as("the cut held back the tail the old leader acknowledged").isNotEmpty();
    List<?> rows =
        await("the divergent writes listed")
            .atMost(DEADLINE)
            .pollInterval(Duration.ofMillis(500))
            .ignoreExceptions()
            .until(
                () -> {
                  try (Jedis j = cluster.client(survivor)) {
                    return (List<?>) j.sendCommand(command("REPLICATION"), "DIVERGENT", "lossy");
                  }
                },
                r -> listedKeys(r, victim).keySet().containsAll(lost.keySet()));
    Map<String, String> listed = listedKeys(rows, victim);
    for (Map.Entry<String, String> e : lost.entrySet()) {
      assertThat(listed.get(e.getKey()))
          .as("listed operation of %s", e.getKey())
          .isEqualTo("SET " + e.getKey() + " " + e.getValue());
    }
    // the same through the CLI, over HTTP and in the metric
    CliRun.Result cli =
        CliRun.run(
            dir,
            "cluster",
            "divergent",
            "--keyspace",
            "lossy",
            "--node",
            "127.0.0.1:" + cluster.node(newLeader).port());
    assertThat(cli.exitCode()).as(cli.output()).isZero();
    String firstLost = lost.keySet().iterator().next();
    assertThat(cli.output()).contains(victim + "\t" + lossy).contains(firstLost);
    String json =
        Http.get(cluster.node(survivor).httpPort(), "/admin/replication/divergent").body();
    assertThat(json).contains("\"key\" : \"" + firstLost + "\"");
    String metrics = Http.get(cluster.node(victim).httpPort(), "/metrics").body();
    Matcher m =
        Pattern.compile(
                "replicakv_replication_divergent_writes_total\\{keyspace=\"" + lossy + "\"} (\\d+)")
            .matcher(metrics);
    assertThat(m.find()).as(metrics).isTrue();
    assertThat(Long.parseLong(m.group(1))).isGreaterThanOrEqualTo(lost.size());
    // maintenance: every group the new leader leads moves away from it
    CliRun.Result drained =
        CliRun.run(
            dir,
            "cluster",
            "drain",
            newLeader,
            "--node",
            "127.0.0.1:" + cluster.node(victim).port());
    System.out.println("cluster drain " + newLeader + ": " + drained.output());
    assertThat(drained.exitCode()).as(drained.output()).isZero();
    assertThat(drained.output()).contains(newLeader + " -> ");
    assertThat(leaderOf(host, lossy, "{dv}")).isNotEqualTo(newLeader);
  }

  /** Key to operation text of the rows of {@code node} in a DIVERGENT answer. */
  private static Map<String, String> listedKeys(List<?> rows, String node) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Object row : rows) {
      List<?> f = (List<?>) row;
      if (f.size() == 7 && text(f.get(0)).equals(node)) {
        out.put(text(f.get(5)), text(f.get(6)));
      }
    }
    return out;
  }

  private static String text(Object field) {
    return field instanceof byte[] b
        ? new String(b, StandardCharsets.UTF_8)
        : String.valueOf(field);
  }
}
