package io.replicakv.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.testing.InProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A source hands its slots over and stops before the join flips; the flip happens while it is down
 * (the other sources record their handover, the last one flips). When it starts again it deletes
 * the stale copies of what it handed over, and touches nothing the owners hold.
 */
class StaleCopySweepTest {
  static final int KEY_COUNT = 1200;
  static final Duration DEADLINE = Duration.ofSeconds(60);

  /** The source that hands over at once: no throttle. */
  static final String FAST_BYTES_PER_SECOND = "0";

  /** The other sources: slow enough that the fast one hands over and stops long before the flip. */
  static final String SLOW_BYTES_PER_SECOND = "4000";

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

  private ReplicaKvServer start(String id, boolean join, String throttle) throws Exception {
    return nodes.startNode(id, join, Map.of("move-throttle-bytes-per-sec", throttle));
  }

  @Test
  void aSourceDownAtTheFlipDeletesItsStaleCopiesWhenItReturns() throws Exception {
    start("n1", false, SLOW_BYTES_PER_SECOND);
    start("n2", false, FAST_BYTES_PER_SECOND);
    start("n3", false, SLOW_BYTES_PER_SECOND);
    try (Jedis j = new Jedis("127.0.0.1", nodes.server(0).port(), 30_000)) {
      for (int i = 0; i < KEY_COUNT; i++) {
        j.set("key:" + i, "v" + i);
      }
    }
    start("n4", true, SLOW_BYTES_PER_SECOND);
    await()
        .atMost(DEADLINE)
        .until(() -> nodes.metadata().current().members().get("n4").state() == MemberState.STAGED);
    long n2Before = dbSize(nodes.server(1));
    assertThat(cluster(nodes.server(0), "COMMIT", "JOIN", "n4")).isEqualTo("OK");
    await("n2 hands its slots over")
        .atMost(DEADLINE)
        .until(() -> nodes.metadata().current().handedOver("n4").contains("n2"));
    assertThat(nodes.metadata().current().members().get("n4").state())
        .as("the slow sources have not handed over yet")
        .isEqualTo(MemberState.JOINING);
    nodes.stop(1);
    await("the join flips while n2 is down")
        .atMost(DEADLINE)
        .until(() -> nodes.metadata().current().members().get("n4").state() == MemberState.UP);
    nodes.restart(1, Map.of("move-throttle-bytes-per-sec", SLOW_BYTES_PER_SECOND));

    await("n2's stale copies are gone").atMost(DEADLINE).until(() -> totalKeys() == KEY_COUNT);
    ClusterView view = nodes.metadata().current();
    long n2Owned = 0;
    for (int i = 0; i < KEY_COUNT; i++) {
      int slot = io.replicakv.core.ring.Slots.slot(("key:" + i).getBytes());
      if (view.ownerOf(slot).id().equals("n2")) {
        n2Owned++;
      }
    }
    long n2After = dbSize(nodes.server(1));
    assertThat(n2After).as("n2 holds exactly the keys of its own slots").isEqualTo(n2Owned);
    assertThat(n2After).as("n2 had handed keys over").isLessThan(n2Before);
    for (ReplicaKvServer s : nodes.servers()) {
      try (Jedis j = new Jedis("127.0.0.1", s.port(), 30_000)) {
        for (int i = 0; i < KEY_COUNT; i++) {
          assertThat(j.get("key:" + i)).as("key:" + i + " via " + s.port()).isEqualTo("v" + i);
        }
      }
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
    try (Jedis j = new Jedis("127.0.0.1", s.port(), 30_000)) {
      return j.dbSize();
    }
  }

  private static String cluster(ReplicaKvServer s, String... args) {
    try (Jedis j = new Jedis("127.0.0.1", s.port(), 30_000)) {
      Object reply = j.sendCommand(redis.clients.jedis.Protocol.Command.CLUSTER, args);
      return reply instanceof byte[] b
          ? new String(b, java.nio.charset.StandardCharsets.UTF_8)
          : String.valueOf(reply);
    }
  }
}
