package io.replicakv.core.leaderless;

import io.replicakv.core.quorum.QuorumMath;
import io.replicakv.core.util.Check;

/**
 * The knobs of one leaderless keyspace as its nodes run it. Times are in ticks of the caller's
 * {@code tick()} (the server ticks every few milliseconds; the simulator every {@code tickMillis}).
 *
 * @param replicas N, owners per key
 * @param readQuorum R, answers a read waits for (per request overridable)
 * @param writeQuorum W, acknowledgements a write waits for (per request overridable)
 * @param sloppyQuorum whether unreachable owners are replaced by the next healthy nodes on the
 *     ring, which keep hints
 * @param readRepair whether reads send the merged state to stale replicas they saw
 * @param blockingReadRepair whether a read answers only after its repairs are acknowledged
 * @param conflicts how concurrent writes resolve
 * @param lwwTieBreak LWW ties broken by node id; false only for the broken variant tests use
 * @param antiEntropyIntervalTicks ticks between Merkle exchanges started by a node; 0 disables
 * @param requestTimeoutTicks a request not finished after this many ticks ends as uncertain
 * @param pingIntervalTicks ticks between liveness probes to each peer
 * @param suspectAfterTicks a peer silent for longer than this is treated as unreachable
 * @param handoffIntervalTicks ticks between hinted-handoff attempts
 * @param hintsPerPeerMax keys hinted for one unreachable owner; past it a substitute refuses new
 *     keys for that owner, so a sloppy write may fall short of W
 * @param siblingsMax most values one key may hold; a write that would exceed it is refused
 * @param merkleFanOut Merkle tree fan-out
 * @param merkleDepth Merkle tree depth below the root
 * @param tombstoneGcIntervalTicks ticks between tombstone-collection rounds started by a key's
 *     first owner; 0 keeps tombstones forever
 * @param tombstoneGraceTicks ticks between two confirmation rounds of one tombstone: must exceed
 *     the request timeout plus the longest delay a message may still arrive after (see {@link
 *     TombstoneCollector})
 */
