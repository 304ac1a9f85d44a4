package io.replicakv.server.replication.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.ring.Slots;
import io.replicakv.storage.StorageEngine;
import io.replicakv.storage.StorageOptions;
import io.replicakv.storage.data.HashValue;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.SetValue;
import io.replicakv.storage.data.StringValue;
import io.replicakv.storage.data.Value;
import io.replicakv.storage.log.FsyncPolicy;
import io.replicakv.storage.partition.PartitionSnapshot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sender to receiver over an in-process link the test drives frame by frame: ordering, the window,
 * a large partition copied while the source keeps changing, durability of what was loaded, and a
 * transfer that starts over after an interruption.
 */
class SnapshotTransferTest {
  static final int KEYSPACE = 2;
  static final int PARTITION = 4_321;
  static final long EPOCH = 7;
  static final int LEADER = 1;
  static final long WINDOW_BYTES = 96L << 10;

  /** Slots 0..8191: half of the ring. */
  static BitSet partitionSlots() {
    BitSet slots = new BitSet(Slots.SLOT_COUNT);
    slots.set(0, Slots.SLOT_COUNT / 2);
    return slots;
  }

  static StorageOptions options(Path dir) {
    return new StorageOptions(
        dir, 4, FsyncPolicy.NEVER, 1000, 8L << 20, 8L << 20, 0, 1, 0, 1000, 8L << 20);
  }

  static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /** Every key of {@code slots} in {@code keyspace}, with value and expiry in a canonical text. */
  static Map<String, String> dump(MemoryState state, int keyspace, BitSet slots) {
    Map<String, String> dump = new TreeMap<>();
    state.forEachEntry(
        keyspace,
        (key, value, expireAt) -> {
          if (slots.get(Slots.slot(key.array()))) {
            dump.put(new String(key.array(), StandardCharsets.UTF_8), show(value) + "@" + expireAt);
          }
        });
    return dump;
  }

  static String show(Value value) {
    return switch (value) {
      case StringValue s -> "s:" + new String(s.bytes(), StandardCharsets.UTF_8);
      case HashValue h -> {
        TreeMap<String, String> fields = new TreeMap<>();
        h.fields()
            .forEach(
                (field, fieldValue) ->
                    fields.put(
                        new String(field.array(), StandardCharsets.UTF_8),
                        new String(fieldValue, StandardCharsets.UTF_8)));
        yield "h:" + fields;
      }
      case SetValue s -> {
        TreeSet<String> members = new TreeSet<>();
        s.members()
            .forEach(
                (member, ignored) ->
                    members.add(new String(member.array(), StandardCharsets.UTF_8)));
        yield "set:" + members;
      }
    };
  }

  static BitSet allSlots() {
    BitSet slots = new BitSet(Slots.SLOT_COUNT);
    slots.set(0, Slots.SLOT_COUNT);
    return slots;
  }

  /** Keys that hash into the partition's slots (or, with {@code inside} false, outside them). */
  static List<String> keys(String prefix, int count, boolean inside) {
    BitSet slots = partitionSlots();
    List<String> keys = new ArrayList<>();
    for (int i = 0; keys.size() < count; i++) {
      String key = prefix + i;
      if (slots.get(Slots.slot(key)) == inside) {
        keys.add(key);
      }
    }
    return keys;
  }

  /** The follower's replication side, as the test wants it to answer. */
  static final class RecordingAcceptor implements SnapshotReceiver.Acceptor {
    String refusal;
    final List<SnapshotReceiver.Installed> installed = new ArrayList<>();
    final List<String> abandoned = new ArrayList<>();

    @Override
    public String refusal(SnapshotFrame.Begin begin) {
      return refusal;
    }

    @Override
    public BitSet slots(int keyspace, int partition) {
      return keyspace == KEYSPACE && partition == PARTITION ? partitionSlots() : null;
    }

    @Override
    public void installed(SnapshotReceiver.Installed done) {
      installed.add(done);
    }

    @Override
    public void abandoned(int keyspace, int partition, String reason) {
      abandoned.add(reason);
    }
  }

