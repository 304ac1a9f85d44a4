package io.replicakv.server.cluster;

import static io.replicakv.server.cluster.Members.member;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.ring.Slots;
import io.replicakv.server.cluster.MetadataChange.AddMember;
import io.replicakv.server.cluster.MetadataChange.SetReplicaLeader;
import io.replicakv.server.replication.ReplicaGroups;
import io.replicakv.server.replication.ReplicaIds;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Replica-leader records in the metadata, and the replica groups they are kept for. */
class ReplicaLeaderRecordTest {
  private static ClusterView threeNodes() {
    return ClusterView.empty("c1")
        .apply(new AddMember(member("n1", 0, MemberState.UP)))
        .apply(new AddMember(member("n2", 1, MemberState.UP)))
        .apply(new AddMember(member("n3", 2, MemberState.UP)));
  }

  @Test
  void epochsOnlyRiseAndTheSecondDecisionOfAnEpochIsRefused() {
    ClusterView view = threeNodes().apply(new SetReplicaLeader(0, 42, "n2", 1));
    assertThat(view.replicaLeader(0, 42)).isEqualTo(new ClusterView.PartitionState("n2", 1));
    assertThatThrownBy(() -> view.apply(new SetReplicaLeader(0, 42, "n3", 1)))
        .isInstanceOf(MetadataRejectedException.class)
        .hasMessageContaining("not above");
    assertThatThrownBy(() -> view.apply(new SetReplicaLeader(0, 42, "n9", 2)))
        .isInstanceOf(MetadataRejectedException.class)
        .hasMessageContaining("not a member");
    ClusterView next = view.apply(new SetReplicaLeader(0, 42, "n3", 2));
    assertThat(next.replicaLeader(0, 42)).isEqualTo(new ClusterView.PartitionState("n3", 2));
    assertThat(next.replicaLeader(0, 43)).isNull();
  }

  @Test
  void recordsSurviveTheBinaryFormAndTheChangeItself() {
    ClusterView view =
        threeNodes()
            .apply(new SetReplicaLeader(0, 7, "n1", 3))
            .apply(new SetReplicaLeader(3, 9000, "n3", 1));
    ClusterView decoded = ClusterView.fromBytes(view.toBytes());
    assertThat(decoded).isEqualTo(view);
    assertThat(decoded.replicaLeaders()).hasSize(2);
    SetReplicaLeader change = new SetReplicaLeader(0, 7, "n2", 4);
    assertThat(MetadataChange.fromBytes(change.toBytes())).isEqualTo(change);
  }

  @Test
  void groupsCoverEverySlotOnceAndShareOnePreferenceListEach() {
    ClusterView view = threeNodes();
    ReplicaGroups groups = ReplicaGroups.of(view, 0);
    // three nodes, N = 3: one group per order of the three replicas that the ring produces
    assertThat(groups.groups()).hasSizeBetween(3, 6);
    int covered = 0;
    Set<Integer> ids = new HashSet<>();
    for (ReplicaGroups.Group group : groups.groups().values()) {
      covered += group.slotCount();
      ids.add(group.id());
      assertThat(group.replicas()).hasSize(3);
    }
    assertThat(covered).isEqualTo(Slots.SLOT_COUNT);
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot += 97) {
      ReplicaGroups.Group group = groups.groupOfSlot(slot);
      assertThat(group.slots().get(slot)).isTrue();
      assertThat(group.replicas()).isEqualTo(view.ring().preferenceList(slot, 3));
    }
    assertThat(ids).hasSize(groups.groups().size());
  }

  @Test
  void replicaIdsAreStableAndNeverTheController() {
    assertThat(ReplicaIds.of("n1")).isEqualTo(ReplicaIds.of("n1"));
    assertThat(ReplicaIds.of("n1")).isNotEqualTo(ReplicaIds.of("n2"));
    for (int i = 0; i < 10_000; i++) {
      int id = ReplicaIds.of("node-" + i);
      assertThat(id).isBetween(0, ReplicaIds.CONTROLLER - 1);
    }
  }
}
