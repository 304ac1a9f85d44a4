package io.replicakv.core.leaderless;

import io.replicakv.core.ReadyBuffer;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.msg.LeaderlessMessage;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.IntPredicate;

/**
 * One node's side of Merkle-tree anti-entropy (Dynamo paper §4.7): the background repair that makes
 * owners converge even for keys no read touches and writes whose repair messages were lost.
 *
 * <p><b>Protocol.</b> Every interval the node picks the next of its partitions and the next other
 * owner of it (round robin over both, skipping suspected peers) and sends its root hash. A node
 * that receives tree hashes compares them with its own: when equal the exchange ends; otherwise it
 * answers with its hashes of the differing nodes' children, one level down. The two sides alternate
 * down the tree, so only differing branches are walked. At the leaves the side that found the
 * difference lists its keys and state digests in the differing leaves; the other side works out
 * exactly which keys differ (digest differs, or one side lacks the key), ships its states for them
 * and names the ones it wants back; the first side merges and ships those. Both ends merge by the
 * join, so repeating or reordering any step is harmless.
 *
 * <p><b>Bounds.</b> One message carries at most {@link LeaderlessMessage#ENTRIES_PER_MESSAGE_MAX}
 * tree nodes or keys; what does not fit is found again by the next exchange. No exchange state is
 * kept between messages, so a lost message only ends that exchange.
 *
 * <p><b>Counts.</b> Exchanges started, divergent keys found, keys repaired here (merges that
 * changed local state) and bytes of state shipped, in {@link LeaderlessCounters}.
 *
 * <p>Merges are persisted without sync: they back no promise, and a crash that loses them only
 * means the next exchange repairs the same keys again.
 */
final class AntiEntropy {
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

  void onTreeLevel(LeaderlessMessage.TreeLevel message) {
    if (!ownsPartition(message.partition())) {
      return;
    }
    MerkleTree tree = store.tree(message.partition());
    Check.argument(message.level() <= tree.depth(), "level %s below leaves", message.level());
    List<Integer> differing = new ArrayList<>();
    for (int i = 0; i < message.nodeIndexes().size(); i++) {
      int index = message.nodeIndexes().get(i);
      if (tree.hash(message.level(), index) != message.hashes().get(i)) {
        differing.add(index);
      }
    }
    if (differing.isEmpty()) {
      return;
    }
    if (message.level() == tree.depth()) {
      sendKeyDigests(message.from(), message.partition(), differing);
      return;
    }
    List<Integer> children = new ArrayList<>();
    List<Long> hashes = new ArrayList<>();
    for (int index : differing) {
      for (int child : tree.children(message.level(), index)) {
        if (children.size() < LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX) {
          children.add(child);
          hashes.add(tree.hash(message.level() + 1, child));
        }
      }
    }
    out.send(
        new LeaderlessMessage.TreeLevel(
            nodeId, message.from(), message.partition(), message.level() + 1, children, hashes));
  }

  private void sendKeyDigests(int peer, int partition, List<Integer> leaves) {
    List<String> keys = new ArrayList<>();
    List<Long> digests = new ArrayList<>();
    for (String key : store.keysInLeaves(partition, new HashSet<>(leaves))) {
      if (keys.size() >= LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX) {
        break;
      }
      keys.add(key);
      digests.add(store.digest(key));
    }
    out.send(new LeaderlessMessage.KeyDigests(nodeId, peer, partition, leaves, keys, digests));
  }

  void onKeyDigests(LeaderlessMessage.KeyDigests message) {
    if (!ownsPartition(message.partition())) {
      return;
    }
    Map<String, Long> theirs = new TreeMap<>();
    for (int i = 0; i < message.keys().size(); i++) {
      theirs.put(message.keys().get(i), message.digests().get(i));
    }
    TreeSet<String> differing = new TreeSet<>();
    for (String key : store.keysInLeaves(message.partition(), new HashSet<>(message.leaves()))) {
      Long digest = theirs.get(key);
      if (digest == null || !digest.equals(store.digest(key))) {
        differing.add(key);
      }
    }
    theirs.keySet().stream().filter(key -> store.get(key) == null).forEach(differing::add);
    counters.antiEntropyDivergentKeys += differing.size();
    List<String> keys = new ArrayList<>();
    List<Bytes> states = new ArrayList<>();
    List<String> wanted = new ArrayList<>();
    for (String key : differing) {
      KeyState mine = store.get(key);
      if (mine != null && keys.size() < LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX) {
        keys.add(key);
        states.add(mine.encoded());
      }
      if (theirs.containsKey(key) && wanted.size() < LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX) {
        wanted.add(key);
      }
    }
    shipStates(message.from(), message.partition(), keys, states, wanted);
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
    for (String key : message.wanted()) {
      KeyState mine = store.get(key);
      if (mine != null) {
        keys.add(key);
        states.add(mine.encoded());
      }
    }
    shipStates(message.from(), message.partition(), keys, states, List.of());
  }
}
