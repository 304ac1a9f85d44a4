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
import java.util.TreeSet;

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
  private final Map<String, Entry> entries = new HashMap<>();
  private final Map<Integer, TreeSet<Entry>> keysByPartition = new HashMap<>();
  private final Map<Integer, MerkleTree> trees = new HashMap<>();
  private final TreeMap<Integer, TreeMap<String, KeyState>> hintsByOwner = new TreeMap<>();
  private final java.util.TreeSet<String> tombstones = new java.util.TreeSet<>();

  /** The outcome of merging a state in: whether anything changed, and writes LWW discarded. */
  record MergeOutcome(KeyState state, boolean changed, int discardedWrites) {}

  /** An owned key as a Merkle range lists it: its hash (the tree path) and its state's digest. */
  record KeyDigest(String key, long keyHash, long digest) {}

  /** One owned key: its state, the state's digest cached at the last change, and its hash. */
  private static final class Entry {
    final String key;
    final long keyHash;
    final int partition;
    KeyState state;
    long digest;

    Entry(String key, long keyHash, int partition) {
      this.key = key;
      this.keyHash = keyHash;
      this.partition = partition;
    }
  }

  /** Keys in tree-path order: unsigned hash, then the key (hashes may collide). */
  private static final java.util.Comparator<Entry> PATH_ORDER =
      (a, b) -> {
        int byHash = Long.compareUnsigned(a.keyHash, b.keyHash);
        return byHash != 0 ? byHash : a.key.compareTo(b.key);
      };

  LeaderlessStore(Placement placement, LeaderlessConfig config) {
    this.placement = placement;
    this.lwwTieBreak = config.lwwTieBreak();
    this.merkleFanOut = config.merkleFanOut();
    this.merkleDepth = config.merkleDepth();
    this.hintsPerPeerMax = config.hintsPerPeerMax();
  }

  /** The key's state, or null. */
  KeyState get(String key) {
    Entry entry = entries.get(key);
    return entry == null ? null : entry.state;
  }

  /** Replaces the key's state (a coordinated write builds on the current state itself). */
  void put(String key, KeyState state) {
    Check.notNull(state, "state");
    long digest = state.digest();
    Entry entry = entries.get(key);
    if (entry == null) {
      entry = new Entry(key, Hashing.hashKey(key), placement.partitionOf(key));
      entries.put(key, entry);
      boolean added =
          keysByPartition
              .computeIfAbsent(entry.partition, p -> new TreeSet<>(PATH_ORDER))
              .add(entry);
      Check.state(added, "key %s already listed in partition %s", key, entry.partition);
      tree(entry.partition).update(key, false, 0, true, digest);
    } else {
      tree(entry.partition).update(key, true, entry.digest, true, digest);
    }
    entry.state = state;
    entry.digest = digest;
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
    Entry entry = entries.remove(key);
    if (entry == null) {
      return false;
    }
    TreeSet<Entry> keys = keysByPartition.get(entry.partition);
    Check.state(keys != null && keys.remove(entry), "key %s not listed in its partition", key);
    if (keys.isEmpty()) {
      keysByPartition.remove(entry.partition);
    }
    tree(entry.partition).update(key, true, entry.digest, false, 0);
    tombstones.remove(key);
    return true;
  }

  /** Keys whose state shows nothing but tombstones, in key order. */
  java.util.NavigableSet<String> tombstoneKeys() {
    return Collections.unmodifiableNavigableSet(tombstones);
  }

  /** The digest of the key's current state (cached at the last change), or null. */
  Long digest(String key) {
    Entry entry = entries.get(key);
    return entry == null ? null : entry.digest;
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

  /**
   * The partition's keys in the range of tree node {@code index} at {@code level}, in path order
   * (unsigned hash, then key); at most {@code limit} of them, the first in that order.
   */
  List<KeyDigest> keysInRange(int partition, int level, int index, int limit) {
    TreeSet<Entry> keys = keysByPartition.get(partition);
    if (keys == null || limit <= 0) {
      return List.of();
    }
    MerkleTree tree = tree(partition);
    long first = tree.rangeFirstHash(level, index);
    long last = tree.rangeLastHash(level, index);
    Entry from = new Entry("", first, partition);
    List<KeyDigest> result = new ArrayList<>();
    for (Entry entry : keys.tailSet(from, true)) {
      if (Long.compareUnsigned(entry.keyHash, last) > 0 || result.size() >= limit) {
        break;
      }
      result.add(new KeyDigest(entry.key, entry.keyHash, entry.digest));
    }
    return result;
  }

  /** Every owned key and its state, in key order (for inspection and tests). */
  SortedMap<String, KeyState> snapshot() {
    TreeMap<String, KeyState> all = new TreeMap<>();
    entries.forEach((key, entry) -> all.put(key, entry.state));
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
