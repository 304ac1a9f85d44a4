package io.replicakv.server.replication;

import static io.replicakv.server.testing.InProcessCluster.command;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.server.testing.InProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * Follower reads with session tokens on three in-process servers (in-memory metadata, loopback,
 * dynamic ports), keyspace option {@code follower-reads=on}: a writer on one follower of a key's
 * group (its writes forwarded to the leader) and a reader on the other follower that resumes the
 * writer's token before each read always sees the writer's last write and never goes back, while a
 * reader without the token is answered stale by the same follower (followers learn the commit point
 * one heartbeat after the leader answered); the token keeps working across a leader change.
 */
class FollowerReadsClusterTest {
  private static final Duration DEADLINE = Duration.ofSeconds(120);

  /** Writes (and token-carrying reads) in the history the checker judges. */
  private static final int ROUNDS = 120;

  @TempDir Path dir;
  private InProcessCluster cluster;
  private int keyspace;

  @BeforeEach
  void startCluster() throws Exception {
    cluster =
        InProcessCluster.builder(dir)
            .fastReplication()
            // the test picks followers by the leader it sees at the start: no preferred-leader move
            // may change that leader afterwards (SwitchoverClusterTest covers that move)
            .set("replication-preferred-leader", "off")
            .deadline(DEADLINE)
            .clientTimeout(Duration.ofSeconds(20))
            .start();
    keyspace = cluster.createKeyspace("reads", "style", "single-leader", "follower-reads", "on");
    cluster.awaitWritable(keyspace, "warm-up");
  }

  @AfterEach
  void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private Jedis jedis(int node) {
    return cluster.jedis(node, keyspace);
  }

  private String leaderOf(int via, String key) {
    return cluster.leaderOf(via, keyspace, key);
  }

  private static String token(Jedis j) {
    return new String((byte[]) j.sendCommand(command("SESSION"), "TOKEN"), StandardCharsets.UTF_8);
  }

  private static void resume(Jedis j, String token) {
    j.sendCommand(command("SESSION"), "RESUME", token);
  }

  private static long number(String value) {
    return value == null ? 0 : Long.parseLong(value);
  }

  /**
   * Checks one reader's history: every read returns at least the value of the last write the
   * session made or saw (read-your-writes), and at least the value the reader saw before (monotonic
   * reads). Returns the violations, described.
   */
  static List<String> sessionViolations(List<long[]> history) {
    List<String> out = new ArrayList<>();
    long lastSeen = 0;
    for (long[] event : history) {
      long ownWrite = event[0];
      long read = event[1];
      if (read < ownWrite) {
        out.add("read " + read + " after own write " + ownWrite);
      }
      if (read < lastSeen) {
        out.add("read " + read + " after having read " + lastSeen);
      }
      lastSeen = Math.max(lastSeen, read);
    }
    return out;
  }

  @Test
  void theCheckerFindsStaleAndBackwardReads() {
    assertThat(sessionViolations(List.of(new long[] {1, 1}, new long[] {2, 2}))).isEmpty();
    assertThat(sessionViolations(List.of(new long[] {3, 2})))
        .singleElement()
        .asString()
        .contains("own write 3");
    assertThat(sessionViolations(List.of(new long[] {1, 5}, new long[] {1, 4})))
        .singleElement()
        .asString()
        .contains("having read 5");
  }

