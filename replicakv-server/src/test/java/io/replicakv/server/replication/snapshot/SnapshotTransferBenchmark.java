package io.replicakv.server.replication.snapshot;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.ring.Slots;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.FrameCodec;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.net.peer.PeerClientOptions;
import io.replicakv.net.peer.PeerServer;
import io.replicakv.net.peer.PeerServerOptions;
import io.replicakv.storage.StorageEngine;
import io.replicakv.storage.StorageOptions;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.log.FsyncPolicy;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Not a test: how fast a partition snapshot moves between two storage engines over loopback TCP
 * (the peer transport, frame type 27, one Ack per frame, the sender's window), compared with the
 * disk's own sequential write rate (a FileChannel writing 1 MiB blocks, then force). The follower's
 * engine logs every loaded key ({@code fsync=interval}), so the transfer cannot beat the disk; the
 * ratio says how much of the disk's rate the pipeline reaches. Run it with {@code
 * bench/snapshot-transfer.sh}.
 *
 * <p>Arguments: {@code [keys] [valueBytes] [windowBytes] [diskMiB] [directory]}.
 */
public final class SnapshotTransferBenchmark {
  private static final int KEYSPACE = 0;
  private static final long AWAIT_MINUTES = 20;

  private SnapshotTransferBenchmark() {}

  public static void main(String[] args) throws Exception {
    int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    int valueBytes = args.length > 1 ? Integer.parseInt(args[1]) : 100;
    long windowBytes =
        args.length > 2 ? Long.parseLong(args[2]) : SnapshotSender.WINDOW_BYTES_DEFAULT;
    int diskMib = args.length > 3 ? Integer.parseInt(args[3]) : 512;
    Path directory =
        args.length > 4 ? Path.of(args[4]) : Files.createTempDirectory("replicakv-snapshot-bench");
    Files.createDirectories(directory);
    System.out.printf(
        "snapshot transfer benchmark: %,d keys of %d-byte values, window %,d bytes, in %s%n",
        keys, valueBytes, windowBytes, directory);
    double transferMbPerSecond = transfer(directory, keys, valueBytes, windowBytes);
    double diskMbPerSecond = diskWrite(directory, diskMib);
    System.out.printf(
        "ratio transfer / disk sequential write: %.2f%n", transferMbPerSecond / diskMbPerSecond);
  }

  private static StorageOptions options(Path dir, FsyncPolicy fsync) {
    return new StorageOptions(
        dir, 4, fsync, 1_000, 256L << 20, 64L << 20, 0, 1, 0, 2_000, 16L << 20);
  }

