package io.replicakv.server.replication;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.msg.Lsn;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Formation points of re-formed groups: holders ranked by how much of the old log they held. */
class GroupLogFilesTest {
  private static long rank(Lsn... sealed) {
    Lsn point = GroupLogFiles.formationPoint(List.of(sealed));
    assertThat(point.epoch()).isZero();
    return point.offset();
  }

  @Test
  void aHolderFurtherOnInTheOldLogStartsFurtherOn() {
    assertThat(rank(new Lsn(3, 120))).isGreaterThan(rank(new Lsn(3, 119)));
    assertThat(rank(new Lsn(3, 1))).isGreaterThan(GroupLogFiles.FORMATION_POINT.offset());
  }

  @Test
  void aLaterEpochRanksHigherThanALongerTailOfAnOlderOne() {
    // an uncommitted tail of epoch 2 that epoch 3 replaced must not win over epoch 3's entries
    assertThat(rank(new Lsn(3, 101))).isGreaterThan(rank(new Lsn(2, 105)));
    assertThat(rank(new Lsn(3, 101))).isGreaterThan(rank(new Lsn(2, 101 + (1L << 31))));
  }

  @Test
  void offsetsGrowByAddingAcrossRepeatedFormationsNotByDoubling() {
    // a group re-formed over and over (a node joining and leaving again): its offsets start at
    // the previous formation point, and each formation adds about one epoch's weight
    long offset = 0;
    for (int formation = 0; formation < 10_000; formation++) {
      long next = rank(new Lsn(50, offset + 1_000), new Lsn(50, offset + 900));
      assertThat(next).isGreaterThan(offset);
      offset = next;
    }
    assertThat(offset).isLessThan(10_001L * (51L << 32));
  }

  @Test
  void withSlotsFromSeveralGroupsTheHighestRankCounts() {
    assertThat(rank(new Lsn(4, 10), new Lsn(7, 3))).isEqualTo(rank(new Lsn(7, 3)));
    assertThat(rank()).isEqualTo(GroupLogFiles.FORMATION_POINT.offset());
  }
}
