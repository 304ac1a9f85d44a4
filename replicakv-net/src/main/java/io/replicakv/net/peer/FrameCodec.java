package io.replicakv.net.peer;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageCodec;
import io.netty.handler.codec.EncoderException;
import io.replicakv.core.util.Check;
import java.util.List;

/**
 * Encodes and decodes peer {@link Frame}s: {@code [u32 length][u8 protocolVersion][u16 type][u64
 * correlationId][payload]}, big-endian, where {@code length} counts the bytes after the length
 * field (so an empty payload gives length {@value #HEADER_BYTES}).
 *
 * <h2>Model</h2>
 *
 * <p>Node-to-node traffic is a stream of self-delimiting frames on one TCP connection per peer, in
 * the style of Kafka's and Cassandra's native protocols: a length prefix for framing, a version
 * byte so that a node can tell a frame it cannot read from a corrupt one, a type that selects the
 * message, and a correlation id so that many requests share one connection and their responses may
 * return in any order.
 *
 * <h2>Invariants</h2>
 *
 * <ul>
 *   <li>The first five bytes of a frame, {@code [u32 length][u8 version]}, keep this meaning in
 *       every future version; everything after the version byte may change with it. So any node can
 *       always find the frame boundary and tell which version it is looking at.
 *   <li>No frame, length prefix included, is larger than {@code maxFrameBytes} in either direction;
 *       the decoder never buffers more than that for one frame, so a peer cannot make this node
 *       allocate without bound.
 * </ul>
 *
 * <h2>Failure cases</h2>
 *
 * <p>A frame with a version other than {@value #PROTOCOL_VERSION}, a length below the header size
 * or a size above the bound raises {@link FrameProtocolException}; afterwards the decoder discards
 * all input, because the stream cannot be trusted to be aligned on a frame any more. The channel
 * handler answers with an ERROR frame (version {@value #PROTOCOL_VERSION}) and closes the
 * connection. Version 1 has no negotiation: a node of another version is refused, and the
 * connection closes. A rolling upgrade will add a hello exchange in which both sides settle on the
 * highest version they share; the fixed five-byte prefix is what makes that possible.
 *
 * <p>Not covered: bit flips inside a payload (TCP's checksum is weak; callers whose payloads must
 * be intact, such as log records, carry their own CRC) and a peer that stops mid-frame (that is the
 * request timeout's job).
 *
 * <p>One instance per channel: the decoder keeps the failed state of its connection.
 */
public final class FrameCodec extends ByteToMessageCodec<Frame> {
  /** The version this node speaks and accepts. */
  public static final int PROTOCOL_VERSION = 1;

  /** Bytes of the length prefix. */
  public static final int PREFIX_BYTES = 4;

  /** Bytes after the prefix and before the payload: version (1), type (2), correlation id (8). */
  public static final int HEADER_BYTES = 1 + 2 + 8;

  /**
   * Default bound on one frame, prefix included. Large enough for a replication batch or a snapshot
   * chunk; a caller with more data splits it. Past it the sender refuses the request and the
   * receiver closes the connection.
   */
  public static final int DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

  /** Smallest allowed bound: a frame with an empty payload. */
  public static final int MIN_MAX_FRAME_BYTES = PREFIX_BYTES + HEADER_BYTES;

  private final int maxFrameBytes;
  private boolean failed;

  /** A codec that accepts frames of at most {@code maxFrameBytes}, prefix included. */
  public FrameCodec(int maxFrameBytes) {
    Check.argument(
        maxFrameBytes >= MIN_MAX_FRAME_BYTES,
        "maxFrameBytes %s below the header size %s",
        maxFrameBytes,
        MIN_MAX_FRAME_BYTES);
    this.maxFrameBytes = maxFrameBytes;
  }

  /** The bound on one frame, prefix included. */
  public int maxFrameBytes() {
    return maxFrameBytes;
  }

  @Override
  protected void encode(ChannelHandlerContext context, Frame frame, ByteBuf out) {
    int frameBytes = frame.encodedBytes();
    if (frameBytes > maxFrameBytes) {
      // Callers check before writing; reaching this is a bug in this package, not peer input.
      throw new EncoderException(
          "frame of " + frameBytes + " bytes exceeds maxFrameBytes " + maxFrameBytes);
    }
    writeFrame(frame, out);
  }

  /** Writes one version-{@value #PROTOCOL_VERSION} frame to {@code out}, without a size check. */
  static void writeFrame(Frame frame, ByteBuf out) {
    out.ensureWritable(frame.encodedBytes());
    out.writeInt(HEADER_BYTES + frame.payload().length);
    out.writeByte(PROTOCOL_VERSION);
    out.writeShort(frame.type());
    out.writeLong(frame.correlationId());
    out.writeBytes(frame.payload());
  }

  @Override
  protected void decode(ChannelHandlerContext context, ByteBuf in, List<Object> out) {
    if (failed) {
      in.skipBytes(in.readableBytes());
      return;
    }
    while (true) {
      Frame frame = decodeOne(in);
      if (frame == null) {
        return;
      }
      out.add(frame);
    }
  }

  /** One frame from {@code in}, or null when more bytes are needed; throws on a bad frame. */
  private Frame decodeOne(ByteBuf in) {
    if (in.readableBytes() < PREFIX_BYTES + 1) {
      return null;
    }
    int start = in.readerIndex();
    long length = in.getUnsignedInt(start);
    int version = in.getUnsignedByte(start + PREFIX_BYTES);
    if (version != PROTOCOL_VERSION) {
      throw fail(
          "unsupported protocol version "
              + version
              + "; this node speaks version "
              + PROTOCOL_VERSION
              + " only",
          Frame.CONNECTION_CORRELATION_ID);
    }
    if (length < HEADER_BYTES) {
      throw fail(
          "frame length " + length + " below header size " + HEADER_BYTES,
          Frame.CONNECTION_CORRELATION_ID);
    }
    if (in.readableBytes() < PREFIX_BYTES + HEADER_BYTES) {
      return null;
    }
    long correlationId = in.getLong(start + PREFIX_BYTES + 3);
    if (PREFIX_BYTES + length > maxFrameBytes) {
      throw fail(
          "frame of " + (PREFIX_BYTES + length) + " bytes exceeds maxFrameBytes " + maxFrameBytes,
          correlationId);
    }
    if (in.readableBytes() < PREFIX_BYTES + length) {
      return null;
    }
    in.skipBytes(PREFIX_BYTES + 1);
    int type = in.readUnsignedShort();
    in.skipBytes(8);
    byte[] payload = new byte[(int) length - HEADER_BYTES];
    in.readBytes(payload);
    return new Frame(type, correlationId, payload);
  }

  private FrameProtocolException fail(String message, long correlationId) {
    failed = true;
    return new FrameProtocolException(message, correlationId);
  }
}
