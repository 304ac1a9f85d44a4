package io.replicakv.net.peer;

/**
 * A request did not get an answer from its peer, for the {@link Reason} given. The request may or
 * may not have run on the peer (it may have been written before the connection broke or the timer
 * fired), so only idempotent requests may be retried blindly.
 */
public final class PeerUnavailableException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Why no answer came. */
  public enum Reason {
    /** The peer actively refused the TCP connection: nothing listens on its port. */
    CONNECT_REFUSED,
    /** The TCP connection was not established within the connect timeout, or failed otherwise. */
    CONNECT_FAILED,
    /** Recent connection attempts failed and the reconnect backoff has not yet passed. */
    BACKOFF,
    /** The connection broke (closed by either side, reset, or a protocol error) in flight. */
    CONNECTION_CLOSED,
    /** No response arrived within the request timeout. */
    REQUEST_TIMEOUT,
    /** The peer already has {@code maxInFlightPerPeer} requests outstanding. */
    IN_FLIGHT_LIMIT,
    /** The client was closed. */
    CLIENT_CLOSED
  }

  private final Reason reason;
  private final String peer;

  /** An exception for {@code peer} ({@code host:port}) with a message that names the reason. */
  public PeerUnavailableException(Reason reason, String peer, String detail) {
    super(peer + " unavailable (" + reason + "): " + detail);
    this.reason = reason;
    this.peer = peer;
  }

  /** Why no answer came. */
  public Reason reason() {
    return reason;
  }

  /** The peer as {@code host:port}. */
  public String peer() {
    return peer;
  }
}
