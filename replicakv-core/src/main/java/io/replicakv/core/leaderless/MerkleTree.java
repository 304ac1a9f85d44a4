package io.replicakv.core.leaderless;

import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.List;

/**
 * A hash tree over the keys of one partition, kept up to date on every change, so that two replicas
 * find the keys on which they differ by exchanging a few hashes instead of their data (Merkle 1987;
 * Dynamo paper §4.7; Cassandra's repair trees).
 *
 * <p><b>Shape.</b> A fixed fan-out and depth: level 0 is the root, level {@code d} has {@code
 * fanOut^d} nodes, and the leaves sit at level {@link #depth()}. A key lives in the leaf chosen by
 * the high bits of its hash, so the tree shape never depends on the data and two replicas' trees
 * compare node by node. Fixed shape means bounded memory per partition ({@link #nodeCount()} longs)
 * and a bounded walk; the cost is that a leaf holds about {@code keys/leaves} keys, all of which an
 * exchange lists by digest when the leaf differs.
 *
 * <p><b>Hashes.</b> A leaf's hash is the sum (mod 2^64) of {@code mix(keyHash + digest)} over its
 * keys, so a change is applied by subtracting the old term and adding the new one, in any order,
 * with no need to revisit the other keys. An inner node's hash is a mixing fold of its children's
 * hashes, recomputed along the changed leaf's path ({@code depth * fanOut} steps). An empty subtree
 * hashes to 0. Equal content gives equal trees; different content gives a different root except
 * with probability about 2^-64 per comparison.
 *
 * <p>Not thread-safe; owned by one replica.
 */
public final class MerkleTree {
  /** Children per inner node by default. */
  public static final int DEFAULT_FAN_OUT = 16;

  /** Levels below the root by default: 16^2 = 256 leaves per partition. */
  public static final int DEFAULT_DEPTH = 2;

  /** Most leaves one tree may have (bounds memory per partition: 8 bytes per node). */
  public static final int LEAVES_MAX = 1 << 16;

  private final int fanOut;
  private final int depth;
  private final long[][] levels;

  /** An empty tree of the given shape. */
  public MerkleTree(int fanOut, int depth) {
    Check.argument(fanOut >= 2 && fanOut <= 256, "fanOut %s outside 2..256", fanOut);
    Check.argument(depth >= 1, "depth %s < 1", depth);
    long leaves = 1;
    for (int i = 0; i < depth; i++) {
      leaves *= fanOut;
      Check.argument(leaves <= LEAVES_MAX, "%s^%s leaves over %s", fanOut, depth, LEAVES_MAX);
    }
    this.fanOut = fanOut;
    this.depth = depth;
    this.levels = new long[depth + 1][];
    int width = 1;
    for (int level = 0; level <= depth; level++) {
      levels[level] = new long[width];
      width *= fanOut;
    }
  }

  /** An empty tree of the default shape. */
  public static MerkleTree withDefaults() {
    return new MerkleTree(DEFAULT_FAN_OUT, DEFAULT_DEPTH);
  }

  public int fanOut() {
    return fanOut;
  }

  public int depth() {
    return depth;
  }

  /** Nodes in the whole tree. */
  public int nodeCount() {
    int count = 0;
    for (long[] level : levels) {
      count += level.length;
    }
    return count;
  }

  /** Nodes at {@code level}. */
  public int width(int level) {
    Check.argument(level >= 0 && level <= depth, "level %s outside 0..%s", level, depth);
    return levels[level].length;
  }

  /** The leaf that holds {@code key}. */
  public int leafOf(String key) {
    long hash = Hashing.hashKey(key);
    return (int) Long.remainderUnsigned(hash >>> 16, levels[depth].length);
  }

  /**
   * Records that {@code key}'s state digest changed from {@code oldDigest} to {@code newDigest};
   * pass {@code present=false} for a side where the key is absent.
   */
  public void update(
      String key, boolean wasPresent, long oldDigest, boolean isPresent, long newDigest) {
    long keyHash = Hashing.hashKey(key);
    int leaf = leafOf(key);
    long delta = 0;
    if (wasPresent) {
      delta -= term(keyHash, oldDigest);
    }
    if (isPresent) {
      delta += term(keyHash, newDigest);
    }
    if (delta == 0) {
      return;
    }
    levels[depth][leaf] += delta;
    int index = leaf;
    for (int level = depth - 1; level >= 0; level--) {
      index /= fanOut;
      levels[level][index] = fold(level + 1, index);
    }
  }

  /** The root hash; 0 for an empty tree. */
  public long root() {
    return levels[0][0];
  }

  /** The hash of node {@code index} at {@code level}. */
  public long hash(int level, int index) {
    Check.argument(level >= 0 && level <= depth, "level %s outside 0..%s", level, depth);
    Check.argument(
        index >= 0 && index < levels[level].length, "index %s at level %s", index, level);
    return levels[level][index];
  }

  /** The children of node {@code index} at {@code level} (which must be above the leaves). */
  public List<Integer> children(int level, int index) {
    Check.argument(level < depth, "level %s has no children", level);
    List<Integer> children = new ArrayList<>(fanOut);
    for (int c = 0; c < fanOut; c++) {
      children.add(index * fanOut + c);
    }
    return children;
  }

  private static long term(long keyHash, long digest) {
    return Hashing.mix(keyHash + Hashing.mix(digest));
  }

  private long fold(int childLevel, int parentIndex) {
    long[] children = levels[childLevel];
    long hash = 0;
    boolean any = false;
    for (int c = 0; c < fanOut; c++) {
      long child = children[parentIndex * fanOut + c];
      any |= child != 0;
      hash = Hashing.mix(hash * 31 + child);
    }
    return any ? hash : 0;
  }
}
