package io.replicakv.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.log.FsyncPolicy;
import io.replicakv.storage.snapshot.SnapshotFiles;
import io.replicakv.storage.snapshot.SnapshotInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class StorageEngineTest {
  private static StorageOptions options(Path dir, int keysPerStep) {
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
        keysPerStep,
        1 << 20);
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
  void snapshotHoldsExactlyTheStateAtItsStartWhileWritesContinue(long seed, @TempDir Path dir)
      throws IOException {
    SplittableRandom random = new SplittableRandom(seed);
    try (StorageEngine engine = StorageEngine.open(options(dir, 1 + random.nextInt(5)), 0)) {
      for (int i = 0; i < 2_000; i++) {
        engine.apply(StorageEngineCrashTest.randomMutation(random));
      }
      Map<String, String> atStart = StorageEngineCrashTest.dump(engine);
      long sequenceAtStart = engine.lastSequence();
      assertThat(engine.startSnapshot(0)).isTrue();
      int changesDuring = 0;
      while (engine.snapshotInProgress()) {
        engine.apply(StorageEngineCrashTest.randomMutation(random));
        changesDuring++;
        engine.onTimer(0);
      }
      assertThat(changesDuring).as("writes went on during the snapshot").isGreaterThan(0);
      assertThat(engine.lastSnapshotError()).isNull();
      SnapshotInfo info = engine.lastSnapshot();
      assertThat(info.lastIncludedSequence()).isEqualTo(sequenceAtStart);
      MemoryState loaded = new MemoryState(StorageEngineCrashTest.KEYSPACES);
      SnapshotFiles.read(info.path(), loaded::loadEntry);
      assertThat(StorageEngineCrashTest.dump(loaded)).isEqualTo(atStart);
      assertThat(StorageEngineCrashTest.dump(loaded))
          .isNotEqualTo(StorageEngineCrashTest.dump(engine));
    }
  }

  @Test
  void closingDuringASnapshotNeverPublishesAPartialOne(@TempDir Path dir) throws IOException {
    Map<String, String> before;
    try (StorageEngine engine = StorageEngine.open(options(dir, 1), 0)) {
      for (int i = 0; i < 1_000; i++) {
        engine.apply(new Mutation.StringSet(0, ("k" + i).getBytes(), ("v" + i).getBytes(), 0));
      }
      before = StorageEngineCrashTest.dump(engine);
      assertThat(engine.startSnapshot(0)).isTrue();
      engine.onTimer(0); // one small step of the walk, then the node stops
      assertThat(engine.snapshotInProgress()).isTrue();
    }
    try (StorageEngine engine = StorageEngine.open(options(dir, 1), 0)) {
      assertThat(engine.lastSnapshot()).as("no partial snapshot was published").isNull();
      assertThat(StorageEngineCrashTest.dump(engine)).isEqualTo(before);
    }
  }

  @Test
  void changeFeedReturnsEveryChangeAfterASequenceInOrder(@TempDir Path dir) throws IOException {
    SplittableRandom random = new SplittableRandom(42);
    List<Mutation> applied = new ArrayList<>();
    try (StorageEngine engine = StorageEngine.open(options(dir, 100), 0)) {
      for (int i = 0; i < 500; i++) {
        Mutation m = StorageEngineCrashTest.randomMutation(random);
        engine.apply(m);
        applied.add(m);
      }
      List<Long> sequences = new ArrayList<>();
      List<String> seen = new ArrayList<>();
      engine.readChanges(
          200,
          (sequence, partition, mutation) -> {
            sequences.add(sequence);
            seen.add(describe(mutation));
          });
      assertThat(sequences).hasSize(300);
      assertThat(sequences.getFirst()).isEqualTo(201);
      assertThat(sequences.getLast()).isEqualTo(500);
      List<String> expected =
          applied.subList(200, 500).stream().map(StorageEngineTest::describe).toList();
      assertThat(seen).isEqualTo(expected);
    }
  }

  @Test
  void restartAfterSnapshotAndMoreWritesRestoresEverything(@TempDir Path dir) throws IOException {
    SplittableRandom random = new SplittableRandom(7);
    Map<String, String> before;
    try (StorageEngine engine = StorageEngine.open(options(dir, 50), 0)) {
      for (int i = 0; i < 3_000; i++) {
        engine.apply(StorageEngineCrashTest.randomMutation(random));
        if (i == 1_500) {
          engine.snapshotNow(0);
        }
      }
      before = StorageEngineCrashTest.dump(engine);
    }
    try (StorageEngine engine = StorageEngine.open(options(dir, 50), 0)) {
      assertThat(engine.lastSnapshot()).isNotNull();
      assertThat(StorageEngineCrashTest.dump(engine)).isEqualTo(before);
      assertThat(engine.lastSequence()).isEqualTo(3_000);
    }
  }

  private static String describe(Mutation m) {
    return switch (m) {
      case Mutation.StringSet s ->
          "set "
              + new String(s.key())
              + " "
              + java.util.Arrays.hashCode(s.value())
              + " "
              + s.expireAtMillis();
      default -> m.getClass().getSimpleName() + " " + m.keyspace();
    };
  }
}
