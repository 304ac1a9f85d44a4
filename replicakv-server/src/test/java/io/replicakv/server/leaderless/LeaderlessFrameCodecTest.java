package io.replicakv.server.leaderless;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.msg.LeaderlessMessage;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.server.leaderless.LeaderlessFrameCodec.KeyspaceMessage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class LeaderlessFrameCodecTest {
  @Property(tries = 300, seed = "20261201")
  void everyBatchRoundTrips(@ForAll("batches") List<KeyspaceMessage> batch) {
    byte[] frame = LeaderlessFrameCodec.encode(batch);
    assertThat(LeaderlessFrameCodec.decode(frame)).isEqualTo(batch);
  }

  @Property(tries = 500, seed = "1201")
  void aFlippedByteDecodesOrIsRefusedAsCorrupt(
      @ForAll("batches") List<KeyspaceMessage> batch,
      @ForAll @IntRange(min = 0, max = 1_000_000) int where,
      @ForAll @IntRange(min = 1, max = 255) int flip) {
    byte[] frame = LeaderlessFrameCodec.encode(batch);
    frame[where % frame.length] ^= (byte) flip;
    decodesOrIsCorrupt(frame);
  }

  @Property(tries = 300, seed = "2012")
  void everyTruncationIsRefusedAsCorrupt(
      @ForAll("batches") List<KeyspaceMessage> batch,
      @ForAll @IntRange(min = 0, max = 1_000_000) int cut) {
    byte[] frame = LeaderlessFrameCodec.encode(batch);
    byte[] truncated = Arrays.copyOf(frame, cut % frame.length);
    assertThatThrownBy(() -> LeaderlessFrameCodec.decode(truncated))
        .isInstanceOf(CorruptEncodingException.class);
  }

  @Property(tries = 300, seed = "99")
  void randomBytesNeverEscapeAsAnotherException(@ForAll byte[] noise) {
    decodesOrIsCorrupt(noise);
  }

  @Test
  void everyMessageTypeRoundTripsWithNullsAndNegativeSentinels() {
    VersionVector context = VersionVector.of(Map.of("1", 3L, "2", 7L));
    List<KeyspaceMessage> batch =
        List.of(
            new KeyspaceMessage(0, new LeaderlessMessage.Ping(1, 2)),
            new KeyspaceMessage(65_535, new LeaderlessMessage.Pong(2, 1)),
            new KeyspaceMessage(
                3, new LeaderlessMessage.CoordinatePut(1, 2, 9, "cart", bytes(1, 2), context)),
            new KeyspaceMessage(
                3, new LeaderlessMessage.CoordinatePutAck(2, 1, 9, "cart", null, "full")),
            new KeyspaceMessage(
                3, new LeaderlessMessage.CoordinatePutAck(2, 1, 9, "cart", bytes(5), null)),
            new KeyspaceMessage(
                3,
                new LeaderlessMessage.Replicate(
                    1, 3, LeaderlessMessage.NO_ACK, "k", bytes(0, 255), LeaderlessMessage.NO_HINT)),
            new KeyspaceMessage(3, new LeaderlessMessage.ReplicateAck(3, 1, 4, false, null)),
            new KeyspaceMessage(3, new LeaderlessMessage.Read(1, 3, 5, "k", 2)),
            new KeyspaceMessage(3, new LeaderlessMessage.ReadReply(3, 1, 5, "k", null)),
            new KeyspaceMessage(
                3, new LeaderlessMessage.TreeLevel(1, 2, 7, 2, List.of(0, 5), List.of(-1L, 8L))),
            new KeyspaceMessage(
                3,
                new LeaderlessMessage.KeyDigests(
                    1, 2, 7, 3, List.of(4), List.of("a", "b"), List.of(1L, Long.MIN_VALUE))),
            new KeyspaceMessage(
                3,
                new LeaderlessMessage.KeyStates(
                    1, 2, 7, List.of("a"), List.of(bytes(1)), List.of("b", "c"))),
            new KeyspaceMessage(
                3, new LeaderlessMessage.Handoff(2, 3, List.of("x"), List.of(Bytes.EMPTY))),
            new KeyspaceMessage(
                3, new LeaderlessMessage.HandoffAck(3, 2, List.of("x"), List.of(42L))),
            new KeyspaceMessage(
                3, new LeaderlessMessage.TombstoneCheck(1, 2, -7L, "gone", bytes(2))),
            new KeyspaceMessage(
                3, new LeaderlessMessage.TombstoneCheckAck(2, 1, 1L << 40, "gone", true)),
            new KeyspaceMessage(3, new LeaderlessMessage.TombstoneDrop(1, 3, "gone", -99L)));
    assertThat(LeaderlessFrameCodec.decode(LeaderlessFrameCodec.encode(batch))).isEqualTo(batch);
  }

  @Test
  void anUnknownVersionOrTypeIsRefusedByName() {
    byte[] frame =
        LeaderlessFrameCodec.encode(
            List.of(new KeyspaceMessage(1, new LeaderlessMessage.Ping(1, 2))));
    byte[] version = frame.clone();
    version[0] = 2;
    assertThatThrownBy(() -> LeaderlessFrameCodec.decode(version))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("version 2");
    byte[] type = frame.clone();
    type[4] = 99; // version, count, u16 keyspace, then the type byte
    assertThatThrownBy(() -> LeaderlessFrameCodec.decode(type))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("unknown type 99");
  }

  @Test
  void aCountLargerThanTheFrameIsRefusedBeforeAllocating() {
    byte[] frame = {1, (byte) 0xFF, (byte) 0xFF, 0x03};
    assertThatThrownBy(() -> LeaderlessFrameCodec.decode(frame))
        .isInstanceOf(CorruptEncodingException.class);
  }

  private static void decodesOrIsCorrupt(byte[] frame) {
    try {
      LeaderlessFrameCodec.decode(frame);
    } catch (CorruptEncodingException expected) {
      // refused as corrupt: fine
    }
  }

  private static Bytes bytes(int... values) {
    byte[] content = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      content[i] = (byte) values[i];
    }
    return Bytes.of(content);
  }

  @Provide
  Arbitrary<List<KeyspaceMessage>> batches() {
    return message().list().ofMinSize(1).ofMaxSize(6);
  }

  private static Arbitrary<KeyspaceMessage> message() {
    Arbitrary<Integer> keyspace = Arbitraries.integers().between(0, 65_535);
    Arbitrary<Integer> node = Arbitraries.integers().between(-1, 1_000);
    Arbitrary<Long> requestId = Arbitraries.longs().between(-1, Long.MAX_VALUE);
    Arbitrary<String> key = Arbitraries.strings().withCharRange('a', 'z').ofMaxLength(12);
    Arbitrary<Bytes> state = Arbitraries.bytes().array(byte[].class).ofMaxSize(16).map(Bytes::of);
    Arbitrary<List<String>> keys = key.list().ofMaxSize(4);
    Arbitrary<Integer> index = Arbitraries.integers().between(0, 1 << 20);
    Arbitrary<VersionVector> context =
        Arbitraries.maps(
                Arbitraries.integers().between(0, 9).map(String::valueOf),
                Arbitraries.longs().between(1, 1_000))
            .ofMaxSize(3)
            .map(VersionVector::of);
    Arbitrary<LeaderlessMessage> body =
        Arbitraries.oneOf(
            Combinators.combine(node, node).as(LeaderlessMessage.Ping::new),
            Combinators.combine(node, node).as(LeaderlessMessage.Pong::new),
            Combinators.combine(node, node, requestId, key, state, context)
                .as(LeaderlessMessage.CoordinatePut::new),
            Combinators.combine(node, node, requestId, key, state, Arbitraries.of(true, false))
                .as(
                    (f, t, r, k, s, refused) ->
                        refused
                            ? new LeaderlessMessage.CoordinatePutAck(f, t, r, k, null, "refused")
                            : new LeaderlessMessage.CoordinatePutAck(f, t, r, k, s, null)),
            Combinators.combine(node, node, requestId, key, state, node)
                .as(LeaderlessMessage.Replicate::new),
            Combinators.combine(
                    node, node, requestId, Arbitraries.of(true, false), state.injectNull(0.5))
                .as(LeaderlessMessage.ReplicateAck::new),
            Combinators.combine(node, node, requestId, key, node).as(LeaderlessMessage.Read::new),
            Combinators.combine(node, node, requestId, key, state.injectNull(0.3))
                .as(LeaderlessMessage.ReadReply::new),
            Combinators.combine(node, node, index, index, index.list().ofMaxSize(4))
                .as(
                    (f, t, p, l, indexes) ->
                        new LeaderlessMessage.TreeLevel(f, t, p, l, indexes, longs(indexes))),
            Combinators.combine(node, node, index, index, index.list().ofMaxSize(3), keys)
                .as(
                    (f, t, p, l, ranges, ks) ->
                        new LeaderlessMessage.KeyDigests(f, t, p, l, ranges, ks, longs(ks))),
            Combinators.combine(node, node, index, keys, keys)
                .as(
                    (f, t, p, ks, wanted) ->
                        new LeaderlessMessage.KeyStates(f, t, p, ks, states(ks), wanted)),
            Combinators.combine(node, node, keys)
                .as((f, t, ks) -> new LeaderlessMessage.Handoff(f, t, ks, states(ks))),
            Combinators.combine(node, node, keys)
                .as((f, t, ks) -> new LeaderlessMessage.HandoffAck(f, t, ks, longs(ks))));
    return Combinators.combine(keyspace, body).as(KeyspaceMessage::new);
  }

  private static List<Long> longs(List<?> items) {
    List<Long> values = new ArrayList<>();
    for (Object item : items) {
      values.add((long) item.hashCode() * 0x9E3779B97F4A7C15L);
    }
    return values;
  }

  private static List<Bytes> states(List<String> keys) {
    List<Bytes> values = new ArrayList<>();
    for (String key : keys) {
      values.add(Bytes.utf8(key + "-state"));
    }
    return values;
  }
}
