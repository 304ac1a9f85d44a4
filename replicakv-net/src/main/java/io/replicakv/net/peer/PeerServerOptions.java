package io.replicakv.net.peer;

import io.replicakv.core.util.Check;
import java.util.concurrent.Executor;

/**
 * Bounds and threading of a {@link PeerServer}.
 *
 * @param maxFrameBytes bound on a frame in either direction, length prefix included
 * @param maxInFlightPerConnection requests a connection may have unanswered; past it the server
 *     answers new ones with an ERROR frame at once rather than queue them, so a client that ignores
 *     its own bound cannot make the server buffer without limit
 * @param handlerExecutor where {@link FrameHandler#onRequest} runs; null means the connection's
 *     event loop
 */
public record PeerServerOptions(
    int maxFrameBytes, int maxInFlightPerConnection, Executor handlerExecutor) {
  /** Default for {@link #maxInFlightPerConnection}: well above a client's default bound. */
  public static final int DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION = 4096;

  /** Checks the bounds. */
  public PeerServerOptions {
    Check.argument(
        maxFrameBytes >= FrameCodec.MIN_MAX_FRAME_BYTES,
        "maxFrameBytes %s below %s",
        maxFrameBytes,
        FrameCodec.MIN_MAX_FRAME_BYTES);
    Check.argument(
        maxInFlightPerConnection > 0,
        "maxInFlightPerConnection %s must be positive",
        maxInFlightPerConnection);
  }

  /** Default frame bound and in-flight bound, handler on the event loop. */
  public static PeerServerOptions defaults() {
    return new PeerServerOptions(
        FrameCodec.DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION, null);
  }
}
