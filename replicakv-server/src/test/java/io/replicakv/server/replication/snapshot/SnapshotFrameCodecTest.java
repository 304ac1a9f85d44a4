package io.replicakv.server.replication.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.CorruptEncodingException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SnapshotFrameCodecTest {
  private static SnapshotFrame randomFrame(SplittableRandom random) {
    int keyspace = random.nextInt(3) == 0 ? 0xFFFF : random.nextInt(16);
    int partition = random.nextInt(16_384);
    long transferId = random.nextLong();
    long sequence = 1 + random.nextInt(100_000);
    return switch (random.nextInt(4)) {
      case 0 ->
          new SnapshotFrame.Begin(
              keyspace,
              partition,
              transferId,
              5 + random.nextInt(1_000),
              random.nextInt(64),
              new Lsn(random.nextInt(5), random.nextInt(1_000_000)),
              random.nextInt(1_000_000));
      case 1 -> {
        List<byte[]> entries = new ArrayList<>();
        for (int i = random.nextInt(6); i > 0; i--) {
          byte[] entry = new byte[random.nextInt(300)];
          random.nextBytes(entry);
          entries.add(entry);
        }
        yield new SnapshotFrame.Chunk(keyspace, partition, transferId, sequence, entries);
      }
      case 2 ->
          new SnapshotFrame.End(
              keyspace,
              partition,
              transferId,
              sequence,
              random.nextInt(9_999),
              random.nextLong(1L << 40));
      default ->
          new SnapshotFrame.Ack(
              keyspace,
              partition,
              transferId,
              sequence - 1,
              random.nextBoolean() ? "" : "frame 3 out of order, expected 2 — é€");
    };
  }

  /** Chunk equality goes by array identity in the record; compare their encodings instead. */
  private static void assertRoundTrips(SnapshotFrame frame) {
    byte[] encoded = SnapshotFrameCodec.encode(frame);
    SnapshotFrame decoded = SnapshotFrameCodec.decode(encoded);
    assertThat(decoded.getClass()).isEqualTo(frame.getClass());
    assertThat(SnapshotFrameCodec.encode(decoded)).isEqualTo(encoded);
    if (!(frame instanceof SnapshotFrame.Chunk)) {
      assertThat(decoded).isEqualTo(frame);
    }
  }

  @Test
  void everyKindRoundTrips() {
    SplittableRandom random = new SplittableRandom(1201);
    for (int i = 0; i < 2_000; i++) {
      assertRoundTrips(randomFrame(random));
    }
    SnapshotFrame.Chunk chunk =
        new SnapshotFrame.Chunk(1, 2, 3, 4, List.of(new byte[] {7}, new byte[0]));
    SnapshotFrame.Chunk back =
        (SnapshotFrame.Chunk) SnapshotFrameCodec.decode(SnapshotFrameCodec.encode(chunk));
    assertThat(back.entries()).hasSize(2);
    assertThat(back.entries().get(0)).containsExactly(7);
    assertThat(back.entryBytes()).isEqualTo(1);
  }

  @Test
  void everyTruncationIsRefusedAsCorrupt() {
    SplittableRandom random = new SplittableRandom(2012);
    for (int i = 0; i < 100; i++) {
      byte[] encoded = SnapshotFrameCodec.encode(randomFrame(random));
      for (int cut = 0; cut < encoded.length; cut++) {
        byte[] truncated = Arrays.copyOf(encoded, cut);
        assertThatThrownBy(() -> SnapshotFrameCodec.decode(truncated))
            .isInstanceOf(CorruptEncodingException.class);
      }
    }
  }

  @Test
  void aFlippedByteDecodesToSomethingValidOrIsRefusedAsCorrupt() {
    SplittableRandom random = new SplittableRandom(77);
    int refused = 0;
    for (int i = 0; i < 3_000; i++) {
      byte[] encoded = SnapshotFrameCodec.encode(randomFrame(random));
      encoded[random.nextInt(encoded.length)] ^= (byte) (1 + random.nextInt(255));
      try {
        SnapshotFrame decoded = SnapshotFrameCodec.decode(encoded);
        // Whatever decodes is a well-formed frame that encodes again.
        assertThat(SnapshotFrameCodec.encode(decoded)).isNotEmpty();
      } catch (CorruptEncodingException expected) {
        refused++;
      }
    }
    assertThat(refused).isPositive();
  }

  @Test
  void unknownVersionKindAndTrailingBytesAreRefused() {
    byte[] ack = SnapshotFrameCodec.encode(new SnapshotFrame.Ack(1, 2, 3, 4, ""));
    byte[] otherVersion = ack.clone();
    otherVersion[0] = 2;
    assertThatThrownBy(() -> SnapshotFrameCodec.decode(otherVersion))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("unknown format version 2");
    byte[] otherKind = ack.clone();
    otherKind[1] = 9;
    assertThatThrownBy(() -> SnapshotFrameCodec.decode(otherKind))
        .hasMessageContaining("unknown snapshot frame kind 9");
    byte[] trailing = Arrays.copyOf(ack, ack.length + 1);
    assertThatThrownBy(() -> SnapshotFrameCodec.decode(trailing))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("trailing");
  }

  @Test
  void countsAndFieldsBeyondTheirBoundsAreRefusedBeforeAllocating() {
    // A chunk claiming more entries than the bound, and one claiming more than the bytes left.
    byte[] tooMany =
        header(2)
            .writeVarLong(1)
            .writeVarInt(SnapshotFrameCodec.ENTRIES_PER_CHUNK_MAX + 1)
            .toByteArray();
    assertThatThrownBy(() -> SnapshotFrameCodec.decode(tooMany))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("exceeds bound");
    byte[] moreThanLeft = header(2).writeVarLong(1).writeVarInt(50).toByteArray();
    assertThatThrownBy(() -> SnapshotFrameCodec.decode(moreThanLeft))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("exceeds remaining");
    byte[] hugeEntry =
        header(2)
            .writeVarLong(1)
            .writeVarInt(1)
            .writeVarInt(SnapshotFrameCodec.ENTRY_BYTES_MAX + 1)
            .toByteArray();
    assertThatThrownBy(() -> SnapshotFrameCodec.decode(hugeEntry))
        .isInstanceOf(CorruptEncodingException.class);
    // Fields the records refuse: a chunk numbered 0 (that is the Begin), a Begin of epoch 0.
    byte[] chunkZero = header(2).writeVarLong(0).writeVarInt(0).toByteArray();
    assertThatThrownBy(() -> SnapshotFrameCodec.decode(chunkZero))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("chunk sequence 0 below 1");
    byte[] epochZero =
        header(1)
            .writeVarLong(0)
            .writeInt(1)
            .writeVarLong(0)
            .writeVarLong(0)
            .writeVarLong(0)
            .toByteArray();
    assertThatThrownBy(() -> SnapshotFrameCodec.decode(epochZero))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("epoch 0 below 1");
    byte[] oversized = new byte[SnapshotFrameCodec.FRAME_BYTES_MAX + 1];
    assertThatThrownBy(() -> SnapshotFrameCodec.decode(oversized))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("over");
  }

  private static ByteWriter header(int kind) {
    return new ByteWriter()
        .writeByte(SnapshotFrameCodec.VERSION)
        .writeByte(kind)
        .writeByte(0)
        .writeByte(3)
        .writeInt(17)
        .writeLong(99);
  }
}
