package io.replicakv.net.peer;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Sends request frames to peers and completes futures with their responses.
 *
 * <h2>Model</h2>
 *
 * <p>One TCP connection per peer address, multiplexed by correlation id, as Kafka's {@code
 * NetworkClient} and Cassandra's native protocol do: requests on a connection are written in the
 * order their {@link #request} calls took the peer's lock (which is call order for one thread), and
 * responses may come back in any order. Correlation ids count up from 1 per peer and never repeat
 * across reconnects, so a response that arrives after its request timed out is recognised, dropped
 * and counted ({@link #lateResponses()}) rather than given to a newer request.
 *
 * <h2>Bounds</h2>
 *
 * <ul>
 *   <li>At most {@link PeerClientOptions#maxInFlightPerPeer()} unanswered requests per peer,
 *       counting those waiting for a connect; past it a request fails at once ({@link
 *       PeerUnavailableException.Reason#IN_FLIGHT_LIMIT}). There is no other queue.
 *   <li>Every request has a deadline of {@link PeerClientOptions#requestTimeoutMillis()}, connect
 *       time included.
 *   <li>No frame above {@link PeerClientOptions#maxFrameBytes()} is sent or accepted.
 * </ul>
 *
 * <h2>Failures</h2>
 *
 * <p>A connection that breaks fails all its unanswered requests with {@link
 * PeerUnavailableException.Reason#CONNECTION_CLOSED}; the next request opens a new connection at
 * once. A connect that fails (refused, timed out) fails the requests waiting on it and starts a
 * backoff, doubling from {@link PeerClientOptions#reconnectBackoffMinMillis()} to {@link
 * PeerClientOptions#reconnectBackoffMaxMillis()}; during the backoff requests fail fast ({@link
 * PeerUnavailableException.Reason#BACKOFF}) instead of hammering a dead peer. A request whose
 * connection broke may or may not have run on the peer: the transport does not retry.
 *
 * <p>Futures complete on the connection's event loop (or the caller's thread when failing fast):
 * continuations must not block. The event loop group belongs to the caller.
 */
public final class PeerClient implements AutoCloseable {
  private final PeerClientOptions options;
  private final Bootstrap bootstrap;
  private final LongSupplier nanoTime;
  private final ConcurrentHashMap<String, PeerConnection> peers = new ConcurrentHashMap<>();
  private final LongAdder lateResponses = new LongAdder();
  private volatile boolean closed;

  /** A client whose connections run on {@code group}. */
  public PeerClient(EventLoopGroup group, PeerClientOptions options) {
    this(group, options, System::nanoTime);
  }

  /** Test seam: {@code nanoTime} drives the reconnect backoff. */
  PeerClient(EventLoopGroup group, PeerClientOptions options, LongSupplier nanoTime) {
    this.options = Check.notNull(options, "options");
    this.nanoTime = Check.notNull(nanoTime, "nanoTime");
    this.bootstrap =
        new Bootstrap()
            .group(Check.notNull(group, "group"))
            .channel(Transports.socketChannel(group))
            .option(ChannelOption.TCP_NODELAY, true)
            .option(
                ChannelOption.CONNECT_TIMEOUT_MILLIS,
                (int) Math.min(Integer.MAX_VALUE, options.connectTimeoutMillis()));
  }

  /**
   * Sends a request to {@code host:port} over a pooled connection; completes with the response
   * frame, or exceptionally with {@link PeerUnavailableException} (connect refused or failed,
   * backoff, connection closed, request timeout, in-flight limit, client closed: the reason and
   * message say which) or {@link PeerErrorException} (the peer answered with an ERROR frame). A
   * request the caller got wrong (reserved response type, above the frame bound) fails the future
   * with {@link IllegalArgumentException}.
   *
   * <p>The request's own correlation id is ignored: the client assigns one, and the response
   * carries it.
   */
  public CompletableFuture<Frame> request(String host, int port, Frame request) {
    CompletableFuture<Frame> result = new CompletableFuture<>();
    String refusal = refusal(request);
    if (refusal != null) {
      result.completeExceptionally(new IllegalArgumentException(refusal));
      return result;
    }
    String peer = host + ":" + port;
    if (closed) {
      result.completeExceptionally(
          new PeerUnavailableException(
              PeerUnavailableException.Reason.CLIENT_CLOSED, peer, "the client is closed"));
      return result;
    }
    peers
        .computeIfAbsent(peer, key -> new PeerConnection(this, host, port, key))
        .submit(request, result);
    return result;
  }

  private String refusal(Frame request) {
    if (request == null) {
      return "request is null";
    }
    if (request.type() == Frame.TYPE_ERROR || request.type() == Frame.TYPE_PONG) {
      return "frame type " + request.type() + " is reserved for responses";
    }
    if (request.encodedBytes() > options.maxFrameBytes()) {
      return "request frame of "
          + request.encodedBytes()
          + " bytes exceeds maxFrameBytes "
          + options.maxFrameBytes();
    }
    return null;
  }

  /** Responses that arrived after their request had timed out (or failed) and were dropped. */
  public long lateResponses() {
    return lateResponses.sum();
  }

  /** Unanswered requests to {@code host:port} right now. */
  public int inFlight(String host, int port) {
    PeerConnection connection = peers.get(host + ":" + port);
    return connection == null ? 0 : connection.inFlight();
  }

  /** Fails every unanswered request with {@code CLIENT_CLOSED} and closes all connections. */
  @Override
  public void close() {
    closed = true;
    List<PeerConnection> all = new ArrayList<>(peers.values());
    for (PeerConnection connection : all) {
      connection.close();
    }
  }

  boolean isClosed() {
    return closed;
  }

  PeerClientOptions options() {
    return options;
  }

  Bootstrap bootstrap() {
    return bootstrap;
  }

  long nanoTime() {
    return nanoTime.getAsLong();
  }

  void countLateResponse() {
    lateResponses.increment();
  }
}
