package io.replicakv.core.ring;

import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What changes between two rings: the plan of a join, leave or replace, computed before anything is
 * committed so the operator sees which slots move, from whom to whom.
 *
 * <p>{@link #between} compares owners slot by slot and folds adjacent slots with the same change
 * into one range, so the result is exact (every moved slot, no unmoved one). {@link
 * #preferenceChanges} does the same for whole replica sets, which is what replication must stream:
 * a slot whose owner stays but whose second replica changes still needs a copy made.
 */
public final class RingDiff {
  private RingDiff() {}

  /** Slots {@code [firstSlot, lastSlot]} move from {@code fromNode} to {@code toNode}. */
  public record SlotMove(int firstSlot, int lastSlot, String fromNode, String toNode) {
    /** Number of slots in the range. */
    public int slotCount() {
      return lastSlot - firstSlot + 1;
    }
  }

  /**
   * Slots {@code [firstSlot, lastSlot]} change replica set from {@code before} to {@code after}.
   */
  public record PreferenceChange(
      int firstSlot, int lastSlot, List<String> before, List<String> after) {
    /** Number of slots in the range. */
    public int slotCount() {
      return lastSlot - firstSlot + 1;
    }

    /** Nodes that must receive a copy of these slots. */
    public List<String> gaining() {
      return after.stream().filter(node -> !before.contains(node)).toList();
    }

    /** Nodes that may drop these slots once the gaining nodes have them. */
    public List<String> losing() {
      return before.stream().filter(node -> !after.contains(node)).toList();
    }
  }

  /** Every range of slots whose owner differs between {@code before} and {@code after}. */
  public static List<SlotMove> between(Ring before, Ring after) {
    List<SlotMove> moves = new ArrayList<>();
    int runStart = -1;
    for (int slot = 0; slot <= Slots.SLOT_COUNT; slot++) {
      boolean moved = slot < Slots.SLOT_COUNT && !before.owner(slot).equals(after.owner(slot));
      boolean continues =
          moved
              && runStart >= 0
              && before.owner(slot).equals(before.owner(runStart))
              && after.owner(slot).equals(after.owner(runStart));
      if (runStart >= 0 && !continues) {
        moves.add(new SlotMove(runStart, slot - 1, before.owner(runStart), after.owner(runStart)));
        runStart = -1;
      }
      if (moved && runStart < 0) {
        runStart = slot;
      }
    }
    return moves;
  }

  /** Every range of slots whose first-{@code n} preference list differs. */
  public static List<PreferenceChange> preferenceChanges(Ring before, Ring after, int n) {
    Check.argument(n >= 1, "n %s < 1", n);
    List<PreferenceChange> changes = new ArrayList<>();
    int runStart = -1;
    List<String> runBefore = null;
    List<String> runAfter = null;
    for (int slot = 0; slot <= Slots.SLOT_COUNT; slot++) {
      List<String> b = slot < Slots.SLOT_COUNT ? before.preferenceList(slot, n) : null;
      List<String> a = slot < Slots.SLOT_COUNT ? after.preferenceList(slot, n) : null;
      boolean changed = b != null && !b.equals(a);
      boolean continues =
          changed && runStart >= 0 && b.equals(runBefore) && Objects.equals(a, runAfter);
      if (runStart >= 0 && !continues) {
        changes.add(new PreferenceChange(runStart, slot - 1, runBefore, runAfter));
        runStart = -1;
      }
      if (changed && runStart < 0) {
        runStart = slot;
        runBefore = b;
        runAfter = a;
      }
    }
    return changes;
  }

  /** Total slots whose owner changes. */
  public static int slotsMoved(List<SlotMove> moves) {
    return moves.stream().mapToInt(SlotMove::slotCount).sum();
  }
}
