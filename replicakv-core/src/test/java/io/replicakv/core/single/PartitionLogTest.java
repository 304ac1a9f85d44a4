package io.replicakv.core.single;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.SingleLeaderMessage.Entry;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PartitionLogTest {
  private static Entry put(long epoch, long offset) {
    return new Entry(epoch, offset, new Operation.Put("k", epoch + "/" + offset));
  }

  private static PartitionLog logOf(long... epochs) {
    PartitionLog log = new PartitionLog();
    for (int i = 0; i < epochs.length; i++) {
      log.append(put(epochs[i], i + 1));
    }
    return log;
  }

  @Test
  void appendRecordsWhereEachEpochStarts() {
    PartitionLog log = logOf(1, 1, 3, 3, 3, 4);
    assertThat(log.epochStartOffsets()).isEqualTo(Map.of(1L, 1L, 3L, 3L, 4L, 6L));
    assertThat(log.lastLsn()).isEqualTo(new Lsn(4, 6));
  }

  @Test
  void appendRefusesGapsAndFallingEpochs() {
    PartitionLog log = logOf(2, 2);
    assertThatThrownBy(() -> log.append(put(2, 4))).hasMessageContaining("log ends at 2");
    assertThatThrownBy(() -> log.append(put(1, 3))).hasMessageContaining("below last 2");
  }

  @Test
  void truncationReturnsTheCutSuffixAndForgetsEpochsThatStartedInIt() {
    PartitionLog log = logOf(1, 1, 3, 3, 4);
    List<Entry> cut = log.truncateAfter(3);
    assertThat(cut).containsExactly(put(3, 4), put(4, 5));
    assertThat(log.epochStartOffsets()).isEqualTo(Map.of(1L, 1L, 3L, 3L));
    assertThat(log.lastLsn()).isEqualTo(new Lsn(3, 3));
    assertThat(log.truncateAfter(7)).isEmpty();
  }

  @Test
  void endOfEpochAnswersOffsetForLeaderEpoch() {
    PartitionLog log = logOf(1, 1, 3, 3, 3, 5);
    assertThat(log.endOfEpoch(1)).isEqualTo(new Lsn(1, 2));
    // Epoch 2 never wrote here: the answer is the largest epoch below it, with its end.
    assertThat(log.endOfEpoch(2)).isEqualTo(new Lsn(1, 2));
    assertThat(log.endOfEpoch(3)).isEqualTo(new Lsn(3, 5));
    assertThat(log.endOfEpoch(9)).isEqualTo(new Lsn(5, 6));
    assertThat(new PartitionLog().endOfEpoch(4)).isEqualTo(Lsn.ZERO);
  }

  @Test
  void readStopsAtTheRecordAndByteBoundsButAlwaysMovesOneEntry() {
    PartitionLog log = logOf(1, 1, 1, 1);
    assertThat(log.read(2, 2, Long.MAX_VALUE)).extracting(Entry::offset).containsExactly(2L, 3L);
    assertThat(log.read(1, 10, 1)).extracting(Entry::offset).containsExactly(1L);
    assertThat(log.read(5, 10, 100)).isEmpty();
  }

  @Test
  void startAfterASnapshotBeginsTheLogAndTheEpochHistoryThere() {
    PartitionLog log = logOf(1, 1, 2);
    log.startAfter(new Lsn(3, 40));
    assertThat(log.size()).isZero();
    assertThat(log.firstOffset()).isEqualTo(41);
    assertThat(log.lastLsn()).isEqualTo(new Lsn(3, 40));
    assertThat(log.lsnAt(40)).isEqualTo(new Lsn(3, 40));
    assertThat(log.historyStartEpoch()).isEqualTo(3);
    assertThatThrownBy(() -> log.append(put(3, 1))).hasMessageContaining("log ends at 40");
    log.append(put(3, 41));
    log.append(put(5, 42));
    assertThat(log.endOfEpoch(3)).isEqualTo(new Lsn(3, 41));
    assertThat(log.endOfEpoch(9)).isEqualTo(new Lsn(5, 42));
    assertThatThrownBy(() -> log.entry(40)).hasMessageContaining("outside 41..42");
    assertThatThrownBy(() -> log.truncateAfter(39)).hasMessageContaining("below the base 40");
    assertThat(log.truncateAfter(40)).containsExactly(put(3, 41), put(5, 42));
    assertThat(log.epochStartOffsets()).isEqualTo(Map.of(3L, 40L));
    assertThat(log.lastLsn()).isEqualTo(new Lsn(3, 40));
  }

  @Test
  void trimmingDropsThePrefixButKeepsTheEpochTableAndOffsets() {
    PartitionLog log = new PartitionLog();
    for (int offset = 1; offset <= 5_000; offset++) {
      log.append(put(offset <= 2_500 ? 1 : 2, offset));
    }
    log.trimThrough(3_000);
    assertThat(log.size()).isEqualTo(2_000);
    assertThat(log.firstOffset()).isEqualTo(3_001);
    assertThat(log.base()).isEqualTo(new Lsn(2, 3_000));
    assertThat(log.entry(3_001)).isEqualTo(put(2, 3_001));
    assertThat(log.entry(5_000)).isEqualTo(put(2, 5_000));
    assertThat(log.endOfEpoch(1)).isEqualTo(new Lsn(1, 2_500));
    assertThat(log.read(3_001, 2, Long.MAX_VALUE))
        .extracting(Entry::offset)
        .containsExactly(3_001L, 3_002L);
    assertThatThrownBy(() -> log.read(2_999, 1, 1)).hasMessageContaining("starts at 3001");
    log.trimThrough(10); // below the base: nothing
    assertThat(log.firstOffset()).isEqualTo(3_001);
    log.trimThrough(4_999);
    log.append(put(2, 5_001));
    assertThat(log.size()).isEqualTo(2);
    assertThat(log.lastLsn()).isEqualTo(new Lsn(2, 5_001));
    log.trimThrough(5_001);
    assertThat(log.size()).isZero();
    assertThat(log.lastLsn()).isEqualTo(new Lsn(2, 5_001));
    assertThat(log.lastEpoch()).isEqualTo(2);
  }

  @Test
  void bytesAfterEqualsTheSumOfHeldEntriesThroughAppendsTrimsCompactionsAndTruncations() {
    java.util.Random random = new java.util.Random(20261201L);
    PartitionLog log = new PartitionLog();
    long epoch = 1;
    for (int step = 0; step < 20_000; step++) {
      int action = random.nextInt(100);
      if (action < 80 || log.size() == 0) {
        String value = "x".repeat(random.nextInt(40));
        log.append(new Entry(epoch, log.endOffset() + 1, new Operation.Put("k", value)));
      } else if (action < 95) {
        log.trimThrough(log.base().offset() + random.nextInt(log.size() + 1));
      } else {
        log.truncateAfter(log.base().offset() + random.nextInt(log.size() + 1));
        epoch++;
      }
      long probe = random.nextLong(Math.max(1, log.endOffset() + 2));
      long expected = 0;
      for (long o = Math.max(probe, log.base().offset()) + 1; o <= log.endOffset(); o++) {
        expected += log.entry(o).sizeBytes();
      }
      assertThat(log.bytesAfter(probe)).as("step %s, after %s", step, probe).isEqualTo(expected);
    }
    assertThat(log.base().offset()).as("trims happened").isPositive();
    // A trim of 2,000 of 3,000 entries compacts the list (COMPACT_AFTER_ENTRIES_MIN is 1,024).
    long[] ones = new long[3000];
    java.util.Arrays.fill(ones, 1);
    PartitionLog big = logOf(ones);
    long last500 = 0;
    for (long o = 2501; o <= 3000; o++) {
      last500 += big.entry(o).sizeBytes();
    }
    long last1000 = last500;
    for (long o = 2001; o <= 2500; o++) {
      last1000 += big.entry(o).sizeBytes();
    }
    big.trimThrough(2000);
    assertThat(big.bytesAfter(2500)).isEqualTo(last500);
    assertThat(big.bytesAfter(0)).isEqualTo(last1000);
    big.append(put(1, 3001));
    assertThat(big.bytesAfter(2999))
        .isEqualTo(big.entry(3000).sizeBytes() + put(1, 3001).sizeBytes());
  }
}
