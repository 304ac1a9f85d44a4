package io.replicakv.storage.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MemoryStateTest {
  private static final int KEYSPACES = MutationGenerator.KEYSPACES;

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 4, 5, 6})
  void applyMatchesTheModelAndMemoryAccountingMatchesRecomputation(long seed) {
    MemoryState state = new MemoryState(KEYSPACES);
    StateModel model = new StateModel(KEYSPACES);
    MutationGenerator generator = new MutationGenerator(seed, false);
    for (int i = 0; i < 3_000; i++) {
      Mutation m = generator.next();
      state.apply(m);
      model.apply(m);
      state.verifyInvariants();
      if (i % 50 == 0) {
        assertSameAsModel(state, model);
      }
    }
    assertSameAsModel(state, model);
  }

  @ParameterizedTest
  @ValueSource(longs = {21, 22, 23})
  void snapshotEntriesRoundTripToTheSameContentHash(long seed) {
    MemoryState state = new MemoryState(KEYSPACES);
    for (Mutation m : new MutationGenerator(seed, false).history(500)) {
      state.apply(m);
    }
    // The restored state starts with stale keys that every entry must replace.
    MemoryState restored = new MemoryState(KEYSPACES);
    for (Mutation m : new MutationGenerator(seed + 1_000, false).history(100)) {
      restored.apply(m);
    }
    for (int ks = 0; ks < KEYSPACES; ks++) {
      restored.apply(new Mutation.FlushKeyspace(ks));
      int keyspace = ks;
      state.forEachEntry(
          ks,
          (key, value, expireAt) ->
              restored.loadEntry(MemoryState.encodeEntry(keyspace, key, value, expireAt)));
    }
    for (int ks = 0; ks < KEYSPACES; ks++) {
      assertThat(restored.contentHash(ks)).isEqualTo(state.contentHash(ks));
      assertThat(StateModel.snapshot(restored, ks)).isEqualTo(StateModel.snapshot(state, ks));
    }
    restored.verifyInvariants();
  }

  @Test
  void loadEntryReplacesAnExistingKeyAndRejectsGarbage() {
    MemoryState state = new MemoryState(2);
    state.apply(new Mutation.SetAdd(1, b("k"), List.of(b("m1"), b("m2"))));
    state.apply(new Mutation.Expire(1, b("k"), 500));
    HashValue hash = new HashValue();
    hash.put(Bytes.utf8("f"), b("v"));
    byte[] entry = MemoryState.encodeEntry(1, Bytes.utf8("k"), hash, 0);
    state.loadEntry(entry);
    assertThat(state.get(1, Bytes.utf8("k"))).isInstanceOf(HashValue.class);
    assertThat(state.expireAtMillis(1, Bytes.utf8("k"))).isZero();
    state.verifyInvariants();

    for (int length = 0; length < entry.length; length++) {
      byte[] prefix = java.util.Arrays.copyOf(entry, length);
      assertThatThrownBy(() -> state.loadEntry(prefix))
          .isInstanceOf(IllegalArgumentException.class);
    }
    byte[] wrongKeyspace = MemoryState.encodeEntry(2, Bytes.utf8("k"), hash, 0);
    assertThatThrownBy(() -> state.loadEntry(wrongKeyspace))
        .isInstanceOf(IllegalArgumentException.class);
    byte[] emptySet = MemoryState.encodeEntry(0, Bytes.utf8("k"), new SetValue(), 0);
    assertThatThrownBy(() -> state.loadEntry(emptySet))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void contentHashSeesEveryDifferenceAndIgnoresHistory() {
    MemoryState a = new MemoryState(1);
    a.apply(new Mutation.HashSet(0, b("h"), List.of(b("f1"), b("v1"), b("f2"), b("v2"))));
    MemoryState b = new MemoryState(1);
    b.apply(new Mutation.HashSet(0, b("h"), List.of(b("f2"), b("v2"))));
    b.apply(new Mutation.SetAdd(0, b("tmp"), List.of(b("x"))));
    b.apply(new Mutation.HashSet(0, b("h"), List.of(b("f1"), b("v1"))));
    b.apply(new Mutation.Delete(0, b("tmp")));
    assertThat(b.contentHash(0)).isEqualTo(a.contentHash(0));

    b.apply(new Mutation.HashSet(0, b("h"), List.of(b("f1"), b("v1!"))));
    assertThat(b.contentHash(0)).isNotEqualTo(a.contentHash(0));
    b.apply(new Mutation.HashSet(0, b("h"), List.of(b("f1"), b("v1"))));
    b.apply(new Mutation.Expire(0, b("h"), 10));
    assertThat(b.contentHash(0)).isNotEqualTo(a.contentHash(0));
    b.apply(new Mutation.Expire(0, b("h"), 0));
    assertThat(b.contentHash(0)).isEqualTo(a.contentHash(0));
    // Same bytes, different type.
    MemoryState c = new MemoryState(1);
    c.apply(new Mutation.SetAdd(0, b("s"), List.of(b("x"))));
    MemoryState d = new MemoryState(1);
    d.apply(new Mutation.HashSet(0, b("s"), List.of(b("x"), b(""))));
    assertThat(c.contentHash(0)).isNotEqualTo(d.contentHash(0));
  }

  /**
   * A state taken at position j of a history, with the history replayed from any i <= j over it,
   * ends where the history ends. Holds for the blind writes only; Rename and Expire are left out
   * (see renameIsNotSafeToReplayTwice and expireIsNotSafeToReplayTwice).
   */
  @ParameterizedTest
  @ValueSource(longs = {31, 32, 33, 34, 35})
  void replayingAnOverlappingSuffixOfBlindWritesConverges(long seed) {
    List<Mutation> history = new MutationGenerator(seed, true).history(120);
    MemoryState expected = replay(new MemoryState(KEYSPACES), history, 0, history.size());
    SplittableRandom random = new SplittableRandom(seed);
    for (int trial = 0; trial < 150; trial++) {
      int j = random.nextInt(history.size() + 1);
      int i = random.nextInt(j + 1);
      MemoryState taken = replay(new MemoryState(KEYSPACES), history, 0, j);
      replay(taken, history, i, history.size());
      taken.verifyInvariants();
      for (int ks = 0; ks < KEYSPACES; ks++) {
        assertThat(StateModel.snapshot(taken, ks))
            .as("seed %s, state at %s, replay from %s", seed, j, i)
            .isEqualTo(StateModel.snapshot(expected, ks));
        assertThat(taken.contentHash(ks)).isEqualTo(expected.contentHash(ks));
      }
    }
  }

  @Test
  void renameIsNotSafeToReplayTwice() {
    List<Mutation> history =
        List.of(
            new Mutation.StringSet(0, b("a"), b("1"), 0),
            new Mutation.Rename(0, b("a"), b("b")),
            new Mutation.StringSet(0, b("a"), b("2"), 0));
    MemoryState once = replay(new MemoryState(1), history, 0, 3);
    MemoryState twice = replay(replay(new MemoryState(1), history, 0, 3), history, 1, 3);
    assertThat(string(once, "b")).isEqualTo("1");
    assertThat(string(twice, "b")).isEqualTo("2");
  }

  @Test
  void expireIsNotSafeToReplayTwice() {
    List<Mutation> history =
        List.of(
            new Mutation.HashSet(0, b("k"), List.of(b("f"), b("v"))),
            new Mutation.Expire(0, b("k"), 1_000),
            new Mutation.HashDelete(0, b("k"), List.of(b("f"))),
            new Mutation.HashSet(0, b("k"), List.of(b("g"), b("w"))));
    MemoryState once = replay(new MemoryState(1), history, 0, 4);
    MemoryState twice = replay(replay(new MemoryState(1), history, 0, 4), history, 1, 4);
    assertThat(once.expireAtMillis(0, Bytes.utf8("k"))).isZero();
    assertThat(twice.expireAtMillis(0, Bytes.utf8("k"))).isEqualTo(1_000);
  }

  @Test
  void expiryFollowsRedisRulesAndSamplingFindsExpiredKeys() {
    MemoryState state = new MemoryState(1);
    for (int i = 0; i < 200; i++) {
      long expireAt = i % 2 == 0 ? 1_000 : 5_000;
      state.apply(new Mutation.StringSet(0, b("k" + i), b("v"), expireAt));
    }
    state.apply(new Mutation.StringSet(0, b("forever"), b("v"), 0));
    assertThat(state.expiresSize(0)).isEqualTo(200);
    assertThat(state.isExpired(0, Bytes.utf8("k0"), 1_000)).isFalse();
    assertThat(state.isExpired(0, Bytes.utf8("k0"), 1_001)).isTrue();
    assertThat(state.isExpired(0, Bytes.utf8("forever"), Long.MAX_VALUE)).isFalse();
    assertThat(state.isExpired(0, Bytes.utf8("absent"), Long.MAX_VALUE)).isFalse();

    SplittableRandom random = new SplittableRandom(3);
    List<Bytes> sampled = state.sampleExpired(0, 2_000, 20, random);
    assertThat(sampled).isNotEmpty().hasSizeLessThanOrEqualTo(20).doesNotHaveDuplicates();
    for (Bytes key : sampled) {
      assertThat(state.expireAtMillis(0, key)).isEqualTo(1_000);
    }
    List<Bytes> all = state.sampleExpired(0, 2_000, 1_000, random);
    assertThat(all).hasSize(100);
    assertThat(state.sampleExpired(0, 999, 1_000, random)).isEmpty();

    // A plain SET clears the expiry, PERSIST too; Expire on an absent key does nothing.
    state.apply(new Mutation.StringSet(0, b("k0"), b("w"), 0));
    state.apply(new Mutation.Expire(0, b("k1"), 0));
    state.apply(new Mutation.Expire(0, b("absent"), 10));
    assertThat(state.expireAtMillis(0, Bytes.utf8("k0"))).isZero();
    assertThat(state.expireAtMillis(0, Bytes.utf8("k1"))).isZero();
    assertThat(state.get(0, Bytes.utf8("absent"))).isNull();
    assertThat(state.expiresSize(0)).isEqualTo(198);
    state.verifyInvariants();
  }

  @Test
  void scanReturnsEveryKeyAndRoughlyCountPerCall() {
    MemoryState state = new MemoryState(1);
    for (int i = 0; i < 1_000; i++) {
      state.apply(new Mutation.StringSet(0, b("key" + i), b("v"), 0));
    }
    Set<Bytes> seen = new HashSet<>();
    List<Integer> perCall = new ArrayList<>();
    long cursor = 0;
    do {
      int[] n = {0};
      cursor =
          state.scan(
              0,
              cursor,
              10,
              (key, value) -> {
                seen.add(key);
                n[0]++;
              });
      perCall.add(n[0]);
    } while (cursor != 0);
    assertThat(seen).hasSize(1_000);
    assertThat(perCall.subList(0, perCall.size() - 1))
        .allSatisfy(n -> assertThat(n).isBetween(10, 30));
    assertThat(state.randomKey(0, new SplittableRandom(1))).isIn(seen);
    assertThat(new MemoryState(1).randomKey(0, new SplittableRandom(1))).isNull();
  }

  @Test
  void usedMemoryTracksSizesAndReturnsToBaselineWhenEmptied() {
    MemoryState state = new MemoryState(2);
    long baseline = state.usedMemoryBytes();
    state.apply(new Mutation.StringSet(0, b("big"), new byte[10_000], 0));
    assertThat(state.usedMemoryBytes() - baseline).isBetween(10_000L, 10_200L);
    state.apply(new Mutation.StringSet(0, b("big"), new byte[10], 77));
    assertThat(state.usedMemoryBytes() - baseline).isLessThan(300);
    List<byte[]> pairs = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      pairs.add(b("field" + i));
      pairs.add(new byte[100]);
    }
    state.apply(new Mutation.HashSet(1, b("h"), pairs));
    assertThat(state.usedMemoryBytes() - baseline).isGreaterThan(100 * 100);
    state.apply(new Mutation.Rename(1, b("h"), b("h2")));
    state.verifyInvariants();
    state.apply(new Mutation.Delete(0, b("big")));
    state.apply(new Mutation.FlushKeyspace(1));
    assertThat(state.usedMemoryBytes()).isEqualTo(baseline);
    state.verifyInvariants();
  }

  @Test
  void idleRehashFinishesTablesAndKeepsAccountingExact() {
    MemoryState state = new MemoryState(1);
    int keys = 1 << 12;
    for (int i = 0; i <= keys; i++) {
      state.apply(new Mutation.StringSet(0, b("k" + i), b("v"), 1 + i));
    }
    assertThat(state.rehashSteps(1)).isTrue();
    state.verifyInvariants();
    int calls = 0;
    while (state.rehashSteps(64)) {
      calls++;
    }
    assertThat(calls).isBetween(1, keys / 64);
    state.verifyInvariants();
    assertThat(state.size(0)).isEqualTo(keys + 1);
    assertThat(state.expireAtMillis(0, Bytes.utf8("k7"))).isEqualTo(8);
  }

  @Test
  void rejectsKeyspacesOutOfRange() {
    MemoryState state = new MemoryState(16);
    assertThat(state.keyspaceCount()).isEqualTo(16);
    assertThatThrownBy(() -> state.apply(new Mutation.Delete(16, b("k"))))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> state.size(-1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new MemoryState(0)).isInstanceOf(IllegalArgumentException.class);
  }

  private static MemoryState replay(MemoryState state, List<Mutation> history, int from, int to) {
    for (int i = from; i < to; i++) {
      state.apply(history.get(i));
    }
    return state;
  }

  private static void assertSameAsModel(MemoryState state, StateModel model) {
    for (int ks = 0; ks < KEYSPACES; ks++) {
      assertThat(StateModel.snapshot(state, ks)).isEqualTo(model.keyspace(ks));
      assertThat(state.size(ks)).isEqualTo(model.keyspace(ks).size());
      long withExpiry =
          model.keyspace(ks).values().stream().filter(e -> e.expireAtMillis() != 0).count();
      assertThat(state.expiresSize(ks)).isEqualTo(withExpiry);
    }
  }

  private static String string(MemoryState state, String key) {
    return new String(
        ((StringValue) state.get(0, Bytes.utf8(key))).bytes(), StandardCharsets.UTF_8);
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
