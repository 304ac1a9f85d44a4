package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.client.ReplicaKvClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;

/**
 * Follower reads with session tokens between three server processes (peer traffic through the fault
 * proxy), driven by {@link ReplicaKvClient}: a writer on one follower of a key's group and a reader
 * on the other follower that adopts the writer's token before each read, and one client that writes
 * through a follower and spreads its reads over all three nodes. Their histories are checked (every
 * read at least the last write the session made or adopted, and never below a value it read
 * before), first on a quiet network and then with the leader's traffic to the reader's node
 * delayed, where a plain connection without the token shows the follower answering stale.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FollowerReadsProcessTest {
  /** Generous: other JVMs share the two cores. */
  static final Duration DEADLINE = Duration.ofMinutes(3);

  /** Latency added to the leader's traffic towards the slowed follower. */
  static final long DELAY_MILLIS = 300;

  static final int ROUNDS = 60;

  private FaultCluster cluster;
  private int keyspace;

  @BeforeAll
  void startCluster(@TempDir Path dir) throws Exception {
    cluster = FaultCluster.start(dir, 3, FaultCluster.fastReplication(3000));
    keyspace = cluster.createKeyspace("reads", "style", "single-leader", "follower-reads", "on");
    cluster.awaitWritable(DEADLINE, keyspace, "{fr}:warm");
  }

  @AfterAll
  void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private String leaderOf(String key) {
    return cluster.leaderOf("n1", keyspace, key);
  }

  private ReplicaKvClient client(boolean spread, String... nodes) {
    List<HostAndPort> addresses = new ArrayList<>();
    for (String node : nodes) {
      addresses.add(new HostAndPort("127.0.0.1", cluster.node(node).port()));
    }
    return new ReplicaKvClient(
        addresses,
        ReplicaKvClient.Options.defaults()
            .withKeyspace(keyspace)
            .withSpreadReads(spread)
            .withAttempts(10));
  }

  /**
   * Violations of read-your-writes and monotonic reads in one session's history of {ownWrite, read}
   * pairs (a read must be at least the session's last write and its last read).
   */
  static List<String> sessionViolations(List<long[]> history) {
    List<String> out = new ArrayList<>();
    long lastRead = 0;
    for (long[] event : history) {
      if (event[1] < event[0]) {
        out.add("read " + event[1] + " after own write " + event[0]);
      }
      if (event[1] < lastRead) {
        out.add("read " + event[1] + " after having read " + lastRead);
      }
      lastRead = Math.max(lastRead, event[1]);
    }
    return out;
  }

  private static long number(String value) {
    return value == null ? 0 : Long.parseLong(value);
  }

  @Test
  void theCheckerCanFail() {
    assertThat(sessionViolations(List.of(new long[] {2, 1}))).hasSize(1);
    assertThat(sessionViolations(List.of(new long[] {0, 3}, new long[] {0, 2}))).hasSize(1);
  }

  @Test
  void tokensGiveReadYourWritesAndMonotonicReadsOnFollowersAlsoWhenOneIsSlowed() throws Exception {
    String key = "{fr}:counter";
    String leader = leaderOf(key);
    List<String> followers = new ArrayList<>(cluster.ids());
    followers.remove(leader);
    String writerNode = followers.get(0);
    String readerNode = followers.get(1);
    System.out.println(
        "leader " + leader + ", writer on " + writerNode + ", reader on " + readerNode);
    List<long[]> adopted = new ArrayList<>();
    List<long[]> spread = new ArrayList<>();
    int staleQuiet = 0;
    int staleSlowed = 0;
    try (ReplicaKvClient writer = client(false, writerNode);
        ReplicaKvClient reader = client(false, readerNode);
        ReplicaKvClient roaming = client(true, writerNode, readerNode, leader);
        Jedis plain = cluster.client(readerNode)) {
      plain.select(keyspace);
      for (int phase = 0; phase < 2; phase++) {
        if (phase == 1) {
          cluster.delay(leader, readerNode, DELAY_MILLIS, 50);
        }
        for (int round = 0; round < ROUNDS; round++) {
          long written = writer.incr(key);
          long stale = number(plain.get(key)) < written ? 1 : 0;
          if (phase == 0) {
            staleQuiet += stale;
          } else {
            staleSlowed += stale;
          }
          reader.resumeSession(writer.sessionToken());
          adopted.add(new long[] {written, number(reader.get(key))});
          long own = roaming.incr(key);
          spread.add(new long[] {own, number(roaming.get(key))});
        }
      }
      cluster.heal(leader, readerNode);
      System.out.println(
          "follower reads: "
              + adopted.size()
              + " adopted-token reads, "
              + spread.size()
              + " spread reads; without the token "
              + staleQuiet
              + " of "
              + ROUNDS
              + " stale on a quiet network, "
              + staleSlowed
              + " of "
              + ROUNDS
              + " with "
              + DELAY_MILLIS
              + " ms delay; client retries: reader "
              + reader.retries()
              + ", roaming "
              + roaming.retries());
    }
    assertThat(sessionViolations(adopted)).as("reader with the writer's token").isEmpty();
    assertThat(sessionViolations(spread)).as("one client spreading its reads").isEmpty();
    assertThat(staleSlowed)
        .as("reads without the token that the slowed follower answered stale")
        .isPositive();
  }
}
