package io.replicakv.core.leaderless;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.Envelope;
import io.replicakv.core.Ready;
import io.replicakv.core.ReadyBuffer;
import io.replicakv.core.causal.Hlc;
import io.replicakv.core.msg.LeaderlessMessage;
import io.replicakv.core.ring.Ring;
import io.replicakv.core.ring.RingNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * The anti-entropy exchange run between two real stores (the core's {@code AntiEntropy} and {@code
 * LeaderlessStore}, messages handed over by hand): random divergence between two replicas is found
 * exactly (every differing key counted once, no key counted that does not differ), the keys
 * compared stay within a bound of the differing ones however many keys the partition holds, and one
 * exchange per partition repairs everything when the divergence fits the per-message bounds.
 */
class AntiEntropyPropertiesTest {
  private static final int A = 0;
  private static final int B = 1;

  /** Content of a replica: key to the HLC of its LWW version (higher wins the merge). */
  record Divergence(Map<String, Long> left, Map<String, Long> right, int vnodes) {}

  @Provide
  Arbitrary<Divergence> divergences() {
    Arbitrary<Integer> baseSize = Arbitraries.integers().between(0, 3_000);
    Arbitrary<Integer> edits = Arbitraries.integers().between(0, 120);
    Arbitrary<Integer> vnodes = Arbitraries.integers().between(1, 4);
    Arbitrary<Long> seeds = Arbitraries.longs();
    return Combinators.combine(baseSize, edits, vnodes, seeds)
        .as(
            (size, editCount, vnodeCount, seed) -> {
              Random random = new Random(seed);
              Map<String, Long> left = new TreeMap<>();
              for (int i = 0; i < size; i++) {
                left.put("k" + random.nextInt(1_000_000), 10L + random.nextInt(5));
              }
              Map<String, Long> right = new TreeMap<>(left);
              List<String> existing = new ArrayList<>(left.keySet());
              for (int i = 0; i < editCount; i++) {
                int kind = random.nextInt(4);
                Map<String, Long> side = random.nextBoolean() ? left : right;
                if (kind == 0 || existing.isEmpty()) {
                  side.put("new" + random.nextInt(1_000_000), 20L + random.nextInt(5));
                } else {
                  String key = existing.get(random.nextInt(existing.size()));
                  if (kind == 1) {
                    side.remove(key);
                  } else {
                    side.put(key, 30L + random.nextInt(5));
                  }
                }
              }
              return new Divergence(left, right, vnodeCount);
            });
  }

  @Property(tries = 60)
  void oneExchangePerPartitionFindsExactlyTheDifferingKeysAndRepairsThem(
      @ForAll("divergences") Divergence divergence) {
    Pair pair = new Pair(divergence.vnodes());
    pair.load(A, divergence.left());
    pair.load(B, divergence.right());
    TreeSet<String> differing = differingKeys(divergence.left(), divergence.right());

    pair.sweep();

    assertThat(
            pair.counters[A].antiEntropyDivergentKeys + pair.counters[B].antiEntropyDivergentKeys)
        .as("keys found differing")
        .isEqualTo(differing.size());
    long compared =
        pair.counters[A].antiEntropyKeysCompared + pair.counters[B].antiEntropyKeysCompared;
    assertThat(compared)
        .as("keys compared for %s differing", differing.size())
        .isLessThanOrEqualTo((AntiEntropy.KEYS_PER_RANGE_TARGET + 1L) * differing.size());
    assertThat(pair.keysDiffering()).isZero();
    assertThat(stamps(pair.stores[A].snapshot())).isEqualTo(join(divergence));
    for (int partition = 0; partition < pair.placement.partitionCount(); partition++) {
      assertThat(pair.stores[A].tree(partition).root())
          .isEqualTo(pair.stores[B].tree(partition).root());
    }
    long repaired =
        pair.counters[A].antiEntropyKeysRepaired + pair.counters[B].antiEntropyKeysRepaired;
    assertThat(repaired).as("merges that changed a replica").isEqualTo(differing.size());

    long comparedBefore = compared;
    pair.sweep();
    assertThat(pair.counters[A].antiEntropyKeysCompared + pair.counters[B].antiEntropyKeysCompared)
        .as("a second sweep compares no key")
        .isEqualTo(comparedBefore);
  }

  @Property(tries = 10)
  void aReplicaThatLostEverythingIsRefilledWithinTheMessageBounds(
      @ForAll @IntRange(min = 1, max = 12_000) int keys) {
    Pair pair = new Pair(1);
    Map<String, Long> content = new TreeMap<>();
    for (int i = 0; i < keys; i++) {
      content.put("key:" + i, 7L);
    }
    pair.load(B, content);
    int sweeps = 0;
    while (pair.keysDiffering() > 0) {
      pair.sweep();
      sweeps++;
      // each exchange ships at most a message's worth of states per partition
      assertThat(sweeps)
          .as("sweeps to refill %s keys", keys)
          .isLessThanOrEqualTo(1 + keys / LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX);
    }
  }

  @Test
  void twoSweepsConvergeAtTwoHundredThousandKeysWithOnePercentChanged() {
    // About 16 partitions of 12,500 keys (the shape of a million keys over a 3-node keyspace's
    // partitions): 49 keys per kept leaf, so every differing leaf is split before keys are listed.
    assertSweepsConverge(8, 200_000, 2_000, 2);
  }

  @Test
  void oneSweepConvergesWhenKeptLeavesHoldHundredsOfKeys() {
    // Two partitions of 50,000 keys: about 200 keys per kept leaf, split two levels further.
    assertSweepsConverge(1, 100_000, 200, 1);
  }