  @Test
  void aTokenGivesReadYourWritesAndMonotonicReadsOnAFollowerWhichWithoutItAnswersStale() {
    String key = "counter";
    String leader = leaderOf(0, key);
    List<Integer> followers = new ArrayList<>();
    for (int node = 0; node < 3; node++) {
      if (!("n" + (node + 1)).equals(leader)) {
        followers.add(node);
      }
    }
    assertThat(followers).hasSize(2);
    List<long[]> withToken = new ArrayList<>();
    int stale = 0;
    try (Jedis writer = jedis(followers.get(0));
        Jedis reader = jedis(followers.get(1));
        Jedis plain = jedis(followers.get(1))) {
      for (int round = 0; round < ROUNDS; round++) {
        long written = writer.incr(key);
        String token = token(writer);
        // the follower without the writer's token answers from whatever it has applied
        if (number(plain.get(key)) < written) {
          stale++;
        }
        resume(reader, token);
        withToken.add(new long[] {written, number(reader.get(key))});
      }
      assertThat(token(reader)).startsWith("1;");
    }
    System.out.println(
        "follower reads: " + ROUNDS + " reads with the token, " + stale + " stale without it");
    assertThat(sessionViolations(withToken)).isEmpty();
    assertThat(stale)
        .as("reads of the follower without the token that missed the write")
        .isPositive();
    try (Jedis j = jedis(followers.get(1))) {
      java.util.regex.Matcher served =
          java.util.regex.Pattern.compile("replication_follower_reads_served:(\\d+)")
              .matcher(j.info("replication"));
      assertThat(served.find()).isTrue();
      assertThat(Long.parseLong(served.group(1)))
          .as("reads the follower answered itself")
          .isGreaterThanOrEqualTo(2L * ROUNDS);
    }
  }

  @Test
  void theTokenSurvivesALeaderChange() {
    String key = "survivor";
    String leader = leaderOf(0, key);
    int leaderIndex = Integer.parseInt(leader.substring(1)) - 1;
    int writerNode = (leaderIndex + 1) % 3;
    int readerNode = (leaderIndex + 2) % 3;
    String before;
    try (Jedis writer = jedis(writerNode)) {
      for (int i = 1; i <= 20; i++) {
        writer.set(key, Integer.toString(i));
      }
      before = token(writer);
    }
    cluster.stop(leaderIndex);
    cluster.awaitWritable(keyspace, "after-failover");
    assertThat(leaderOf(writerNode, key)).isNotEqualTo(leader);
    List<long[]> history = new ArrayList<>();
    try (Jedis writer = jedis(writerNode);
        Jedis reader = jedis(readerNode)) {
      resume(writer, before);
      resume(reader, before);
      history.add(new long[] {20, number(reader.get(key))});
      for (int i = 21; i <= 60; i++) {
        writer.set(key, Integer.toString(i));
        resume(reader, token(writer));
        history.add(new long[] {i, number(reader.get(key))});
      }
      String after = token(writer);
      assertThat(after).isNotEqualTo(before);
    }
    assertThat(sessionViolations(history)).isEmpty();
  }

  @Test
  void theOptionIsListedAndRefusedOutsideSingleLeaderAndSessionCommandsCheckInput() {
    try (Jedis j = jedis(0)) {
      assertThat(j.sendCommand(command("KEYSPACE"), "LIST").toString()).isNotEmpty();
      Object list = j.sendCommand(command("KEYSPACE"), "LIST");
      assertThat(flatten(list)).contains("followerReads=true");
      assertThatThrownBy(
              () ->
                  j.sendCommand(
                      command("KEYSPACE"),
                      "CREATE",
                      "dynamo",
                      "style",
                      "leaderless",
                      "follower-reads",
                      "on"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("single-leader keyspaces only");
      assertThatThrownBy(() -> resume(j, "7;x"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("invalid session token");
      assertThat(token(j)).isEqualTo("1");
      j.set("touched", "x");
      assertThat(token(j)).matches("1;[0-9a-z]+\\.[0-9a-z]+\\.[0-9a-z]+\\.[0-9a-z]+");
      j.sendCommand(command("SESSION"), "RESET");
      assertThat(token(j)).isEqualTo("1");
    }
  }

  private static String flatten(Object reply) {
    if (reply instanceof byte[] bytes) {
      return new String(bytes, StandardCharsets.UTF_8);
    }
    if (reply instanceof List<?> items) {
      StringBuilder b = new StringBuilder();
      for (Object item : items) {
        b.append(flatten(item)).append(' ');
      }
      return b.toString();
    }
    return String.valueOf(reply);
  }
}
