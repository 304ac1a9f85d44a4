package io.replicakv.server.resp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespEncoder;
import io.replicakv.net.resp.RespProtocolError;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.server.command.Dispatcher;
import io.replicakv.server.command.Node;
import io.replicakv.server.command.Session;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The RESP connection handler, one instance shared by all connections of the node loop.
 *
 * <p>Replies of one read batch are encoded into one buffer and written once at the end of the
 * batch, so a pipeline of 16 commands costs one write(2). Under fsync=always that buffer is held
 * until the log is durable up to the last write of the batch (group commit), so no client hears OK
 * for a write the disk does not hold; replies of a connection never overtake each other.
 *
 * <p>Back-pressure: when the socket's outbound buffer passes its high-water mark the connection
 * stops being read until it drains, so a client that pipelines but never reads holds at most the
 * water mark plus one batch; a single reply larger than client-output-buffer-limit disconnects it.
 */
@io.netty.channel.ChannelHandler.Sharable
public final class ClientHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(ClientHandler.class);
  private static final io.netty.util.AttributeKey<Session> SESSION =
      io.netty.util.AttributeKey.valueOf("replicakv.session");

  private final Node node;
  private final Dispatcher dispatcher;
  private final List<Session> waitingForDisk = new ArrayList<>();

  public ClientHandler(Node node, Dispatcher dispatcher) {
    this.node = node;
    this.dispatcher = dispatcher;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    Channel ch = ctx.channel();
    node.metrics.connectionsReceived++;
    if (node.sessions.size() >= node.config.getLong("maxclients")) {
      node.metrics.connectionsRejected++;
      ByteBuf out = ctx.alloc().buffer();
      RespEncoder.encode(Reply.error("ERR max number of clients reached"), 2, out);
      ctx.writeAndFlush(out).addListener(ChannelFutureListener.CLOSE);
      return;
    }
    Session s = new Session(node.newClientId(), ch, node.tickClock());
    ch.attr(SESSION).set(s);
    node.sessions.put(s.id, s);
    ctx.fireChannelActive();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    Session s = ctx.channel().attr(SESSION).getAndSet(null);
    if (s != null) {
      node.sessions.remove(s.id);
      waitingForDisk.remove(s);
      if (s.pending != null) {
        s.pending.release();
        s.pending = null;
      }
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    Session s = ctx.channel().attr(SESSION).get();
    if (s == null || s.closeAfterReply) {
      return; // rejected or closing: ignore the rest of the input
    }
    if (msg instanceof RespRequest request) {
      node.tickClock();
      Reply reply = dispatcher.execute(s, request);
      append(ctx, s, reply);
      long limit = node.config.getLong("client-output-buffer-limit");
      if (limit > 0 && s.pending.readableBytes() > limit) {
        overLimit(ctx, s);
      }
    } else if (msg instanceof RespProtocolError error) {
      node.metrics.protocolErrors++;
      append(ctx, s, Reply.error("ERR Protocol error: " + error.message()));
      s.closeAfterReply = true;
      log.debug("client {} sent invalid RESP: {}", s.address(), error.message());
    }
  }

  private void append(ChannelHandlerContext ctx, Session s, Reply reply) {
    if (s.pending == null) {
      s.pending = ctx.alloc().ioBuffer(256);
    }
    RespEncoder.encode(reply, s.protocol, s.pending);
  }

  private void overLimit(ChannelHandlerContext ctx, Session s) {
    node.metrics.outputLimitDisconnects++;
    log.warn("client {} disconnected: replies exceed client-output-buffer-limit", s.address());
    s.pending.release();
    s.pending = null;
    s.closeAfterReply = true;
    ctx.close();
  }

  /**
   * Hands the log records of this loop iteration to the log writer once, after every connection's
   * batch ran (a task queued now runs after the iteration's I/O), so one write(2) covers them all.
   */
  private void requestLogFlush(ChannelHandlerContext ctx) {
    if (!flushScheduled) {
      flushScheduled = true;
      ctx.channel().eventLoop().execute(flushTask);
    }
  }

  private boolean flushScheduled;
  // A method reference, not a lambda: a lambda in a field initializer may not read the blank
  // final `node` before the constructor assigned it (javac rejects it).
  private final Runnable flushTask = this::flushLog;

  private void flushLog() {
    flushScheduled = false;
    node.engine.flush();
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    requestLogFlush(ctx);
    Session s = ctx.channel().attr(SESSION).get();
    if (s == null || s.pending == null) {
      return;
    }
    if (s.awaitSequence > node.engine.durableSequence()) {
      if (!s.waitingForDisk) {
        s.waitingForDisk = true;
        waitingForDisk.add(s);
      }
      return;
    }
    send(s);
  }

  private void send(Session s) {
    ByteBuf out = s.pending;
    s.pending = null;
    if (out == null) {
      return;
    }
    Channel ch = s.channel;
    long limit = node.config.getLong("client-output-buffer-limit");
    if (limit > 0
        && ch.unsafe().outboundBuffer() != null
        && ch.unsafe().outboundBuffer().totalPendingWriteBytes() + out.readableBytes() > limit) {
      out.release();
      node.metrics.outputLimitDisconnects++;
      log.warn(
          "client {} disconnected: unread replies exceed client-output-buffer-limit", s.address());
      ch.close();
      return;
    }
    if (s.closeAfterReply) {
      ch.writeAndFlush(out).addListener(ChannelFutureListener.CLOSE);
    } else {
      ch.writeAndFlush(out, ch.voidPromise());
    }
  }

  /** Called on the log writer thread when the log's durable sequence advanced (fsync=always). */
  public void onDurable(long durableSequence) {
    if (releasePending.compareAndSet(false, true)) {
      node.loopExecute(releaseTask);
    }
  }

  private final java.util.concurrent.atomic.AtomicBoolean releasePending =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final Runnable releaseTask =
      () -> {
        releasePending.set(false);
        releaseDurable();
      };

  private void releaseDurable() {
    long durable = node.engine.durableSequence();
    for (Iterator<Session> it = waitingForDisk.iterator(); it.hasNext(); ) {
      Session s = it.next();
      if (s.awaitSequence <= durable) {
        it.remove();
        s.waitingForDisk = false;
        send(s);
      }
    }
  }

  /** Sends every reply that is allowed out (shutdown, after the final sync). */
  public void releaseAll() {
    releaseDurable();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    ctx.channel().config().setAutoRead(ctx.channel().isWritable());
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof IOException) {
      log.debug("client connection error: {}", cause.toString());
    } else {
      log.warn("client connection error", cause);
    }
    ctx.close();
  }
}
