package io.replicakv.net.resp;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Test helper: runs bytes through a {@link RespDecoder} in an {@link EmbeddedChannel}. */
final class Decoding {
  private Decoding() {}

  static final RespLimits SMALL_LIMITS = new RespLimits(64, 16, 64);

  /** Everything the decoder emits for {@code input} delivered in reads of {@code chunkBytes}. */
  static List<Object> decode(RespLimits limits, byte[] input, int chunkBytes) {
    return decode(new RespDecoder(limits), input, chunkBytes);
  }

  static List<Object> decode(RespDecoder decoder, byte[] input, int chunkBytes) {
    EmbeddedChannel channel = new EmbeddedChannel(decoder);
    List<Object> out = new ArrayList<>();
    try {
      for (int offset = 0; offset < input.length; offset += chunkBytes) {
        int length = Math.min(chunkBytes, input.length - offset);
        channel.writeInbound(Unpooled.copiedBuffer(input, offset, length));
        drain(channel, out);
      }
      channel.finish();
      drain(channel, out);
    } finally {
      channel.finishAndReleaseAll();
    }
    return out;
  }

  static List<Object> decode(RespLimits limits, String input, int chunkBytes) {
    return decode(limits, latin1(input), chunkBytes);
  }

  static List<Object> decode(String input) {
    return decode(RespLimits.defaults(), latin1(input), Integer.MAX_VALUE);
  }

  static byte[] latin1(String text) {
    return text.getBytes(StandardCharsets.ISO_8859_1);
  }

  static RespRequest request(String... args) {
    return RespRequest.ofStrings(args);
  }

  static RespRequest inline(String... args) {
    byte[][] bytes = new byte[args.length][];
    for (int i = 0; i < args.length; i++) {
      bytes[i] = latin1(args[i]);
    }
    return new RespRequest(bytes, true);
  }

  /** A multibulk command for {@code args}, as clients send it. */
  static byte[] multibulk(List<byte[]> args) {
    StringBuilder header = new StringBuilder();
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    header.append('*').append(args.size()).append("\r\n");
    bytes.writeBytes(latin1(header.toString()));
    for (byte[] arg : args) {
      bytes.writeBytes(latin1("$" + arg.length + "\r\n"));
      bytes.writeBytes(arg);
      bytes.writeBytes(latin1("\r\n"));
    }
    return bytes.toByteArray();
  }

  private static void drain(EmbeddedChannel channel, List<Object> out) {
    Object message;
    while ((message = channel.readInbound()) != null) {
      out.add(message);
    }
  }
}
