package io.replicakv.net.peer;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.util.concurrent.ScheduledFuture;
import io.replicakv.core.util.Check;
import java.net.ConnectException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The client's state for one peer address: the current {@link Link} (one TCP connection attempt),
 * the in-flight count, the correlation id counter and the reconnect backoff.
 *
 * <p>The lock orders submissions against connect outcomes, so requests reach the socket in lock
 * order. Futures are completed outside the lock, because their continuations may call back into the
 * client. Each pending request is removed from its link's map exactly once (by the response, its
 * timer, a write failure or the link's end), and whoever removes it completes it and gives back its
 * in-flight slot.
 */
final class PeerConnection {
  private final PeerClient client;
  private final String host;
  private final int port;
  private final String peer;
  private final ReentrantLock lock = new ReentrantLock();
  private final AtomicInteger inFlight = new AtomicInteger();

  // Guarded by lock.
  private Link current;
  private long nextCorrelationId = 1;
  private int failedConnects;
  private long retryNotBeforeNanos;
  private String lastConnectFailure = "";

  PeerConnection(PeerClient client, String host, int port, String peer) {
    this.client = client;
    this.host = host;
    this.port = port;
    this.peer = peer;
  }

  int inFlight() {
    return inFlight.get();
  }

  void submit(Frame request, CompletableFuture<Frame> result) {
    PeerUnavailableException refused;
    lock.lock();
    try {
      refused = admissionFailure();
      if (refused == null) {
        Link link = current != null ? current : connect();
        inFlight.incrementAndGet();
        Pending pending = new Pending(nextCorrelationId++, request, result);
        pending.frame = request.withCorrelationId(pending.correlationId);
        link.pending.put(pending.correlationId, pending);
        pending.timer =
            link.channel
                .eventLoop()
                .schedule(
                    () -> onTimeout(link, pending),
                    client.options().requestTimeoutMillis(),
                    TimeUnit.MILLISECONDS);
        if (link.open) {
          write(link, pending);
        } else {
          link.unsent.add(pending);
        }
      }
    } finally {
      lock.unlock();
    }
    if (refused != null) {
      result.completeExceptionally(refused);
    }
  }

  /** Why a new request may not go out now, or null. Caller holds the lock. */
  private PeerUnavailableException admissionFailure() {
    if (client.isClosed()) {
      return unavailable(PeerUnavailableException.Reason.CLIENT_CLOSED, "the client is closed");
    }
    int max = client.options().maxInFlightPerPeer();
    if (inFlight.get() >= max) {
      return unavailable(
          PeerUnavailableException.Reason.IN_FLIGHT_LIMIT,
          max + " requests already in flight (maxInFlightPerPeer)");
    }
    if (current == null && failedConnects > 0) {
      long waitNanos = retryNotBeforeNanos - client.nanoTime();
      if (waitNanos > 0) {
        return unavailable(
            PeerUnavailableException.Reason.BACKOFF,
            failedConnects
                + " connect attempt(s) failed, last: "
                + lastConnectFailure
                + "; next attempt in "
                + TimeUnit.NANOSECONDS.toMillis(waitNanos)
                + " ms");
      }
    }
    return null;
  }

  /** Starts a connection attempt and makes it current. Caller holds the lock. */
  private Link connect() {
    Link link = new Link();
    ChannelFuture connecting =
        client
            .bootstrap()
            .clone()
            .handler(
                new ChannelInitializer<>() {
                  @Override
                  protected void initChannel(Channel channel) {
                    channel
                        .pipeline()
                        .addLast("frames", new FrameCodec(client.options().maxFrameBytes()))
                        .addLast(
                            "responses", new ClientConnectionHandler(PeerConnection.this, link));
                  }
                })
            .connect(host, port);
    link.channel = connecting.channel();
    current = link;
    connecting.addListener(done -> onConnectDone(link, (ChannelFuture) done));
    return link;
  }

  private void onConnectDone(Link link, ChannelFuture done) {
    if (!done.isSuccess()) {
      String failure = describeConnectFailure(done.cause());
      lock.lock();
      try {
        link.connectOutcomeKnown = true;
        link.ended = true;
        if (current == link) {
          current = null;
        }
        failedConnects++;
        retryNotBeforeNanos = client.nanoTime() + backoffNanos(failedConnects);
        lastConnectFailure = failure;
      } finally {
        lock.unlock();
      }
      PeerUnavailableException.Reason reason =
          done.cause() instanceof ConnectException && !isTimeout(done.cause())
              ? PeerUnavailableException.Reason.CONNECT_REFUSED
              : PeerUnavailableException.Reason.CONNECT_FAILED;
      failAll(link, reason, failure);
      return;
    }
    boolean usable;
    String closeDetail;
    lock.lock();
    try {
      link.connectOutcomeKnown = true;
      usable = !link.ended && done.channel().isActive();
      if (usable) {
        link.open = true;
        failedConnects = 0;
        for (Pending pending : link.unsent) {
          if (link.pending.containsKey(pending.correlationId)) {
            write(link, pending);
          }
        }
      } else {
        link.ended = true;
        if (current == link) {
          current = null;
        }
      }
      link.unsent.clear();
      closeDetail = link.closeDetail;
    } finally {
      lock.unlock();
    }
    if (!usable) {
      failAll(link, PeerUnavailableException.Reason.CONNECTION_CLOSED, closeDetail);
    }
  }

