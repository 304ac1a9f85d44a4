package io.replicakv.core.single;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.quorum.Acks;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link PartitionReplica#compactedRecords}: a replica rebuilt from them is the one it was. */
class PartitionReplicaCompactionTest {
  static final long RETAINED = 5;

  @Test
  void replicaRebuiltFromCompactedRecordsHasTheSameBaseTailPromiseAndState() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    for (int id : TestCluster.REPLICAS) {
      cluster.nodes.put(
          id, new PartitionReplica(id, cluster.config, false, Lsn.ZERO, RETAINED, List.of()));
    }
    int leaderId = cluster.electedLeader();
    for (int i = 0; i < 60; i++) {
      cluster.put(leaderId, "k" + (i % 9), "v" + i);
      cluster.tick(1);
    }
    cluster.tick(20);
    PartitionReplica leader = cluster.replica(leaderId);
    assertThat(leader.logBase().offset()).isGreaterThan(40); // retention trimmed the head

    var records = leader.compactedRecords();
    // incarnation, promise, base, and only the retained tail
    assertThat(records).hasSize(3 + leader.logSize());
    PartitionReplica rebuilt =
        new PartitionReplica(leaderId, cluster.config, false, Lsn.ZERO, RETAINED, records);
    assertThat(rebuilt.logBase()).isEqualTo(leader.logBase());
    assertThat(rebuilt.lastLsn()).isEqualTo(leader.lastLsn());
    assertThat(rebuilt.promisedEpoch()).isEqualTo(leader.promisedEpoch());
    assertThat(rebuilt.commitOffset()).isEqualTo(leader.logBase().offset());
    for (long offset = leader.logFirstOffset(); offset <= leader.lastLsn().offset(); offset++) {
      assertThat(rebuilt.entryAt(offset)).isEqualTo(leader.entryAt(offset));
    }
    // the epoch history is kept from the base's epoch on
    leader
        .epochStartOffsets()
        .forEach(
            (epoch, start) -> {
              if (epoch > leader.logBase().epoch()) {
                assertThat(rebuilt.epochStartOffsets()).containsEntry(epoch, start);
              }
            });

    // it rejoins the group as a restarted replica and ends with the leader's state
    cluster.crash(leaderId);
    cluster.nodes.put(leaderId, rebuilt);
    cluster.tick(200);
    int newLeader = cluster.electedLeader();
    cluster.put(newLeader, "after", "compaction");
    cluster.tick(100);
    assertThat(rebuilt.commitOffset()).isEqualTo(cluster.replica(newLeader).commitOffset());
    assertThat(rebuilt.appliedState()).isEqualTo(cluster.replica(newLeader).appliedState());
  }
}