  /** Frames the sender handed to the link, not yet delivered, in order. */
  static final class QueueLink implements SnapshotSender.Link {
    final Deque<byte[]> frames = new ArrayDeque<>();
    long sentBytes;
    long largestFrameBytes;

    @Override
    public void send(byte[] frame) {
      frames.add(frame);
      sentBytes += frame.length;
      largestFrameBytes = Math.max(largestFrameBytes, frame.length);
    }
  }

  /** Delivers the oldest frame to the receiver and its Ack (through the codec) to the sender. */
  static SnapshotFrame.Ack deliverOne(
      QueueLink link, SnapshotReceiver receiver, SnapshotSender sender, long now) {
    byte[] frame = link.frames.poll();
    SnapshotFrame.Ack ack = receiver.onFrame(SnapshotFrameCodec.decode(frame));
    sender.onAck(
        (SnapshotFrame.Ack) SnapshotFrameCodec.decode(SnapshotFrameCodec.encode(ack)), now);
    return ack;
  }

  static void fill(StorageEngine engine, List<String> keys, String tag) {
    for (int i = 0; i < keys.size(); i++) {
      byte[] key = utf8(keys.get(i));
      switch (i % 10) {
        case 0 ->
            engine.apply(
                new Mutation.HashSet(
                    KEYSPACE, key, List.of(utf8("f"), utf8(tag + i), utf8("g"), utf8("x"))));
        case 1 ->
            engine.apply(new Mutation.SetAdd(KEYSPACE, key, List.of(utf8("m" + i), utf8(tag))));
        case 2 ->
            engine.apply(
                new Mutation.StringSet(KEYSPACE, key, utf8(tag + i), 4_000_000_000_000L + i));
        default -> engine.apply(new Mutation.StringSet(KEYSPACE, key, utf8(tag + i), 0));
      }
    }
  }

  /** One random change to the source's partition: overwrite, delete, or a new key. */
  static void randomWrite(StorageEngine engine, List<String> keys, SplittableRandom random) {
    String key = keys.get(random.nextInt(keys.size()));
    switch (random.nextInt(4)) {
      case 0 -> engine.apply(new Mutation.Delete(KEYSPACE, utf8(key)));
      case 1 ->
          engine.apply(
              new Mutation.SetAdd(
                  KEYSPACE, utf8("new-set-" + random.nextInt(500)), List.of(utf8("z"))));
      default -> engine.apply(new Mutation.StringSet(KEYSPACE, utf8(key), utf8("changed"), 0));
    }
  }

