package io.replicakv.server.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.cluster.InMemoryMetadataStore;
import io.replicakv.server.config.ServerConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.commands.ProtocolCommand;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * Commands that meet a planned leader change wait for the new leader instead of failing: three
 * servers in one JVM, plain (non-cluster) Jedis writers through every node, one group switched over
 * back and forth; no writer sees an error, every acknowledged value reads back, and the nodes count
 * the commands that waited.
 */
class LeaderChangeHoldTest {
  private static final Duration DEADLINE = Duration.ofMinutes(3);
  private static final int SWITCHOVERS = 4;

  @TempDir Path dir;
  private final List<ReplicaKvServer> servers = new ArrayList<>();
  private InMemoryMetadataStore metadata;

  private static ProtocolCommand command(String name) {
    byte[] raw = name.getBytes(StandardCharsets.UTF_8);
    return () -> raw;
  }

  @AfterEach
  void stop() {
    servers.forEach(ReplicaKvServer::close);
    if (metadata != null) {
      metadata.close();
    }
  }

  private Jedis jedis(int node) {
    return new Jedis("127.0.0.1", servers.get(node).port(), 60_000);
  }

  private long counter(int node, String name) {
    return servers.get(node).node().replication.counters().getOrDefault(name, 0L);
  }

  @Test
  void writersSeeNoErrorWhileTheirGroupSwitchesLeaders() throws Exception {
    metadata = new InMemoryMetadataStore("test");
    for (int i = 1; i <= 3; i++) {
      Map<String, String> settings = new HashMap<>();
      settings.put("port", "0");
      settings.put("http-port", "0");
      settings.put("peer-port", "0");
      settings.put("bind", "127.0.0.1");
      settings.put("data-dir", dir.resolve("n" + i).toString());
      settings.put("node-id", "n" + i);
      settings.put("cluster-voters", "n1@127.0.0.1:1");
      settings.put("failover-timeout-ms", "3000");
      settings.put("heartbeat-interval-ms", "200");
      // no leadership moves but the test's own
      settings.put("replication-preferred-leader", "off");
      // under the 5 s forwarding timeout, well over a switchover on a loaded machine
      settings.put("replication-hold-ms", "4000");
      servers.add(
          new ReplicaKvServer(ServerConfig.load(null, settings))
              .withMetadataStore(metadata)
              .start());
    }
    // until every node writes the group's keys (its leader is known and serving)
    await()
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (int node = 0; node < 3; node++) {
                try (Jedis j = jedis(node)) {
                  assertThat(j.set("{hold}:warm-up", "w")).isEqualTo("OK");
                }
              }
            });
    long slot;
    try (Jedis j = jedis(0)) {
      slot = j.clusterKeySlot("{hold}");
    }

    Map<String, String> acknowledged = new ConcurrentHashMap<>();
    List<String> errors = new CopyOnWriteArrayList<>();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong writes = new AtomicLong();
    List<Thread> threads = new ArrayList<>();
    for (int node = 0; node < 3; node++) {
      int through = node;
      Thread t =
          new Thread(
              () -> {
                try (Jedis j = jedis(through)) {
                  for (long n = 0; !stop.get(); n++) {
                    String key = "{hold}:" + through + ":" + (n % 20);
                    String value = "v" + n;
                    try {
                      assertThat(j.set(key, value)).isEqualTo("OK");
                      acknowledged.put(key, value);
                      writes.incrementAndGet();
                    } catch (JedisDataException e) {
                      errors.add(key + " through n" + (through + 1) + ": " + e.getMessage());
                    }
                  }
                }
              },
              "writer-" + node);
      t.start();
      threads.add(t);
    }
    List<String> answers = new ArrayList<>();
    try {
      for (int round = 0; round < SWITCHOVERS; round++) {
        long before = writes.get();
        await().atMost(DEADLINE).until(() -> writes.get() > before + 50);
        try (Jedis j = jedis(round % 3)) {
          Object reply = j.sendCommand(command("REPLICATION"), "SWITCHOVER", "0", "" + slot);
          String answer = new String((byte[]) reply, StandardCharsets.UTF_8);
          answers.add(answer);
          assertThat(answer).contains(" -> ");
        }
      }
      long before = writes.get();
      await().atMost(DEADLINE).until(() -> writes.get() > before + 50);
    } finally {
      stop.set(true);
      for (Thread t : threads) {
        t.join(DEADLINE.toMillis());
      }
    }
    long held = 0;
    long expired = 0;
    for (int node = 0; node < 3; node++) {
      held += counter(node, "commands_held");
      expired += counter(node, "commands_held_expired");
    }
    System.out.printf(
        "%d writes acknowledged, %d errors, %d commands held (%d past their wait), switchovers"
            + " %s%n",
        writes.get(), errors.size(), held, expired, answers);
    assertThat(expired).as("held commands answered with their refusal").isZero();
    assertThat(errors).as("errors seen by writers").isEmpty();
    assertThat(held).as("commands that waited out a switchover").isPositive();
    for (int node = 0; node < 3; node++) {
      try (Jedis j = jedis(node)) {
        for (Map.Entry<String, String> e : acknowledged.entrySet()) {
          assertThat(j.get(e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
        }
      }
    }
  }
}
