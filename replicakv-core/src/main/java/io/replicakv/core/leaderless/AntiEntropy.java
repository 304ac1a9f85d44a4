package io.replicakv.core.leaderless;

import io.replicakv.core.ReadyBuffer;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.msg.LeaderlessMessage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.IntPredicate;

/**
 * One node's side of Merkle-tree anti-entropy (Dynamo paper §4.7): the background repair that makes
 * owners converge even for keys no read touches and writes whose repair messages were lost.
 *
 * <p><b>Protocol.</b> Every interval the node picks the next of its partitions and the next other
 * owner of it (round robin over both, skipping suspected peers) and sends its root hash. A node
 * that receives tree hashes compares them with its own. For each node that differs it either splits
 * it, answering with its hashes of that node's children one level down, or, when it holds at most
 * {@link #KEYS_PER_RANGE_TARGET} keys under it (or the node is at {@link MerkleTree#levelsMax()}),
 * settles it by listing its keys and state digests there. The two sides alternate down the tree, so
 * only differing branches are walked, and a branch is split until its differing ranges are small
 * however many keys the partition holds: below the kept levels the tree is virtual, hashed on
 * demand from the keys in a range ({@link MerkleTree}), so a partition of a million keys is walked
 * as deep as needed while a partition of a hundred is settled at the root. The side that receives a
 * listing works out exactly which keys differ in those ranges (digest differs, or one side lacks
 * the key), ships its states for them and names the ones it wants back; the first side merges and
 * ships those. Both ends merge by the join, so repeating or reordering any step is harmless.
 *
 * <p><b>Why the split depends on one side's count.</b> The side that decides holds few keys in the
 * range; the other may hold many (a replica that lost everything). Then the listing is short and
 * the other side ships its whole range, bounded per message as below, which is what that replica
 * needs anyway. Both sides hash the same ranges, so neither needs to know the other's key count.
 *
 * <p><b>Bounds.</b> One message carries at most {@link LeaderlessMessage#ENTRIES_PER_MESSAGE_MAX}
 * tree nodes, keys or wanted keys, and a {@link LeaderlessMessage.KeyStates} at most {@link
 * LeaderlessMessage#STATE_BYTES_PER_MESSAGE_MAX} state bytes (or one state, if larger). Ranges are
 * listed whole: a range that does not fit waits for the next exchange, so a listing never makes the
 * other side believe a key is missing when it was only cut off; the single exception is one range
 * of the deepest level holding more keys than a message carries (2^-28 of the hash space: only
 * colliding hashes do that), which is listed as far as it fits, so that some of its keys may be
 * shipped needlessly and keys missing only on the listing side are found from the other side's
 * exchanges. Nodes to split that do not fit in one message wait for the next exchange too. No
 * exchange state is kept between messages, so a lost message only ends that exchange.
 *
 * <p><b>Counts.</b> Exchanges started, keys compared (keys of listed ranges examined), divergent
 * keys found, keys repaired here (merges that changed local state) and bytes of state shipped, in
 * {@link LeaderlessCounters}.
 *
 * <p>Merges are persisted without sync: they back no promise, and a crash that loses them only
 * means the next exchange repairs the same keys again.
 */
final class AntiEntropy {
  /**
   * A differing tree node under which the deciding side holds at most this many keys is settled by
   * listing them rather than split further: listing costs one key and digest per key, a split one
   * hash per child ({@code fanOut}) plus a round trip.
   */
  static final int KEYS_PER_RANGE_TARGET = 32;

  private final int nodeId;
  private final Placement placement;
  private final LeaderlessStore store;
  private final LeaderlessCounters counters;
  private final ReadyBuffer out;
  private final IntPredicate suspects;
  private final Consumer<KeyState> observeStamp;
  private final BiConsumer<String, KeyState> persistUnsynced;
  private long antiEntropyCursor;

  AntiEntropy(
      int nodeId,
      Placement placement,
      LeaderlessStore store,
      LeaderlessCounters counters,
      ReadyBuffer out,
      IntPredicate suspects,
      Consumer<KeyState> observeStamp,
      BiConsumer<String, KeyState> persistUnsynced) {
    this.nodeId = nodeId;
    this.placement = placement;
    this.store = store;
    this.counters = counters;
    this.out = out;
    this.suspects = suspects;
    this.observeStamp = observeStamp;
    this.persistUnsynced = persistUnsynced;
  }