  @Test
  void aFiftyThousandKeyPartitionArrivesAsOfItsLsnWhileTheSourceKeepsChanging(
      @TempDir Path sourceDir, @TempDir Path targetDir) throws IOException {
    SplittableRandom random = new SplittableRandom(20261201);
    List<String> inside = keys("key:", 50_000, true);
    List<String> outside = keys("other:", 2_000, false);
    Lsn lsn = new Lsn(6, 91_234);
    Map<String, String> expected;
    Map<String, String> targetOutsideBefore;
    BitSet everythingElse = partitionSlots();
    everythingElse.flip(0, Slots.SLOT_COUNT);
    RecordingAcceptor acceptor = new RecordingAcceptor();
    try (StorageEngine source = StorageEngine.open(options(sourceDir), 0);
        StorageEngine target = StorageEngine.open(options(targetDir), 0)) {
      fill(source, inside, "v");
      fill(source, outside, "o");
      // The follower holds stale keys of the partition (must go) and keys of others (must stay).
      fill(target, keys("stale:", 3_000, true), "stale");
      fill(target, inside.subList(0, 1_000), "old");
      fill(target, keys("mine:", 500, false), "mine");
      targetOutsideBefore = dump(target.state(), KEYSPACE, everythingElse);
      expected = dump(source.state(), KEYSPACE, partitionSlots());
      assertThat(expected).hasSize(50_000);

      PartitionSnapshot snapshot = source.startPartitionSnapshot(KEYSPACE, partitionSlots(), lsn);
      QueueLink link = new QueueLink();
      SnapshotSender sender =
          new SnapshotSender(snapshot, PARTITION, 99, EPOCH, LEADER, link, WINDOW_BYTES, 0);
      SnapshotReceiver receiver = new SnapshotReceiver(target, acceptor);
      long now = 0;
      long delivered = 0;
      long peakSeenOnTheLink = 0;
      int writesDuring = 0;
      while (sender.status() == SnapshotSender.Status.RUNNING) {
        now += 10;
        sender.pump(now);
        peakSeenOnTheLink = Math.max(peakSeenOnTheLink, link.sentBytes - delivered);
        for (int i = 100 + random.nextInt(200); i > 0; i--) {
          randomWrite(source, inside, random);
          writesDuring++;
        }
        // The follower is slower than the walk: it takes one to three frames per turn.
        for (int i = 1 + random.nextInt(3); i > 0 && !link.frames.isEmpty(); i--) {
          delivered += link.frames.peek().length;
          assertThat(deliverOne(link, receiver, sender, now).accepted()).isTrue();
        }
        assertThat(now).as("the transfer ends").isLessThan(10_000_000);
      }
      SnapshotSender.Progress progress = sender.progress();
      assertThat(progress.status()).isEqualTo(SnapshotSender.Status.DONE);
      assertThat(progress.failure()).isEmpty();
      assertThat(progress.keysSent()).isEqualTo(50_000);
      assertThat(progress.keysTotalAtMost()).isGreaterThanOrEqualTo(50_000);
      assertThat(progress.unackedBytes()).isZero();
      // The window held: at most one frame past it, and the link saw the same peak.
      assertThat(progress.peakUnackedBytes())
          .isEqualTo(peakSeenOnTheLink)
          .isGreaterThan(WINDOW_BYTES / 2)
          .isLessThan(WINDOW_BYTES + link.largestFrameBytes);
      assertThat(link.sentBytes).isGreaterThan(8 * WINDOW_BYTES);
      assertThat(source.partitionSnapshotsOpen()).isZero();
      assertThat(writesDuring).isGreaterThan(1_000);
      assertThat(dump(source.state(), KEYSPACE, partitionSlots())).isNotEqualTo(expected);

      assertThat(acceptor.abandoned).isEmpty();
      assertThat(acceptor.installed).hasSize(1);
      SnapshotReceiver.Installed installed = acceptor.installed.getFirst();
      assertThat(installed.lsn()).isEqualTo(lsn);
      assertThat(installed.epoch()).isEqualTo(EPOCH);
      assertThat(installed.leader()).isEqualTo(LEADER);
      assertThat(installed.keys()).isEqualTo(50_000);
      assertThat(installed.bytes()).isEqualTo(progress.bytesSent());
      assertThat(receiver.transfersRunning()).isZero();
      assertThat(dump(target.state(), KEYSPACE, partitionSlots())).isEqualTo(expected);
      assertThat(dump(target.state(), KEYSPACE, everythingElse)).isEqualTo(targetOutsideBefore);
      target.sync();
    }
    // What the receiver loaded went through the log: a restart finds it.
    try (StorageEngine reopened = StorageEngine.open(options(targetDir), 0)) {
      assertThat(dump(reopened.state(), KEYSPACE, partitionSlots())).isEqualTo(expected);
      assertThat(dump(reopened.state(), KEYSPACE, everythingElse)).isEqualTo(targetOutsideBefore);
    }
  }

