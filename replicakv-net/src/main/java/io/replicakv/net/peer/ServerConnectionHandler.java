package io.replicakv.net.peer;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.replicakv.core.util.Check;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Server side of one peer connection: dispatches request frames and writes their answers. */
final class ServerConnectionHandler extends SimpleChannelInboundHandler<Frame> {
  private static final Logger log = LoggerFactory.getLogger(ServerConnectionHandler.class);

  private final FrameHandler handler;
  private final PeerServerOptions options;
  private final AtomicInteger inFlight = new AtomicInteger();

  ServerConnectionHandler(FrameHandler handler, PeerServerOptions options) {
    this.handler = handler;
    this.options = options;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext context, Frame request) {
    Channel channel = context.channel();
    long correlationId = request.correlationId();
    switch (request.type()) {
      case Frame.TYPE_PING -> {
        channel.writeAndFlush(new Frame(Frame.TYPE_PONG, correlationId, request.payload()));
        return;
      }
      case Frame.TYPE_ERROR, Frame.TYPE_PONG -> {
        channel.writeAndFlush(
            Frame.error(correlationId, "frame type " + request.type() + " is not a request"));
        return;
      }
      default -> {}
    }
    int inFlightNow = inFlight.incrementAndGet();
    if (inFlightNow > options.maxInFlightPerConnection()) {
      inFlight.decrementAndGet();
      channel.writeAndFlush(
          Frame.error(
              correlationId,
              "peer busy: "
                  + options.maxInFlightPerConnection()
                  + " requests already in flight on this connection"));
      return;
    }
    ConnectionResponder responder = new ConnectionResponder(channel, correlationId);
    Executor executor = options.handlerExecutor();
    if (executor == null) {
      invoke(request, responder);
      return;
    }
    try {
      executor.execute(() -> invoke(request, responder));
    } catch (RejectedExecutionException rejected) {
      responder.fail("peer overloaded: handler executor rejected the request");
    }
  }

  private void invoke(Frame request, ConnectionResponder responder) {
    try {
      handler.onRequest(request, responder);
    } catch (RuntimeException failure) {
      log.warn("peer request handler threw on {}", request, failure);
      responder.failIfUnanswered("handler failed: " + failure);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext context, Throwable cause) {
    Channel channel = context.channel();
    if (cause instanceof FrameProtocolException protocol) {
      log.warn("closing peer connection {}: {}", channel.remoteAddress(), protocol.getMessage());
      channel
          .writeAndFlush(Frame.error(protocol.correlationId(), protocol.getMessage()))
          .addListener(ChannelFutureListener.CLOSE);
      return;
    }
    log.debug("closing peer connection {} after an error", channel.remoteAddress(), cause);
    channel.close();
  }

  /** Answers one request once, from any thread. */
  private final class ConnectionResponder implements FrameHandler.Responder {
    private final Channel channel;
    private final long correlationId;
    private final AtomicBoolean answered = new AtomicBoolean();

    ConnectionResponder(Channel channel, long correlationId) {
      this.channel = channel;
      this.correlationId = correlationId;
    }

    @Override
    public void reply(Frame response) {
      Check.notNull(response, "response");
      Check.argument(
          response.correlationId() == correlationId
              || response.correlationId() == Frame.CONNECTION_CORRELATION_ID,
          "response correlation id %s does not match request %s",
          response.correlationId(),
          correlationId);
      Check.state(answered.compareAndSet(false, true), "request %s answered twice", correlationId);
      Frame stamped = response.withCorrelationId(correlationId);
      if (stamped.encodedBytes() > options.maxFrameBytes()) {
        stamped =
            Frame.error(
                correlationId,
                "response of "
                    + stamped.encodedBytes()
                    + " bytes exceeds maxFrameBytes "
                    + options.maxFrameBytes());
      }
      send(stamped);
    }

    @Override
    public void fail(String message) {
      Check.state(answered.compareAndSet(false, true), "request %s answered twice", correlationId);
      send(Frame.error(correlationId, String.valueOf(message)));
    }

    void failIfUnanswered(String message) {
      if (answered.compareAndSet(false, true)) {
        send(Frame.error(correlationId, message));
      }
    }

    private void send(Frame frame) {
      inFlight.decrementAndGet();
      // A closed channel fails the write quietly: the requester already saw the close.
      channel.writeAndFlush(frame);
    }
  }
}
