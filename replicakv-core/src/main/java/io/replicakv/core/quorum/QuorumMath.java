package io.replicakv.core.quorum;

import io.replicakv.core.util.Check;

/**
 * The arithmetic of quorums, with the limits of what it proves (Gifford 1979; Dynamo paper §4.5;
 * DDIA chapter 5, "Quorums for reading and writing" and "Limitations of Quorum Consistency").
 *
 * <p><b>R + W &gt; N.</b> Any R replicas and any W replicas out of the same N share at least one
 * replica, so a read quorum contains at least one replica that acknowledged the last completed
 * write. This holds only for <i>strict</i> quorums over the key's own N replicas.
 *
 * <p><b>W &gt; N/2.</b> Any two write quorums intersect, so two concurrent writes each reaching W
 * replicas meet at a replica that sees both. With W ≤ N/2 two disjoint groups can each accept a
 * write and neither learns of the other until anti-entropy; siblings or LWW then decide.
 *
 * <p><b>What the overlap does not give.</b> Concurrent writes still conflict (resolved by siblings,
 * LWW or CRDTs, not by the quorum). A write that fails to reach W is not rolled back on the
 * replicas it did reach, so a later read may or may not see it. A read concurrent with a write may
 * see it on one replica and not on another. A replica restored from a stale copy can drop below the
 * count of replicas that hold the write. Hence R + W &gt; N is not linearizability.
 *
 * <p><b>Sloppy quorums.</b> With hinted handoff, the W acknowledgements may come from nodes outside
 * the key's N replicas (the next healthy nodes on the ring, holding hints). Then a read of R
 * replicas of the preference list need not meet any of them, and R + W &gt; N guarantees only that
 * W nodes hold the write somewhere: durability, not visibility, until the hints are handed off.
 * Read-your-writes under a sloppy quorum therefore rests on session tokens, not on the overlap.
 */
public final class QuorumMath {
  private QuorumMath() {}

  /** The smallest majority of {@code n}: {@code floor(n/2) + 1}. */
  public static int majority(int n) {
    Check.argument(n >= 1, "n %s < 1", n);
    return n / 2 + 1;
  }

  /** True when every read quorum overlaps every write quorum: {@code r + w > n}. */
  public static boolean readsOverlapWrites(int n, int r, int w) {
    checkQuorum(n, r, "r");
    checkQuorum(n, w, "w");
    return r + w > n;
  }

  /** True when no two write quorums are disjoint: {@code w > n/2}. */
  public static boolean writeQuorumsIntersect(int n, int w) {
    checkQuorum(n, w, "w");
    return 2 * w > n;
  }

  /** Replicas that may be down while writes still reach {@code w} of {@code n}. */
  public static int writeFailuresTolerated(int n, int w) {
    checkQuorum(n, w, "w");
    return n - w;
  }

  /** Replicas that may be down while reads still reach {@code r} of {@code n}. */
  public static int readFailuresTolerated(int n, int r) {
    checkQuorum(n, r, "r");
    return n - r;
  }

  private static void checkQuorum(int n, int quorum, String name) {
    Check.argument(n >= 1, "n %s < 1", n);
    Check.argument(quorum >= 1 && quorum <= n, "%s=%s not in [1, n=%s]", name, quorum, n);
  }
}