  void start() {
    List<Integer> partitions = placement.partitionsOf(nodeId);
    if (partitions.isEmpty()) {
      return;
    }
    int partition = partitions.get((int) (antiEntropyCursor % partitions.size()));
    List<Integer> others = new ArrayList<>(placement.owners(partition));
    others.remove(Integer.valueOf(nodeId));
    others.removeIf(suspects::test);
    long round = antiEntropyCursor / partitions.size();
    antiEntropyCursor++;
    if (others.isEmpty()) {
      return;
    }
    int peer = others.get((int) (round % others.size()));
    counters.antiEntropyExchanges++;
    out.send(
        new LeaderlessMessage.TreeLevel(
            nodeId, peer, partition, 0, List.of(0), List.of(store.tree(partition).root())));
  }

  private boolean ownsPartition(int partition) {
    return partition >= 0
        && partition < placement.partitionCount()
        && placement.owns(nodeId, partition);
  }

  /** Whether a peer's (level, index) names a node of this tree; others are ignored. */
  private static boolean validNode(MerkleTree tree, int level, int index) {
    return level >= 0 && level <= tree.levelsMax() && index >= 0 && index < tree.width(level);
  }

  void onTreeLevel(LeaderlessMessage.TreeLevel message) {
    if (!ownsPartition(message.partition())) {
      return;
    }
    int partition = message.partition();
    MerkleTree tree = store.tree(partition);
    int level = message.level();
    int max = LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX;
    List<Integer> toList = new ArrayList<>();
    long listedKeys = 0;
    List<Integer> children = new ArrayList<>();
    List<Long> hashes = new ArrayList<>();
    for (int i = 0; i < message.nodeIndexes().size(); i++) {
      int index = message.nodeIndexes().get(i);
      if (!validNode(tree, level, index)) {
        continue;
      }
      Range mine = new Range(tree, partition, level, index);
      if (mine.hash() == message.hashes().get(i)) {
        continue;
      }
      boolean deepest = level == tree.levelsMax();
      boolean small = mine.count() <= KEYS_PER_RANGE_TARGET;
      boolean splitFits = !deepest && children.size() + tree.fanOut() <= max;
      // list a small range while the listing has room; once it is full, split even small ones
      // (their children hold fewer keys each, so more differing keys fit in this exchange)
      if (deepest || (small && (listedKeys + mine.count() <= max || !splitFits))) {
        toList.add(index);
        listedKeys += mine.count();
      } else if (splitFits) {
        long[] childHashes = mine.childHashes();
        List<Integer> childIndexes = tree.children(level, index);
        for (int c = 0; c < childIndexes.size(); c++) {
          children.add(childIndexes.get(c));
          hashes.add(childHashes[c]);
        }
      }
    }
    if (!children.isEmpty()) {
      out.send(
          new LeaderlessMessage.TreeLevel(
              nodeId, message.from(), partition, level + 1, children, hashes));
    }
    if (!toList.isEmpty()) {
      sendKeyDigests(message.from(), partition, level, toList);
    }
  }

  /**
   * This node's view of one tree node: kept hash and count when the level is kept, else computed
   * from the keys in its range (listed once, on first need).
   */
  private final class Range {
    private final MerkleTree tree;
    private final int partition;
    private final int level;
    private final int index;
    private List<LeaderlessStore.KeyDigest> keys;

    Range(MerkleTree tree, int partition, int level, int index) {
      this.tree = tree;
      this.partition = partition;
      this.level = level;
      this.index = index;
    }

    private List<LeaderlessStore.KeyDigest> keys() {
      if (keys == null) {
        keys = store.keysInRange(partition, level, index, Integer.MAX_VALUE);
      }
      return keys;
    }

    long hash() {
      if (level <= tree.depth()) {
        return tree.hash(level, index);
      }
      long hash = 0;
      for (LeaderlessStore.KeyDigest key : keys()) {
        hash += MerkleTree.term(key.keyHash(), key.digest());
      }
      return hash;
    }

    int count() {
      return level <= tree.depth() ? tree.count(level, index) : keys().size();
    }

    /** The children's hashes, in {@link MerkleTree#children} order. */
    long[] childHashes() {
      long[] hashes = new long[tree.fanOut()];
      if (level + 1 <= tree.depth()) {
        List<Integer> children = tree.children(level, index);
        for (int c = 0; c < hashes.length; c++) {
          hashes[c] = tree.hash(level + 1, children.get(c));
        }
        return hashes;
      }
      int firstChild = index * tree.fanOut();
      for (LeaderlessStore.KeyDigest key : keys()) {
        int child = tree.indexOf(level + 1, key.keyHash()) - firstChild;
        hashes[child] += MerkleTree.term(key.keyHash(), key.digest());
      }
      return hashes;
    }
  }

