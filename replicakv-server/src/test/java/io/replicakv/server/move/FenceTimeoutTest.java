package io.replicakv.server.move;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.replicakv.core.ring.Slots;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.PeerServer;
import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.cluster.InMemoryMetadataStore;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.cluster.MetadataChange;
import io.replicakv.server.config.ServerConfig;
import io.replicakv.storage.data.Mutation;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * A target that stops answering while its source is fenced: the source lifts the fence after {@code
 * move-fence-timeout-ms}, writes to the moving slots work again, and once the target answers again
 * the move completes with every acknowledged write on the target.
 *
 * <p>The target is a stand-in peer server that applies move batches to a map and acknowledges each
 * one {@link #ACK_DELAY_MILLIS} late, so the fenced window is long enough to switch it off.
 */
class FenceTimeoutTest {
  static final int KEY_COUNT = 400;
  static final long SEED = 11;
  static final long ACK_DELAY_MILLIS = 300;
  static final String FENCE_TIMEOUT_MILLIS = "1000";
  static final Duration DEADLINE = Duration.ofSeconds(60);

  @TempDir Path dir;

  @Test
  void aFencedSourceWhoseTargetGoesSilentLiftsItsFenceAndLosesNothing() throws Exception {
    InMemoryMetadataStore metadata = new InMemoryMetadataStore("fence-test");
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    ScheduledExecutorService delayer = Executors.newSingleThreadScheduledExecutor();
    AtomicBoolean silent = new AtomicBoolean();
    Map<String, String> onTarget = new ConcurrentHashMap<>();
    PeerServer target =
        PeerServer.start(
            "127.0.0.1",
            0,
            (request, responder) -> {
              if (request.type() == KeyMover.TYPE_MOVE_CLEAR) {
                responder.reply(
                    new Frame(
                        KeyMover.TYPE_MOVE_CLEAR_REPLY, request.correlationId(), new byte[0]));
              } else if (request.type() == KeyMover.TYPE_MOVE_BATCH) {
                if (silent.get()) {
                  return; // a dead target: no answer at all
                }
                List<Mutation> batch = KeyMover.decodeBatch(request.payload());
                delayer.schedule(
                    () -> {
                      if (silent.get()) {
                        return; // died before acknowledging: the batch is lost with it
                      }
                      apply(batch, onTarget);
                      responder.reply(
                          new Frame(
                              KeyMover.TYPE_MOVE_BATCH_REPLY,
                              request.correlationId(),
                              new byte[0]));
                    },
                    ACK_DELAY_MILLIS,
                    TimeUnit.MILLISECONDS);
              } else {
                responder.fail("stand-in target answers move frames only");
              }
            },
            group);
    Map<String, String> settings =
        Map.of(
            "port", "0",
            "http-port", "0",
            "peer-port", "0",
            "data-dir", dir.resolve("n1").toString(),
            "node-id", "n1",
            "cluster-voters", "n1@127.0.0.1:1",
            "replication", "off",
            "move-fence-timeout-ms", FENCE_TIMEOUT_MILLIS);
    Map<String, String> acknowledged = new ConcurrentHashMap<>();
    try (ReplicaKvServer server =
            new ReplicaKvServer(ServerConfig.load(null, settings))
                .withMetadataStore(metadata)
                .start();
        Jedis admin = new Jedis("127.0.0.1", server.port(), 30_000)) {
      for (int i = 0; i < KEY_COUNT; i++) {
        admin.set("key:" + i, "initial");
        acknowledged.put("key:" + i, "initial");
      }
      Member ghost =
          new Member(
              "ghost",
              "127.0.0.1",
              2,
              target.port(),
              0,
              0,
              "site-1",
              "",
              MemberState.STAGED,
              false);
      metadata.propose(new MetadataChange.AddMember(ghost)).get(5, TimeUnit.SECONDS);
      Writer writer = new Writer(server.port(), acknowledged);
      Thread thread = new Thread(writer, "fence-writer");
      thread.start();
      metadata
          .propose(new MetadataChange.SetMemberState("ghost", MemberState.JOINING))
          .get(5, TimeUnit.SECONDS);
      await("the source fences for its last delta")
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(10))
          .until(() -> moveStatus(admin).contains("status: fenced, last delta"));
      silent.set(true);
      await("the fence times out")
          .atMost(DEADLINE)
          .until(() -> moveStatus(admin).contains("fence_timeouts: 1"));
      assertThat(moveStatus(admin)).contains("catching up again (fence timed out)");
      assertThat(metadata.current().handedOver("ghost")).isEmpty();
      String moving = keyMovingToGhost(metadata);
      assertThat(admin.set(moving, "written-while-target-silent")).isEqualTo("OK");
      acknowledged.put(moving, "written-while-target-silent");
      long writes = writer.writes.get();
      await().atMost(DEADLINE).until(() -> writer.writes.get() >= writes + 100);
      writer.stop.set(true);
      thread.join(DEADLINE.toMillis());
      assertThat(writer.failure).isNull();

      silent.set(false);
      await("the move completes once the target answers")
          .atMost(DEADLINE)
          .until(() -> metadata.current().members().get("ghost").state() == MemberState.UP);
      await().atMost(DEADLINE).until(() -> moveStatus(admin).contains("status: idle"));
      int onN1 = 0;
      for (Map.Entry<String, String> e : acknowledged.entrySet()) {
        int slot = Slots.slot(e.getKey().getBytes(StandardCharsets.UTF_8));
        if (metadata.current().ownerOf(slot).id().equals("ghost")) {
          assertThat(onTarget.get(e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
        } else {
          assertThat(admin.get(e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
          onN1++;
        }
      }
      assertThat(admin.dbSize()).isEqualTo(onN1);
      System.out.printf(
          "fence timeout: %d writes, %d TRYAGAIN, %d keys on the target%n",
          writer.writes.get(), writer.retries.get(), onTarget.size());
    } finally {
      target.close();
      delayer.shutdownNow();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      metadata.close();
    }
  }

  private static void apply(List<Mutation> batch, Map<String, String> onTarget) {
    for (Mutation m : batch) {
      switch (m) {
        case Mutation.StringSet s ->
            onTarget.put(
                new String(s.key(), StandardCharsets.UTF_8),
                new String(s.value(), StandardCharsets.UTF_8));
        case Mutation.Delete d -> onTarget.remove(new String(d.key(), StandardCharsets.UTF_8));
        default -> throw new IllegalStateException("unexpected mutation " + m);
      }
    }
  }

  private static String keyMovingToGhost(InMemoryMetadataStore metadata) {
    var after = metadata.current().afterFlip("ghost");
    for (int i = 0; ; i++) {
      String key = "key:" + i;
      if (after.ownerOf(Slots.slot(key.getBytes(StandardCharsets.UTF_8))).id().equals("ghost")) {
        return key;
      }
    }
  }

  private static String moveStatus(Jedis j) {
    Object reply = j.sendCommand(redis.clients.jedis.Protocol.Command.CLUSTER, "MOVESTATUS");
    return reply instanceof byte[] b
        ? new String(b, StandardCharsets.UTF_8)
        : String.valueOf(reply);
  }

  /** Overwrites random keys until stopped, retrying a write refused with TRYAGAIN. */
  static final class Writer implements Runnable {
    final int port;
    final Map<String, String> acknowledged;
    final AtomicBoolean stop = new AtomicBoolean();
    final AtomicLong writes = new AtomicLong();
    final AtomicLong retries = new AtomicLong();
    final Random random = new Random(SEED);
    volatile Throwable failure;

    Writer(int port, Map<String, String> acknowledged) {
      this.port = port;
      this.acknowledged = acknowledged;
    }

    @Override
    public void run() {
      long counter = 0;
      try (Jedis j = new Jedis("127.0.0.1", port, 30_000)) {
        while (!stop.get()) {
          String key = "key:" + random.nextInt(KEY_COUNT);
          String value = "w" + counter++;
          while (true) {
            try {
              j.set(key, value);
              break;
            } catch (JedisDataException e) {
              if (!String.valueOf(e.getMessage()).startsWith("TRYAGAIN")) {
                throw e;
              }
              retries.incrementAndGet();
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
}
