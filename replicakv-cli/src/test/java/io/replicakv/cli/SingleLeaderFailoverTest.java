package io.replicakv.cli;

import static io.replicakv.cli.FaultCluster.command;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * Single-leader replication between three server processes (peer traffic through the fault proxy):
 * {@code kill -9} of a replica group's leader under a Jedis write loop, with the time until writes
 * to its slot succeed again, every acknowledged write (keyspace 0 with acks=1, and an acks=all
 * keyspace) read back afterwards, and the restarted old leader following the new one; and a leader
 * paused (SIGSTOP) past the failover timeout that, resumed, acknowledges no write it could not have
 * committed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SingleLeaderFailoverTest {
  static final long FAILOVER_TIMEOUT_MILLIS = 3_000;

  /** Generous: five JVMs of other work share two cores. */
  static final Duration DEADLINE = Duration.ofMinutes(3);

  /** The write loop stops by itself after this long, whatever happens. */
  static final Duration WRITE_LOOP_MAX = Duration.ofMinutes(4);

  private FaultCluster cluster;
  private int sync;

  @BeforeAll
  void startCluster(@TempDir Path dir) throws Exception {
    cluster = FaultCluster.start(dir, 3, FaultCluster.fastReplication(FAILOVER_TIMEOUT_MILLIS));
    sync = cluster.createKeyspace("sync", "style", "single-leader", "acks", "all");
    cluster.awaitWritable(DEADLINE, 0, "{fo}:warm", "{ps}:warm");
    cluster.awaitWritable(DEADLINE, sync, "{fo}:warm");
  }

  @AfterAll
  void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private String leaderOf(String askedNode, int keyspace, String key) {
    return cluster.leaderOf(askedNode, keyspace, key);
  }

  private String other(String... not) {
    for (String id : cluster.ids()) {
      if (!List.of(not).contains(id)) {
        return id;
      }
    }
    throw new AssertionError("no node other than " + List.of(not));
  }

  @Test
  @Order(1)
  void killedLeaderIsReplacedAndEveryAcknowledgedWriteSurvives() throws Exception {
    String victim = leaderOf("n1", 0, "{fo}:0");
    String through = other(victim);
    System.out.println("leader of {fo} in keyspace 0: " + victim + "; writing through " + through);
    // keyspace 0 (acks=1) gets every key, the acks=all keyspace every fifth, each on its own
    // connection and thread
    AckedWriter zero = writer(through, 0, 1);
    AckedWriter all = writer(through, sync, 5);
    try {
      zero.awaitAcknowledged(100, DEADLINE);
      assertThat(zero.isDone()).as("write loop still running").isFalse();
      long killStartNanos = System.nanoTime();
      cluster.kill9(victim);
      // from here on, a write that starts finds the leader dead: its OK needs a new leader
      zero.markFault();
      all.markFault();
      try {
        await("writes to the killed leader's slot succeed again")
            .atMost(DEADLINE)
            .until(() -> zero.firstOkAfterFaultNanos() != 0 || zero.isDone());
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        throw new AssertionError(e.getMessage() + "\n" + cluster.describe(), e);
      }
      long recoveryMillis =
          TimeUnit.NANOSECONDS.toMillis(zero.firstOkAfterFaultNanos() - killStartNanos);
      Set<String> distinctErrors = zero.distinctErrors();
      distinctErrors.addAll(all.distinctErrors());
      System.out.println(
          "kill -9 of leader "
              + victim
              + ": writes to its slot succeeded again after "
              + recoveryMillis
              + " ms (failover timeout "
              + FAILOVER_TIMEOUT_MILLIS
              + " ms); errors meanwhile: "
              + distinctErrors);
      assertThat(zero.firstOkAfterFaultNanos()).as("a write succeeded after the kill").isNotZero();
      await("50 more acknowledged writes")
          .atMost(DEADLINE)
          .until(() -> zero.acknowledgedAfterFault() >= 50);
      zero.stopAndCheck();
      all.stopAndCheck();
    } finally {
      zero.close();
      all.close();
    }
    Map<String, String> acked = zero.acknowledged;
    Map<String, String> ackedSync = all.acknowledged;
    try (Jedis j = cluster.client(through)) {
      for (Map.Entry<String, String> write : acked.entrySet()) {
        assertThat(j.get(write.getKey()))
            .as("acks=1 %s", write.getKey())
            .isEqualTo(write.getValue());
      }
    }
    System.out.println(
        acked.size() + " acks=1 and " + ackedSync.size() + " acks=all acknowledged writes checked");
    cluster.restart(victim);
    // the old leader rejoins as a follower of the new one and catches up
    String newLeader = leaderOf(through, 0, "{fo}:0");
    assertThat(newLeader).isNotEqualTo(victim).isNotEmpty();
    String lastKey = "{fo}:last";
    await("the restarted " + victim + " follows and holds the newest writes")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .ignoreExceptions()
        .until(
            () -> {
              try (Jedis j = cluster.client(through)) {
                j.set(lastKey, "after-restart");
              }
              try (Jedis j = cluster.client(victim)) {
                return "after-restart".equals(localGet(j, lastKey))
                    && leaderOf(victim, 0, "{fo}:0").equals(newLeader);
              }
            });
    // acks=all needs every replica: with the old leader back in sync, its writes succeed again
    try (Jedis j = cluster.client(through)) {
      j.select(sync);
      await("acks=all accepts writes again")
          .atMost(DEADLINE)
          .ignoreExceptions()
          .until(() -> "OK".equals(j.set("{fo}:sync-after", "x")));
      for (Map.Entry<String, String> write : ackedSync.entrySet()) {
        assertThat(j.get(write.getKey()))
            .as("acks=all %s", write.getKey())
            .isEqualTo(write.getValue());
      }
    }
    try (Jedis j = cluster.client(victim)) {
      for (Map.Entry<String, String> write : acked.entrySet()) {
        assertThat(localGet(j, write.getKey()))
            .as("the restarted %s holds %s", victim, write.getKey())
            .isEqualTo(write.getValue());
      }
    }
  }

  private static String localGet(Jedis j, String key) {
    Object raw = j.sendCommand(command("LOCALGET"), key);
    return raw == null ? null : new String((byte[]) raw, StandardCharsets.UTF_8);
  }

  /**
   * SETs {@code {fo}:k = vk} for k = 0, step, 2 step, ... through {@code through} into {@code
   * keyspace} until stopped (at most {@link #WRITE_LOOP_MAX}); errors are recorded and the next key
   * written, a lost connection is opened again at once.
   */
  private AckedWriter writer(String through, int keyspace, int step) {
    return AckedWriter.through(() -> cluster.client(through))
        .keyspace(keyspace)
        .keys(i -> "{fo}:" + step * i)
        .values(i -> "v" + step * i)
        .onError(message -> AckedWriter.OnError.SKIP)
        .reconnectWhen(() -> true, DEADLINE)
        .maxRunTime(WRITE_LOOP_MAX)
        .name("failover-" + keyspace)
        .start();
  }

  @Test
  @Order(2)
  void pausedLeaderAcknowledgesNoWriteAfterItsLeaseLapsed() throws Exception {
    String leader = leaderOf("n1", 0, "{ps}:0");
    String through = other(leader);
    try (Jedis j = cluster.client(through)) {
      await("a write before the pause")
          .atMost(DEADLINE)
          .ignoreExceptions()
          .until(() -> "OK".equals(j.set("{ps}:before", "b")));
    }
    cluster.pause(leader);
    try {
      await("another node leads {ps} and accepts writes")
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(250))
          .ignoreExceptions()
          .until(
              () -> {
                String now = leaderOf(through, 0, "{ps}:0");
                try (Jedis j = cluster.client(through)) {
                  return !now.isEmpty()
                      && !now.equals(leader)
                      && "OK".equals(j.set("{ps}:during", "d"));
                }
              });
      // a client of the paused leader: its command waits in the socket until SIGCONT
      CompletableFuture<String> stale =
          CompletableFuture.supplyAsync(
              () -> {
                try (Jedis j = cluster.client(leader)) {
                  return j.set("{ps}:stale", "stale");
                } catch (JedisDataException e) {
                  return e.getMessage();
                }
              });
      // let the command reach the paused process's socket
      await().pollDelay(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(() -> true);
      cluster.resume(leader);
      String outcome = stale.get(2, TimeUnit.MINUTES);
      System.out.println(
          "write sent to " + leader + " while paused, answered after SIGCONT: " + outcome);
      try (Jedis j = cluster.client(through)) {
        if ("OK".equals(outcome)) {
          // acceptable only if it went to the new leader (forwarded) and so is committed there
          assertThat(j.get("{ps}:stale")).isEqualTo("stale");
        } else {
          assertThat(outcome).doesNotStartWith("OK");
        }
        assertThat(j.get("{ps}:during")).isEqualTo("d");
        assertThat(j.get("{ps}:before")).isEqualTo("b");
      }
      // the resumed node does not take its old role back: it follows the new leader
      String newLeader = leaderOf(through, 0, "{ps}:0");
      await("the resumed " + leader + " follows " + newLeader)
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(250))
          .ignoreExceptions()
          .until(() -> leaderOf(leader, 0, "{ps}:0").equals(newLeader));
      assertThat(newLeader).isNotEqualTo(leader);
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(e.getMessage() + "\n" + cluster.describe(), e);
    } finally {
      cluster.resume(leader);
    }
  }
}
