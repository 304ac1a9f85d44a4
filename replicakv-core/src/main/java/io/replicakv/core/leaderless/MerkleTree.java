package io.replicakv.core.leaderless;

import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.List;

/**
 * A hash tree over the keys of one partition, kept up to date on every change, so that two replicas
 * find the keys on which they differ by exchanging a few hashes instead of their data (Merkle 1987;
 * Dynamo paper §4.7; Cassandra's repair trees).
 *
 * <p><b>Shape.</b> Every key has a <i>path</i>: the bits of its 64-bit hash from the top, {@code
 * log2(fanOut)} bits per level. The node at level {@code L} with index {@code i} covers the keys
 * whose hash starts with the {@code L * log2(fanOut)} bits {@code i}; level 0 is the root, and the
 * children of {@code i} are {@code i * fanOut + c}. So the tree's shape never depends on the data,
 * and two replicas' trees compare node by node at any level whatever keys they hold.
 *
 * <p><b>Kept and virtual levels.</b> Levels 0 to {@link #depth()} are kept in memory and updated on
 * every change (bounded memory per partition: {@link #nodeCount()} hashes and counts). Below them
 * the tree goes on <i>virtually</i> down to {@link #levelsMax()}: a node there is hashed on demand
 * from the keys in its range ({@link #rangeHash}), which its owner lists in hash order. So an
 * exchange can split a differing leaf that holds many keys until each differing range holds few,
 * however many keys the partition has, and the kept part stays small and fixed. The deepest level
 * is bounded by the 31-bit node indexes messages carry ({@link #INDEX_BITS_MAX}).
 *
 * <p><b>Hashes.</b> A kept leaf's hash, like every virtual node's, is the sum (mod 2^64) of {@code
 * mix(keyHash + mix(digest))} over its keys, so a change is applied by subtracting the old term and
 * adding the new one, in any order, with no need to revisit the other keys. A kept inner node's
 * hash is a mixing fold of its children's hashes, recomputed along the changed leaf's path ({@code
 * depth * fanOut} steps). An empty subtree hashes to 0. Equal content gives equal hashes at every
 * node; different content a different hash except with probability about 2^-64 per comparison.
 *
 * <p>Not thread-safe; owned by one replica.
 */
public final class MerkleTree {
  /** Children per inner node by default. */
  public static final int DEFAULT_FAN_OUT = 16;

  /** Kept levels below the root by default: 16^2 = 256 kept leaves per partition. */
  public static final int DEFAULT_DEPTH = 2;

  /** Most kept leaves one tree may have (bounds memory per partition: 12 bytes per node). */
  public static final int LEAVES_MAX = 1 << 16;

  /**
   * Bits of the key hash the deepest (virtual) level may use: node indexes travel as non-negative
   * ints. With fan-out 16 that is level 7, ranges of 2^-28 of the hash space.
   */
  public static final int INDEX_BITS_MAX = 30;

  private final int fanOut;
  private final int bitsPerLevel;
  private final int depth;
  private final long[][] levels;
  private final int[][] counts;

