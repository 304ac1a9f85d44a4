package io.replicakv.core.leaderless;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.causal.VersionVector;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Tombstone collection ({@link TombstoneCollector}), one behaviour per test. */
class TombstoneCollectorTest {
  private static final String KEY = "user:1";

  /** Collection every 5 ticks, a grace of 120 ticks (above the default request timeout, 100). */
  private static final int GC_INTERVAL_TICKS = 5;

  private static final int GRACE_TICKS = 120;

  private static LeaderlessConfig config() {
    return LeaderlessConfig.defaults()
        .withRepair(true, false, 0)
        .withTombstoneGc(GC_INTERVAL_TICKS, GRACE_TICKS);
  }

  /** Ticks enough for every confirmation round the config needs, plus slack. */
  private static void tickThroughCollection(TestCluster cluster, int confirmations) {
    cluster.tick(confirmations * (GRACE_TICKS + 2 * GC_INTERVAL_TICKS) + GC_INTERVAL_TICKS);
  }

  private static KvResult writeThenDelete(TestCluster cluster, int coordinator) {
    cluster.put(coordinator, KEY, "doomed");
    KvResult read = cluster.get(coordinator, KEY);
    KvResult delete = cluster.put(coordinator, KEY, new Write.Delete(), read.context(), 0);
    assertThat(delete.outcome()).isEqualTo(KvResult.Outcome.OK);
    return read;
  }

