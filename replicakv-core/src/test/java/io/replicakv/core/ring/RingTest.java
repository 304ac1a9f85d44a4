package io.replicakv.core.ring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RingTest {
  private static final int VNODES = 64;

  private static Ring ring(int nodes) {
    return Ring.of(VNODES, RingBalanceTest.nodes(nodes));
  }

  @Test
  void everySlotHasAnOwnerAndTheRingIsIndependentOfInsertionOrder() {
    List<RingNode> nodes = new ArrayList<>(RingBalanceTest.nodes(7));
    Ring sorted = Ring.of(VNODES, nodes);
    Collections.shuffle(nodes, new Random(7));
    Ring built = Ring.empty(VNODES);
    for (RingNode node : nodes) {
      built = built.withNode(node);
    }
    assertThat(built).isEqualTo(sorted);
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
      assertThat(built.owner(slot)).isEqualTo(sorted.owner(slot));
    }
    assertThat(sorted.slotCounts().values().stream().mapToInt(Integer::intValue).sum())
        .isEqualTo(Slots.SLOT_COUNT);
  }

  @Test
  void preferenceListStartsAtOwnerAndHasDistinctNodes() {
    Ring ring = ring(5);
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot += 97) {
      List<String> replicas = ring.preferenceList(slot, 3);
      assertThat(replicas).hasSize(3).doesNotHaveDuplicates();
      assertThat(replicas.get(0)).isEqualTo(ring.owner(slot));
    }
    assertThat(ring.preferenceList(0, 9)).hasSize(5);
  }

  @Test
  void preferenceListSpreadsOverRacksAndFallsBackWhenRacksRunOut() {
    List<RingNode> nodes = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      nodes.add(new RingNode("n" + i, "rack-" + (i % 2)));
    }
    Ring ring = Ring.of(VNODES, nodes);
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot += 101) {
      List<String> two = ring.preferenceList(slot, 2);
      assertThat(racks(ring, two)).hasSize(2);
      List<String> four = ring.preferenceList(slot, 4);
      assertThat(four).hasSize(4).doesNotHaveDuplicates().startsWith(two.get(0), two.get(1));
      assertThat(racks(ring, four)).hasSize(2);
    }
  }

  private static Set<String> racks(Ring ring, List<String> ids) {
    Set<String> racks = new HashSet<>();
    for (RingNode node : ring.nodes()) {
      if (ids.contains(node.id())) {
        racks.add(node.rack());
      }
    }
    return racks;
  }

  @Test
  void joinMovesSlotsOnlyToTheNewNode() {
    Ring before = ring(8);
    Ring after = before.withNode(RingNode.of("newcomer"));
    List<RingDiff.SlotMove> moves = RingDiff.between(before, after);
    assertThat(moves)
        .isNotEmpty()
        .allSatisfy(move -> assertThat(move.toNode()).isEqualTo("newcomer"));
    assertThat(RingDiff.slotsMoved(moves)).isEqualTo(after.slotCounts().get("newcomer"));
    assertExact(before, after, moves);
  }

  @Test
  void leaveMovesOnlyTheLeavingNodesSlots() {
    Ring before = ring(8);
    Ring after = before.withoutNode("node-3");
    List<RingDiff.SlotMove> moves = RingDiff.between(before, after);
    assertThat(moves).allSatisfy(move -> assertThat(move.fromNode()).isEqualTo("node-3"));
    assertThat(RingDiff.slotsMoved(moves)).isEqualTo(before.slotCounts().get("node-3"));
    assertExact(before, after, moves);
  }

  @Test
  void replaceHandsExactlyTheOldNodesSlotsToTheNewNode() {
    Ring before = ring(8);
    Ring after = before.replace("node-5", new RingNode("node-5b", ""));
    List<RingDiff.SlotMove> moves = RingDiff.between(before, after);
    assertThat(moves)
        .allSatisfy(
            move -> {
              assertThat(move.fromNode()).isEqualTo("node-5");
              assertThat(move.toNode()).isEqualTo("node-5b");
            });
    assertThat(RingDiff.slotsMoved(moves)).isEqualTo(before.slotCounts().get("node-5"));
    assertThat(after.contains("node-5")).isFalse();
    assertThatThrownBy(() -> after.replace("node-5", RingNode.of("x")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /** Every slot is either in exactly one move with the right owners, or unchanged. */
  private static void assertExact(Ring before, Ring after, List<RingDiff.SlotMove> moves) {
    String[] expectedFrom = new String[Slots.SLOT_COUNT];
    for (RingDiff.SlotMove move : moves) {
      for (int slot = move.firstSlot(); slot <= move.lastSlot(); slot++) {
        assertThat(expectedFrom[slot]).isNull();
        expectedFrom[slot] = move.fromNode();
        assertThat(before.owner(slot)).isEqualTo(move.fromNode());
        assertThat(after.owner(slot)).isEqualTo(move.toNode());
      }
    }
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
      if (expectedFrom[slot] == null) {
        assertThat(after.owner(slot)).isEqualTo(before.owner(slot));
      }
    }
  }

  @Test
  void preferenceChangesNameGainingAndLosingNodes() {
    Ring before = ring(5);
    Ring after = before.withNode(RingNode.of("newcomer"));
    List<RingDiff.PreferenceChange> changes = RingDiff.preferenceChanges(before, after, 3);
    assertThat(changes).isNotEmpty();
    for (RingDiff.PreferenceChange change : changes) {
      assertThat(change.gaining()).containsExactly("newcomer");
      assertThat(change.losing()).hasSize(1);
      assertThat(after.preferenceList(change.firstSlot(), 3)).isEqualTo(change.after());
      assertThat(before.preferenceList(change.lastSlot(), 3)).isEqualTo(change.before());
    }
    int changedSlots = changes.stream().mapToInt(RingDiff.PreferenceChange::slotCount).sum();
    // With N = 3 a join changes about 3/(n+1) of the replica sets.
    assertThat(changedSlots).isGreaterThan(RingDiff.slotsMoved(RingDiff.between(before, after)));
  }

  @Test
  void binaryFormRoundTripsIncludingReplacedTokenNames() {
    Ring ring =
        Ring.of(VNODES, List.of(new RingNode("a", "r1"), new RingNode("b", "r2")))
            .replace("a", new RingNode("c", "r1"));
    Ring copy = Ring.fromBytes(ring.toBytes());
    assertThat(copy).isEqualTo(ring);
    assertThat(copy.toBytes()[0]).isEqualTo((byte) 1);
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot += 13) {
      assertThat(copy.preferenceList(slot, 2)).isEqualTo(ring.preferenceList(slot, 2));
    }
  }
}
