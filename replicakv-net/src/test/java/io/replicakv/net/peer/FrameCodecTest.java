package io.replicakv.net.peer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FrameCodecTest {
  @Test
  void encodesTheDocumentedLayout() {
    EmbeddedChannel channel = new EmbeddedChannel(new FrameCodec(1024));
    channel.writeOutbound(new Frame(0x1234, 0x0102030405060708L, new byte[] {9, 8, 7}));
    ByteBuf out = channel.readOutbound();
    try {
      assertThat(out.readInt()).isEqualTo(FrameCodec.HEADER_BYTES + 3);
      assertThat(out.readUnsignedByte()).isEqualTo((short) FrameCodec.PROTOCOL_VERSION);
      assertThat(out.readUnsignedShort()).isEqualTo(0x1234);
      assertThat(out.readLong()).isEqualTo(0x0102030405060708L);
      assertThat(out.readableBytes()).isEqualTo(3);
    } finally {
      out.release();
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void decodesFramesSplitAtEveryByte() {
    Random random = new Random(42);
    Frame[] frames = new Frame[20];
    ByteBuf wire = Unpooled.buffer();
    for (int i = 0; i < frames.length; i++) {
      byte[] payload = new byte[random.nextInt(300)];
      random.nextBytes(payload);
      frames[i] = new Frame(3 + random.nextInt(Frame.TYPE_MAX - 3), i + 1L, payload);
      FrameCodec.writeFrame(frames[i], wire);
    }
    EmbeddedChannel channel = new EmbeddedChannel(new FrameCodec(1024));
    while (wire.isReadable()) {
      int slice = Math.min(wire.readableBytes(), 1 + random.nextInt(7));
      channel.writeInbound(wire.readRetainedSlice(slice));
    }
    wire.release();
    for (Frame expected : frames) {
      assertThat((Frame) channel.readInbound()).isEqualTo(expected);
    }
    assertThat((Object) channel.readInbound()).isNull();
    channel.finishAndReleaseAll();
  }

  @Test
  void refusesFrameAboveBoundAndNamesItsCorrelationId() {
    EmbeddedChannel channel = new EmbeddedChannel(new FrameCodec(64));
    ByteBuf wire = Unpooled.buffer();
    FrameCodec.writeFrame(new Frame(7, 99, new byte[100]), wire);
    assertThatThrownBy(() -> channel.writeInbound(wire))
        .isInstanceOfSatisfying(
            FrameProtocolException.class,
            failure -> {
              assertThat(failure.correlationId()).isEqualTo(99);
              assertThat(failure).hasMessageContaining("exceeds maxFrameBytes 64");
            });
    // After a bad frame the stream is not trusted: a good frame behind it is discarded.
    ByteBuf more = Unpooled.buffer();
    FrameCodec.writeFrame(new Frame(7, 100, new byte[1]), more);
    channel.writeInbound(more);
    assertThat((Object) channel.readInbound()).isNull();
    channel.finishAndReleaseAll();
  }

  @Test
  void refusesAnotherProtocolVersion() {
    EmbeddedChannel channel = new EmbeddedChannel(new FrameCodec(1024));
    ByteBuf wire = Unpooled.buffer().writeInt(FrameCodec.HEADER_BYTES).writeByte(2);
    assertThatThrownBy(() -> channel.writeInbound(wire))
        .isInstanceOf(FrameProtocolException.class)
        .hasMessageContaining("unsupported protocol version 2");
    channel.finishAndReleaseAll();
  }

  @Test
  void refusesLengthBelowHeader() {
    EmbeddedChannel channel = new EmbeddedChannel(new FrameCodec(1024));
    ByteBuf wire = Unpooled.buffer().writeInt(3).writeByte(FrameCodec.PROTOCOL_VERSION);
    assertThatThrownBy(() -> channel.writeInbound(wire))
        .isInstanceOf(FrameProtocolException.class)
        .hasMessageContaining("below header size");
    channel.finishAndReleaseAll();
  }

  @Test
  void frameRejectsTypeOutsideSixteenBits() {
    assertThatThrownBy(() -> new Frame(Frame.TYPE_MAX + 1, 1, null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(Frame.error(5, "boom").payloadText()).isEqualTo("boom");
    assertThat(Frame.error(5, "x").payload()).isEqualTo("x".getBytes(StandardCharsets.UTF_8));
  }
}