  private void sendKeyDigests(int peer, int partition, int level, List<Integer> ranges) {
    int max = LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX;
    List<Integer> listed = new ArrayList<>();
    List<String> keys = new ArrayList<>();
    List<Long> digests = new ArrayList<>();
    for (int index : ranges) {
      if (listed.size() >= max) {
        break;
      }
      List<LeaderlessStore.KeyDigest> inRange =
          store.keysInRange(partition, level, index, max - keys.size() + 1);
      if (keys.size() + inRange.size() > max) {
        if (!listed.isEmpty()) {
          break; // whole ranges only: this one waits for the next exchange
        }
        inRange = inRange.subList(0, max); // one range larger than a message: cut it
      }
      listed.add(index);
      for (LeaderlessStore.KeyDigest key : inRange) {
        keys.add(key.key());
        digests.add(key.digest());
      }
    }
    out.send(
        new LeaderlessMessage.KeyDigests(nodeId, peer, partition, level, listed, keys, digests));
  }

  void onKeyDigests(LeaderlessMessage.KeyDigests message) {
    if (!ownsPartition(message.partition())) {
      return;
    }
    int partition = message.partition();
    MerkleTree tree = store.tree(partition);
    int level = message.level();
    Set<Integer> ranges = new HashSet<>();
    for (int index : message.nodeIndexes()) {
      if (validNode(tree, level, index)) {
        ranges.add(index);
      }
    }
    Map<String, Long> theirs = new HashMap<>();
    List<String> theirKeys = new ArrayList<>();
    for (int i = 0; i < message.keys().size(); i++) {
      String key = message.keys().get(i);
      if (placement.partitionOf(key) == partition
          && ranges.contains(tree.indexOf(level, Hashing.hashKey(key)))
          && theirs.put(key, message.digests().get(i)) == null) {
        theirKeys.add(key);
      }
    }
    List<String> differing = new ArrayList<>();
    long compared = 0;
    for (int index : message.nodeIndexes()) {
      if (!ranges.remove(index)) {
        continue; // invalid or repeated
      }
      for (LeaderlessStore.KeyDigest mine :
          store.keysInRange(partition, level, index, Integer.MAX_VALUE)) {
        compared++;
        Long digest = theirs.get(mine.key());
        if (digest == null || digest != mine.digest()) {
          differing.add(mine.key());
        }
      }
    }
    for (String key : theirKeys) {
      if (store.digest(key) == null) {
        compared++;
        differing.add(key);
      }
    }
    counters.antiEntropyKeysCompared += compared;
    counters.antiEntropyDivergentKeys += differing.size();
    List<String> keys = new ArrayList<>();
    List<Bytes> states = new ArrayList<>();
    List<String> wanted = new ArrayList<>();
    long bytes = 0;
    for (String key : differing) {
      KeyState mine = store.get(key);
      if (mine != null
          && keys.size() < LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX
          && (keys.isEmpty() || bytes < LeaderlessMessage.STATE_BYTES_PER_MESSAGE_MAX)) {
        Bytes encoded = mine.encoded();
        keys.add(key);
        states.add(encoded);
        bytes += encoded.sizeBytes();
      }
      if (theirs.containsKey(key) && wanted.size() < LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX) {
        wanted.add(key);
      }
    }
    shipStates(message.from(), partition, keys, states, wanted);
  }

  private void shipStates(
      int peer, int partition, List<String> keys, List<Bytes> states, List<String> wanted) {
    if (keys.isEmpty() && wanted.isEmpty()) {
      return;
    }
    for (Bytes state : states) {
      counters.antiEntropyBytesShipped += state.sizeBytes();
    }
    out.send(new LeaderlessMessage.KeyStates(nodeId, peer, partition, keys, states, wanted));
  }

  void onKeyStates(LeaderlessMessage.KeyStates message) {
    if (!ownsPartition(message.partition())) {
      return;
    }
    for (int i = 0; i < message.keys().size(); i++) {
      String key = message.keys().get(i);
      if (placement.partitionOf(key) != message.partition()) {
        continue;
      }
      KeyState state = KeyState.decode(message.states().get(i));
      observeStamp.accept(state);
      LeaderlessStore.MergeOutcome merged = store.merge(key, state);
      counters.lwwWritesDiscarded += merged.discardedWrites();
      if (merged.changed()) {
        counters.antiEntropyKeysRepaired++;
        persistUnsynced.accept(key, merged.state());
      }
    }
    List<String> keys = new ArrayList<>();
    List<Bytes> states = new ArrayList<>();
    long bytes = 0;
    for (String key : message.wanted()) {
      KeyState mine = store.get(key);
      if (mine != null
          && (keys.isEmpty() || bytes < LeaderlessMessage.STATE_BYTES_PER_MESSAGE_MAX)) {
        Bytes encoded = mine.encoded();
        keys.add(key);
        states.add(encoded);
        bytes += encoded.sizeBytes();
      }
    }
    shipStates(message.from(), message.partition(), keys, states, List.of());
  }
}
