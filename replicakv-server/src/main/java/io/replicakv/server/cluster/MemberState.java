package io.replicakv.server.cluster;

/**
 * Where a member is in its life in the cluster.
 *
 * <p>Only {@link #UP}, {@link #DOWN} and {@link #LEAVING} members own slots on the ring: a {@link
 * #STAGED} member is known (it answers clients and forwards their commands) but owns nothing and
 * receives no data until its join is committed; a {@link #JOINING} member receives its share of the
 * data and gets slots only when it is marked {@link #UP} (after its data has been streamed to it),
 * and a {@link #LEFT} member has handed its slots back. {@link #DOWN} keeps the slots because a
 * failure detector's verdict is not a decommission: the slots answer with an error (or fail over,
 * once replication exists) until the member returns.
 *
 * <p>Allowed transitions ({@link ClusterView#apply} refuses the others): STAGED to JOINING (the
 * join is committed) or LEFT (it is abandoned); JOINING to UP or LEFT; UP to DOWN or LEAVING; DOWN
 * to UP, LEAVING or LEFT (removing a dead node); LEAVING to UP (a cancelled decommission) or LEFT.
 * LEFT is final: a node that returns after leaving is removed and added again.
 */
public enum MemberState {
  /** Registered, waiting for its join to be committed; owns no slots, receives no data. */
  STAGED,
  /** Announced; owns no slots yet. */
  JOINING,
  /** Serving; owns slots. */
  UP,
  /** Failed its heartbeats; still owns its slots. */
  DOWN,
  /** Being decommissioned; owns slots until its data has moved. */
  LEAVING,
  /** Gone; owns no slots. */
  LEFT;

  /** True when members in this state own slots on the ring. */
  public boolean ownsSlots() {
    return this == UP || this == DOWN || this == LEAVING;
  }

  /** True when {@link ClusterView#apply} lets a member move from this state to {@code next}. */
  public boolean canBecome(MemberState next) {
    return switch (this) {
      case STAGED -> next == JOINING || next == LEFT;
      case JOINING -> next == UP || next == LEFT;
      case UP -> next == DOWN || next == LEAVING;
      case DOWN -> next == UP || next == LEAVING || next == LEFT;
      case LEAVING -> next == UP || next == LEFT;
      case LEFT -> false;
    };
  }
}
