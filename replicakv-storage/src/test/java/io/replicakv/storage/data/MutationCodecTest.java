package io.replicakv.storage.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class MutationCodecTest {
  private static final int RECORD_TYPES = 10;

  @Property(tries = 500, seed = "20261122")
  void everyRecordTypeRoundTrips(@ForAll("mutations") Mutation m) {
    assertRoundTrip(m);
  }

  @Property(tries = 300, seed = "7")
  void everyStrictPrefixAndAnyTrailingByteIsRejected(@ForAll("mutations") Mutation m) {
    byte[] encoded = MutationCodec.encode(m);
    for (int length = 0; length < encoded.length; length++) {
      byte[] prefix = Arrays.copyOf(encoded, length);
      assertThatThrownBy(() -> MutationCodec.decode(prefix))
          .isInstanceOf(IllegalArgumentException.class);
    }
    byte[] longer = Arrays.copyOf(encoded, encoded.length + 1);
    assertThatThrownBy(() -> MutationCodec.decode(longer))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Property(tries = 2_000, seed = "11")
  void garbageIsRejectedOrDecodesToItsCanonicalSelf(@ForAll("garbage") byte[] garbage) {
    assertRejectedOrCanonical(garbage);
  }

  @Property(tries = 500, seed = "13")
  void flippedBitsAreRejectedOrCanonical(
      @ForAll("mutations") Mutation m, @ForAll("positions") int position) {
    byte[] encoded = MutationCodec.encode(m);
    byte[] corrupted = encoded.clone();
    int bit = Math.floorMod(position, encoded.length * 8);
    corrupted[bit / 8] ^= (byte) (1 << (bit % 8));
    assertRejectedOrCanonical(corrupted);
  }

  /** The same round trip over the seeded generator the state tests use, without jqwik. */
  @Test
  void seededHistoriesRoundTrip() {
    List<Mutation> history = new MutationGenerator(5, false).history(5_000);
    int[] seenPerTag = new int[RECORD_TYPES + 1];
    for (Mutation m : history) {
      assertRoundTrip(m);
      seenPerTag[MutationCodec.tag(m)]++;
    }
    for (int tag = 1; tag <= RECORD_TYPES; tag++) {
      assertThat(seenPerTag[tag]).as("tag %s generated", tag).isPositive();
    }
  }

  @Test
  void rejectsUnknownVersionTagAndInvalidRecords() {
    byte[] flush = MutationCodec.encode(new Mutation.FlushKeyspace(3));
    assertThat(flush).containsExactly(1, 9, 3);
    assertThatThrownBy(() -> MutationCodec.decode(new byte[] {2, 9, 3}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("version");
    assertThatThrownBy(() -> MutationCodec.decode(new byte[] {1, 11, 3}))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> MutationCodec.decode(new byte[] {1, 0, 3}))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> MutationCodec.decode(new byte[0]))
        .isInstanceOf(IllegalArgumentException.class);
    // A HashSet whose list has an odd count: key "k", one element "x".
    assertThatThrownBy(() -> MutationCodec.decode(new byte[] {1, 4, 0, 1, 'k', 1, 1, 'x'}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("odd");
    // Non-minimal varint for the keyspace (0 written as two bytes).
    assertThatThrownBy(() -> MutationCodec.decode(new byte[] {1, 9, (byte) 0x80, 0}))
        .isInstanceOf(IllegalArgumentException.class);
    // Keyspace beyond int range.
    assertThatThrownBy(
            () ->
                MutationCodec.decode(
                    new byte[] {1, 9, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x0F}))
        .isInstanceOf(IllegalArgumentException.class);
    // A length far past the end must not allocate.
    assertThatThrownBy(
            () -> MutationCodec.decode(new byte[] {1, 2, 0, (byte) 0xFF, (byte) 0xFF, 0x7F}))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Mutation.HashSet(0, new byte[0], List.of(new byte[0])))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Mutation.Delete(-1, new byte[0]))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Mutation.Expire(0, new byte[0], -5))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void recordsCompareByContentAndPrintReadably() {
    Mutation a =
        new Mutation.HashSet(
            2, "user:1".getBytes(), List.of("name".getBytes(), new byte[] {0, -1}));
    Mutation b =
        new Mutation.HashSet(
            2, "user:1".getBytes(), List.of("name".getBytes(), new byte[] {0, -1}));
    Mutation c =
        new Mutation.HashSet(
            2, "user:1".getBytes(), List.of("name".getBytes(), new byte[] {0, -2}));
    assertThat(a).isEqualTo(b).hasSameHashCodeAs(b).isNotEqualTo(c);
    assertThat(a)
        .hasToString("HashSet[keyspace=2, key=\"user:1\", fieldsAndValues=[\"name\", 0x00ff]]");
    assertThat(new Mutation.StringSet(0, new byte[1_000], new byte[0], 5).toString())
        .contains("...(1000 bytes)");
  }

  private static void assertRoundTrip(Mutation m) {
    byte[] encoded = MutationCodec.encode(m);
    assertThat(encoded[0]).isEqualTo((byte) MutationCodec.FORMAT_VERSION);
    assertThat(MutationCodec.encodedSize(m)).isEqualTo(encoded.length);
    Mutation decoded = MutationCodec.decode(encoded);
    assertThat(decoded.getClass()).isEqualTo(m.getClass());
    assertThat(describe(decoded)).isEqualTo(describe(m));
    assertThat(decoded).isEqualTo(m).hasSameHashCodeAs(m);
    assertThat(MutationCodec.encode(decoded)).isEqualTo(encoded);
  }

  private static void assertRejectedOrCanonical(byte[] bytes) {
    Mutation decoded;
    try {
      decoded = MutationCodec.decode(bytes);
    } catch (IllegalArgumentException expected) {
      return;
    }
    assertThat(MutationCodec.encode(decoded)).isEqualTo(bytes);
  }

  /** Record components with arrays shown by contents; independent of the codec under test. */
  static List<String> describe(Mutation m) {
    List<String> parts = new ArrayList<>();
    parts.add(m.getClass().getSimpleName());
    for (RecordComponent component : m.getClass().getRecordComponents()) {
      Object value;
      try {
        value = component.getAccessor().invoke(m);
      } catch (ReflectiveOperationException e) {
        throw new AssertionError(e);
      }
      if (value instanceof byte[] bytes) {
        parts.add(HexFormat.of().formatHex(bytes));
      } else if (value instanceof List<?> list) {
        parts.add(list.stream().map(b -> HexFormat.of().formatHex((byte[]) b)).toList().toString());
      } else {
        parts.add(String.valueOf(value));
      }
    }
    return parts;
  }

  @Provide
  Arbitrary<Mutation> mutations() {
    Arbitrary<Integer> keyspace =
        Arbitraries.oneOf(
            Arbitraries.integers().between(0, 15),
            Arbitraries.integers().between(0, Integer.MAX_VALUE));
    Arbitrary<byte[]> bytes = Arbitraries.bytes().array(byte[].class).ofMaxSize(200);
    Arbitrary<Long> expireAt =
        Arbitraries.oneOf(
            Arbitraries.just(0L),
            Arbitraries.longs().between(1_700_000_000_000L, 1_900_000_000_000L),
            Arbitraries.longs().between(0, Long.MAX_VALUE));
    Arbitrary<List<byte[]>> list = bytes.list().ofMaxSize(6);
    Arbitrary<List<byte[]>> pairs =
        bytes.list().ofMaxSize(8).map(l -> l.size() % 2 == 0 ? l : l.subList(1, l.size()));
    return Arbitraries.oneOf(
        Combinators.combine(keyspace, bytes, bytes, expireAt).as(Mutation.StringSet::new),
        Combinators.combine(keyspace, bytes).as(Mutation.Delete::new),
        Combinators.combine(keyspace, bytes, expireAt).as(Mutation.Expire::new),
        Combinators.combine(keyspace, bytes, pairs).as(Mutation.HashSet::new),
        Combinators.combine(keyspace, bytes, list).as(Mutation.HashDelete::new),
        Combinators.combine(keyspace, bytes, list).as(Mutation.SetAdd::new),
        Combinators.combine(keyspace, bytes, list).as(Mutation.SetRemove::new),
        Combinators.combine(keyspace, bytes, bytes).as(Mutation.Rename::new),
        keyspace.map(Mutation.FlushKeyspace::new),
        Arbitraries.just(new Mutation.FlushAll()));
  }

  @Provide
  Arbitrary<byte[]> garbage() {
    Arbitrary<byte[]> raw = Arbitraries.bytes().array(byte[].class).ofMaxSize(40);
    // Most garbage starts with a valid version and tag so that it reaches the record decoders.
    return Arbitraries.oneOf(
        raw,
        Combinators.combine(Arbitraries.integers().between(1, RECORD_TYPES), raw)
            .as(
                (tag, tail) -> {
                  byte[] out = new byte[tail.length + 2];
                  out[0] = MutationCodec.FORMAT_VERSION;
                  out[1] = (byte) (int) tag;
                  System.arraycopy(tail, 0, out, 2, tail.length);
                  return out;
                }));
  }

  @Provide
  Arbitrary<Integer> positions() {
    return Arbitraries.integers().between(0, Integer.MAX_VALUE);
  }
}
