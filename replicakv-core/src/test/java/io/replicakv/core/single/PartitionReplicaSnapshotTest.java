package io.replicakv.core.single;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.msg.SingleLeaderMessage.Entry;
import io.replicakv.core.quorum.Acks;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Retention, SnapshotNeeded and snapshot installs of single-leader replicas. */
class PartitionReplicaSnapshotTest {
  static final long RETAINED = 4;

  private static TestCluster clusterWithRetention(long retainedEntries) {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    for (int id : TestCluster.REPLICAS) {
      cluster.nodes.put(
          id,
          new PartitionReplica(id, cluster.config, false, Lsn.ZERO, retainedEntries, List.of()));
    }
    return cluster;
  }

  @Test
  void followerBehindTheLeadersRetentionIsToldAndCatchesUpFromASnapshot() {
    TestCluster cluster = clusterWithRetention(RETAINED);
    int leaderId = cluster.electedLeader();
    int followerId = leaderId == 0 ? 1 : 0;
    cluster.crash(followerId);
    for (int i = 0; i < 40; i++) {
      cluster.put(leaderId, "k" + (i % 7), "v" + i);
      cluster.tick(1);
    }
    PartitionReplica leader = cluster.replica(leaderId);
    assertThat(leader.commitOffset()).isGreaterThan(40);
    // The leader kept only what the in-sync follower might still need, plus retention.
    assertThat(leader.logFirstOffset()).isGreaterThan(leader.commitOffset() - RETAINED - 5);
    assertThat(leader.logSize()).isLessThan(20);

    cluster.restart(followerId);
    cluster.tickUntil(() -> cluster.replica(followerId).snapshotNeededFirstOffset() > 0, 50);
    PartitionReplica follower = cluster.replica(followerId);
    assertThat(follower.snapshotNeededFirstOffset()).isEqualTo(leader.logFirstOffset());
    assertThat(cluster.sent)
        .anySatisfy(
            message ->
                assertThat(message)
                    .isInstanceOfSatisfying(
                        SingleLeaderMessage.SnapshotNeeded.class,
                        needed -> assertThat(needed.to()).isEqualTo(followerId)));
    assertThat(leader.snapshotsNeededSent().get(followerId)).isPositive();

    Lsn lsn = leader.commitLsn();
    long epoch = leader.epoch();
    assertThat(follower.acceptsSnapshot(epoch + 1, leaderId, lsn)).isFalse();
    assertThat(follower.acceptsSnapshot(epoch, followerId == 1 ? 2 : 1, lsn)).isFalse();
    assertThat(follower.acceptsSnapshot(epoch, leaderId, follower.lastLsn())).isFalse();
    assertThat(follower.installSnapshot(epoch, leaderId, lsn, leader.appliedState())).isTrue();
    assertThat(follower.commitOffset()).isEqualTo(lsn.offset());
    assertThat(follower.logFirstOffset()).isEqualTo(lsn.offset() + 1);
    assertThat(follower.snapshotsInstalled()).isEqualTo(1);
    // The same snapshot again is nothing new.
    assertThat(follower.installSnapshot(epoch, leaderId, lsn, leader.appliedState())).isFalse();

    cluster.put(leaderId, "after", "snapshot");
    cluster.tickUntil(
        () ->
            cluster.replica(followerId).commitOffset() == leader.commitOffset()
                && leader.inSyncFollowerIds().contains(followerId),
        100);
    assertThat(cluster.replica(followerId).appliedState()).isEqualTo(leader.appliedState());

    // A restart replays the install record: same state, log starting after the snapshot.
    cluster.crash(followerId);
    cluster.restart(followerId);
    PartitionReplica restarted = cluster.replica(followerId);
    assertThat(restarted.snapshotsInstalled()).isEqualTo(1);
    assertThat(restarted.commitOffset()).isGreaterThanOrEqualTo(lsn.offset());
    cluster.tickUntil(() -> restarted.commitOffset() == leader.commitOffset(), 100);
    assertThat(restarted.appliedState()).isEqualTo(leader.appliedState());
  }

  @Test
  void aReplicaStartsAfterASnapshotLsnAndSkipsRecordsItCovers() {
    SingleLeaderConfig config =
        SingleLeaderConfig.forSimulation(TestCluster.REPLICAS, TestCluster.CONTROLLER, Acks.of(1));
    List<PersistRecord> records = new ArrayList<>();
    for (long offset = 45; offset <= 55; offset++) {
      records.add(
          ReplicaRecords.append(new Entry(2, offset, new Operation.Write("k", new byte[] {1}))));
    }
    records.add(ReplicaRecords.truncate(53));
    PartitionReplica replica = new PartitionReplica(0, config, false, new Lsn(2, 50), 10, records);
    assertThat(replica.commitOffset()).isEqualTo(50);
    assertThat(replica.commitLsn()).isEqualTo(new Lsn(2, 50));
    assertThat(replica.logFirstOffset()).isEqualTo(51);
    assertThat(replica.lastLsn()).isEqualTo(new Lsn(2, 53));
    assertThat(replica.logSize()).isEqualTo(3);
    assertThat(replica.divergentWritesTotal()).isEqualTo(2);
    assertThat(replica.epochStartOffsets()).containsEntry(2L, 50L);
  }
}
