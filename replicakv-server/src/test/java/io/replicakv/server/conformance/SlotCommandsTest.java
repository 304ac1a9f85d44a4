package io.replicakv.server.conformance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.ring.Slots;
import io.replicakv.server.ReplicaKvServer;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/** CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT with Redis's semantics, per selected keyspace. */
class SlotCommandsTest {
  @TempDir Path dir;
  private ReplicaKvServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void countAndGetKeysInSlotFollowWritesDeletesAndTheSelectedKeyspace() throws Exception {
    server = TestNode.start(dir);
    int slot = Slots.slot("user1");
    try (Jedis j = new Jedis("127.0.0.1", server.port())) {
      assertThat(j.clusterCountKeysInSlot(slot)).isZero();
      assertThat(j.clusterGetKeysInSlot(slot, 10)).isEmpty();
      Set<String> keys = new HashSet<>();
      for (int i = 0; i < 30; i++) {
        j.set("{user1}.k" + i, "v");
        keys.add("{user1}.k" + i);
        j.set("other" + i, "v");
      }
      j.hset("{user1}.h", "f", "v");
      keys.add("{user1}.h");
      j.sadd("{user1}.s", "m");
      keys.add("{user1}.s");
      assertThat(j.clusterCountKeysInSlot(slot)).isEqualTo(32);
      assertThat(new HashSet<>(j.clusterGetKeysInSlot(slot, 100))).isEqualTo(keys);
      assertThat(j.clusterGetKeysInSlot(slot, 3)).hasSize(3).allMatch(keys::contains);
      assertThat(j.clusterGetKeysInSlot(slot, 0)).isEmpty();
      j.del("{user1}.k0");
      j.rename("{user1}.k1", "moved-away");
      j.hdel("{user1}.h", "f");
      assertThat(j.clusterCountKeysInSlot(slot)).isEqualTo(29);
      assertThat(j.clusterCountKeysInSlot(Slots.slot("moved-away"))).isEqualTo(1);
      j.select(1);
      assertThat(j.clusterCountKeysInSlot(slot)).isZero();
      j.set("{user1}.in-one", "v");
      assertThat(j.clusterCountKeysInSlot(slot)).isEqualTo(1);
      assertThat(j.clusterGetKeysInSlot(slot, 10)).containsExactly("{user1}.in-one");
      j.select(0);
      j.flushDB();
      assertThat(j.clusterCountKeysInSlot(slot)).isZero();

      assertThatThrownBy(() -> j.clusterCountKeysInSlot(Slots.SLOT_COUNT))
          .isInstanceOf(JedisDataException.class)
          .hasMessage("ERR Invalid slot");
      assertThatThrownBy(() -> j.clusterCountKeysInSlot(-1))
          .isInstanceOf(JedisDataException.class)
          .hasMessage("ERR Invalid slot");
      assertThatThrownBy(() -> j.clusterGetKeysInSlot(slot, -1))
          .isInstanceOf(JedisDataException.class)
          .hasMessage("ERR Invalid slot or number of keys");
      assertThatThrownBy(() -> j.clusterGetKeysInSlot(Slots.SLOT_COUNT, 1))
          .isInstanceOf(JedisDataException.class)
          .hasMessage("ERR Invalid slot or number of keys");
      assertThatThrownBy(
              () ->
                  j.sendCommand(
                      redis.clients.jedis.Protocol.Command.CLUSTER, "COUNTKEYSINSLOT", "abc"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("not an integer");
    }
  }
}
