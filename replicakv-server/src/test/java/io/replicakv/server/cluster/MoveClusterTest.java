package io.replicakv.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.testing.InProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A fourth node joins a running three-node cluster, then one node leaves, while a writer keeps
 * writing: every acknowledged write must read back from every node, and only about 1/(n+1) of the
 * keys may move on the join.
 */
class MoveClusterTest {
  static final int KEY_COUNT = 3000;
  static final long SEED = 42;
  static final Duration MOVE_DEADLINE = Duration.ofSeconds(60);

  /** Slow enough that a move takes about a second, so writes land during every phase. */
  static final String THROTTLE_BYTES_PER_SECOND = "40000";

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
    return start(id, join, THROTTLE_BYTES_PER_SECOND);
  }

  private ReplicaKvServer start(String id, boolean join, String throttleBytesPerSecond)
      throws Exception {
    return nodes.startNode(id, join, Map.of("move-throttle-bytes-per-sec", throttleBytesPerSecond));
  }

  /** Writes random keys through one node until stopped, retrying each write until acknowledged. */
  static final class Writer implements Runnable {
    final int port;
    final Map<String, String> acknowledged;
    final AtomicBoolean stop = new AtomicBoolean();
    final AtomicLong retries = new AtomicLong();
    final AtomicLong writes = new AtomicLong();
    final Random random;
    long counter;
    volatile Throwable failure;

    Writer(int port, Map<String, String> acknowledged, long seed) {
      this.port = port;
      this.acknowledged = acknowledged;
      this.random = new Random(seed);
    }

    @Override
    public void run() {
      // a generous read timeout: under load the 2 s default can time a write out, which ends the
      // writer (a read timeout is a connection error, not a TRYAGAIN to retry)
      try (Jedis j = new Jedis("127.0.0.1", port, 30_000)) {
        while (!stop.get()) {
          String key = "key:" + random.nextInt(KEY_COUNT);
          String value = "v" + counter++;
          while (true) {
            try {
              j.set(key, value);
              break;
            } catch (redis.clients.jedis.exceptions.JedisDataException e) {
              retries.incrementAndGet(); // TRYAGAIN while a slot moves: same write again
            }
          }
          acknowledged.put(key, value);
          writes.incrementAndGet();
        }
      } catch (Throwable t) {
        failure = t;
      }
    }
  }

  @Test
  void joinAndLeaveMoveKeysWhileWritesContinue() throws Exception {
    for (int i = 1; i <= 3; i++) {
      start("n" + i, false);
    }
    Map<String, String> acknowledged = new ConcurrentHashMap<>();
    try (Jedis j = new Jedis("127.0.0.1", nodes.server(0).port())) {
      for (int i = 0; i < KEY_COUNT; i++) {
        j.set("key:" + i, "initial");
        acknowledged.put("key:" + i, "initial");
      }
    }

    // join: the plan counts exactly the keys that will move (the writer only overwrites keys)
    String joinPlan = cluster(nodes.server(1), "PLAN", "JOIN", "n4");
    long plannedJoinKeys = plannedKeys(joinPlan);
    assertThat(plannedJoinKeys).isPositive();
    Writer writer = new Writer(nodes.server(0).port(), acknowledged, SEED);
    Thread thread = new Thread(writer, "writer");
    thread.start();
    await().atMost(MOVE_DEADLINE).until(() -> writer.writes.get() >= 200);
    ReplicaKvServer joiner = start("n4", true);
    assertThat(nodes.metadata().current().members().get("n4").state())
        .isEqualTo(MemberState.STAGED);
    assertThat(dbSize(joiner)).isZero();
    // the same ranges and keys (the writer has changed values meanwhile, so not the same bytes)
    assertThat(withoutBytes(cluster(joiner, "PLAN", "JOIN", "n4")))
        .isEqualTo(
            withoutBytes(
                joinPlan.replaceAll(
                    " at metadata version \\d+",
                    " at metadata version " + nodes.metadata().current().version())));
    assertThat(cluster(nodes.server(2), "COMMIT", "JOIN", "n4")).isEqualTo("OK");
    await()
        .atMost(MOVE_DEADLINE)
        .until(() -> nodes.metadata().current().members().get("n4").state() == MemberState.UP);
    long writesAfterFlip = writer.writes.get();
    await().atMost(MOVE_DEADLINE).until(() -> writer.writes.get() >= writesAfterFlip + 200);
    writer.stop.set(true);
    thread.join(MOVE_DEADLINE.toMillis());
    assertThat(writer.failure).isNull();
    await().atMost(MOVE_DEADLINE).until(() -> totalKeys() == KEY_COUNT);
    checkEveryKeyEverywhere(acknowledged);
    long onJoiner = dbSize(joiner);
    assertThat(onJoiner).isEqualTo(plannedJoinKeys);
    System.out.printf(
        "join: %d of %d keys moved to the joiner, %d writes acknowledged, %d retried%n",
        onJoiner, KEY_COUNT, writer.writes.get(), writer.retries.get());
    assertThat((double) onJoiner / KEY_COUNT)
        .as("share of keys moved to the joiner")
        .isGreaterThan(0.0)
        .isLessThanOrEqualTo(1.2 / 4);

    // leave
    long plannedLeaveKeys = plannedKeys(cluster(nodes.server(0), "PLAN", "LEAVE", "n2"));
    assertThat(plannedLeaveKeys).isEqualTo(dbSize(nodes.server(1)));
    Writer writer2 = new Writer(nodes.server(0).port(), acknowledged, SEED + 1);
    Thread thread2 = new Thread(writer2, "writer-2");
    thread2.start();
    await().atMost(MOVE_DEADLINE).until(() -> writer2.writes.get() >= 200);
    assertThat(cluster(nodes.server(2), "LEAVE", "n2")).isEqualTo("OK");
    await()
        .atMost(MOVE_DEADLINE)
        .until(() -> nodes.metadata().current().members().get("n2").state() == MemberState.LEFT);
    long writesAfterLeave = writer2.writes.get();
    await().atMost(MOVE_DEADLINE).until(() -> writer2.writes.get() >= writesAfterLeave + 200);
    writer2.stop.set(true);
    thread2.join(MOVE_DEADLINE.toMillis());
    assertThat(writer2.failure).isNull();
    await().atMost(MOVE_DEADLINE).until(() -> dbSize(nodes.server(1)) == 0);
    assertThat(totalKeys()).isEqualTo(KEY_COUNT);
    checkEveryKeyEverywhere(acknowledged);
    assertThat(cluster(nodes.server(1), "MOVESTATUS"))
        .contains("status: idle")
        .contains("moves_completed: 2");
    assertThat(httpGet(nodes.server(1).httpPort(), "/metrics"))
        .containsPattern("replicakv_move_keys_sent_total [1-9]")
        .containsPattern("replicakv_moves_completed_total 2");
    assertThat(httpGet(nodes.server(3).httpPort(), "/admin/cluster"))
        .contains("\"move\"")
        .containsPattern("\"keysReceived\" : [1-9]");
    System.out.printf(
        "leave: %d writes acknowledged, %d retried%n", writer2.writes.get(), writer2.retries.get());
  }

  /** So slow that the leave below is still copying when it is cancelled. */
  static final String CRAWL_BYTES_PER_SECOND = "2000";

  @Test
  void aCancelledLeaveLiftsTheFenceAndKeepsTheKeysWhereTheyWere() throws Exception {
    for (int i = 1; i <= 3; i++) {
      start("n" + i, false, CRAWL_BYTES_PER_SECOND);
    }
    try (Jedis j = new Jedis("127.0.0.1", nodes.server(0).port())) {
      for (int i = 0; i < KEY_COUNT; i++) {
        j.set("key:" + i, "initial");
      }
    }
    long onLeaver = dbSize(nodes.server(1));
    assertThat(cluster(nodes.server(0), "LEAVE", "n2")).isEqualTo("OK");
    await()
        .atMost(MOVE_DEADLINE)
        .until(() -> !cluster(nodes.server(1), "MOVESTATUS").contains("keys_sent: 0\n"));
    assertThat(cluster(nodes.server(1), "MOVESTATUS")).contains("status: bulk copy for n2");
    assertThat(cluster(nodes.server(0), "CANCEL", "n2")).isEqualTo("OK");
    assertThat(nodes.metadata().current().members().get("n2").state()).isEqualTo(MemberState.UP);
    await()
        .atMost(MOVE_DEADLINE)
        .until(() -> cluster(nodes.server(1), "MOVESTATUS").contains("status: idle"));
    assertThat(dbSize(nodes.server(1))).isEqualTo(onLeaver);
    String onN2 = null;
    for (int i = 0; onN2 == null; i++) {
      if (nodes
          .metadata()
          .current()
          .ownerOf(io.replicakv.core.ring.Slots.slot("key:" + i))
          .id()
          .equals("n2")) {
        onN2 = "key:" + i;
      }
    }
    try (Jedis j = new Jedis("127.0.0.1", nodes.server(2).port())) {
      assertThat(j.set(onN2, "after-cancel")).isEqualTo("OK");
    }
    for (ReplicaKvServer s : nodes.servers()) {
      try (Jedis j = new Jedis("127.0.0.1", s.port())) {
        assertThat(j.get(onN2)).isEqualTo("after-cancel");
      }
    }
  }

  /**
   * A source restarts in the middle of a join: it starts its copy again and the join still
   * completes without losing an acknowledged write.
   */
  @Test
  void aSourceRestartedDuringAJoinCopiesAgainAndLosesNothing() throws Exception {
    for (int i = 1; i <= 3; i++) {
      start("n" + i, false, CRAWL_BYTES_PER_SECOND);
    }
    Map<String, String> acknowledged = new ConcurrentHashMap<>();
    try (Jedis j = new Jedis("127.0.0.1", nodes.server(0).port())) {
      for (int i = 0; i < KEY_COUNT; i++) {
        j.set("key:" + i, "initial");
        acknowledged.put("key:" + i, "initial");
      }
    }
    Writer writer = new Writer(nodes.server(0).port(), acknowledged, SEED + 2);
    Thread thread = new Thread(writer, "writer-3");
    thread.start();
    start("n4", true, CRAWL_BYTES_PER_SECOND);
    assertThat(cluster(nodes.server(0), "COMMIT", "JOIN", "n4")).isEqualTo("OK");
    await()
        .atMost(MOVE_DEADLINE)
        .until(() -> cluster(nodes.server(1), "MOVESTATUS").contains("status: bulk copy for n4"));
    nodes.stop(1);
    nodes.restart(1);
    try {
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> nodes.metadata().current().members().get("n4").state() == MemberState.UP);
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      for (ReplicaKvServer s : nodes.servers()) {
        System.out.println("DEBUG " + s.port() + " " + cluster(s, "MOVESTATUS").replace('\n', ' '));
      }
      System.out.println("DEBUG " + nodes.metadata().current());
      throw e;
    }
    long writesAfterFlip = writer.writes.get();
    await()
        .atMost(MOVE_DEADLINE)
        .until(() -> writer.writes.get() >= writesAfterFlip + 100 || writer.failure != null);
    writer.stop.set(true);
    thread.join(MOVE_DEADLINE.toMillis());
    assertThat(writer.failure).isNull();
    assertThat(writer.writes.get()).isGreaterThanOrEqualTo(writesAfterFlip + 100);
    await().atMost(MOVE_DEADLINE).until(() -> totalKeys() == KEY_COUNT);
    checkEveryKeyEverywhere(acknowledged);
  }

  private static String cluster(ReplicaKvServer s, String... args) {
    try (Jedis j = new Jedis("127.0.0.1", s.port())) {
      Object reply = j.sendCommand(redis.clients.jedis.Protocol.Command.CLUSTER, args);
      return reply instanceof byte[] b
          ? new String(b, java.nio.charset.StandardCharsets.UTF_8)
          : String.valueOf(reply);
    }
  }

  /** A plan's text with its byte counts left out. */
  private static String withoutBytes(String plan) {
    return plan.replaceAll(", [0-9.]+ [KMG]?i?B \\(\\d+ bytes of keys and values\\)", "")
        .replaceAll(" [0-9.]+ [KMG]?i?B(\\n|$)", "$1");
  }

  /** The total from the plan's first line: "... N keys move". */
  private static long plannedKeys(String plan) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(", (\\d+) keys move")
            .matcher(plan.lines().findFirst().get());
    assertThat(m.find()).as(plan).isTrue();
    return Long.parseLong(m.group(1));
  }

  private static String httpGet(int port, String path) throws Exception {
    java.net.HttpURLConnection c =
        (java.net.HttpURLConnection)
            java.net.URI.create("http://127.0.0.1:" + port + path).toURL().openConnection();
    try (java.io.InputStream in = c.getInputStream()) {
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    } finally {
      c.disconnect();
    }
  }

  private long totalKeys() {
    long total = 0;
    for (ReplicaKvServer s : nodes.servers()) {
      total += dbSize(s);
    }
    return total;
  }

  private static long dbSize(ReplicaKvServer s) {
    try (Jedis j = new Jedis("127.0.0.1", s.port())) {
      return j.dbSize();
    }
  }

  private void checkEveryKeyEverywhere(Map<String, String> acknowledged) {
    for (ReplicaKvServer s : nodes.servers()) {
      try (Jedis j = new Jedis("127.0.0.1", s.port(), 30_000)) { // the machine may be loaded
        List<Map.Entry<String, String>> expected = new ArrayList<>(acknowledged.entrySet());
        redis.clients.jedis.Pipeline p = j.pipelined();
        List<redis.clients.jedis.Response<String>> got = new ArrayList<>();
        for (Map.Entry<String, String> e : expected) {
          got.add(p.get(e.getKey()));
        }
        p.sync();
        for (int i = 0; i < expected.size(); i++) {
          assertThat(got.get(i).get())
              .as(expected.get(i).getKey() + " via " + s.port())
              .isEqualTo(expected.get(i).getValue());
        }
      }
    }
  }
}
