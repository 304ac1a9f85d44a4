package io.replicakv.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.config.ServerConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
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
  final List<ReplicaKvServer> servers = new ArrayList<>();
  final InMemoryMetadataStore metadata = new InMemoryMetadataStore("test");

  @AfterEach
  void stop() {
    servers.forEach(ReplicaKvServer::close);
    metadata.close();
  }

  private ReplicaKvServer start(String id, boolean join, String throttle) throws Exception {
    Map<String, String> settings = new HashMap<>();
    settings.put("port", "0");
    settings.put("http-port", "0");
    settings.put("peer-port", "0");
    settings.put("data-dir", dir.resolve(id).toString());
    settings.put("node-id", id);
    settings.put("cluster-voters", "n1@127.0.0.1:1");
    // KeyMover semantics (data on the ring owner alone); joins on replicated keyspaces are step 9
    settings.put("replication", "off");
    settings.put("move-throttle-bytes-per-sec", throttle);
    if (join) {
      settings.put("join", "127.0.0.1:" + servers.get(0).port());
    }
    return new ReplicaKvServer(ServerConfig.load(null, settings))
        .withMetadataStore(metadata)
        .start();
  }

  @Test
  void aSourceDownAtTheFlipDeletesItsStaleCopiesWhenItReturns() throws Exception {
    servers.add(start("n1", false, SLOW_BYTES_PER_SECOND));
    servers.add(start("n2", false, FAST_BYTES_PER_SECOND));
    servers.add(start("n3", false, SLOW_BYTES_PER_SECOND));
    try (Jedis j = new Jedis("127.0.0.1", servers.get(0).port(), 30_000)) {
      for (int i = 0; i < KEY_COUNT; i++) {
        j.set("key:" + i, "v" + i);
      }
    }
    servers.add(start("n4", true, SLOW_BYTES_PER_SECOND));
    await()
        .atMost(DEADLINE)
        .until(() -> metadata.current().members().get("n4").state() == MemberState.STAGED);
    long n2Before = dbSize(servers.get(1));
    assertThat(cluster(servers.get(0), "COMMIT", "JOIN", "n4")).isEqualTo("OK");
    await("n2 hands its slots over")
        .atMost(DEADLINE)
        .until(() -> metadata.current().handedOver("n4").contains("n2"));
    assertThat(metadata.current().members().get("n4").state())
        .as("the slow sources have not handed over yet")
        .isEqualTo(MemberState.JOINING);
    servers.get(1).close();
    await("the join flips while n2 is down")
        .atMost(DEADLINE)
        .until(() -> metadata.current().members().get("n4").state() == MemberState.UP);
    servers.set(1, start("n2", false, SLOW_BYTES_PER_SECOND));

    await("n2's stale copies are gone").atMost(DEADLINE).until(() -> totalKeys() == KEY_COUNT);
    ClusterView view = metadata.current();
    long n2Owned = 0;
    for (int i = 0; i < KEY_COUNT; i++) {
      int slot = io.replicakv.core.ring.Slots.slot(("key:" + i).getBytes());
      if (view.ownerOf(slot).id().equals("n2")) {
        n2Owned++;
      }
    }
    long n2After = dbSize(servers.get(1));
    assertThat(n2After).as("n2 holds exactly the keys of its own slots").isEqualTo(n2Owned);
    assertThat(n2After).as("n2 had handed keys over").isLessThan(n2Before);
    for (ReplicaKvServer s : servers) {
      try (Jedis j = new Jedis("127.0.0.1", s.port(), 30_000)) {
        for (int i = 0; i < KEY_COUNT; i++) {
          assertThat(j.get("key:" + i)).as("key:" + i + " via " + s.port()).isEqualTo("v" + i);
        }
      }
    }
  }

  private long totalKeys() {
    long total = 0;
    for (ReplicaKvServer s : servers) {
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