  @Test
  void aTombstoneEveryOwnerHoldsIsDroppedEverywhereAfterTheGracePeriods() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    writeThenDelete(cluster, owners.get(0));
    cluster.tick(GC_INTERVAL_TICKS + 1);
    for (int owner : owners) {
      assertThat(cluster.node(owner).tombstoneCount()).as("owner %s", owner).isEqualTo(1);
    }
    tickThroughCollection(cluster, 2);
    for (int owner : owners) {
      assertThat(cluster.node(owner).tombstoneCount()).as("owner %s", owner).isZero();
      assertThat(cluster.node(owner).valueCount(KEY)).isZero();
      assertThat(cluster.node(owner).counters().get("tombstones_dropped")).isEqualTo(1);
    }
    assertThat(cluster.get(owners.get(1), KEY, 3).values()).isEmpty();
  }

  @Test
  void aTombstoneIsNotDroppedBeforeTheSecondConfirmationAGracePeriodLater() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    writeThenDelete(cluster, owners.get(0));
    cluster.tick(GRACE_TICKS - GC_INTERVAL_TICKS);
    LeaderlessNode first = cluster.node(owners.get(0));
    assertThat(first.counters().get("tombstone_gc_confirmations")).isEqualTo(1);
    assertThat(first.tombstoneCount()).isEqualTo(1);
  }

  @Test
  void anUnreachableOwnerBlocksCollection() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    writeThenDelete(cluster, owners.get(0));
    cluster.isolated.add(owners.get(2));
    tickThroughCollection(cluster, 3);
    assertThat(cluster.node(owners.get(0)).tombstoneCount()).isEqualTo(1);
    assertThat(cluster.node(owners.get(1)).tombstoneCount()).isEqualTo(1);
    assertThat(cluster.node(owners.get(0)).counters().get("tombstones_dropped")).isZero();
  }

  @Test
  void anOwnerThatMissedTheDeleteGetsItFromTheRoundAndBlocksNothing() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    cluster.put(owners.get(0), KEY, "doomed");
    KvResult read = cluster.get(owners.get(0), KEY);
    cluster.isolated.add(owners.get(2));
    cluster.put(owners.get(0), KEY, new Write.Delete(), read.context(), 0);
    cluster.isolated.clear();
    assertThat(cluster.node(owners.get(2)).localValues(KEY)).containsExactly("doomed");
    tickThroughCollection(cluster, 2);
    for (int owner : owners) {
      assertThat(cluster.node(owner).valueCount(KEY)).as("owner %s", owner).isZero();
    }
    assertThat(cluster.get(owners.get(2), KEY, 1).values()).isEmpty();
  }

  @Test
  void aWriteAfterCollectionGetsAFreshDotThatAnOldContextCannotCover() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    int creator = owners.get(0);
    KvResult oldRead = writeThenDelete(cluster, creator);
    tickThroughCollection(cluster, 2);
    assertThat(cluster.node(creator).ownDotFloor()).isPositive();
    // A new client writes blind; then a client that still holds the pre-delete context writes.
    KvResult fresh = cluster.put(creator, KEY, new Write.Value("fresh"), VersionVector.EMPTY, 0);
    assertThat(fresh.outcome()).isEqualTo(KvResult.Outcome.OK);
    KvResult late = cluster.put(creator, KEY, new Write.Value("late"), oldRead.context(), 0);
    assertThat(late.outcome()).isEqualTo(KvResult.Outcome.OK);
    // Without the dot floor "fresh" would reuse the collected dot and the old context would
    // silently cover it; with it the two writes are concurrent siblings.
    assertThat(cluster.get(owners.get(1), KEY, 3).values()).containsExactly("fresh", "late");
  }

  @Test
  void theDotFloorSurvivesARestart() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    int creator = owners.get(0);
    KvResult oldRead = writeThenDelete(cluster, creator);
    tickThroughCollection(cluster, 2);
    long floor = cluster.node(creator).ownDotFloor();
    cluster.restart(creator);
    assertThat(cluster.node(creator).ownDotFloor()).isEqualTo(floor);
    assertThat(cluster.node(creator).tombstoneCount()).isZero();
    assertThat(cluster.node(creator).valueCount(KEY)).isZero();
    cluster.put(creator, KEY, new Write.Value("fresh"), VersionVector.EMPTY, 0);
    cluster.put(creator, KEY, new Write.Value("late"), oldRead.context(), 0);
    assertThat(cluster.get(owners.get(1), KEY, 3).values()).containsExactly("fresh", "late");
  }

  @Test
  void aNewWriteBetweenConfirmationsStopsTheCollection() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    writeThenDelete(cluster, owners.get(0));
    cluster.tick(GRACE_TICKS / 2);
    KvResult again = cluster.get(owners.get(0), KEY);
    cluster.put(owners.get(0), KEY, new Write.Value("reborn"), again.context(), 0);
    tickThroughCollection(cluster, 3);
    assertThat(cluster.get(owners.get(1), KEY, 3).values()).containsExactly("reborn");
    for (int owner : owners) {
      assertThat(cluster.node(owner).tombstoneCount()).isZero();
      assertThat(cluster.node(owner).counters().get("tombstones_dropped")).isZero();
    }
  }

  @Test
  void aLastWriteWinsTombstoneIsCollectedAndALaterWriteStillWins() {
    TestCluster cluster = new TestCluster(config().withConflicts(ConflictMode.LWW, true));
    List<Integer> owners = cluster.owners(KEY);
    cluster.put(owners.get(0), KEY, "doomed");
    cluster.put(owners.get(1), KEY, new Write.Delete(), VersionVector.EMPTY, 0);
    tickThroughCollection(cluster, 2);
    for (int owner : owners) {
      assertThat(cluster.node(owner).tombstoneCount()).isZero();
      assertThat(cluster.node(owner).valueCount(KEY)).isZero();
    }
    cluster.put(owners.get(2), KEY, "after");
    assertThat(cluster.get(owners.get(0), KEY, 3).values()).containsExactly("after");
  }

  @Test
  void withSloppyQuorumsHintedTombstonesAreCollectedAfterThreeConfirmations() {
    TestCluster cluster = new TestCluster(config().withSloppyQuorum(true));
    List<Integer> owners = cluster.owners(KEY);
    int down = owners.get(2);
    cluster.isolated.add(down);
    cluster.tickUntilSuspected();
    cluster.put(owners.get(0), KEY, "doomed");
    int hintHolders = 0;
    for (int id = 0; id < TestCluster.NODES; id++) {
      hintHolders += cluster.node(id).hintCount();
    }
    assertThat(hintHolders).isPositive();
    KvResult read = cluster.get(owners.get(0), KEY);
    cluster.put(owners.get(0), KEY, new Write.Delete(), read.context(), 0);
    cluster.isolated.clear();
    tickThroughCollection(cluster, 3);
    for (int owner : owners) {
      assertThat(cluster.node(owner).valueCount(KEY)).as("owner %s", owner).isZero();
    }
    for (int id = 0; id < TestCluster.NODES; id++) {
      assertThat(cluster.node(id).hintCount()).as("node %s", id).isZero();
    }
    assertThat(cluster.node(owners.get(0)).counters().get("tombstone_gc_confirmations"))
        .isGreaterThanOrEqualTo(3);
  }
}
