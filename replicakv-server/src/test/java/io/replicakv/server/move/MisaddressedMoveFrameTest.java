package io.replicakv.server.move;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.replicakv.core.ring.Slots;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.net.peer.PeerClientOptions;
import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.cluster.InMemoryMetadataStore;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.config.ServerConfig;
import io.replicakv.storage.data.Mutation;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A move batch or clear that reaches a node other than the one it was sent to (the target restarted
 * on new ports and another process, possibly of another cluster, now listens on its old peer port)
 * is refused, so it can neither add keys in slots that node does not own nor delete keys it holds.
 * Frames addressed to the node itself, and unaddressed version-1 frames, still apply.
 */
class MisaddressedMoveFrameTest {
  static final long REPLY_TIMEOUT_SECONDS = 30;

  @TempDir Path dir;

  @Test
  void aMoveFrameAddressedToAnotherNodeIsRefused() throws Exception {
    InMemoryMetadataStore metadata = new InMemoryMetadataStore("misaddressed-test");
    Map<String, String> settings = new HashMap<>();
    settings.put("port", "0");
    settings.put("http-port", "0");
    settings.put("peer-port", "0");
    settings.put("data-dir", dir.resolve("n1").toString());
    settings.put("node-id", "n1");
    settings.put("cluster-voters", "n1@127.0.0.1:1");
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try (ReplicaKvServer server =
        new ReplicaKvServer(ServerConfig.load(null, settings))
            .withMetadataStore(metadata)
            .start()) {
      Member self = metadata.current().members().get("n1");
      PeerClient peers = new PeerClient(group, PeerClientOptions.defaults());
      byte[] stray = "stray".getBytes(StandardCharsets.UTF_8);
      List<Mutation> set = List.of(new Mutation.StringSet(0, stray, stray, 0));

      Frame refused =
          send(peers, self, KeyMover.TYPE_MOVE_BATCH, KeyMover.encodeBatch("n4@1/2", set));
      assertThat(refused).as("a batch for n4 is refused by n1").isNull();
      String samIdOtherPorts = "n1@" + (self.clientPort() + 1) + "/" + self.peerPort();
      Frame otherProcess =
          send(peers, self, KeyMover.TYPE_MOVE_BATCH, KeyMover.encodeBatch(samIdOtherPorts, set));
      assertThat(otherProcess).as("a batch for another process named n1").isNull();
      assertThat(dbSize(server)).isZero();

      Frame applied =
          send(
              peers,
              self,
              KeyMover.TYPE_MOVE_BATCH,
              KeyMover.encodeBatch(KeyMover.addressOf(self), set));
      assertThat(applied).isNotNull();
      assertThat(dbSize(server)).isEqualTo(1);

      int slot = Slots.slot(stray);
      Frame clearRefused = send(peers, self, KeyMover.TYPE_MOVE_CLEAR, clear(slot, "n4@1/2"));
      assertThat(clearRefused).as("a clear for n4 is refused by n1").isNull();
      assertThat(dbSize(server)).as("the refused clear deleted nothing").isEqualTo(1);

      Frame unaddressed = send(peers, self, KeyMover.TYPE_MOVE_CLEAR, clear(slot, null));
      assertThat(unaddressed).isNotNull();
      assertThat(dbSize(server)).as("an unaddressed (older) clear still applies").isZero();
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      metadata.close();
    }
  }

  @Test
  void addressedBatchesAndClearsRoundTrip() {
    List<Mutation> set = List.of(new Mutation.Delete(2, "k".getBytes(StandardCharsets.UTF_8)));
    KeyMover.Batch batch = KeyMover.decodeAddressedBatch(KeyMover.encodeBatch("n7", set));
    assertThat(batch.target()).isEqualTo("n7");
    assertThat(batch.mutations()).isEqualTo(set);
    assertThat(KeyMover.decodeAddressedBatch(KeyMover.encodeBatch(set)).target()).isNull();
    assertThat(KeyMover.clearTarget(clear(5, "n7"))).isEqualTo("n7");
    assertThat(KeyMover.clearTarget(clear(5, null))).isNull();
  }

  private static byte[] clear(int slot, String target) {
    byte[] id = target == null ? new byte[0] : target.getBytes(StandardCharsets.UTF_8);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + (target == null ? 0 : 2 + id.length));
    b.putInt(1).putShort((short) slot).putShort((short) slot);
    if (target != null) {
      b.putShort((short) id.length).put(id);
    }
    return b.array();
  }

  /** The reply, or null when the node refused the frame (an ERROR reply fails the request). */
  private static Frame send(PeerClient peers, Member to, int type, byte[] payload)
      throws Exception {
    try {
      return peers
          .request(to.host(), to.peerPort(), Frame.of(type, payload))
          .get(REPLY_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof io.replicakv.net.peer.PeerErrorException refused) {
        assertThat(refused.getMessage()).contains("refused");
        return null;
      }
      throw e;
    }
  }

  private static long dbSize(ReplicaKvServer s) {
    try (Jedis j = new Jedis("127.0.0.1", s.port(), 30_000)) {
      return j.dbSize();
    }
  }
}
