package io.replicakv.server.leaderless;

import static io.replicakv.server.testing.InProcessCluster.command;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.testing.InProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * A member of a 4-node cluster serving a leaderless keyspace N=3 R=2 W=2 is decommissioned: it
 * leaves the placement when it becomes LEAVING, hands every key it held to the key's owners under
 * the 3-member placement (as hints, dropped once acknowledged), and afterwards every key is held by
 * its 3 new owners (read locally on each, no anti-entropy run and none scheduled) and R=3 reads
 * through every remaining node answer every key.
 */
class LeaderlessDecommissionTest {
  private static final Duration DEADLINE = Duration.ofMinutes(4);
  private static final int KEYS = 400;
  private static final String LEAVER = "n3";

  @TempDir Path dir;
  private InProcessCluster cluster;

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private Jedis client(String id, int keyspace) {
    return cluster.jedis(InProcessCluster.index(id), keyspace);
  }

  private LeaderlessService service(String id, int keyspace) {
    return cluster.server(id).node().leaderless.service(keyspace);
  }

  @Test
  void aLeavingNodeHandsItsKeysToTheirNewOwnersBeforeAntiEntropyCould() throws Exception {
    cluster =
        InProcessCluster.builder(dir)
            .nodes(4)
            // no scheduled anti-entropy within the test (the first exchange would start after an
            // hour): what the new owners hold came by the departure's handoff
            .set("leaderless-anti-entropy-interval-ms", "3600000")
            .deadline(DEADLINE)
            // the longest client timeout the test had (KEYSPACE CREATE, CLUSTER LEAVE)
            .clientTimeout(Duration.ofSeconds(120))
            .start();
    int keyspace = cluster.createKeyspace("carts", "style", "leaderless", "r", "2", "w", "2");
    for (String id : cluster.ids()) {
      await("node " + id + " serves the keyspace over 4 members")
          .atMost(DEADLINE)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                assertThat(service(id, keyspace).members()).hasSize(4);
                try (Jedis j = client(id, keyspace)) {
                  assertThat(j.sendCommand(command("KV.GET"), "warm-up", "R", "3"))
                      .isInstanceOf(List.class);
                }
              });
    }
    Map<String, String> written = new LinkedHashMap<>();
    int heldByLeaver;
    try (Jedis j = client("n1", keyspace)) {
      for (int i = 0; i < KEYS; i++) {
        String key = "cart:" + i;
        // a loaded machine can time a write out; writing the same value again is harmless
        await()
            .atMost(DEADLINE)
            .ignoreException(JedisDataException.class)
            .until(() -> "OK".equals(j.set(key, "v" + key.substring(5))));
        written.put(key, "v" + i);
      }
    }
    // every write reached all three owners (W=2 answers early; the third follows)
    await("every owner holds every key before the leave")
        .atMost(DEADLINE)
        .ignoreExceptions()
        .untilAsserted(() -> assertEveryKeyOnItsOwners(written, keyspace));
    heldByLeaver = service(LEAVER, keyspace).keysHeld().get();
    assertThat(heldByLeaver).as("N=3 of 4: the leaver owns about 3/4 of the keys").isPositive();

    try (Jedis j = new Jedis("127.0.0.1", cluster.server("n1").port(), 120_000)) {
      assertThat(j.sendCommand(command("CLUSTER"), "LEAVE", LEAVER)).isNotNull();
    }
    await("the leaver is LEFT")
        .atMost(DEADLINE)
        .until(
            () -> cluster.metadata().current().members().get(LEAVER).state() == MemberState.LEFT);
    await("the others serve 3 members and the leaver departs with every hint handed off")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(250))
        .until(
            () -> {
              for (String id : cluster.ids()) {
                LeaderlessService service = service(id, keyspace);
                if (service == null) {
                  return false;
                }
                if (id.equals(LEAVER)) {
                  if (!service.departing() || service.hintsHeld() != 0) {
                    return false;
                  }
                } else if (service.members().size() != 3 || service.departing()) {
                  return false;
                }
              }
              return true;
            });
    assertThat(service(LEAVER, keyspace).keysHeld().get())
        .as("the leaver owns nothing after its departure")
        .isZero();
    long handedOff = service(LEAVER, keyspace).counters().get("hints_handed_off");
    System.out.printf(
        "decommission: leaver held %d of %d keys, handed off %d hints%n",
        heldByLeaver, KEYS, handedOff);
    assertThat(handedOff).as("hints the leaver handed off").isGreaterThanOrEqualTo(heldByLeaver);
    for (String id : cluster.ids()) {
      if (!id.equals(LEAVER)) {
        assertThat(service(id, keyspace).counters().get("anti_entropy_keys_repaired"))
            .as("anti-entropy repairs on %s", id)
            .isZero();
      }
    }

    assertEveryKeyOnItsOwners(written, keyspace);
    for (String id : cluster.ids()) {
      if (id.equals(LEAVER)) {
        continue;
      }
      try (Jedis j = client(id, keyspace)) {
        for (Map.Entry<String, String> write : written.entrySet()) {
          await()
              .atMost(DEADLINE)
              .ignoreException(JedisDataException.class)
              .untilAsserted(
                  () -> {
                    List<?> values =
                        (List<?>) j.sendCommand(command("KV.GET"), write.getKey(), "R", "3");
                    assertThat(values)
                        .as("R=3 read of %s through %s", write.getKey(), id)
                        .hasSize(2);
                    assertThat(new String((byte[]) values.get(1), StandardCharsets.UTF_8))
                        .isEqualTo(write.getValue());
                  });
        }
      }
    }
  }

  /** Each key's value is in the local store of each of its owners under that node's placement. */
  private void assertEveryKeyOnItsOwners(Map<String, String> written, int keyspace)
      throws Exception {
    LeaderlessService reference = service("n1", keyspace);
    for (Map.Entry<String, String> write : written.entrySet()) {
      List<String> owners = reference.ownersOf(write.getKey());
      assertThat(owners).hasSize(3);
      List<String> holders = new ArrayList<>();
      for (String owner : owners) {
        if (service(owner, keyspace).localValues(write.getKey()).get().contains(write.getValue())) {
          holders.add(owner);
        }
      }
      assertThat(holders).as("owners of %s holding it", write.getKey()).isEqualTo(owners);
    }
  }
}
