package io.replicakv.storage.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.ring.Slots;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * The per-slot key and byte counters of {@link MemoryState} equal a recount from scratch after any
 * sequence of mutations: sets over other types, emptied hashes and sets, renames within and across
 * slots (hash-tagged keys), flushes, expiries and snapshot loads.
 */
class SlotCountersPropertyTest {
  private static final int KEYSPACES = MutationGenerator.KEYSPACES;

  @Property(tries = 200, seed = "20261201")
  void countersEqualAFullRecountAfterRandomMutations(
      @ForAll long seed, @ForAll @IntRange(min = 1, max = 400) int length) {
    MemoryState state = new MemoryState(KEYSPACES);
    MutationGenerator generator = new MutationGenerator(seed, false, true);
    for (int i = 0; i < length; i++) {
      state.apply(generator.next());
      if (i % 97 == 0) {
        assertCountersEqualRecount(state);
      }
    }
    assertCountersEqualRecount(state);
    state.verifyInvariants();
  }

  @Property(tries = 50, seed = "77")
  void snapshotLoadRebuildsTheSameCounters(@ForAll long seed) {
    MemoryState state = new MemoryState(KEYSPACES);
    for (Mutation m : new MutationGenerator(seed, false, true).history(300)) {
      state.apply(m);
    }
    MemoryState restored = new MemoryState(KEYSPACES);
    for (Mutation m : new MutationGenerator(seed + 1, false, true).history(100)) {
      restored.apply(m); // stale keys that loading must replace or that a flush must drop
    }
    for (int ks = 0; ks < KEYSPACES; ks++) {
      restored.apply(new Mutation.FlushKeyspace(ks));
      int keyspace = ks;
      state.forEachEntry(
          ks,
          (key, value, expireAt) ->
              restored.loadEntry(MemoryState.encodeEntry(keyspace, key, value, expireAt)));
    }
    assertCountersEqualRecount(restored);
    for (int ks = 0; ks < KEYSPACES; ks++) {
      for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
        assertThat(restored.keysInSlot(ks, slot)).isEqualTo(state.keysInSlot(ks, slot));
        assertThat(restored.bytesInSlot(ks, slot)).isEqualTo(state.bytesInSlot(ks, slot));
      }
    }
  }

  @Test
  void bytesAreKeyPlusDataLengthsAndFollowEveryKindOfChange() {
    MemoryState state = new MemoryState(2);
    byte[] key = b("{user1}.cart");
    int slot = Slots.slot("user1");
    state.apply(new Mutation.StringSet(0, key, b("12345"), 0));
    assertThat(state.keysInSlot(0, slot)).isEqualTo(1);
    assertThat(state.bytesInSlot(0, slot)).isEqualTo(12 + 5);
    state.apply(new Mutation.StringSet(0, key, b("1"), 0));
    assertThat(state.bytesInSlot(0, slot)).isEqualTo(12 + 1);
    // a hash replaces the string: field and value lengths count, not the old string
    state.apply(new Mutation.HashSet(0, key, List.of(b("f1"), b("abc"), b("f2"), b("de"))));
    assertThat(state.bytesInSlot(0, slot)).isEqualTo(12 + 2 + 3 + 2 + 2);
    state.apply(new Mutation.HashSet(0, key, List.of(b("f1"), b("a"))));
    assertThat(state.bytesInSlot(0, slot)).isEqualTo(12 + 2 + 1 + 2 + 2);
    state.apply(new Mutation.HashDelete(0, key, List.of(b("f2"), b("absent"))));
    assertThat(state.bytesInSlot(0, slot)).isEqualTo(12 + 2 + 1);
    // expiry changes no count
    state.apply(new Mutation.Expire(0, key, 1_900_000_000_000L));
    assertThat(state.bytesInSlot(0, slot)).isEqualTo(12 + 2 + 1);
    // the last field removes the key
    state.apply(new Mutation.HashDelete(0, key, List.of(b("f1"))));
    assertThat(state.keysInSlot(0, slot)).isZero();
    assertThat(state.bytesInSlot(0, slot)).isZero();
    state.apply(new Mutation.SetAdd(0, key, List.of(b("m1"), b("m22"), b("m1"))));
    assertThat(state.bytesInSlot(0, slot)).isEqualTo(12 + 2 + 3);
    // a rename to another slot moves both counts; keyspace 1 is untouched
    byte[] other = b("elsewhere");
    int otherSlot = Slots.slot(other);
    assertThat(otherSlot).isNotEqualTo(slot);
    state.apply(new Mutation.Rename(0, key, other));
    assertThat(state.keysInSlot(0, slot)).isZero();
    assertThat(state.bytesInSlot(0, slot)).isZero();
    assertThat(state.keysInSlot(0, otherSlot)).isEqualTo(1);
    assertThat(state.bytesInSlot(0, otherSlot)).isEqualTo(9 + 2 + 3);
    assertThat(state.keysInSlot(1, otherSlot)).isZero();
    assertThat(state.keysInSlots(0, 0, Slots.SLOT_COUNT - 1)).isEqualTo(1);
    assertThat(state.bytesInSlots(0, 0, Slots.SLOT_COUNT - 1)).isEqualTo(14);
    state.apply(new Mutation.FlushAll());
    assertThat(state.keysInSlots(0, 0, Slots.SLOT_COUNT - 1)).isZero();
    state.verifyInvariants();
  }

  @Test
  void keysInSlotReturnsThatSlotsKeysUpToCount() {
    MemoryState state = new MemoryState(1);
    Set<String> tagged = new HashSet<>();
    for (int i = 0; i < 50; i++) {
      state.apply(new Mutation.StringSet(0, b("{tag}" + i), b("v"), 0));
      tagged.add("{tag}" + i);
      state.apply(new Mutation.StringSet(0, b("plain" + i), b("v"), 0));
    }
    int slot = Slots.slot("tag");
    List<String> all = names(state.keysInSlot(0, slot, 1_000));
    assertThat(new HashSet<>(all)).isEqualTo(tagged);
    assertThat(all).hasSize(50);
    List<String> some = names(state.keysInSlot(0, slot, 7));
    assertThat(some).hasSize(7).allSatisfy(k -> assertThat(tagged).contains(k));
    assertThat(state.keysInSlot(0, slot, 0)).isEmpty();
    int emptySlot = (slot + 1) % Slots.SLOT_COUNT;
    while (state.keysInSlot(0, emptySlot) != 0) {
      emptySlot = (emptySlot + 1) % Slots.SLOT_COUNT;
    }
    assertThat(state.keysInSlot(0, emptySlot, 10)).isEmpty();
    assertThatThrownBy(() -> state.keysInSlot(0, Slots.SLOT_COUNT))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> state.keysInSlots(0, 5, 4))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Property(tries = 300, seed = "5")
  void aKeysCachedSlotIsItsClusterSlot(@ForAll byte[] key) {
    Bytes bytes = Bytes.of(key);
    assertThat(bytes.slot()).isEqualTo(Slots.slot(key));
    assertThat(bytes.slot()).as("cached").isEqualTo(Slots.slot(key));
  }

  /** Compares every slot's counters with a recount that walks keys, fields and members. */
  static void assertCountersEqualRecount(MemoryState state) {
    for (int ks = 0; ks < state.keyspaceCount(); ks++) {
      Map<Integer, long[]> recount = new HashMap<>();
      Map<Integer, Set<Bytes>> keysBySlot = new HashMap<>();
      state.forEachEntry(
          ks,
          (key, value, expireAt) -> {
            int slot = Slots.slot(key.array());
            long[] c = recount.computeIfAbsent(slot, s -> new long[2]);
            c[0]++;
            c[1] += key.length() + contentLength(value);
            keysBySlot.computeIfAbsent(slot, s -> new HashSet<>()).add(key);
          });
      long totalKeys = 0;
      for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
        long[] c = recount.getOrDefault(slot, new long[2]);
        assertThat(state.keysInSlot(ks, slot))
            .as("keyspace %s slot %s keys", ks, slot)
            .isEqualTo(c[0]);
        assertThat(state.bytesInSlot(ks, slot))
            .as("keyspace %s slot %s bytes", ks, slot)
            .isEqualTo(c[1]);
        totalKeys += c[0];
      }
      assertThat(state.keysInSlots(ks, 0, Slots.SLOT_COUNT - 1)).isEqualTo(totalKeys);
      for (Map.Entry<Integer, Set<Bytes>> e : keysBySlot.entrySet()) {
        assertThat(new HashSet<>(state.keysInSlot(ks, e.getKey(), Integer.MAX_VALUE)))
            .isEqualTo(e.getValue());
      }
    }
  }

  private static long contentLength(Value value) {
    long[] total = {0};
    switch (value) {
      case StringValue s -> total[0] = s.bytes().length;
      case HashValue h -> h.fields().forEach((f, v) -> total[0] += f.length() + v.length);
      case SetValue s -> s.members().forEach((m, ignored) -> total[0] += m.length());
    }
    return total[0];
  }

  private static List<String> names(List<Bytes> keys) {
    List<String> out = new ArrayList<>();
    keys.forEach(k -> out.add(k.toString()));
    return out;
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
