package io.replicakv.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.ring.Slots;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.log.FsyncPolicy;
import io.replicakv.storage.partition.PartitionSnapshot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PartitionSnapshotTest {
  private static StorageOptions options(Path dir) {
    return new StorageOptions(
        dir,
        StorageEngineCrashTest.KEYSPACES,
        FsyncPolicy.NEVER,
        1000,
        64 << 10,
        1 << 20,
        0,
        1,
        0,
        16,
        1 << 20);
  }

  /** The keys of {@code slots} in {@code keyspace} of {@code state}, loaded into a fresh state. */
  private static MemoryState restrictedCopy(MemoryState state, int keyspace, BitSet slots) {
    MemoryState copy = new MemoryState(StorageEngineCrashTest.KEYSPACES);
    state.forEachEntry(
        keyspace,
        (key, value, expireAt) -> {
          if (slots.get(Slots.slot(key.array()))) {
            copy.loadEntry(MemoryState.encodeEntry(keyspace, key, value, expireAt));
          }
        });
    return copy;
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
  void snapshotHoldsExactlyTheSlotsStateAtItsLsnWhileWritesContinue(long seed, @TempDir Path dir)
      throws IOException {
    SplittableRandom random = new SplittableRandom(seed);
    try (StorageEngine engine = StorageEngine.open(options(dir), 0)) {
      for (int i = 0; i < 3_000; i++) {
        engine.apply(StorageEngineCrashTest.randomMutation(random));
      }
      int keyspace = random.nextInt(StorageEngineCrashTest.KEYSPACES);
      // Random writes may have flushed the keyspace; make sure the partition holds something.
      for (String key : List.of("a", "{x}1", "long-key-name")) {
        engine.apply(
            new Mutation.StringSet(
                keyspace, key.getBytes(StandardCharsets.UTF_8), new byte[] {1, 2}, 0));
      }
      // A partition's slots: a random range plus the slots of some keys the keyspace holds.
      BitSet slots = new BitSet(Slots.SLOT_COUNT);
      int first = random.nextInt(Slots.SLOT_COUNT / 2);
      slots.set(first, first + Slots.SLOT_COUNT / 4);
      engine
          .state()
          .forEachEntry(
              keyspace,
              (key, value, expireAt) -> {
                if (random.nextBoolean() || key.equals(Bytes.utf8("a"))) {
                  slots.set(Slots.slot(key.array()));
                }
              });
      Map<String, String> atStart =
          StorageEngineCrashTest.dump(restrictedCopy(engine.state(), keyspace, slots));
      assertThat(atStart).as("the slots hold keys at the start").isNotEmpty();

      Lsn lsn = new Lsn(3, 1234);
      MemoryState received = new MemoryState(StorageEngineCrashTest.KEYSPACES);
      int writesDuring = 0;
      long bytes = 0;
      try (PartitionSnapshot snapshot = engine.startPartitionSnapshot(keyspace, slots, lsn)) {
        assertThat(engine.partitionSnapshotsOpen()).isEqualTo(1);
        long keysBound = snapshot.keysTotalAtMost();
        int pulls = 0;
        while (!snapshot.done()) {
          // The receiver pulls when it has room; writes keep arriving between pulls.
          for (int i = random.nextInt(6); i > 0; i--) {
            engine.apply(StorageEngineCrashTest.randomMutation(random));
            writesDuring++;
          }
          List<byte[]> chunk = snapshot.nextChunk(1 + random.nextInt(4), 1 << 20);
          for (byte[] entry : chunk) {
            received.loadEntry(entry);
            bytes += entry.length;
          }
          assertThat(++pulls).as("the copy ends").isLessThan(100_000);
        }
        assertThat(snapshot.lsn()).isEqualTo(lsn);
        assertThat(snapshot.bytesSent()).isEqualTo(bytes);
        assertThat(snapshot.keysSent()).isEqualTo(atStart.size()).isLessThanOrEqualTo(keysBound);
        assertThat(snapshot.nextChunk(10, 1 << 20)).isEmpty();
      }
      assertThat(engine.partitionSnapshotsOpen()).isZero();
      assertThat(writesDuring).as("writes went on during the copy").isPositive();
      assertThat(StorageEngineCrashTest.dump(received)).isEqualTo(atStart);
    }
  }

  @ParameterizedTest(name = "flush during copy, seed {0}")
  @ValueSource(longs = {11, 12})
  void aFlushDuringTheCopyDoesNotEmptyIt(long seed, @TempDir Path dir) throws IOException {
    SplittableRandom random = new SplittableRandom(seed);
    try (StorageEngine engine = StorageEngine.open(options(dir), 0)) {
      for (int i = 0; i < 2_000; i++) {
        engine.apply(StorageEngineCrashTest.randomMutation(random));
      }
      BitSet all = new BitSet(Slots.SLOT_COUNT);
      all.set(0, Slots.SLOT_COUNT);
      Map<String, String> atStart =
          StorageEngineCrashTest.dump(restrictedCopy(engine.state(), 1, all));
      MemoryState received = new MemoryState(StorageEngineCrashTest.KEYSPACES);
      try (PartitionSnapshot snapshot = engine.startPartitionSnapshot(1, all, new Lsn(1, 1))) {
        snapshot.nextChunk(2, 1 << 20).forEach(received::loadEntry);
        engine.apply(new Mutation.FlushKeyspace(1));
        while (!snapshot.done()) {
          snapshot.nextChunk(5, 1 << 20).forEach(received::loadEntry);
        }
      }
      assertThat(engine.state().size(1)).isZero();
      assertThat(StorageEngineCrashTest.dump(received)).isEqualTo(atStart);
    }
  }
}
