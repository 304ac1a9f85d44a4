package io.replicakv.core.single;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.quorum.Acks;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Replicas of a re-formed group that start from different formation points: a member that held more
 * of the previous group's writes starts further on (a higher offset in epoch 0), so the controller,
 * which elects the highest LSN, prefers it, and a member formed further on than the leader it finds
 * reports that its committed state is off the group's history instead of breaking.
 */
class PartitionReplicaFormationTest {
  private static TestCluster formedAt(long... formationOffsets) {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    for (int id : TestCluster.REPLICAS) {
      cluster.nodes.put(
          id,
          new PartitionReplica(
              id, cluster.config, false, new Lsn(0, formationOffsets[id]), 100, List.of()));
    }
    return cluster;
  }

  @Test
  void aMemberFormedBelowTheLeaderIsToldItNeedsASnapshot() {
    TestCluster cluster = formedAt(5, 9, 5);
    cluster.crash(2);
    // The controller hears from 0 (formed at 5) and 1 (formed at 9) and elects the higher.
    int leader = cluster.electedLeader();
    assertThat(leader).isEqualTo(1);
    assertThat(cluster.replica(1).logBase()).isEqualTo(new Lsn(0, 9));
    cluster.nodes.put(
        2, new PartitionReplica(2, cluster.config, false, new Lsn(0, 5), 100, List.of()));
    cluster.tickUntil(
        () ->
            cluster.replica(0).snapshotNeededFirstOffset() > 0
                && cluster.replica(2).snapshotNeededFirstOffset() > 0,
        100);
    assertThat(cluster.replica(0).snapshotNeededFirstOffset()).isEqualTo(10);
    assertThat(cluster.replica(2).snapshotNeededFirstOffset()).isEqualTo(10);
    assertThat(cluster.replica(0).committedStateDivergence()).isNull();
    assertThat(cluster.replica(2).committedStateDivergence()).isNull();
  }

  @Test
  void aMemberFormedPastTheElectedLeaderReportsItsStateOffTheGroupsHistory() {
    TestCluster cluster = formedAt(5, 9, 5);
    cluster.crash(1);
    int leader = cluster.electedLeader();
    assertThat(leader).isIn(0, 2);
    long request = cluster.put(leader, "k", "v");
    cluster.tickUntil(() -> cluster.replies.get(request) != null, 100);
    assertThat(cluster.replies.get(request)).isInstanceOf(Reply.Written.class);

    cluster.nodes.put(
        1, new PartitionReplica(1, cluster.config, false, new Lsn(0, 9), 100, List.of()));
    cluster.tickUntil(() -> cluster.replica(1).committedStateDivergence() != null, 200);
    assertThat(cluster.replica(1).committedStateDivergence())
        .contains("leader n" + leader)
        .contains("commit point 9");
    // It does not follow on: its log and commit point stay where its storage is.
    cluster.tick(20);
    assertThat(cluster.replica(1).lastLsn()).isEqualTo(new Lsn(0, 9));
    assertThat(cluster.replica(1).commitOffset()).isEqualTo(9);
    // The group keeps serving with the other two.
    long second = cluster.put(leader, "k2", "v2");
    cluster.tickUntil(() -> cluster.replies.get(second) != null, 100);
    assertThat(cluster.replies.get(second)).isInstanceOf(Reply.Written.class);
  }
}
