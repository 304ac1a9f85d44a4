package io.replicakv.server.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.msg.SingleLeaderMessage.Append;
import io.replicakv.core.msg.SingleLeaderMessage.AppendAck;
import io.replicakv.core.msg.SingleLeaderMessage.Drain;
import io.replicakv.core.msg.SingleLeaderMessage.Drained;
import io.replicakv.core.msg.SingleLeaderMessage.Entry;
import io.replicakv.core.msg.SingleLeaderMessage.EpochAnswer;
import io.replicakv.core.msg.SingleLeaderMessage.EpochQuery;
import io.replicakv.core.msg.SingleLeaderMessage.Fence;
import io.replicakv.core.msg.SingleLeaderMessage.FenceAck;
import io.replicakv.core.msg.SingleLeaderMessage.Heartbeat;
import io.replicakv.core.msg.SingleLeaderMessage.Leadership;
import io.replicakv.core.msg.SingleLeaderMessage.SnapshotNeeded;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.CorruptEncodingException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class ReplicationFrameCodecTest {
  @Test
  void snapshotNeededRoundTripsAndAZeroFirstOffsetIsCorrupt() {
    PartitionMessage needed = new PartitionMessage(3, 1234, new SnapshotNeeded(1, 2, 7, 90_001, 5));
    byte[] frame = ReplicationFrameCodec.encode(List.of(needed));
    assertThat(ReplicationFrameCodec.decode(frame)).containsExactly(needed);
    // The body ends with [varint firstOffset = 90001 (3 bytes)][varint historyStartEpoch = 5].
    byte[] zeroFirst = Arrays.copyOf(frame, frame.length - 2);
    zeroFirst[zeroFirst.length - 2] = 0;
    zeroFirst[zeroFirst.length - 1] = 5;
    assertThatThrownBy(() -> ReplicationFrameCodec.decode(zeroFirst))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("firstOffset 0 below 1");
  }

  @Property(tries = 300, seed = "20261201")
  void everyBatchRoundTrips(@ForAll("batches") List<PartitionMessage> batch) {
    byte[] frame = ReplicationFrameCodec.encode(batch);
    assertThat(ReplicationFrameCodec.decode(frame)).isEqualTo(batch);
  }

  @Property(tries = 500, seed = "1201")
  void aFlippedByteDecodesOrIsRefusedAsCorrupt(
      @ForAll("batches") List<PartitionMessage> batch,
      @ForAll @IntRange(min = 0, max = 1_000_000) int where,
      @ForAll @IntRange(min = 1, max = 255) int flip) {
    byte[] frame = ReplicationFrameCodec.encode(batch);
    frame[where % frame.length] ^= (byte) flip;
    decodesOrIsCorrupt(frame);
  }

  @Property(tries = 300, seed = "2012")
  void everyTruncationIsRefusedAsCorrupt(
      @ForAll("batches") List<PartitionMessage> batch,
      @ForAll @IntRange(min = 0, max = 1_000_000) int cut) {
    byte[] frame = ReplicationFrameCodec.encode(batch);
    byte[] truncated = Arrays.copyOf(frame, cut % frame.length);
    assertThatThrownBy(() -> ReplicationFrameCodec.decode(truncated))
        .isInstanceOf(CorruptEncodingException.class);
  }

  @Property(tries = 300, seed = "99")
  void randomBytesNeverEscapeAsAnotherException(@ForAll byte[] noise) {
    decodesOrIsCorrupt(noise);
  }

  @Test
  void oneFrameCarriesManyPartitionsAndOpaqueBytesExactly() {
    byte[] payload = {0, (byte) 0xFF, 7};
    List<PartitionMessage> batch =
        List.of(
            new PartitionMessage(
                0,
                16_383,
                new Append(
                    1,
                    2,
                    3,
                    new Lsn(2, 9),
                    List.of(
                        new Entry(3, 10, null),
                        new Entry(3, 11, new Operation.Write("k", payload))),
                    9)),
            new PartitionMessage(65_535, 0, new AppendAck(2, 1, 3, 11, true)));
    List<PartitionMessage> back = ReplicationFrameCodec.decode(ReplicationFrameCodec.encode(batch));
    assertThat(back).isEqualTo(batch);
    Append append = (Append) back.getFirst().message();
    assertThat(((Operation.Write) append.entries().get(1).operation()).payload())
        .isEqualTo(payload);
  }

  @Test
  void unknownVersionIsRefusedWithTheVersion() {
    byte[] frame = ReplicationFrameCodec.encode(List.of());
    frame[0] = 2;
    assertThatThrownBy(() -> ReplicationFrameCodec.decode(frame))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("version 2");
  }

  @Test
  void countBeyondTheBoundIsRefusedBeforeAllocating() {
    byte[] frame =
        new ByteWriter()
            .writeByte(ReplicationFrameCodec.VERSION)
            .writeVarInt(ReplicationFrameCodec.MESSAGES_PER_FRAME_MAX + 1)
            .toByteArray();
    assertThatThrownBy(() -> ReplicationFrameCodec.decode(frame))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("exceeds bound");
  }

  @Test
  void aFieldTheMessageRefusesIsReportedAsCorrupt() {
    // An Append whose only entry has offset 5 right after previous offset 1: out of order.
    byte[] frame =
        new ByteWriter()
            .writeByte(ReplicationFrameCodec.VERSION)
            .writeVarInt(1)
            .writeByte(0)
            .writeByte(1)
            .writeInt(7)
            .writeByte(1) // Append
            .writeInt(0)
            .writeInt(1)
            .writeVarLong(1)
            .writeVarLong(1)
            .writeVarLong(1)
            .writeVarInt(1)
            .writeVarLong(1)
            .writeVarLong(5)
            .writeByte(0)
            .writeVarLong(0)
            .toByteArray();
    assertThatThrownBy(() -> ReplicationFrameCodec.decode(frame))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("expected 2");
  }

  @Test
  void trailingBytesAreRefused() {
    byte[] frame = ReplicationFrameCodec.encode(List.of());
    byte[] longer = Arrays.copyOf(frame, frame.length + 1);
    assertThatThrownBy(() -> ReplicationFrameCodec.decode(longer))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("trailing");
  }

  private static void decodesOrIsCorrupt(byte[] frame) {
    try {
      List<PartitionMessage> decoded = ReplicationFrameCodec.decode(frame);
      // What decodes must be a valid batch that encodes back to a frame that decodes the same.
      assertThat(ReplicationFrameCodec.decode(ReplicationFrameCodec.encode(decoded)))
          .isEqualTo(decoded);
    } catch (CorruptEncodingException expected) {
      assertThat(expected.getMessage()).isNotBlank();
    }
  }

  @Provide
  Arbitrary<List<PartitionMessage>> batches() {
    return Arbitraries.longs().map(ReplicationFrameCodecTest::randomBatch);
  }

  private static List<PartitionMessage> randomBatch(long seed) {
    Random random = new Random(seed);
    int count = random.nextInt(8);
    List<PartitionMessage> batch = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      batch.add(
          new PartitionMessage(
              random.nextInt(PartitionMessage.KEYSPACE_MAX + 1),
              random.nextInt(Integer.MAX_VALUE),
              randomMessage(random)));
    }
    return batch;
  }

  private static SingleLeaderMessage randomMessage(Random random) {
    int from = random.nextInt(100);
    int to = random.nextInt(100);
    long epoch = random.nextInt(3) == 0 ? Long.MAX_VALUE : random.nextInt(1_000);
    return switch (random.nextInt(11)) {
      case 0 -> {
        long previousOffset = random.nextInt(1_000);
        int entries = random.nextInt(4);
        List<Entry> list = new ArrayList<>();
        for (int i = 0; i < entries; i++) {
          list.add(
              new Entry(1 + random.nextInt(50), previousOffset + 1 + i, randomMutation(random)));
        }
        yield new Append(
            from, to, epoch, new Lsn(random.nextInt(50), previousOffset), list, random.nextInt(99));
      }
      case 1 -> new AppendAck(from, to, epoch, random.nextInt(1_000), random.nextBoolean());
      case 2 -> new EpochQuery(from, to, epoch, random.nextInt(1_000));
      case 3 -> new EpochAnswer(from, to, epoch, random.nextInt(9), randomLsn(random));
      case 4 ->
          new Heartbeat(
              from,
              to,
              epoch,
              randomLsn(random),
              random.nextBoolean(),
              random.nextLong(),
              random.nextLong());
      case 5 ->
          new Leadership(
              from, to, epoch, random.nextInt(5) - 1, random.nextLong(), random.nextLong());
      case 6 -> new Fence(from, to, epoch);
      case 7 -> new FenceAck(from, to, epoch, randomLsn(random));
      case 8 -> new Drain(from, to, epoch, random.nextInt(9));
      case 9 -> new Drained(from, to, epoch, random.nextInt(9), randomLsn(random));
      default ->
          new SnapshotNeeded(from, to, epoch, 1 + random.nextInt(100_000), random.nextInt(50));
    };
  }

  private static Lsn randomLsn(Random random) {
    return new Lsn(random.nextInt(100), random.nextInt(10_000));
  }

  private static Operation.Mutation randomMutation(Random random) {
    String key = "k" + "é€".repeat(random.nextInt(3)) + random.nextInt(100);
    return switch (random.nextInt(3)) {
      case 0 -> null;
      case 1 -> new Operation.Put(key, "v" + random.nextInt());
      default -> {
        byte[] payload = new byte[random.nextInt(40)];
        random.nextBytes(payload);
        yield new Operation.Write(key, payload);
      }
    };
  }
}
