package io.replicakv.core.leaderless;

import io.replicakv.core.Envelope;
import io.replicakv.core.Ready;
import io.replicakv.core.ReadyBuffer;
import io.replicakv.core.causal.Hlc;
import io.replicakv.core.msg.LeaderlessMessage;
import io.replicakv.core.ring.Ring;
import io.replicakv.core.ring.RingNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Anti-entropy at scale without servers: three owners of every partition (the placement a 3-member
 * leaderless keyspace has on the server: {@code RING_VNODES} = 64 tokens each, N=3) hold KEYS keys;
 * node 2 holds an older state for every 100th key. Rounds run as {@code KV.REPAIR} runs them: each
 * round starts one exchange per partition and pair of owners (the lower id starts), delivers
 * messages until none is left, then compares every partition's roots; the pass ends when all agree.
 * Prints rounds, exchanges, keys compared, differing keys, keys repaired, state bytes shipped,
 * messages and tree entries sent, and the wall time; then a second pass.
 *
 * <pre>
 *   root=$PWD . bench/test-classpath.sh   # or any class path with core's classes and test classes
 *   "${test_java[@]}" -cp "$test_cp" io.replicakv.core.leaderless.AntiEntropyScale [KEYS]
 * </pre>
 *
 * A benchmark, not a test: it prints numbers and asserts nothing.
 */
public final class AntiEntropyScale {
  private static final int NODES = 3;
  private static final int RING_VNODES = 64;
  private static final int ROUNDS_MAX = 20;

  private final Placement placement;
  private final LeaderlessStore[] stores = new LeaderlessStore[NODES];
  private final LeaderlessCounters[] counters = new LeaderlessCounters[NODES];
  private final ReadyBuffer[] buffers = new ReadyBuffer[NODES];
  private final AntiEntropy[] sides = new AntiEntropy[NODES];
  private long messages;
  private long treeEntries;

  private AntiEntropyScale() {
    List<RingNode> ring = new ArrayList<>();
    for (int id = 0; id < NODES; id++) {
      ring.add(RingNode.of(Integer.toString(id)));
    }
    placement = new Placement(Ring.of(RING_VNODES, ring), NODES);
    for (int id = 0; id < NODES; id++) {
      stores[id] = new LeaderlessStore(placement, LeaderlessConfig.defaults());
      counters[id] = new LeaderlessCounters();
      buffers[id] = new ReadyBuffer();
      sides[id] =
          new AntiEntropy(
              id,
              placement,
              stores[id],
              counters[id],
              buffers[id],
              peer -> false,
              state -> {},
              (key, state) -> {});
    }
  }

  public static void main(String[] args) {
    int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    AntiEntropyScale scale = new AntiEntropyScale();
    long start = System.nanoTime();
    for (int i = 0; i < keys; i++) {
      String key = "key:" + i;
      for (int id = 0; id < NODES; id++) {
        boolean stale = id == 2 && i % 100 == 0;
        long stamp = stale ? 1 : (i % 100 == 0 ? 2 : 1);
        scale.stores[id].put(
            key,
            new KeyState.Lww(new Hlc(stamp, 0), "w", (stamp == 2 ? "changed-" : "value-") + i));
      }
    }
    System.out.printf(
        "%d keys on 3 owners, %d partitions (%d keys per partition on average), every 100th key"
            + " older on node 2; loaded in %.1f s%n",
        keys,
        scale.placement.partitionCount(),
        keys / scale.placement.partitionCount(),
        (System.nanoTime() - start) / 1e9);
    for (int pass = 1; pass <= 2; pass++) {
      scale.pass(pass);
    }
  }

  private void pass(int number) {
    long[] before = totals();
    long messagesBefore = messages;
    long entriesBefore = treeEntries;
    long start = System.nanoTime();
    int rounds = 0;
    long exchanges = 0;
    int differing;
    do {
      rounds++;
      for (int partition = 0; partition < placement.partitionCount(); partition++) {
        List<Integer> owners = placement.owners(partition);
        for (int a : owners) {
          for (int b : owners) {
            if (a < b) {
              exchanges++;
              buffers[a].send(
                  new LeaderlessMessage.TreeLevel(
                      a, b, partition, 0, List.of(0), List.of(stores[a].tree(partition).root())));
            }
          }
        }
      }
      deliverAll();
      differing = differingPartitions();
    } while (differing > 0 && rounds < ROUNDS_MAX);
    long[] after = totals();
    System.out.printf(
        "pass %d: %d rounds, %d exchanges, %d keys compared, %d differing keys, %d keys repaired,"
            + " %d state bytes shipped, %d messages, %d tree nodes and key digests sent,"
            + " %d partitions still differing, %.1f s%n",
        number,
        rounds,
        exchanges,
        after[0] - before[0],
        after[1] - before[1],
        after[2] - before[2],
        after[3] - before[3],
        messages - messagesBefore,
        treeEntries - entriesBefore,
        differing,
        (System.nanoTime() - start) / 1e9);
  }

  private long[] totals() {
    long[] totals = new long[4];
    for (LeaderlessCounters c : counters) {
      totals[0] += c.antiEntropyKeysCompared;
      totals[1] += c.antiEntropyDivergentKeys;
      totals[2] += c.antiEntropyKeysRepaired;
      totals[3] += c.antiEntropyBytesShipped;
    }
    return totals;
  }

  private int differingPartitions() {
    int differing = 0;
    for (int partition = 0; partition < placement.partitionCount(); partition++) {
      long root = stores[0].tree(partition).root();
      for (int id = 1; id < NODES; id++) {
        if (stores[id].tree(partition).root() != root) {
          differing++;
          break;
        }
      }
    }
    return differing;
  }

  private void deliverAll() {
    boolean moved = true;
    while (moved) {
      moved = false;
      for (int id = 0; id < NODES; id++) {
        Ready ready = buffers[id].ready();
        buffers[id].advance(ready);
        for (Envelope envelope : ready.messages()) {
          moved = true;
          messages++;
          LeaderlessMessage message = (LeaderlessMessage) envelope.message();
          AntiEntropy to = sides[message.to()];
          switch (message) {
            case LeaderlessMessage.TreeLevel m -> {
              treeEntries += m.nodeIndexes().size();
              to.onTreeLevel(m);
            }
            case LeaderlessMessage.KeyDigests m -> {
              treeEntries += m.keys().size();
              to.onKeyDigests(m);
            }
            case LeaderlessMessage.KeyStates m -> to.onKeyStates(m);
            default -> throw new IllegalStateException("unexpected " + message);
          }
        }
      }
    }
  }
}
