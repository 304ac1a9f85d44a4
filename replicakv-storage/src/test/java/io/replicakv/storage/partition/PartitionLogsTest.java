package io.replicakv.storage.partition;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.msg.Lsn;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.MutationCodec;
import io.replicakv.storage.log.FsyncPolicy;
import io.replicakv.storage.log.LogOptions;
import io.replicakv.storage.log.SegmentedLog;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PartitionLogsTest {
  private static final int[] PARTITIONS = {0, 7, (3 << 16) | 4321};

  /** What a partition's live log should hold: entries by offset. */
  private static final class Expected {
    final Map<Integer, List<PartitionEntry>> live = new HashMap<>();

    List<PartitionEntry> of(int partition) {
      return live.computeIfAbsent(partition, p -> new ArrayList<>());
    }
  }

  private static SegmentedLog open(Path dir, long segmentBytes) throws IOException {
    return SegmentedLog.open(
        LogOptions.defaults(dir).withFsync(FsyncPolicy.NEVER).withSegmentSizeBytes(segmentBytes));
  }

  /**
   * Writes {@code perPartition} entries to every partition, interleaved at random with node-local
   * mutation records, with a truncation and a new epoch in one partition midway.
   */
  private static Expected fill(PartitionLogs logs, SegmentedLog log, long seed, int perPartition) {
    SplittableRandom random = new SplittableRandom(seed);
    Expected expected = new Expected();
    Map<Integer, Long> epochs = new HashMap<>();
    boolean truncated = false;
    for (int step = 0; step < perPartition * PARTITIONS.length; step++) {
      if (random.nextInt(5) == 0) {
        log.append(0, MutationCodec.encode(new Mutation.Delete(0, new byte[] {(byte) step})));
      }
      int partition = PARTITIONS[random.nextInt(PARTITIONS.length)];
      List<PartitionEntry> entries = expected.of(partition);
      if (!truncated && partition == PARTITIONS[1] && entries.size() > perPartition / 2) {
        long cut = entries.size() - 1 - random.nextInt(Math.min(70, entries.size() - 1));
        logs.truncateAfter(partition, cut);
        entries.subList((int) cut, entries.size()).clear();
        epochs.merge(partition, 1L, Long::sum);
        truncated = true;
      }
      long epoch = epochs.computeIfAbsent(partition, p -> 1L);
      long offset = entries.size() + 1;
      byte[] body = new byte[random.nextInt(40)];
      random.nextBytes(body);
      long sequence = logs.append(partition, epoch, offset, body);
      entries.add(new PartitionEntry(epoch, offset, sequence, body));
    }
    assertThat(truncated).isTrue();
    return expected;
  }

  private static void assertReadsFromEveryOffset(PartitionLogs logs, Expected expected)
      throws IOException {
    for (int partition : PARTITIONS) {
      List<PartitionEntry> entries = expected.of(partition);
      assertThat(logs.lastOffset(partition)).isEqualTo(entries.size());
      long first = logs.firstOffset(partition);
      for (long offset = first; offset <= entries.size() + 1; offset++) {
        List<PartitionEntry> wanted =
            entries.subList((int) offset - 1, Math.min(entries.size(), (int) offset - 1 + 9));
        assertThat(logs.read(partition, offset, 9, Long.MAX_VALUE))
            .as("partition %s from %s", partition, offset)
            .isEqualTo(wanted);
      }
    }
  }

  @Test
  void readingFromEveryOffsetReturnsTheLiveEntriesFromThere(@TempDir Path dir) throws IOException {
    try (SegmentedLog log = open(dir, 16 << 10)) {
      PartitionLogs logs = PartitionLogs.open(log);
      Expected expected = fill(logs, log, 1, 400);
      assertReadsFromEveryOffset(logs, expected);
      assertThat(logs.partitions()).containsExactlyInAnyOrder(0, 7, (3 << 16) | 4321);
      // Sparse: about one point per INDEX_INTERVAL_ENTRIES entries.
      for (int partition : PARTITIONS) {
        assertThat(logs.indexPoints(partition))
            .isLessThanOrEqualTo(2 + (int) logs.lastOffset(partition) / 32);
      }
    }
  }

  @Test
  void batchesStopAtTheByteBoundButAlwaysCarryOneEntry(@TempDir Path dir) throws IOException {
    try (SegmentedLog log = open(dir, 64 << 10)) {
      PartitionLogs logs = PartitionLogs.open(log);
      for (int offset = 1; offset <= 10; offset++) {
        logs.append(5, 1, offset, new byte[100]);
      }
      assertThat(logs.read(5, 1, 100, 250)).hasSize(2);
      assertThat(logs.read(5, 3, 100, 1)).hasSize(1);
      assertThat(logs.read(5, 11, 100, 1_000)).isEmpty();
      assertThat(logs.read(6, 1, 100, 1_000)).isEmpty();
    }
  }

  @Test
  void appendsOutOfOrderOrWithAnOlderEpochAreRefused(@TempDir Path dir) throws IOException {
    try (SegmentedLog log = open(dir, 64 << 10)) {
      PartitionLogs logs = PartitionLogs.open(log);
      logs.append(1, 2, 41, new byte[0]); // a follower starting after a snapshot at 2:40
      assertThatThrownBy(() -> logs.append(1, 2, 43, new byte[0]))
          .hasMessageContaining("partition ends at 41");
      assertThatThrownBy(() -> logs.append(1, 1, 42, new byte[0]))
          .hasMessageContaining("epoch 1 below last 2");
      assertThat(logs.firstOffset(1)).isEqualTo(41);
    }
  }

  @Test
  void indexIsRebuiltOnOpenIncludingAfterATornTail(@TempDir Path dir) throws IOException {
    Expected expected;
    Map<Integer, Integer> pointsBefore = new HashMap<>();
    try (SegmentedLog log = open(dir, 16 << 10)) {
      PartitionLogs logs = PartitionLogs.open(log);
      expected = fill(logs, log, 2, 300);
      for (int partition : PARTITIONS) {
        pointsBefore.put(partition, logs.indexPoints(partition));
      }
    }
    try (SegmentedLog log = open(dir, 16 << 10)) {
      PartitionLogs logs = PartitionLogs.open(log);
      assertReadsFromEveryOffset(logs, expected);
      for (int partition : PARTITIONS) {
        assertThat(logs.indexPoints(partition)).isEqualTo(pointsBefore.get(partition));
      }
    }
    // A crash tore the last record: recovery cuts it, and the index must end one entry earlier.
    PartitionEntry last =
        java.util.Arrays.stream(PARTITIONS)
            .mapToObj(p -> expected.of(p).getLast())
            .max((a, b) -> Long.compare(a.sequence(), b.sequence()))
            .orElseThrow();
    Path newest;
    try (Stream<Path> files = Files.list(dir)) {
      newest = files.filter(f -> f.toString().endsWith(".log")).sorted().toList().getLast();
    }
    long lastSequence;
    try (SegmentedLog log = open(dir, 16 << 10)) {
      lastSequence = log.lastSequence();
    }
    int tornPartition = -1;
    if (last.sequence() == lastSequence) {
      try (FileChannel channel = FileChannel.open(newest, StandardOpenOption.WRITE)) {
        channel.truncate(channel.size() - 3);
      }
      for (int partition : PARTITIONS) {
        if (expected.of(partition).getLast().sequence() == lastSequence) {
          tornPartition = partition;
          expected.of(partition).removeLast();
        }
      }
    }
    try (SegmentedLog log = open(dir, 16 << 10)) {
      PartitionLogs logs = PartitionLogs.open(log);
      assertReadsFromEveryOffset(logs, expected);
      if (tornPartition >= 0) {
        assertThat(log.recovery().truncationReason()).isNotNull();
      }
      // The log continues where the surviving index says it ends.
      int partition = PARTITIONS[2];
      long next = logs.lastOffset(partition) + 1;
      logs.append(partition, 1, next, new byte[] {9});
      assertThat(logs.read(partition, next, 10, 100).getFirst().body()).containsExactly(9);
    }
  }

  @Test
  void retentionMovesTheFirstHeldOffsetAndReadsBelowItAskForASnapshot(@TempDir Path dir)
      throws IOException {
    try (SegmentedLog log = open(dir, 2048)) {
      PartitionLogs logs = PartitionLogs.open(log);
      Expected expected = fill(logs, log, 3, 300);
      log.sync();
      long cutSequence = log.lastSequence() / 2;
      log.deleteSegmentsBefore(cutSequence);
      logs.afterSegmentsDeleted();
      long firstHeld = log.firstSequence();
      assertThat(firstHeld).isGreaterThan(1);
      for (int partition : PARTITIONS) {
        List<PartitionEntry> entries = expected.of(partition);
        long wantFirst =
            entries.stream()
                .filter(e -> e.sequence() >= firstHeld)
                .mapToLong(PartitionEntry::offset)
                .min()
                .orElse(entries.size() + 1);
        assertThat(logs.firstOffset(partition)).as("partition %s", partition).isEqualTo(wantFirst);
        if (wantFirst > 1) {
          long below = wantFirst - 1;
          assertThatThrownBy(() -> logs.read(partition, below, 5, 1_000))
              .isInstanceOf(PartitionLogGoneException.class)
              .hasMessageContaining("needs a snapshot");
        }
      }
      assertReadsFromEveryOffset(logs, expected);
      // A rebuild from the shortened log agrees.
      PartitionLogs rebuilt = PartitionLogs.open(log);
      for (int partition : PARTITIONS) {
        assertThat(rebuilt.firstOffset(partition)).isEqualTo(logs.firstOffset(partition));
      }
      assertReadsFromEveryOffset(rebuilt, expected);
    }
  }

  @Test
  void aRestartAfterAnInstalledSnapshotVoidsEarlierEntriesAndSurvivesReopening(@TempDir Path dir)
      throws IOException {
    int partition = PARTITIONS[2];
    Lsn base = new Lsn(4, 500);
    try (SegmentedLog log = open(dir, 64 << 10)) {
      PartitionLogs logs = PartitionLogs.open(log);
      for (long offset = 1; offset <= 30; offset++) {
        logs.append(partition, 2, offset, new byte[] {(byte) offset});
      }
      logs.truncateAfter(partition, 20);
      logs.append(partition, 3, 21, new byte[] {21});
      logs.startAfter(partition, base);
      assertThat(logs.firstOffset(partition)).isEqualTo(501);
      assertThat(logs.lastOffset(partition)).isEqualTo(500);
      assertThat(logs.base(partition)).isEqualTo(base);
      assertThatThrownBy(() -> logs.read(partition, 5, 10, 1 << 20))
          .isInstanceOf(PartitionLogGoneException.class);
      assertThatThrownBy(() -> logs.append(partition, 4, 22, new byte[0]))
          .hasMessageContaining("partition ends at 500");
      assertThatThrownBy(() -> logs.append(partition, 3, 501, new byte[0]))
          .hasMessageContaining("below last 4");
      for (long offset = 501; offset <= 503; offset++) {
        logs.append(partition, 4, offset, new byte[] {(byte) offset});
      }
      assertThat(logs.read(partition, 501, 10, 1 << 20))
          .extracting(PartitionEntry::offset)
          .containsExactly(501L, 502L, 503L);
      log.flush();
    }
    try (SegmentedLog log = open(dir, 64 << 10)) {
      PartitionLogs reopened = PartitionLogs.open(log);
      assertThat(reopened.base(partition)).isEqualTo(base);
      assertThat(reopened.firstOffset(partition)).isEqualTo(501);
      assertThat(reopened.lastOffset(partition)).isEqualTo(503);
      assertThat(reopened.read(partition, 501, 10, 1 << 20))
          .extracting(PartitionEntry::offset)
          .containsExactly(501L, 502L, 503L);
      assertThatThrownBy(() -> reopened.read(partition, 21, 10, 1 << 20))
          .isInstanceOf(PartitionLogGoneException.class);
    }
  }
}
