package io.replicakv.core.util;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

class ByteCodecTest {

  @Property(seed = "77")
  void varintsAndFixedWidthRoundTrip(
      @ForAll @LongRange(min = 0, max = Long.MAX_VALUE) long varint,
      @ForAll long fixed,
      @ForAll int fixedInt,
      @ForAll String text) {
    byte[] bytes =
        new ByteWriter()
            .writeVarLong(varint)
            .writeLong(fixed)
            .writeInt(fixedInt)
            .writeString(text)
            .writeBoolean(true)
            .toByteArray();
    ByteReader reader = new ByteReader(bytes);
    assertThat(reader.readVarLong()).isEqualTo(varint);
    assertThat(reader.readLong()).isEqualTo(fixed);
    assertThat(reader.readInt()).isEqualTo(fixedInt);
    assertThat(reader.readString(Integer.MAX_VALUE)).isEqualTo(text);
    assertThat(reader.readBoolean()).isTrue();
    reader.finish();
  }

  @Test
  void smallVarintsTakeOneByteAndLargeOnesTheirShare() {
    assertThat(new ByteWriter().writeVarLong(127).toByteArray()).hasSize(1);
    assertThat(new ByteWriter().writeVarLong(128).toByteArray()).hasSize(2);
    assertThat(new ByteWriter().writeVarLong(Long.MAX_VALUE).toByteArray()).hasSize(9);
    assertThatThrownBy(() -> new ByteWriter().writeVarLong(-1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void hostileLengthsAndCountsAreRefusedBeforeAllocating() {
    byte[] hugeLength = new ByteWriter().writeVarInt(Integer.MAX_VALUE).toByteArray();
    assertThatThrownBy(() -> new ByteReader(hugeLength).readBytes(1_024))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("exceeds bound 1024");
    byte[] bigCount = new ByteWriter().writeVarInt(50).writeByte(0).toByteArray();
    assertThatThrownBy(() -> new ByteReader(bigCount).readCount(1_000))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("exceeds remaining");
    byte[] endless = {
      (byte) 0xFF,
      (byte) 0xFF,
      (byte) 0xFF,
      (byte) 0xFF,
      (byte) 0xFF,
      (byte) 0xFF,
      (byte) 0xFF,
      (byte) 0xFF,
      (byte) 0xFF,
      (byte) 0xFF,
      1
    };
    assertThatThrownBy(() -> new ByteReader(endless).readVarLong())
        .isInstanceOf(CorruptEncodingException.class);
    assertThatThrownBy(() -> ByteReader.open(new byte[] {3}, 1, "Thing"))
        .hasMessageContaining("Thing: unknown format version 3");
  }

  @Test
  void checksFormatTheirMessagesOnlyOnFailure() {
    Check.state(true, "never formatted %s", new Object());
    assertThatThrownBy(() -> Check.state(false, "commit %s past last %s", 7, 5))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("commit 7 past last 5");
    assertThatThrownBy(() -> Check.argument(false, "bad %s", "input"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("bad input");
    assertThatThrownBy(() -> Check.notNull(null, "key")).hasMessage("key must not be null");
  }
}
