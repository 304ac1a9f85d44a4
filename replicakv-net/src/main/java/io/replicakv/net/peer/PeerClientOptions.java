package io.replicakv.net.peer;

import io.replicakv.core.util.Check;

/**
 * Bounds of a {@link PeerClient}; every one is per peer address.
 *
 * @param connectTimeoutMillis how long a TCP connect may take before the requests waiting on it
 *     fail
 * @param requestTimeoutMillis from {@link PeerClient#request} to the response, connect included;
 *     past it the future fails and a late response is dropped and counted
 * @param maxInFlightPerPeer unanswered requests per peer; past it {@code request} fails at once
 *     with {@link PeerUnavailableException.Reason#IN_FLIGHT_LIMIT} instead of queueing
 * @param maxFrameBytes bound on a frame in either direction, length prefix included
 * @param reconnectBackoffMinMillis wait after the first failed connect before the next attempt
 * @param reconnectBackoffMaxMillis cap of the doubling wait after repeated failed connects
 */
public record PeerClientOptions(
    long connectTimeoutMillis,
    long requestTimeoutMillis,
    int maxInFlightPerPeer,
    int maxFrameBytes,
    long reconnectBackoffMinMillis,
    long reconnectBackoffMaxMillis) {
  /** Default connect timeout: loopback and a LAN connect in well under this. */
  public static final long DEFAULT_CONNECT_TIMEOUT_MILLIS = 2_000;

  /** Default request timeout. */
  public static final long DEFAULT_REQUEST_TIMEOUT_MILLIS = 5_000;

  /** Default in-flight bound per peer. */
  public static final int DEFAULT_MAX_IN_FLIGHT_PER_PEER = 1024;

  /** Default first reconnect backoff. */
  public static final long DEFAULT_RECONNECT_BACKOFF_MIN_MILLIS = 50;

  /** Default reconnect backoff cap. */
  public static final long DEFAULT_RECONNECT_BACKOFF_MAX_MILLIS = 2_000;

  /** Checks the bounds. */
  public PeerClientOptions {
    Check.argument(
        connectTimeoutMillis > 0, "connectTimeoutMillis %s must be positive", connectTimeoutMillis);
    Check.argument(
        requestTimeoutMillis > 0, "requestTimeoutMillis %s must be positive", requestTimeoutMillis);
    Check.argument(
        maxInFlightPerPeer > 0, "maxInFlightPerPeer %s must be positive", maxInFlightPerPeer);
    Check.argument(
        maxFrameBytes >= FrameCodec.MIN_MAX_FRAME_BYTES,
        "maxFrameBytes %s below %s",
        maxFrameBytes,
        FrameCodec.MIN_MAX_FRAME_BYTES);
    Check.argument(
        reconnectBackoffMinMillis >= 0,
        "reconnectBackoffMinMillis %s must not be negative",
        reconnectBackoffMinMillis);
    Check.argument(
        reconnectBackoffMaxMillis >= reconnectBackoffMinMillis,
        "reconnectBackoffMaxMillis %s below reconnectBackoffMinMillis %s",
        reconnectBackoffMaxMillis,
        reconnectBackoffMinMillis);
  }

  /** Options with the default reconnect backoff. */
  public PeerClientOptions(
      long connectTimeoutMillis,
      long requestTimeoutMillis,
      int maxInFlightPerPeer,
      int maxFrameBytes) {
    this(
        connectTimeoutMillis,
        requestTimeoutMillis,
        maxInFlightPerPeer,
        maxFrameBytes,
        DEFAULT_RECONNECT_BACKOFF_MIN_MILLIS,
        DEFAULT_RECONNECT_BACKOFF_MAX_MILLIS);
  }

  /** The defaults named by this record's constants. */
  public static PeerClientOptions defaults() {
    return new PeerClientOptions(
        DEFAULT_CONNECT_TIMEOUT_MILLIS,
        DEFAULT_REQUEST_TIMEOUT_MILLIS,
        DEFAULT_MAX_IN_FLIGHT_PER_PEER,
        FrameCodec.DEFAULT_MAX_FRAME_BYTES);
  }
}