  @Test
  void aFrameOutOfOrderIsRefusedAndEndsTheTransfer(@TempDir Path sourceDir, @TempDir Path targetDir)
      throws IOException {
    RecordingAcceptor acceptor = new RecordingAcceptor();
    try (StorageEngine source = StorageEngine.open(options(sourceDir), 0);
        StorageEngine target = StorageEngine.open(options(targetDir), 0)) {
      fill(source, keys("key:", 5_000, true), "v");
      QueueLink link = new QueueLink();
      SnapshotSender sender =
          new SnapshotSender(
              source.startPartitionSnapshot(KEYSPACE, partitionSlots(), new Lsn(2, 10)),
              PARTITION,
              5,
              EPOCH,
              LEADER,
              link,
              WINDOW_BYTES,
              0);
      SnapshotReceiver receiver = new SnapshotReceiver(target, acceptor);
      sender.pump(0);
      assertThat(link.frames).hasSizeGreaterThan(3);
      assertThat(deliverOne(link, receiver, sender, 1).accepted()).isTrue(); // Begin
      byte[] first = link.frames.poll();
      SnapshotFrame.Ack ack = deliverOne(link, receiver, sender, 2); // chunk 2 before chunk 1
      assertThat(ack.accepted()).isFalse();
      assertThat(ack.refusal()).contains("frame 2 out of order, expected 1");
      assertThat(acceptor.abandoned).hasSize(1);
      assertThat(sender.status()).isEqualTo(SnapshotSender.Status.FAILED);
      assertThat(sender.progress().failure()).contains("out of order");
      assertThat(source.partitionSnapshotsOpen()).isZero();
      // The late chunk 1 finds no transfer running either.
      SnapshotFrame.Ack late = receiver.onFrame(SnapshotFrameCodec.decode(first));
      assertThat(late.refusal()).contains("no transfer running");
      assertThat(acceptor.installed).isEmpty();
      assertThat(receiver.refusals()).isEqualTo(2);
    }
  }

  @Test
  void aRefusedBeginLoadsAndClearsNothing(@TempDir Path sourceDir, @TempDir Path targetDir)
      throws IOException {
    RecordingAcceptor acceptor = new RecordingAcceptor();
    acceptor.refusal = "n2 follows n3 in epoch 8";
    try (StorageEngine source = StorageEngine.open(options(sourceDir), 0);
        StorageEngine target = StorageEngine.open(options(targetDir), 0)) {
      fill(source, keys("key:", 100, true), "v");
      fill(target, keys("stale:", 100, true), "stale");
      Map<String, String> before = dump(target.state(), KEYSPACE, partitionSlots());
      QueueLink link = new QueueLink();
      SnapshotSender sender =
          new SnapshotSender(
              source.startPartitionSnapshot(KEYSPACE, partitionSlots(), new Lsn(2, 10)),
              PARTITION,
              5,
              EPOCH,
              LEADER,
              link,
              WINDOW_BYTES,
              0);
      SnapshotReceiver receiver = new SnapshotReceiver(target, acceptor);
      sender.pump(0);
      assertThat(deliverOne(link, receiver, sender, 1).refusal()).isEqualTo(acceptor.refusal);
      assertThat(sender.status()).isEqualTo(SnapshotSender.Status.FAILED);
      assertThat(dump(target.state(), KEYSPACE, partitionSlots())).isEqualTo(before);
    }
  }

  @Test
  void aCorruptOrForeignEntryIsRefused(@TempDir Path targetDir) throws IOException {
    RecordingAcceptor acceptor = new RecordingAcceptor();
    try (StorageEngine target = StorageEngine.open(options(targetDir), 0)) {
      SnapshotReceiver receiver = new SnapshotReceiver(target, acceptor);
      SnapshotFrame.Begin begin =
          new SnapshotFrame.Begin(KEYSPACE, PARTITION, 1, EPOCH, LEADER, new Lsn(3, 3), 10);
      assertThat(receiver.onFrame(begin).accepted()).isTrue();
      SnapshotFrame.Ack garbage =
          receiver.onFrame(
              new SnapshotFrame.Chunk(KEYSPACE, PARTITION, 1, 1, List.of(new byte[] {1, 9, 9})));
      assertThat(garbage.refusal()).startsWith("corrupt entry");
      assertThat(
              receiver
                  .onFrame(
                      new SnapshotFrame.Begin(
                          KEYSPACE, PARTITION, 2, EPOCH, LEADER, new Lsn(3, 3), 10))
                  .accepted())
          .isTrue();
      String foreignKey = keys("x", 1, false).getFirst();
      byte[] foreign =
          MemoryState.encodeEntry(
              KEYSPACE,
              io.replicakv.storage.data.Bytes.utf8(foreignKey),
              new StringValue(utf8("v")),
              0);
      SnapshotFrame.Ack outside =
          receiver.onFrame(new SnapshotFrame.Chunk(KEYSPACE, PARTITION, 2, 1, List.of(foreign)));
      assertThat(outside.refusal()).startsWith("entry outside the partition");
      assertThat(dump(target.state(), KEYSPACE, allSlots())).isEmpty();
      assertThat(acceptor.abandoned).hasSize(2);
    }
  }