  private static double transfer(Path directory, int keys, int valueBytes, long windowBytes)
      throws Exception {
    BitSet slots = new BitSet(Slots.SLOT_COUNT);
    slots.set(0, Slots.SLOT_COUNT);
    ExecutorService leaderLoop = Executors.newSingleThreadExecutor();
    ExecutorService followerLoop = Executors.newSingleThreadExecutor();
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    try (StorageEngine source =
            StorageEngine.open(options(directory.resolve("source"), FsyncPolicy.NEVER), 0);
        StorageEngine target =
            StorageEngine.open(options(directory.resolve("target"), FsyncPolicy.INTERVAL), 0)) {
      SplittableRandom random = new SplittableRandom(1201);
      byte[] value = new byte[valueBytes];
      for (int i = 0; i < keys; i++) {
        random.nextBytes(value);
        source.apply(
            new Mutation.StringSet(
                KEYSPACE, ("key:" + i).getBytes(StandardCharsets.UTF_8), value.clone(), 0));
      }
      source.sync();
      AtomicReference<SnapshotReceiver.Installed> installed = new AtomicReference<>();
      SnapshotReceiver receiver =
          new SnapshotReceiver(
              target,
              new SnapshotReceiver.Acceptor() {
                @Override
                public String refusal(SnapshotFrame.Begin begin) {
                  return null;
                }

                @Override
                public BitSet slots(int keyspace, int partition) {
                  return slots;
                }

                @Override
                public void installed(SnapshotReceiver.Installed done) {
                  installed.set(done);
                }

                @Override
                public void abandoned(int keyspace, int partition, String reason) {
                  System.out.println("abandoned: " + reason);
                }
              });
      PeerServerOptions serverOptions =
          new PeerServerOptions(
              FrameCodec.DEFAULT_MAX_FRAME_BYTES,
              PeerServerOptions.DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION,
              followerLoop);
      try (PeerServer server =
              PeerServer.start(
                  "127.0.0.1",
                  0,
                  (request, responder) ->
                      responder.reply(
                          Frame.of(
                              SnapshotFrameCodec.FRAME_TYPE,
                              SnapshotFrameCodec.encode(
                                  receiver.onFrame(SnapshotFrameCodec.decode(request.payload()))))),
                  group,
                  serverOptions);
          PeerClient client = new PeerClient(group, PeerClientOptions.defaults())) {
        CountDownLatch finished = new CountDownLatch(1);
        AtomicReference<SnapshotSender> senderRef = new AtomicReference<>();
        long start = System.nanoTime();
        SnapshotSender.Link link =
            frame -> {
              CompletableFuture<Frame> reply =
                  client.request(
                      "127.0.0.1", server.port(), Frame.of(SnapshotFrameCodec.FRAME_TYPE, frame));
              reply.whenComplete(
                  (answer, error) ->
                      leaderLoop.execute(
                          () -> {
                            SnapshotSender sender = senderRef.get();
                            long now = System.nanoTime() / 1_000_000;
                            if (error != null) {
                              sender.fail(error.toString());
                            } else {
                              sender.onAck(
                                  (SnapshotFrame.Ack) SnapshotFrameCodec.decode(answer.payload()),
                                  now);
                              sender.pump(now);
                            }
                            if (sender.status() != SnapshotSender.Status.RUNNING) {
                              finished.countDown();
                            }
                          }));
            };
        leaderLoop
            .submit(
                () -> {
                  long now = System.nanoTime() / 1_000_000;
                  SnapshotSender sender =
                      new SnapshotSender(
                          source.startPartitionSnapshot(KEYSPACE, slots, new Lsn(1, 1)),
                          1,
                          1,
                          1,
                          0,
                          link,
                          windowBytes,
                          now);
                  senderRef.set(sender);
                  sender.pump(now);
                })
            .get();
        if (!finished.await(AWAIT_MINUTES, TimeUnit.MINUTES)) {
          throw new IllegalStateException("transfer did not finish in " + AWAIT_MINUTES + " min");
        }
        // Durable on the follower: the loaded keys are in its log, synced.
        followerLoop
            .submit(
                () -> {
                  target.sync();
                  return null;
                })
            .get();
        double seconds = (System.nanoTime() - start) / 1e9;
        SnapshotSender.Progress progress = senderRef.get().progress();
        if (progress.status() != SnapshotSender.Status.DONE || installed.get() == null) {
          throw new IllegalStateException("transfer failed: " + progress);
        }
        if (target.state().size(KEYSPACE) != keys) {
          throw new IllegalStateException(
              "follower holds " + target.state().size(KEYSPACE) + " keys, expected " + keys);
        }
        double megabytes = progress.bytesSent() / 1e6;
        System.out.printf(
            "snapshot transfer: %,d keys, %.1f MB of entries in %.2f s = %.1f MB/s"
                + " (%,d frames, peak unacked %,d bytes)%n",
            progress.keysSent(),
            megabytes,
            seconds,
            megabytes / seconds,
            progress.framesSent(),
            progress.peakUnackedBytes());
        return megabytes / seconds;
      }
    } finally {
      leaderLoop.shutdownNow();
      followerLoop.shutdownNow();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  private static double diskWrite(Path directory, int mib) throws IOException {
    Path file = directory.resolve("disk-write-probe");
    ByteBuffer block = ByteBuffer.allocateDirect(1 << 20);
    new SplittableRandom(7).ints(block.capacity() / 4).forEach(block::putInt);
    long start = System.nanoTime();
    try (FileChannel channel =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      for (int i = 0; i < mib; i++) {
        block.clear();
        while (block.hasRemaining()) {
          channel.write(block);
        }
      }
      channel.force(true);
    } finally {
      Files.deleteIfExists(file);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    double megabytes = mib * (double) (1 << 20) / 1e6;
    System.out.printf(
        "disk sequential write (FileChannel, 1 MiB blocks, then force): %.1f MB in %.2f s = %.1f"
            + " MB/s%n",
        megabytes, seconds, megabytes / seconds);
    return megabytes / seconds;
  }
}