  /** The channel of {@code link} went inactive, or the handler is closing it for {@code detail}. */
  void onLinkClosed(Link link, String detail) {
    boolean connectHandled;
    String closeDetail;
    lock.lock();
    try {
      if (current == link) {
        current = null;
      }
      if (!link.ended) {
        link.closeDetail = detail;
      }
      link.ended = true;
      // Before the connect listener has run, it owns failing the waiting requests: it sees ended.
      connectHandled = link.connectOutcomeKnown;
      closeDetail = link.closeDetail;
    } finally {
      lock.unlock();
    }
    if (connectHandled) {
      failAll(link, PeerUnavailableException.Reason.CONNECTION_CLOSED, closeDetail);
    }
  }

  /** A response arrived on {@code link}. */
  void onResponse(Link link, Frame response) {
    Pending pending = link.pending.remove(response.correlationId());
    if (pending == null) {
      client.countLateResponse();
      return;
    }
    release(pending);
    if (response.isError()) {
      pending.result.completeExceptionally(new PeerErrorException(peer, response.payloadText()));
    } else {
      pending.result.complete(response);
    }
  }

  private void onTimeout(Link link, Pending pending) {
    if (!link.pending.remove(pending.correlationId, pending)) {
      return;
    }
    inFlight.decrementAndGet();
    pending.result.completeExceptionally(
        unavailable(
            PeerUnavailableException.Reason.REQUEST_TIMEOUT,
            "no response to request "
                + pending.correlationId
                + " within "
                + client.options().requestTimeoutMillis()
                + " ms"
                + (link.open ? "" : " (still connecting)")));
  }

  /** Writes one request; caller holds the lock, so writes reach the channel in lock order. */
  private void write(Link link, Pending pending) {
    link.channel
        .writeAndFlush(pending.frame)
        .addListener(
            written -> {
              if (!written.isSuccess() && link.pending.remove(pending.correlationId, pending)) {
                release(pending);
                pending.result.completeExceptionally(
                    unavailable(
                        PeerUnavailableException.Reason.CONNECTION_CLOSED,
                        "write failed: " + written.cause()));
              }
            });
  }

  private void failAll(Link link, PeerUnavailableException.Reason reason, String detail) {
    List<Pending> failed = new ArrayList<>();
    for (Map.Entry<Long, Pending> entry : link.pending.entrySet()) {
      if (link.pending.remove(entry.getKey(), entry.getValue())) {
        failed.add(entry.getValue());
      }
    }
    failed.sort((left, right) -> Long.compare(left.correlationId, right.correlationId));
    for (Pending pending : failed) {
      release(pending);
      pending.result.completeExceptionally(
          unavailable(
              reason, detail + " (" + failed.size() + " request(s) in flight on this connection)"));
    }
  }

  private void release(Pending pending) {
    int left = inFlight.decrementAndGet();
    Check.state(left >= 0, "in-flight count of %s went negative", peer);
    if (pending.timer != null) {
      pending.timer.cancel(false);
    }
  }

  void close() {
    Link link;
    lock.lock();
    try {
      link = current;
      current = null;
    } finally {
      lock.unlock();
    }
    if (link != null) {
      failAll(link, PeerUnavailableException.Reason.CLIENT_CLOSED, "the client is closed");
      link.channel.close();
    }
  }

  private long backoffNanos(int failures) {
    long min = client.options().reconnectBackoffMinMillis();
    long max = client.options().reconnectBackoffMaxMillis();
    int doublings = Math.min(failures - 1, 30); // 2^30 times any minimum is past any sane cap
    long millis = Math.min(max, min << doublings);
    if (min > 0 && millis < min) {
      millis = max; // the shift overflowed
    }
    return TimeUnit.MILLISECONDS.toNanos(millis);
  }

  private static boolean isTimeout(Throwable cause) {
    return cause instanceof io.netty.channel.ConnectTimeoutException;
  }

  private static String describeConnectFailure(Throwable cause) {
    if (cause instanceof io.netty.channel.ConnectTimeoutException) {
      return "connect timed out: " + cause.getMessage();
    }
    if (cause instanceof ConnectException) {
      return "connect refused: " + cause.getMessage();
    }
    return "connect failed: " + cause;
  }

  private PeerUnavailableException unavailable(
      PeerUnavailableException.Reason reason, String detail) {
    return new PeerUnavailableException(reason, peer, detail);
  }

  /** One connection attempt and, once it succeeds, the connection. */
  static final class Link {
    final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    // Guarded by the PeerConnection lock.
    final ArrayDeque<Pending> unsent = new ArrayDeque<>();
    Channel channel;
    boolean connectOutcomeKnown;
    boolean open;
    boolean ended;
    String closeDetail = "connection closed";
  }

  /** One request waiting for its response. */
  static final class Pending {
    final long correlationId;
    final Frame request;
    final CompletableFuture<Frame> result;
    Frame frame;
    ScheduledFuture<?> timer;

    Pending(long correlationId, Frame request, CompletableFuture<Frame> result) {
      this.correlationId = correlationId;
      this.request = request;
      this.result = result;
    }
  }
}
