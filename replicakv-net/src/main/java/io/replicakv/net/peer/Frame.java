package io.replicakv.net.peer;

import io.replicakv.core.util.Check;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One message between nodes. On the wire: {@code [u32 length][u8 protocolVersion][u16 type][u64
 * correlationId][payload]}, where {@code length} counts every byte after itself (see {@link
 * FrameCodec}).
 *
 * <p>Types {@value #TYPE_ERROR}, {@value #TYPE_PING} and {@value #TYPE_PONG} are reserved by the
 * transport; every other number up to {@value #TYPE_MAX} belongs to the caller. Correlation id
 * {@value #CONNECTION_CORRELATION_ID} marks a frame about the connection itself (for example the
 * error a node sends before closing on a frame it cannot read); requests never use it.
 *
 * <p>The payload array is not copied: a caller that hands a frame to the transport must not change
 * the array afterwards.
 */
public record Frame(int type, long correlationId, byte[] payload) {
  /** Reserved: the request failed remotely, or the connection is being closed; UTF-8 message. */
  public static final int TYPE_ERROR = 0;

  /** Reserved: liveness probe; a server answers it itself with {@link #TYPE_PONG}. */
  public static final int TYPE_PING = 1;

  /** Reserved: the answer to {@link #TYPE_PING}, echoing its payload. */
  public static final int TYPE_PONG = 2;

  /** Largest type number: the field is an unsigned 16-bit integer. */
  public static final int TYPE_MAX = 0xFFFF;

  /** Correlation id of frames about the connection rather than one request. */
  public static final long CONNECTION_CORRELATION_ID = 0L;

  private static final byte[] EMPTY = new byte[0];

  /** Checks the type range; a null payload becomes an empty one. */
  public Frame {
    Check.argument(type >= 0 && type <= TYPE_MAX, "frame type %s outside 0..65535", type);
    payload = payload == null ? EMPTY : payload;
  }

  /** A frame with the given type and payload whose correlation id the transport assigns. */
  public static Frame of(int type, byte[] payload) {
    return new Frame(type, CONNECTION_CORRELATION_ID, payload);
  }

  /** An ERROR frame carrying {@code message} as UTF-8. */
  public static Frame error(long correlationId, String message) {
    return new Frame(TYPE_ERROR, correlationId, message.getBytes(StandardCharsets.UTF_8));
  }

  /** The same frame with another correlation id. */
  public Frame withCorrelationId(long newCorrelationId) {
    return new Frame(type, newCorrelationId, payload);
  }

  /** True for the reserved ERROR type. */
  public boolean isError() {
    return type == TYPE_ERROR;
  }

  /** The payload decoded as UTF-8: the message of an ERROR frame. */
  public String payloadText() {
    return new String(payload, StandardCharsets.UTF_8);
  }

  /** Bytes this frame takes on the wire, length prefix included. */
  public int encodedBytes() {
    return FrameCodec.PREFIX_BYTES + FrameCodec.HEADER_BYTES + payload.length;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Frame that
        && type == that.type
        && correlationId == that.correlationId
        && Arrays.equals(payload, that.payload);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * type + Long.hashCode(correlationId)) + Arrays.hashCode(payload);
  }

  @Override
  public String toString() {
    return "Frame[type="
        + type
        + ", correlationId="
        + correlationId
        + ", payloadBytes="
        + payload.length
        + "]";
  }
}