  @Test
  void anInterruptedTransferStartsAgainFromScratchAndNothingOfTheFirstSurvives(
      @TempDir Path sourceDir, @TempDir Path targetDir) throws IOException {
    SplittableRandom random = new SplittableRandom(7);
    List<String> inside = keys("key:", 20_000, true);
    RecordingAcceptor acceptor = new RecordingAcceptor();
    try (StorageEngine source = StorageEngine.open(options(sourceDir), 0);
        StorageEngine target = StorageEngine.open(options(targetDir), 0)) {
      fill(source, inside, "v");
      QueueLink firstLink = new QueueLink();
      SnapshotSender first =
          new SnapshotSender(
              source.startPartitionSnapshot(KEYSPACE, partitionSlots(), new Lsn(2, 100)),
              PARTITION,
              1,
              EPOCH,
              LEADER,
              firstLink,
              WINDOW_BYTES,
              0);
      SnapshotReceiver receiver = new SnapshotReceiver(target, acceptor);
      first.pump(0);
      for (int i = 0; i < 4; i++) {
        deliverOne(firstLink, receiver, first, 1);
        first.pump(1);
      }
      assertThat(dump(target.state(), KEYSPACE, partitionSlots())).isNotEmpty();
      // The link breaks; nothing is acknowledged for longer than the timeout.
      firstLink.frames.clear();
      first.onTimer(SnapshotSender.ACK_TIMEOUT_MILLIS + 2);
      assertThat(first.status()).isEqualTo(SnapshotSender.Status.FAILED);
      assertThat(source.partitionSnapshotsOpen()).isZero();
      // Meanwhile keys the first attempt delivered are deleted or changed on the source.
      Map<String, String> delivered = dump(target.state(), KEYSPACE, partitionSlots());
      for (String key : delivered.keySet()) {
        if (random.nextBoolean()) {
          source.apply(new Mutation.Delete(KEYSPACE, utf8(key)));
        }
      }
      for (int i = 0; i < 500; i++) {
        randomWrite(source, inside, random);
      }
      Map<String, String> expected = dump(source.state(), KEYSPACE, partitionSlots());
      QueueLink secondLink = new QueueLink();
      SnapshotSender second =
          new SnapshotSender(
              source.startPartitionSnapshot(KEYSPACE, partitionSlots(), new Lsn(2, 700)),
              PARTITION,
              2,
              EPOCH,
              LEADER,
              secondLink,
              WINDOW_BYTES,
              40_000);
      long now = 40_000;
      while (second.status() == SnapshotSender.Status.RUNNING) {
        second.pump(++now);
        while (!secondLink.frames.isEmpty()) {
          assertThat(deliverOne(secondLink, receiver, second, now).accepted()).isTrue();
        }
      }
      assertThat(second.status()).isEqualTo(SnapshotSender.Status.DONE);
      assertThat(acceptor.abandoned).containsExactly("transfer 1 replaced by 2");
      assertThat(acceptor.installed)
          .extracting(SnapshotReceiver.Installed::lsn)
          .containsExactly(new Lsn(2, 700));
      assertThat(dump(target.state(), KEYSPACE, partitionSlots())).isEqualTo(expected);

      // A receiver that restarted knows no transfer: a frame of an old one is refused.
      SnapshotReceiver restarted = new SnapshotReceiver(target, acceptor);
      SnapshotFrame.Ack ack =
          restarted.onFrame(new SnapshotFrame.Chunk(KEYSPACE, PARTITION, 2, 1, List.of()));
      assertThat(ack.refusal()).contains("no transfer running");
    }
  }

