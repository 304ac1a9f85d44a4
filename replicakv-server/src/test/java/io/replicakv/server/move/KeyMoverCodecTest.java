package io.replicakv.server.move;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The move batch format and the mutations that copy one key's current state to a target. */
class KeyMoverCodecTest {
  static final long SEED = 7;
  static final long NOW_MILLIS = 1_000_000;

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** A source with strings, hashes and sets, some with expiry; a target that had stale copies. */
  @Test
  void copiedStateMakesTheTargetEqualToTheSource() {
    Random random = new Random(SEED);
    MemoryState source = new MemoryState(2);
    MemoryState target = new MemoryState(2);
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      String key = "k" + i;
      keys.add(key);
      int ks = i % 2;
      long expireAt = random.nextBoolean() ? 0 : NOW_MILLIS + 10_000 + i;
      switch (i % 3) {
        case 0 -> source.apply(new Mutation.StringSet(ks, b(key), b("v" + i), expireAt));
        case 1 -> {
          source.apply(new Mutation.HashSet(ks, b(key), List.of(b("f1"), b("a"), b("f2"), b("b"))));
          if (expireAt > 0) {
            source.apply(new Mutation.Expire(ks, b(key), expireAt));
          }
        }
        default -> source.apply(new Mutation.SetAdd(ks, b(key), List.of(b("m1"), b("m2"))));
      }
      // a stale copy of another type on the target, as after an earlier round
      target.apply(new Mutation.SetAdd(ks, b(key), List.of(b("stale"))));
    }
    target.apply(new Mutation.StringSet(0, b("gone"), b("x"), 0)); // deleted on the source
    keys.add("gone");
    List<Mutation> copy = new ArrayList<>();
    for (String key : keys) {
      for (int ks = 0; ks < 2; ks++) {
        KeyMover.currentState(source, ks, Bytes.of(b(key)), NOW_MILLIS, copy);
      }
    }
    for (Mutation m : KeyMover.decodeBatch(KeyMover.encodeBatch(copy))) {
      target.apply(m);
    }
    for (int ks = 0; ks < 2; ks++) {
      assertThat(target.size(ks)).isEqualTo(source.size(ks));
      assertThat(target.contentHash(ks)).isEqualTo(source.contentHash(ks));
    }
  }

  @Test
  void batchRoundTripsAndRefusesDamage() {
    List<Mutation> batch =
        List.of(new Mutation.Delete(3, b("a")), new Mutation.StringSet(0, b("b"), b("c"), 5));
    byte[] encoded = KeyMover.encodeBatch(batch);
    assertThat(KeyMover.decodeBatch(encoded)).isEqualTo(batch);
    assertThatThrownBy(() -> KeyMover.decodeBatch(Arrays.copyOf(encoded, encoded.length - 1)))
        .isInstanceOf(RuntimeException.class);
    byte[] trailing = Arrays.copyOf(encoded, encoded.length + 1);
    assertThatThrownBy(() -> KeyMover.decodeBatch(trailing))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("trailing");
    byte[] badVersion = encoded.clone();
    badVersion[0] = 9;
    assertThatThrownBy(() -> KeyMover.decodeBatch(badVersion)).hasMessageContaining("version");
  }

  @Test
  void countRequestAsksForTheVersionTwoReplyAndBothReplyFormsDecode() {
    List<io.replicakv.core.ring.RingDiff.SlotMove> ranges =
        List.of(
            new io.replicakv.core.ring.RingDiff.SlotMove(0, 9, "a", "b"),
            new io.replicakv.core.ring.RingDiff.SlotMove(16383, 16383, "a", "c"));
    byte[] request = KeyMover.encodeRanges(ranges);
    assertThat(request[request.length - 1]).isEqualTo((byte) KeyMover.COUNT_REPLY_VERSION);
    List<int[]> decoded = KeyMover.decodeRangeList(request);
    assertThat(decoded).hasSize(2);
    assertThat(decoded.get(0)).containsExactly(0, 9);
    assertThat(decoded.get(1)).containsExactly(16383, 16383);

    java.nio.ByteBuffer v1 = java.nio.ByteBuffer.allocate(16).putLong(5).putLong(7);
    long[][] old = KeyMover.decodeCounts(v1.array(), 2);
    assertThat(old[0]).containsExactly(5, -1);
    assertThat(old[1]).containsExactly(7, -1);
    java.nio.ByteBuffer v2 =
        java.nio.ByteBuffer.allocate(5 + 32).put((byte) 2).putInt(2).putLong(5).putLong(50);
    v2.putLong(7).putLong(70);
    long[][] current = KeyMover.decodeCounts(v2.array(), 2);
    assertThat(current[0]).containsExactly(5, 50);
    assertThat(current[1]).containsExactly(7, 70);
    byte[] badVersion = v2.array().clone();
    badVersion[0] = 3;
    assertThatThrownBy(() -> KeyMover.decodeCounts(badVersion, 2))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> KeyMover.decodeCounts(new byte[15], 2))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> KeyMover.decodeRangeList(new byte[] {0, 0, 0, 1, 0, 9, 0, 1}))
        .as("first after last")
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> KeyMover.decodeRangeList(new byte[] {0, 0, 0, 2, 0, 1, 0, 2}))
        .as("fewer ranges than counted")
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * A source answers from its slot counters, over every keyspace: the same keys and bytes as a walk
   * over every key, in the form the asker asked for (an old asker gets keys only).
   */
  @Test
  void countReplyMatchesAWalkOverEveryKeyInEveryKeyspace() {
    Random random = new Random(SEED);
    MemoryState state = new MemoryState(3);
    for (int i = 0; i < 600; i++) {
      byte[] key = b("k" + i);
      byte[] value = new byte[random.nextInt(50)];
      if (i % 2 == 0) {
        state.apply(new Mutation.StringSet(i % 3, key, value, 0));
      } else {
        state.apply(new Mutation.HashSet(i % 3, key, List.of(b("f"), value)));
      }
    }
    List<io.replicakv.core.ring.RingDiff.SlotMove> ranges =
        List.of(
            new io.replicakv.core.ring.RingDiff.SlotMove(0, 4000, "a", "b"),
            new io.replicakv.core.ring.RingDiff.SlotMove(4001, 4001, "a", "b"),
            new io.replicakv.core.ring.RingDiff.SlotMove(9000, 16383, "a", "c"));
    long[][] walked = new long[3][2];
    for (int ks = 0; ks < 3; ks++) {
      state.forEachEntry(
          ks,
          (key, value, expireAt) -> {
            int slot = io.replicakv.core.ring.Slots.slot(key.array());
            for (int r = 0; r < ranges.size(); r++) {
              if (slot >= ranges.get(r).firstSlot() && slot <= ranges.get(r).lastSlot()) {
                walked[r][0]++;
                walked[r][1] += key.length() + value.dataBytes();
              }
            }
          });
    }
    byte[] request = KeyMover.encodeRanges(ranges);
    long[][] answered = KeyMover.decodeCounts(KeyMover.countReply(state, request), 3);
    for (int r = 0; r < 3; r++) {
      assertThat(answered[r]).as("range %s", r).containsExactly(walked[r][0], walked[r][1]);
    }
    assertThat(walked[0][0] + walked[2][0]).isPositive();
    byte[] oldRequest = Arrays.copyOf(request, request.length - 1);
    byte[] oldReply = KeyMover.countReply(state, oldRequest);
    assertThat(oldReply).hasSize(8 * 3);
    assertThat(KeyMover.decodeCounts(oldReply, 3)[2]).containsExactly(walked[2][0], -1);
  }
}