public record LeaderlessConfig(
    int replicas,
    int readQuorum,
    int writeQuorum,
    boolean sloppyQuorum,
    boolean readRepair,
    boolean blockingReadRepair,
    ConflictMode conflicts,
    boolean lwwTieBreak,
    int antiEntropyIntervalTicks,
    int requestTimeoutTicks,
    int pingIntervalTicks,
    int suspectAfterTicks,
    int handoffIntervalTicks,
    int hintsPerPeerMax,
    int siblingsMax,
    int merkleFanOut,
    int merkleDepth,
    int tombstoneGcIntervalTicks,
    int tombstoneGraceTicks) {

  /** Default {@link #hintsPerPeerMax()}: hints kept per unreachable owner. */
  public static final int HINTS_PER_PEER_MAX = 100_000;

  /** Default {@link #siblingsMax()}: values per key before writes without context are refused. */
  public static final int SIBLINGS_MAX = 64;

  /** Default {@link #tombstoneGcIntervalTicks()}. */
  public static final int TOMBSTONE_GC_INTERVAL_TICKS = 50;

  /**
   * Default {@link #tombstoneGraceTicks()}: 3,000 ticks, a minute at the server's 20 ms tick, far
   * past the request timeout and any delay a live TCP connection shows.
   */
  public static final int TOMBSTONE_GRACE_TICKS = 3_000;

  public LeaderlessConfig {
    Check.argument(replicas >= 1, "replicas %s < 1", replicas);
    Check.argument(
        1 <= readQuorum && readQuorum <= replicas, "R %s outside 1..%s", readQuorum, replicas);
    Check.argument(
        1 <= writeQuorum && writeQuorum <= replicas, "W %s outside 1..%s", writeQuorum, replicas);
    Check.notNull(conflicts, "conflicts");
    Check.argument(antiEntropyIntervalTicks >= 0, "antiEntropy %s", antiEntropyIntervalTicks);
    Check.argument(requestTimeoutTicks >= 1, "requestTimeoutTicks %s", requestTimeoutTicks);
    Check.argument(pingIntervalTicks >= 1, "pingIntervalTicks %s", pingIntervalTicks);
    Check.argument(
        suspectAfterTicks > pingIntervalTicks,
        "suspectAfterTicks %s must exceed pingIntervalTicks %s",
        suspectAfterTicks,
        pingIntervalTicks);
    Check.argument(handoffIntervalTicks >= 1, "handoffIntervalTicks %s", handoffIntervalTicks);
    Check.argument(hintsPerPeerMax >= 0, "hintsPerPeerMax %s", hintsPerPeerMax);
    Check.argument(siblingsMax >= 1, "siblingsMax %s", siblingsMax);
    Check.argument(!blockingReadRepair || readRepair, "blocking read repair needs read repair");
    Check.argument(tombstoneGcIntervalTicks >= 0, "tombstoneGc %s", tombstoneGcIntervalTicks);
    Check.argument(
        tombstoneGraceTicks > requestTimeoutTicks,
        "tombstoneGraceTicks %s must exceed requestTimeoutTicks %s: a pending request may still"
            + " repair with a state older than the tombstone until it times out",
        tombstoneGraceTicks,
        requestTimeoutTicks);
  }

  /**
   * The configuration without the tombstone knobs (as it was before tombstone collection): {@link
   * #TOMBSTONE_GC_INTERVAL_TICKS} and a grace of at least {@link #TOMBSTONE_GRACE_TICKS} and twice
   * the request timeout.
   */
  public LeaderlessConfig(
      int replicas,
      int readQuorum,
      int writeQuorum,
      boolean sloppyQuorum,
      boolean readRepair,
      boolean blockingReadRepair,
      ConflictMode conflicts,
      boolean lwwTieBreak,
      int antiEntropyIntervalTicks,
      int requestTimeoutTicks,
      int pingIntervalTicks,
      int suspectAfterTicks,
      int handoffIntervalTicks,
      int hintsPerPeerMax,
      int siblingsMax,
      int merkleFanOut,
      int merkleDepth) {
    this(
        replicas,
        readQuorum,
        writeQuorum,
        sloppyQuorum,
        readRepair,
        blockingReadRepair,
        conflicts,
        lwwTieBreak,
        antiEntropyIntervalTicks,
        requestTimeoutTicks,
        pingIntervalTicks,
        suspectAfterTicks,
        handoffIntervalTicks,
        hintsPerPeerMax,
        siblingsMax,
        merkleFanOut,
        merkleDepth,
        TOMBSTONE_GC_INTERVAL_TICKS,
        (int) Math.max(TOMBSTONE_GRACE_TICKS, 2L * requestTimeoutTicks));
  }

  /**
   * N=3, R=2, W=2, strict quorums, read repair in the background, siblings, anti-entropy every 100
   * ticks, requests time out after 100 ticks, pings every 5, suspicion after 20.
   */
  public static LeaderlessConfig defaults() {
    return new LeaderlessConfig(
        3,
        2,
        2,
        false,
        true,
        false,
        ConflictMode.SIBLINGS,
        true,
        100,
        100,
        5,
        20,
        10,
        HINTS_PER_PEER_MAX,
        SIBLINGS_MAX,
        MerkleTree.DEFAULT_FAN_OUT,
        MerkleTree.DEFAULT_DEPTH);
  }

  /** True when every read quorum meets every write quorum (R + W > N). */
  public boolean strictQuorumsOverlap() {
    return QuorumMath.readsOverlapWrites(replicas, readQuorum, writeQuorum) && !sloppyQuorum;
  }

  public LeaderlessConfig withQuorums(int r, int w) {
    return new LeaderlessConfig(
        replicas,
        r,
        w,
        sloppyQuorum,
        readRepair,
        blockingReadRepair,
        conflicts,
        lwwTieBreak,
        antiEntropyIntervalTicks,
        requestTimeoutTicks,
        pingIntervalTicks,
        suspectAfterTicks,
        handoffIntervalTicks,
        hintsPerPeerMax,
        siblingsMax,
        merkleFanOut,
        merkleDepth,
        tombstoneGcIntervalTicks,
        tombstoneGraceTicks);
  }

  public LeaderlessConfig withSloppyQuorum(boolean sloppy) {
    return new LeaderlessConfig(
        replicas,
        readQuorum,
        writeQuorum,
        sloppy,
        readRepair,
        blockingReadRepair,
        conflicts,
        lwwTieBreak,
        antiEntropyIntervalTicks,
        requestTimeoutTicks,
        pingIntervalTicks,
        suspectAfterTicks,
        handoffIntervalTicks,
        hintsPerPeerMax,
        siblingsMax,
        merkleFanOut,
        merkleDepth,
        tombstoneGcIntervalTicks,
        tombstoneGraceTicks);
  }

  public LeaderlessConfig withRepair(
      boolean readRepair, boolean blockingReadRepair, int antiEntropyIntervalTicks) {
    return new LeaderlessConfig(
        replicas,
        readQuorum,
        writeQuorum,
        sloppyQuorum,
        readRepair,
        blockingReadRepair,
        conflicts,
        lwwTieBreak,
        antiEntropyIntervalTicks,
        requestTimeoutTicks,
        pingIntervalTicks,
        suspectAfterTicks,
        handoffIntervalTicks,
        hintsPerPeerMax,
        siblingsMax,
        merkleFanOut,
        merkleDepth,
        tombstoneGcIntervalTicks,
        tombstoneGraceTicks);
  }

  public LeaderlessConfig withConflicts(ConflictMode conflicts, boolean lwwTieBreak) {
    return new LeaderlessConfig(
        replicas,
        readQuorum,
        writeQuorum,
        sloppyQuorum,
        readRepair,
        blockingReadRepair,
        conflicts,
        lwwTieBreak,
        antiEntropyIntervalTicks,
        requestTimeoutTicks,
        pingIntervalTicks,
        suspectAfterTicks,
        handoffIntervalTicks,
        hintsPerPeerMax,
        siblingsMax,
        merkleFanOut,
        merkleDepth,
        tombstoneGcIntervalTicks,
        tombstoneGraceTicks);
  }

  public LeaderlessConfig withHintsPerPeerMax(int hintsPerPeerMax) {
    return new LeaderlessConfig(
        replicas,
        readQuorum,
        writeQuorum,
        sloppyQuorum,
        readRepair,
        blockingReadRepair,
        conflicts,
        lwwTieBreak,
        antiEntropyIntervalTicks,
        requestTimeoutTicks,
        pingIntervalTicks,
        suspectAfterTicks,
        handoffIntervalTicks,
        hintsPerPeerMax,
        siblingsMax,
        merkleFanOut,
        merkleDepth,
        tombstoneGcIntervalTicks,
        tombstoneGraceTicks);
  }

  /** As this config, with tombstone collection every {@code intervalTicks} and that grace. */
  public LeaderlessConfig withTombstoneGc(int intervalTicks, int graceTicks) {
    return new LeaderlessConfig(
        replicas,
        readQuorum,
        writeQuorum,
        sloppyQuorum,
        readRepair,
        blockingReadRepair,
        conflicts,
        lwwTieBreak,
        antiEntropyIntervalTicks,
        requestTimeoutTicks,
        pingIntervalTicks,
        suspectAfterTicks,
        handoffIntervalTicks,
        hintsPerPeerMax,
        siblingsMax,
        merkleFanOut,
        merkleDepth,
        intervalTicks,
        graceTicks);
  }
}
