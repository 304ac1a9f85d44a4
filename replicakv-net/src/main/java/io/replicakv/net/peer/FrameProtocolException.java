package io.replicakv.net.peer;

import io.netty.handler.codec.CorruptedFrameException;

/**
 * A peer sent bytes that are not a frame this node accepts: another protocol version, a length
 * below the header or above the frame bound. The connection cannot be resynchronised after this
 * (the length prefix is the only framing), so the reader answers with an ERROR frame and closes.
 */
public final class FrameProtocolException extends CorruptedFrameException {
  private static final long serialVersionUID = 1L;

  private final long correlationId;

  /**
   * @param correlationId the offending frame's id when the header could be read, otherwise {@link
   *     Frame#CONNECTION_CORRELATION_ID}
   */
  public FrameProtocolException(String message, long correlationId) {
    super(message);
    this.correlationId = correlationId;
  }

  /** The offending frame's correlation id, or {@link Frame#CONNECTION_CORRELATION_ID}. */
  public long correlationId() {
    return correlationId;
  }
}
