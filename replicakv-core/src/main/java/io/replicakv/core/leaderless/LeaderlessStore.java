package io.replicakv.core.leaderless;

import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One node's in-memory data for a leaderless keyspace: the states of the keys it owns, grouped by
 * partition with a {@link MerkleTree} each, and the hints it keeps for unreachable owners.
 *
 * <p>Invariant: every partition's tree equals the tree built from scratch over its keys' current
 * digests; every change goes through {@link #put}, which updates both together. Hints never enter
 * the trees: anti-entropy compares what owners hold, and a hint is not yet the owner's.
 *
 * <p>Bounds: hints per owner are capped by {@link LeaderlessConfig#hintsPerPeerMax()}; a hint for a
 * new key past the cap is refused ({@link #mergeHint} returns false), while hints for keys already
 * held still merge, so a refused write never loses what was already accepted.
 */
final class LeaderlessStore {
  private final Placement placement;
  private final boolean lwwTieBreak;
  private final int merkleFanOut;
  private final int merkleDepth;
  private final int hintsPerPeerMax;
  private final Map<Integer, TreeMap<String, KeyState>> keysByPartition = new HashMap<>();
  private final Map<Integer, MerkleTree> trees = new HashMap<>();
  private final Map<String, Long> digests = new HashMap<>();
  private final TreeMap<Integer, TreeMap<String, KeyState>> hintsByOwner = new TreeMap<>();
  private final java.util.TreeSet<String> tombstones = new java.util.TreeSet<>();

  /** The outcome of merging a state in: whether anything changed, and writes LWW discarded. */
  record MergeOutcome(KeyState state, boolean changed, int discardedWrites) {}

  LeaderlessStore(Placement placement, LeaderlessConfig config) {
    this.placement = placement;
    this.lwwTieBreak = config.lwwTieBreak();
    this.merkleFanOut = config.merkleFanOut();
    this.merkleDepth = config.merkleDepth();
    this.hintsPerPeerMax = config.hintsPerPeerMax();
  }

  /** The key's state, or null. */
  KeyState get(String key) {
    TreeMap<String, KeyState> keys = keysByPartition.get(placement.partitionOf(key));
    return keys == null ? null : keys.get(key);
  }

  /** Replaces the key's state (a coordinated write builds on the current state itself). */
  void put(String key, KeyState state) {
    Check.notNull(state, "state");
    int partition = placement.partitionOf(key);
    KeyState previous =
        keysByPartition.computeIfAbsent(partition, p -> new TreeMap<>()).put(key, state);
    long digest = state.digest();
    Long previousDigest = digests.put(key, digest);
    Check.state(
        (previous == null) == (previousDigest == null), "digest cache out of step for %s", key);
    tree(partition)
        .update(key, previous != null, previous == null ? 0 : previousDigest, true, digest);
    if (state.isTombstone()) {
      tombstones.add(key);
    } else {
      tombstones.remove(key);
    }
  }

  /**
   * Forgets the key (a collected tombstone), keeping the tree in step; false when it was absent.
   */
  boolean remove(String key) {
    int partition = placement.partitionOf(key);
    TreeMap<String, KeyState> keys = keysByPartition.get(partition);
    KeyState previous = keys == null ? null : keys.remove(key);
    if (previous == null) {
      return false;
    }
    if (keys.isEmpty()) {
      keysByPartition.remove(partition);
    }
    long previousDigest = Check.notNull(digests.remove(key), "digest of " + key);
    tree(partition).update(key, true, previousDigest, false, 0);
    tombstones.remove(key);
    return true;
  }

  /** Keys whose state shows nothing but tombstones, in key order. */
  java.util.NavigableSet<String> tombstoneKeys() {
    return Collections.unmodifiableNavigableSet(tombstones);
  }

  /** The digest of the key's current state (cached at the last change), or null. */
  Long digest(String key) {
    return digests.get(key);
  }

  /** Merges {@code incoming} into the key. */
  MergeOutcome merge(String key, KeyState incoming) {
    KeyState current = get(key);
    if (current == null) {
      put(key, incoming);
      return new MergeOutcome(incoming, true, 0);
    }
    KeyState.Merged merged = current.merge(incoming, lwwTieBreak);
    boolean changed = !merged.state().equals(current);
    if (changed) {
      put(key, merged.state());
    }
    return new MergeOutcome(merged.state(), changed, merged.discardedWrites());
  }

  /** The partition's tree, created empty on first use. */
  MerkleTree tree(int partition) {
    return trees.computeIfAbsent(partition, p -> new MerkleTree(merkleFanOut, merkleDepth));
  }

  /** The partition's keys that fall in {@code leaves}, in key order. */
  List<String> keysInLeaves(int partition, Set<Integer> leaves) {
    TreeMap<String, KeyState> keys = keysByPartition.get(partition);
    if (keys == null) {
      return List.of();
    }
    MerkleTree tree = tree(partition);
    List<String> result = new ArrayList<>();
    for (String key : keys.keySet()) {
      if (leaves.contains(tree.leafOf(key))) {
        result.add(key);
      }
    }
    return result;
  }

  /** Every owned key and its state, in key order (for inspection and tests). */
  SortedMap<String, KeyState> snapshot() {
    TreeMap<String, KeyState> all = new TreeMap<>();
    keysByPartition.values().forEach(all::putAll);
    return Collections.unmodifiableSortedMap(all);
  }

  /** The hint held for {@code owner}'s key, or null. */
  KeyState hint(int owner, String key) {
    TreeMap<String, KeyState> hints = hintsByOwner.get(owner);
    return hints == null ? null : hints.get(key);
  }

  /**
   * Merges a hint for {@code owner}; false when it is a new key past {@link
   * LeaderlessConfig#hintsPerPeerMax()} and was refused.
   */
  boolean mergeHint(int owner, String key, KeyState incoming) {
    TreeMap<String, KeyState> hints = hintsByOwner.computeIfAbsent(owner, o -> new TreeMap<>());
    KeyState current = hints.get(key);
    if (current == null) {
      if (hints.size() >= hintsPerPeerMax) {
        return false;
      }
      hints.put(key, incoming);
      return true;
    }
    hints.put(key, current.merge(incoming, lwwTieBreak).state());
    return true;
  }

  /** Replaces a hint outright (replay of a persisted hint). */
  void putHint(int owner, String key, KeyState state) {
    hintsByOwner.computeIfAbsent(owner, o -> new TreeMap<>()).put(key, state);
  }

  /** Drops the hint if its state still has {@code digest}; true when dropped. */
  boolean dropHint(int owner, String key, long digest) {
    TreeMap<String, KeyState> hints = hintsByOwner.get(owner);
    if (hints == null) {
      return false;
    }
    KeyState current = hints.get(key);
    if (current == null || current.digest() != digest) {
      return false;
    }
    hints.remove(key);
    if (hints.isEmpty()) {
      hintsByOwner.remove(owner);
    }
    return true;
  }

  /** Hints held for {@code owner}, in key order; empty when none. */
  SortedMap<String, KeyState> hintsFor(int owner) {
    TreeMap<String, KeyState> hints = hintsByOwner.get(owner);
    return hints == null ? Collections.emptySortedMap() : Collections.unmodifiableSortedMap(hints);
  }

  /** Owners this node holds hints for. */
  Set<Integer> hintedOwners() {
    return Collections.unmodifiableSet(hintsByOwner.keySet());
  }

  /** Total hints held. */
  int hintCount() {
    return hintsByOwner.values().stream().mapToInt(Map::size).sum();
  }
}
