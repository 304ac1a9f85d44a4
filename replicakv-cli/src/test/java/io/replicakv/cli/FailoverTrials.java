package io.replicakv.cli;

import static io.replicakv.cli.FaultCluster.command;
import static org.awaitility.Awaitility.await;

import io.replicakv.core.util.Check;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * A measurement program, not a test: repeated {@code kill -9} of a single-leader replica group's
 * leader between three server processes (peer traffic through the fault proxy of {@link
 * FaultCluster}), printing for each trial the time from the kill to the first write to that slot
 * that succeeds, then p50 and max over the trials.
 *
 * <p>One trial: ask {@code CLUSTER REPLICALEADER} which node leads the slot of {@code {fo}} in
 * keyspace 0 (acks=1, N=3); run a Jedis writer through another node (keyspace 0 every write, an
 * acks=all keyspace every fifth until the kill, since it cannot commit without the killed node);
 * kill the leader with SIGKILL; time until a write started after the kill is acknowledged; let 20
 * more succeed; stop the writer; restart the killed node on its ports and data; wait until the new
 * leader's {@code INFO replication} lists the restarted node as in sync for every group it leads
 * and the restarted node's own copy holds a write made after the restart; then read back every
 * write acknowledged so far (all trials) through a live node, in both keyspaces. A lost
 * acknowledged write is printed and makes the exit code 1.
 *
 * <p>Run by {@code bench/failover-trials.sh [TRIALS] [FAILOVER_TIMEOUT_MS]}. The settings are the
 * ones {@link SingleLeaderFailoverTest} uses (heartbeat 200 ms, write timeout 2 s), the failover
 * timeout 3 s unless given.
 */
final class FailoverTrials {
  /** Per wait; generous because other JVMs share the two cores. */
  static final Duration DEADLINE = Duration.ofMinutes(3);

  /** A writer stops by itself after this long, whatever happens. */
  static final Duration WRITER_MAX = Duration.ofMinutes(5);

  /** Acknowledged writes of a trial before its kill. */
  static final int WRITES_BEFORE_KILL = 50;

  /** Acknowledged writes after the first one past the kill, before the writer stops. */
  static final int WRITES_AFTER_RECOVERY = 20;

  private final FaultCluster cluster;
  private final int sync;
  private final Map<String, String> acked = new ConcurrentHashMap<>();
  private final Map<String, String> ackedSync = new ConcurrentHashMap<>();
  private long sequence;

  private FailoverTrials(FaultCluster cluster, int sync) {
    this.cluster = cluster;
    this.sync = sync;
  }

  public static void main(String[] args) throws Exception {
    int trials = args.length > 0 ? Integer.parseInt(args[0]) : 10;
    long failoverTimeoutMillis = args.length > 1 ? Long.parseLong(args[1]) : 3_000;
    Path dir = Files.createTempDirectory("replicakv-failover-trials");
    int lost;
    try (FaultCluster cluster =
        FaultCluster.start(dir, 3, FaultCluster.fastReplication(failoverTimeoutMillis))) {
      int sync = cluster.createKeyspace("sync", "style", "single-leader", "acks", "all");
      FailoverTrials run = new FailoverTrials(cluster, sync);
      run.warmUp();
      System.out.println(
          "3 processes, failover-timeout-ms="
              + failoverTimeoutMillis
              + " heartbeat-interval-ms=200 replication-write-timeout-ms=2000; keyspace 0 acks=1,"
              + " keyspace "
              + sync
              + " acks=all; load "
              + loadAverage());
      List<Long> recoveries = new ArrayList<>();
      lost = 0;
      for (int t = 1; t <= trials; t++) {
        long millis = run.trial(t);
        recoveries.add(millis);
        lost += run.checkAcknowledged(t);
      }
      List<Long> sorted = recoveries.stream().sorted().toList();
      System.out.printf(
          "recovery after kill -9 over %d trials: p50 %d ms, max %d ms, min %d ms (all: %s)%n",
          trials,
          sorted.get((sorted.size() - 1) / 2),
          sorted.get(sorted.size() - 1),
          sorted.get(0),
          recoveries);
      System.out.printf(
          "acknowledged writes read back: %d acks=1, %d acks=all; lost: %d%n",
          run.acked.size(), run.ackedSync.size(), lost);
    } finally {
      ServerProcess.deleteTree(dir);
    }
    System.exit(lost == 0 ? 0 : 1);
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }

  private void warmUp() {
    cluster.awaitWritable(DEADLINE, 0, "{fo}:warm");
    cluster.awaitWritable(DEADLINE, sync, "{fo}:warm");
  }

  private String leaderOf(String askedNode, int keyspace, String key) {
    return cluster.leaderOf(askedNode, keyspace, key);
  }

  private String other(String not) {
    return cluster.ids().stream()
        .filter(id -> !id.equals(not))
        .findFirst()
        .orElseThrow(() -> new IllegalStateException("no node other than " + not));
  }

  /**
   * One kill and recovery; returns the milliseconds from the kill to the first acknowledged write.
   */
  private long trial(int number) throws Exception {
    String victim =
        await("a known leader of {fo}")
            .atMost(DEADLINE)
            .ignoreExceptions()
            .until(() -> leaderOf("n1", 0, "{fo}:0"), l -> !l.isEmpty());
    String through = other(victim);
    long firstKey = sequence;
    sequence += 1_000_000;
    // keyspace 0 every key; acks=all every fifth, only until the kill: it needs the killed node
    // back, and its timeouts would hold up the keyspace 0 writes being timed
    AckedWriter zero = writer(through, 0, firstKey, 1, acked);
    AckedWriter all = writer(through, sync, firstKey, 5, ackedSync);
    try {
      await("writes before the kill")
          .atMost(DEADLINE)
          .until(() -> zero.acknowledgedWrites() >= WRITES_BEFORE_KILL || zero.isDone());
      all.stop();
      long killNanos = System.nanoTime();
      cluster.kill9(victim);
      zero.markFault();
      await("writes to the killed leader's slot succeed again")
          .atMost(DEADLINE)
          .until(() -> zero.firstOkAfterFaultNanos() != 0 || zero.isDone());
      Check.state(
          zero.firstOkAfterFaultNanos() != 0, "the writer stopped before any write succeeded");
      long millis = TimeUnit.NANOSECONDS.toMillis(zero.firstOkAfterFaultNanos() - killNanos);
      await("more writes after recovery")
          .atMost(DEADLINE)
          .until(() -> zero.acknowledgedAfterFault() >= WRITES_AFTER_RECOVERY || zero.isDone());
      zero.stop();
      Check.state(zero.failure() == null, "the writer failed: %s", zero.failure());
      String newLeader = leaderOf(through, 0, "{fo}:0");
      long restartNanos = System.nanoTime();
      cluster.restart(victim);
      awaitInSync(victim, through, newLeader);
      long syncMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restartNanos);
      // the restarted node's own copy (no routing) of every acknowledged acks=1 write
      long missingOnVictim;
      try (Jedis j = cluster.client(victim)) {
        missingOnVictim =
            acked.entrySet().stream()
                .filter(
                    w -> {
                      Object raw = j.sendCommand(command("LOCALGET"), w.getKey());
                      return raw == null
                          || !w.getValue().equals(new String((byte[]) raw, StandardCharsets.UTF_8));
                    })
                .count();
      }
      System.out.printf(
          "trial %2d: the restarted %s's own copy lacks %d of %d acknowledged acks=1 writes%n",
          number, victim, missingOnVictim, acked.size());
      java.util.Set<String> distinct = zero.distinctErrors();
      distinct.addAll(all.distinctErrors());
      System.out.printf(
          "trial %2d: killed leader %s (writes through %s), new leader %s, first write OK after %d"
              + " ms; restarted %s in sync after %d ms; errors meanwhile: %s%n",
          number, victim, through, newLeader, millis, victim, syncMillis, distinct);
      return millis;
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      System.out.println(cluster.describe());
      throw e;
    } finally {
      zero.close();
      all.close();
    }
  }

  /**
   * Waits until the leader lists {@code victim} with {@code in_sync=1} on every follower line that
   * names it, and {@code victim}'s own copy holds a write made after its restart.
   */
  private void awaitInSync(String victim, String through, String leader) {
    String marker = "{fo}:restart-marker";
    String value = "after-" + System.nanoTime();
    await("the restarted " + victim + " is in sync")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .ignoreExceptions()
        .until(
            () -> {
              try (Jedis j = cluster.client(through)) {
                j.set(marker, value);
              }
              String info;
              try (Jedis j = cluster.client(leader)) {
                info = j.info("replication");
              }
              List<String> lines =
                  info.lines().filter(l -> l.contains("_follower_" + victim + ":")).toList();
              boolean allInSync =
                  !lines.isEmpty() && lines.stream().allMatch(l -> l.endsWith("in_sync=1"));
              try (Jedis j = cluster.client(victim)) {
                Object raw = j.sendCommand(command("LOCALGET"), marker);
                return allInSync
                    && raw != null
                    && value.equals(new String((byte[]) raw, StandardCharsets.UTF_8));
              }
            });
  }

  /** Reads back every acknowledged write; prints and counts the ones missing or different. */
  private int checkAcknowledged(int trial) {
    String reader = cluster.ids().get(0);
    int lost = 0;
    try (Jedis j = cluster.client(reader)) {
      for (Map.Entry<String, String> w : acked.entrySet()) {
        String got = read(j, w.getKey());
        if (!w.getValue().equals(got)) {
          lost++;
          System.out.println("LOST acks=1 " + w.getKey() + " = " + w.getValue() + ", read " + got);
        }
      }
      j.select(sync);
      await("acks=all serves reads")
          .atMost(DEADLINE)
          .ignoreExceptions()
          .until(() -> j.get("{fo}:warm") != null);
      for (Map.Entry<String, String> w : ackedSync.entrySet()) {
        String got = read(j, w.getKey());
        if (!w.getValue().equals(got)) {
          lost++;
          System.out.println(
              "LOST acks=all " + w.getKey() + " = " + w.getValue() + ", read " + got);
        }
      }
    }
    System.out.printf(
        "trial %2d: read back %d acks=1 and %d acks=all acknowledged writes, %d lost%n",
        trial, acked.size(), ackedSync.size(), lost);
    return lost;
  }

  /**
   * GET, retried while the node answers an error (a leader without a lease yet answers {@code
   * -TRYAGAIN}); a missing key is an answer, not retried.
   */
  private static String read(Jedis j, String key) {
    String[] got = {null};
    await("a read of " + key)
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptionsInstanceOf(JedisDataException.class)
        .until(
            () -> {
              got[0] = j.get(key);
              return true;
            });
    return got[0];
  }

  /**
   * SETs {@code {fo}:k = vk} for k = firstKey, firstKey + step, ... through {@code through} into
   * {@code keyspace}, recording acknowledged writes into {@code acknowledged}; errors are recorded
   * and the next key written, a lost connection is opened again at once.
   */
  private AckedWriter writer(
      String through, int keyspace, long firstKey, int step, Map<String, String> acknowledged) {
    return AckedWriter.through(() -> cluster.client(through))
        .keyspace(keyspace)
        .keys(i -> "{fo}:" + (firstKey + step * i))
        .values(i -> "v" + (firstKey + step * i))
        .onError(message -> AckedWriter.OnError.SKIP)
        .reconnectWhen(() -> true, DEADLINE)
        .maxRunTime(WRITER_MAX)
        .acknowledgedInto(acknowledged)
        .name("trial-" + keyspace)
        .start();
  }
}
