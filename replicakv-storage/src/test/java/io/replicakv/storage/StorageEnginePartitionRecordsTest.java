package io.replicakv.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.log.FsyncPolicy;
import io.replicakv.storage.partition.PartitionEntry;
import io.replicakv.storage.partition.PartitionLogs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Partition records share the engine's log with node-local mutations; each reader sees its own. */
class StorageEnginePartitionRecordsTest {
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

  @Test
  void recoveryAndTheChangeFeedSkipPartitionRecordsAndTheIndexFindsThem(@TempDir Path dir)
      throws IOException {
    SplittableRandom random = new SplittableRandom(5);
    Map<String, String> state;
    List<Long> mutationSequences = new ArrayList<>();
    try (StorageEngine engine = StorageEngine.open(options(dir), 0)) {
      PartitionLogs logs = engine.partitionLogs();
      for (int i = 1; i <= 500; i++) {
        mutationSequences.add(engine.apply(StorageEngineCrashTest.randomMutation(random)));
        logs.append(42, 1, i, new byte[] {(byte) i, 0x01});
      }
      state = StorageEngineCrashTest.dump(engine);
    }
    try (StorageEngine engine = StorageEngine.open(options(dir), 0)) {
      assertThat(StorageEngineCrashTest.dump(engine)).isEqualTo(state);
      List<Long> fed = new ArrayList<>();
      engine.readChanges(0, (sequence, partition, mutation) -> fed.add(sequence));
      assertThat(fed).isEqualTo(mutationSequences);
      List<PartitionEntry> read = engine.partitionLogs().read(42, 250, 1_000, Long.MAX_VALUE);
      assertThat(read).hasSize(251);
      assertThat(read.getFirst().body()).containsExactly((byte) 250, 0x01);
      engine.apply(new Mutation.FlushAll());
    }
  }
}
