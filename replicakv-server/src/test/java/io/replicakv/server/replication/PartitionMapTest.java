package io.replicakv.server.replication;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.ring.Ring;
import io.replicakv.core.ring.RingNode;
import io.replicakv.core.ring.Slots;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.cluster.MetadataChange.AddMember;
import io.replicakv.server.replication.PartitionMap.Partition;
import io.replicakv.server.replication.PartitionMap.SlotRange;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class PartitionMapTest {
  private static final int VNODES = 16;

  private static Ring ring(int nodes, int racks) {
    return Ring.of(
        VNODES,
        IntStream.range(0, nodes)
            .mapToObj(i -> new RingNode("n" + i, racks == 0 ? "" : "r" + (i % racks)))
            .toList());
  }

  @Test
  void everySlotIsInExactlyOnePartitionWhoseReplicasAreTheRingsPreferenceList() {
    for (int racks : new int[] {0, 2, 3}) {
      Ring ring = ring(7, racks);
      PartitionMap map = PartitionMap.of(ring, 4, 3);
      int covered = 0;
      for (Partition partition : map.partitions().values()) {
        covered += partition.slotCount();
      }
      assertThat(covered).isEqualTo(Slots.SLOT_COUNT);
      for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
        Partition partition = map.partitionOfSlot(slot);
        assertThat(partition.contains(slot)).isTrue();
        assertThat(partition.keyspace()).isEqualTo(4);
        assertThat(partition.replicas()).isEqualTo(ring.preferenceList(slot, 3));
        assertThat(partition.owner()).isEqualTo(ring.owner(slot));
      }
    }
  }

  @Test
  void partitionsAreTokenRangesNamedByTheirTokenSlot() {
    Ring ring = ring(5, 0);
    PartitionMap map = PartitionMap.of(ring, 0, 2);
    Set<Integer> tokenSlots = new HashSet<>();
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
      tokenSlots.add(ring.ownerTokenSlot(slot));
    }
    assertThat(map.partitions().keySet()).isEqualTo(tokenSlots);
    // Hash collisions on a slot can only lose tokens, never add partitions.
    assertThat(map.partitions()).hasSizeLessThanOrEqualTo(5 * VNODES).hasSizeGreaterThan(VNODES);
    int wrapping = 0;
    for (Partition partition : map.partitions().values()) {
      assertThat(partition.contains(partition.id())).isTrue();
      if (partition.slots().size() == 2) {
        wrapping++;
        assertThat(partition.slots().getFirst().firstSlot()).isZero();
        assertThat(partition.slots().getLast().lastSlot()).isEqualTo(Slots.SLOT_COUNT - 1);
        assertThat(partition.slots().getFirst().lastSlot()).isEqualTo(partition.id());
      } else {
        assertThat(partition.slots().getFirst().lastSlot()).isEqualTo(partition.id());
      }
    }
    assertThat(wrapping).isLessThanOrEqualTo(1);
  }

  @Test
  void adjacentTokensOfOneNodeStayDistinctPartitions() {
    Ring ring = ring(2, 0);
    PartitionMap map = PartitionMap.of(ring, 0, 1);
    List<Partition> inOrder = List.copyOf(map.partitions().values());
    int sameOwnerNeighbours = 0;
    for (int i = 1; i < inOrder.size(); i++) {
      if (inOrder.get(i).owner().equals(inOrder.get(i - 1).owner())) {
        sameOwnerNeighbours++;
      }
    }
    // Two nodes with 16 tokens each: some neighbouring tokens belong to one node, and each is
    // still its own partition (ClusterView would merge them into one assignment).
    assertThat(sameOwnerNeighbours).isPositive();
    assertThat(map.partitions()).hasSize(inOrder.size());
  }

  @Test
  void eachNodeHoldsThePartitionsWhosePreferenceListNamesIt() {
    Ring ring = ring(6, 3);
    PartitionMap map = PartitionMap.of(ring, 1, 3);
    int held = 0;
    for (RingNode node : ring.nodes()) {
      List<Partition> mine = map.heldBy(node.id());
      held += mine.size();
      for (Partition partition : map.partitions().values()) {
        assertThat(mine.contains(partition)).isEqualTo(partition.replicas().contains(node.id()));
      }
      assertThat(map.ownedBy(node.id())).allMatch(p -> p.owner().equals(node.id()));
    }
    assertThat(held).isEqualTo(3 * map.partitions().size());
    // Three racks and N = 3: every replica set spans all racks.
    for (Partition partition : map.partitions().values()) {
      assertThat(partition.replicas().stream().map(id -> id.charAt(1) - '0').map(i -> i % 3))
          .doesNotHaveDuplicates();
    }
  }

  @Test
  void aJoinOnlySplitsRangesAndTheSplitOffPartsGoToTheNewNode() {
    Ring before = ring(4, 0);
    Ring after = before.withNode(new RingNode("n9", ""));
    PartitionMap old = PartitionMap.of(before, 0, 1);
    PartitionMap now = PartitionMap.of(after, 0, 1);
    int moved = 0;
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
      int oldId = old.partitionOfSlot(slot).id();
      Partition current = now.partitionOfSlot(slot);
      if (current.id() != oldId) {
        moved++;
        assertThat(current.owner()).isEqualTo("n9");
      } else {
        assertThat(current.owner()).isEqualTo(old.partitionOfSlot(slot).owner());
      }
    }
    assertThat(moved).isPositive().isLessThan(Slots.SLOT_COUNT / 2);
  }

  @Test
  void builtFromAClusterViewItUsesTheKeyspaceReplicaCountAndAgreesWithRouting() {
    ClusterView view = ClusterView.empty("c1");
    for (int i = 0; i < 4; i++) {
      int base = 20_000 + 10 * i;
      view =
          view.apply(
              new AddMember(
                  new Member(
                      "n" + i,
                      "127.0.0.1",
                      base,
                      base + 1,
                      base + 2,
                      base + 3,
                      "site1",
                      "",
                      MemberState.UP,
                      i < 3)));
    }
    PartitionMap map = PartitionMap.of(view, 0);
    assertThat(map.replicationFactor()).isEqualTo(view.keyspaces().get(0).config().replicas());
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot += 7) {
      assertThat(map.partitionOfSlot(slot).replicas())
          .isEqualTo(view.partition(0, slot).replicas());
    }
    assertThat(PartitionMap.of(view, 999).partitions()).isEmpty();
    assertThat(PartitionMap.of(ClusterView.empty("c1"), 0).partitions()).isEmpty();
  }

  @Test
  void slotRangeCountsBothEnds() {
    assertThat(new SlotRange(3, 3).slotCount()).isEqualTo(1);
    assertThat(new SlotRange(0, Slots.SLOT_COUNT - 1).slotCount()).isEqualTo(Slots.SLOT_COUNT);
  }
}