  @Test
  void theLeadersTransfersRunOnePerFollowerAndStartAfreshAfterAFailure(
      @TempDir Path sourceDir, @TempDir Path targetDir) throws IOException {
    RecordingAcceptor acceptor = new RecordingAcceptor();
    try (StorageEngine source = StorageEngine.open(options(sourceDir), 0);
        StorageEngine target = StorageEngine.open(options(targetDir), 0);
        SnapshotSenders senders = new SnapshotSenders(100)) {
      fill(source, keys("key:", 3_000, true), "v");
      SnapshotSenders.Target follower = new SnapshotSenders.Target(KEYSPACE, PARTITION, 2);
      QueueLink link = new QueueLink();
      java.util.function.LongFunction<SnapshotSender> start =
          id ->
              new SnapshotSender(
                  source.startPartitionSnapshot(KEYSPACE, partitionSlots(), new Lsn(5, id)),
                  PARTITION,
                  id,
                  EPOCH,
                  LEADER,
                  link,
                  WINDOW_BYTES,
                  0);
      assertThat(senders.onSnapshotNeeded(follower, start, 0)).isTrue();
      assertThat(senders.onSnapshotNeeded(follower, start, 1)).as("one runs already").isFalse();
      assertThat(source.partitionSnapshotsOpen()).isEqualTo(1);
      assertThat(link.frames).isNotEmpty();

      senders.followerUnreachable(2, "connection to n2 closed");
      assertThat(senders.totals().transfersFailed()).isEqualTo(1);
      assertThat(senders.totals().running()).isZero();
      assertThat(senders.recentFailures()).singleElement().asString().contains("n2 closed");
      assertThat(source.partitionSnapshotsOpen()).isZero();
      link.frames.clear();

      assertThat(senders.onSnapshotNeeded(follower, start, 2)).isTrue();
      assertThat(senders.running(follower).transferId()).isEqualTo(101);
      SnapshotReceiver receiver = new SnapshotReceiver(target, acceptor);
      long now = 2;
      while (senders.running(follower) != null) {
        now++;
        assertThat(link.frames).as("frames while running").isNotEmpty();
        SnapshotFrame.Ack ack = receiver.onFrame(SnapshotFrameCodec.decode(link.frames.poll()));
        senders.onAck(2, ack, now);
      }
      SnapshotSenders.Totals totals = senders.totals();
      assertThat(totals.transfersStarted()).isEqualTo(2);
      assertThat(totals.transfersDone()).isEqualTo(1);
      assertThat(totals.keysSent()).isGreaterThanOrEqualTo(3_000);
      assertThat(acceptor.installed)
          .extracting(SnapshotReceiver.Installed::lsn)
          .containsExactly(new Lsn(5, 101));
      assertThat(acceptor.installed.getFirst().keys()).isEqualTo(3_000);
      assertThat(receiver.receiving(KEYSPACE, PARTITION)).isFalse();
      assertThat(dump(target.state(), KEYSPACE, partitionSlots()))
          .isEqualTo(dump(source.state(), KEYSPACE, partitionSlots()));
    }
  }

  @Test
  void aKeyTooLargeForAFrameFailsTheTransferWithTheReason(@TempDir Path sourceDir)
      throws IOException {
    try (StorageEngine source = StorageEngine.open(options(sourceDir), 0)) {
      byte[] huge = new byte[SnapshotFrameCodec.ENTRY_BYTES_MAX + 1];
      source.apply(
          new Mutation.StringSet(KEYSPACE, utf8(keys("big", 1, true).getFirst()), huge, 0));
      QueueLink link = new QueueLink();
      SnapshotSender sender =
          new SnapshotSender(
              source.startPartitionSnapshot(KEYSPACE, partitionSlots(), new Lsn(1, 1)),
              PARTITION,
              1,
              EPOCH,
              LEADER,
              link,
              WINDOW_BYTES,
              0);
      sender.pump(0);
      assertThat(sender.status()).isEqualTo(SnapshotSender.Status.FAILED);
      assertThat(sender.progress().failure()).contains("exceeds the");
      assertThat(link.frames).hasSize(1); // the Begin only
      assertThat(source.partitionSnapshotsOpen()).isZero();
    }
  }
}