  private static void assertSweepsConverge(int vnodes, int keyCount, int changes, int sweepsMax) {
    Pair pair = new Pair(vnodes);
    Map<String, Long> left = new TreeMap<>();
    for (int i = 0; i < keyCount; i++) {
      left.put("key:" + i, 5L);
    }
    Map<String, Long> right = new TreeMap<>(left);
    Random random = new Random(42);
    TreeSet<String> changed = new TreeSet<>();
    while (changed.size() < changes) {
      String key = "key:" + random.nextInt(keyCount);
      if (changed.add(key)) {
        right.put(key, 9L);
      }
    }
    pair.load(A, left);
    pair.load(B, right);

    pair.sweep();
    int sweeps = 1;
    long afterFirst = pair.keysDiffering();
    while (pair.keysDiffering() > 0 && sweeps < sweepsMax) {
      pair.sweep();
      sweeps++;
    }

    assertThat(pair.keysDiffering()).as("keys differing after %s sweeps", sweeps).isZero();
    assertThat(afterFirst)
        .as("keys still differing after the first sweep (each exchange is bounded)")
        .isLessThanOrEqualTo(changes / 4);
    assertThat(pair.counters[A].antiEntropyKeysRepaired).isEqualTo(changed.size());
    assertThat(pair.counters[B].antiEntropyKeysRepaired).isZero();
    long divergent =
        pair.counters[A].antiEntropyDivergentKeys + pair.counters[B].antiEntropyDivergentKeys;
    assertThat(divergent).as("each changed key found once").isEqualTo(changed.size());
    long compared =
        pair.counters[A].antiEntropyKeysCompared + pair.counters[B].antiEntropyKeysCompared;
    assertThat(compared)
        .as("keys compared for %s changed keys", changed.size())
        .isLessThanOrEqualTo((AntiEntropy.KEYS_PER_RANGE_TARGET + 1L) * changed.size());
  }

  private static TreeSet<String> differingKeys(Map<String, Long> left, Map<String, Long> right) {
    TreeSet<String> keys = new TreeSet<>(left.keySet());
    keys.addAll(right.keySet());
    keys.removeIf(key -> Objects.equals(left.get(key), right.get(key)));
    return keys;
  }

  private static Map<String, Long> join(Divergence divergence) {
    Map<String, Long> joined = new TreeMap<>(divergence.left());
    divergence.right().forEach((key, stamp) -> joined.merge(key, stamp, Math::max));
    return joined;
  }

  private static Map<String, Long> stamps(SortedMap<String, KeyState> snapshot) {
    Map<String, Long> stamps = new TreeMap<>();
    snapshot.forEach(
        (key, state) -> stamps.put(key, ((KeyState.Lww) state).stamp().physicalMillis()));
    return stamps;
  }

  /** Two owners of every partition, their stores and anti-entropy, messages delivered by hand. */
  private static final class Pair {
    final Placement placement;
    final LeaderlessStore[] stores = new LeaderlessStore[2];
    final LeaderlessCounters[] counters = new LeaderlessCounters[2];
    final ReadyBuffer[] buffers = new ReadyBuffer[2];
    final AntiEntropy[] sides = new AntiEntropy[2];

    Pair(int vnodes) {
      placement = new Placement(Ring.of(vnodes, List.of(RingNode.of("0"), RingNode.of("1"))), 2);
      for (int id = 0; id < 2; id++) {
        stores[id] = new LeaderlessStore(placement, LeaderlessConfig.defaults());
        counters[id] = new LeaderlessCounters();
        buffers[id] = new ReadyBuffer();
        LeaderlessStore store = stores[id];
        sides[id] =
            new AntiEntropy(
                id,
                placement,
                store,
                counters[id],
                buffers[id],
                peer -> false,
                state -> {},
                (key, state) -> {});
      }
    }

    void load(int id, Map<String, Long> content) {
      content.forEach(
          (key, stamp) ->
              stores[id].put(key, new KeyState.Lww(new Hlc(stamp, 0), "w", "v" + stamp)));
    }

    /** Keys whose states differ between the two stores (present on one side only included). */
    long keysDiffering() {
      SortedMap<String, KeyState> a = stores[A].snapshot();
      SortedMap<String, KeyState> b = stores[B].snapshot();
      TreeSet<String> keys = new TreeSet<>(a.keySet());
      keys.addAll(b.keySet());
      return keys.stream().filter(key -> !Objects.equals(a.get(key), b.get(key))).count();
    }

    /** One exchange per partition, started by A, run until no message is left. */
    void sweep() {
      for (int i = 0; i < placement.partitionsOf(A).size(); i++) {
        sides[A].start();
      }
      for (int steps = 0; steps < 1_000_000; steps++) {
        boolean moved = false;
        for (int id = 0; id < 2; id++) {
          Ready ready = buffers[id].ready();
          buffers[id].advance(ready);
          for (Envelope envelope : ready.messages()) {
            moved = true;
            deliver((LeaderlessMessage) envelope.message());
          }
        }
        if (!moved) {
          return;
        }
      }
      throw new AssertionError("exchanges did not end");
    }

    private void deliver(LeaderlessMessage message) {
      AntiEntropy to = sides[message.to()];
      switch (message) {
        case LeaderlessMessage.TreeLevel m -> to.onTreeLevel(m);
        case LeaderlessMessage.KeyDigests m -> to.onKeyDigests(m);
        case LeaderlessMessage.KeyStates m -> to.onKeyStates(m);
        default -> throw new AssertionError("unexpected " + message);
      }
    }
  }
}
