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
}