  /** An empty tree of the given shape; {@code fanOut} must be a power of two. */
  public MerkleTree(int fanOut, int depth) {
    Check.argument(fanOut >= 2 && fanOut <= 256, "fanOut %s outside 2..256", fanOut);
    Check.argument(Integer.bitCount(fanOut) == 1, "fanOut %s is not a power of two", fanOut);
    Check.argument(depth >= 1, "depth %s < 1", depth);
    long leaves = 1;
    for (int i = 0; i < depth; i++) {
      leaves *= fanOut;
      Check.argument(leaves <= LEAVES_MAX, "%s^%s leaves over %s", fanOut, depth, LEAVES_MAX);
    }
    this.fanOut = fanOut;
    this.bitsPerLevel = Integer.numberOfTrailingZeros(fanOut);
    this.depth = depth;
    this.levels = new long[depth + 1][];
    this.counts = new int[depth + 1][];
    int width = 1;
    for (int level = 0; level <= depth; level++) {
      levels[level] = new long[width];
      counts[level] = new int[width];
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

  /** The deepest kept level (the kept leaves). */
  public int depth() {
    return depth;
  }

  /** The deepest level an exchange may walk to (virtual below {@link #depth()}). */
  public int levelsMax() {
    return Math.max(depth, INDEX_BITS_MAX / bitsPerLevel);
  }

  /** Kept nodes in the whole tree. */
  public int nodeCount() {
    int count = 0;
    for (long[] level : levels) {
      count += level.length;
    }
    return count;
  }

  /** Nodes at {@code level}. */
  public int width(int level) {
    Check.argument(
        level >= 0 && level <= levelsMax(), "level %s outside 0..%s", level, levelsMax());
    return 1 << (level * bitsPerLevel);
  }

  /** The kept leaf that holds {@code key}. */
  public int leafOf(String key) {
    return indexOf(depth, Hashing.hashKey(key));
  }

  /** The index of the node at {@code level} whose range holds a key hashing to {@code keyHash}. */
  public int indexOf(int level, long keyHash) {
    Check.argument(
        level >= 0 && level <= levelsMax(), "level %s outside 0..%s", level, levelsMax());
    return level == 0 ? 0 : (int) (keyHash >>> (Long.SIZE - level * bitsPerLevel));
  }

  /** The smallest key hash (unsigned) in the range of node {@code index} at {@code level}. */
  public long rangeFirstHash(int level, int index) {
    checkNode(level, index);
    return level == 0 ? 0 : ((long) index) << (Long.SIZE - level * bitsPerLevel);
  }

  /** The largest key hash (unsigned) in the range of node {@code index} at {@code level}. */
  public long rangeLastHash(int level, int index) {
    checkNode(level, index);
    return level == 0 ? -1L : rangeFirstHash(level, index) | (-1L >>> (level * bitsPerLevel));
  }

  /**
   * Records that {@code key}'s state digest changed from {@code oldDigest} to {@code newDigest};
   * pass {@code present=false} for a side where the key is absent.
   */
  public void update(
      String key, boolean wasPresent, long oldDigest, boolean isPresent, long newDigest) {
    long keyHash = Hashing.hashKey(key);
    int leaf = indexOf(depth, keyHash);
    long delta = 0;
    if (wasPresent) {
      delta -= term(keyHash, oldDigest);
    }
    if (isPresent) {
      delta += term(keyHash, newDigest);
    }
    int countDelta = (isPresent ? 1 : 0) - (wasPresent ? 1 : 0);
    if (delta == 0 && countDelta == 0) {
      return;
    }
    levels[depth][leaf] += delta;
    counts[depth][leaf] += countDelta;
    int index = leaf;
    for (int level = depth - 1; level >= 0; level--) {
      index /= fanOut;
      levels[level][index] = fold(level + 1, index);
      counts[level][index] += countDelta;
    }
  }

  /** The root hash; 0 for an empty tree. */
  public long root() {
    return levels[0][0];
  }

  /** The kept hash of node {@code index} at {@code level} (at most {@link #depth()}). */
  public long hash(int level, int index) {
    Check.argument(level >= 0 && level <= depth, "level %s outside 0..%s", level, depth);
    Check.argument(
        index >= 0 && index < levels[level].length, "index %s at level %s", index, level);
    return levels[level][index];
  }

  /** Keys under kept node {@code index} at {@code level} (at most {@link #depth()}). */
  public int count(int level, int index) {
    Check.argument(level >= 0 && level <= depth, "level %s outside 0..%s", level, depth);
    Check.argument(
        index >= 0 && index < counts[level].length, "index %s at level %s", index, level);
    return counts[level][index];
  }

  /** The children of node {@code index} at {@code level} (which must be above the deepest). */
  public List<Integer> children(int level, int index) {
    Check.argument(level < levelsMax(), "level %s has no children", level);
    checkNode(level, index);
    List<Integer> children = new ArrayList<>(fanOut);
    for (int c = 0; c < fanOut; c++) {
      children.add(index * fanOut + c);
    }
    return children;
  }

  /**
   * The hash a node below the kept levels has (and a kept leaf has): the sum of {@link #term} over
   * the keys in its range, given as parallel key hashes and digests.
   */
  public static long rangeHash(long[] keyHashes, long[] digests) {
    Check.argument(keyHashes.length == digests.length, "hashes and digests differ in size");
    long hash = 0;
    for (int i = 0; i < keyHashes.length; i++) {
      hash += term(keyHashes[i], digests[i]);
    }
    return hash;
  }

  /** One key's contribution to the hash of every range that holds it. */
  static long term(long keyHash, long digest) {
    return Hashing.mix(keyHash + Hashing.mix(digest));
  }

  private void checkNode(int level, int index) {
    Check.argument(
        level >= 0 && level <= levelsMax(), "level %s outside 0..%s", level, levelsMax());
    Check.argument(
        index >= 0 && (long) index < (1L << (level * bitsPerLevel)),
        "index %s at level %s",
        index,
        level);
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
