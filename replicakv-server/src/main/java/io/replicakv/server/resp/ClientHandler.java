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
      readyToSend.remove(s);
      if (s.pending != null) {
        s.pending.release();
        s.pending = null;
      }
      s.inFlight.forEach(ClientHandler::release);
      s.inFlight.clear();
    }
    ctx.fireChannelInactive();
  }

  /**
   * Replies of a batch are handed to the socket once they pass this size, so one large pipeline
   * never builds one huge buffer. What the socket cannot take yet queues in the channel and counts
   * against client-output-buffer-limit, past which the client is disconnected (as in Redis); new
   * input is not read while the queue is above the water mark.
   */
  static final int PENDING_WRITE_BYTES = 256 * 1024;

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    Session s = ctx.channel().attr(SESSION).get();
    if (s == null || s.closeAfterReply) {
      io.netty.util.ReferenceCountUtil.release(msg);
      return; // rejected or closing: ignore the rest of the input
    }
    process(ctx, s, msg);
  }

  private void process(ChannelHandlerContext ctx, Session s, Object msg) {
    if (msg instanceof RespRequest request) {
      node.tickClock();
      Reply reply = dispatcher.execute(s, request);
      if (reply == Dispatcher.FORWARDED) {
        startAsync(ctx, s);
        return;
      }
      append(ctx, s, reply);
      if (s.pending != null && s.pending.readableBytes() >= PENDING_WRITE_BYTES) {
        long limit = node.outputBufferLimitBytes;
        if (limit > 0 && s.pending.readableBytes() > limit) {
          overLimit(ctx, s);
          return;
        }
        if (s.awaitSequence <= node.engine.durableSequence()) {
          node.engine.flush(); // the log goes first, as at the end of every batch
          send(s); // part of a large batch: hand it over, checked against the output limit
        }
      }
    } else if (msg instanceof RespProtocolError error) {
      node.metrics.protocolErrors++;
      append(ctx, s, Reply.error("ERR Protocol error: " + error.message()));
      s.closeAfterReply = true;
      log.debug("client {} sent invalid RESP: {}", s.address(), error.message());
    }
  }

  private void append(ChannelHandlerContext ctx, Session s, Reply reply) {
    Session.AsyncReply last = s.inFlight.peekLast();
    if (last != null) {
      if (last.after == null) {
        last.after = ctx.alloc().ioBuffer(256);
      }
      RespEncoder.encode(reply, s.protocol, last.after);
      long limit = node.outputBufferLimitBytes;
      if (limit > 0 && last.after.readableBytes() > limit) {
        overLimit(ctx, s);
      }
      return;
    }
    if (s.pending == null) {
      s.pending = ctx.alloc().ioBuffer(256);
    }
    RespEncoder.encode(reply, s.protocol, s.pending);
  }

  /** Most replies one connection may be waiting for from other nodes before its reads pause. */
  static final int FORWARDED_IN_FLIGHT_MAX = 1024;

  /** The command went to another node: keep its place in the reply order until it answers. */
  private void startAsync(ChannelHandlerContext ctx, Session s) {
    Session.AsyncReply slot = new Session.AsyncReply();
    s.inFlight.addLast(slot);
    java.util.concurrent.CompletableFuture<byte[]> future = s.forwarded;
    s.forwarded = null;
    if (s.inFlight.size() >= FORWARDED_IN_FLIGHT_MAX) {
      ctx.channel().config().setAutoRead(false);
    }
    future.whenComplete(
        (bytes, error) ->
            ctx.channel().eventLoop().execute(() -> completeAsync(ctx, s, slot, bytes, error)));
  }

  private void completeAsync(
      ChannelHandlerContext ctx,
      Session s,
      Session.AsyncReply slot,
      byte[] bytes,
      Throwable error) {
    if (!ctx.channel().isActive()) {
      release(slot);
      return;
    }
    if (error != null) {
      node.metrics.forwardFailures++;
      Throwable cause =
          error instanceof java.util.concurrent.CompletionException ? error.getCause() : error;
      ByteBuf b = ctx.alloc().ioBuffer(128);
      RespEncoder.encode(
          Reply.error(
              "TRYAGAIN forwarding to the key's owner failed ("
                  + (cause == null ? "unknown" : cause.getMessage())
                  + "); the command may or may not have been applied"),
          s.protocol,
          b);
      slot.reply = b;
    } else {
      slot.reply = io.netty.buffer.Unpooled.wrappedBuffer(bytes);
    }
    slot.done = true;
    boolean moved = false;
    while (!s.inFlight.isEmpty() && s.inFlight.peekFirst().done) {
      Session.AsyncReply head = s.inFlight.pollFirst();
      if (s.pending == null) {
        s.pending = ctx.alloc().ioBuffer(256);
      }
      s.pending.writeBytes(head.reply);
      if (head.after != null) {
        s.pending.writeBytes(head.after);
      }
      release(head);
      moved = true;
    }
    if (s.inFlight.size() < FORWARDED_IN_FLIGHT_MAX && ctx.channel().isWritable()) {
      ctx.channel().config().setAutoRead(true);
    }
    if (moved) {
      channelReadComplete(ctx);
    }
  }

  private static void release(Session.AsyncReply slot) {
    if (slot.reply != null) {
      slot.reply.release();
      slot.reply = null;
    }
    if (slot.after != null) {
      slot.after.release();
      slot.after = null;
    }
  }

  private void overLimit(ChannelHandlerContext ctx, Session s) {
    node.metrics.outputLimitDisconnects++;
    log.warn("client {} disconnected: replies exceed client-output-buffer-limit", s.address());
    if (s.pending != null) {
      s.pending.release();
      s.pending = null;
    }
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
  private final Runnable flushTask = this::flushLog;

  /**
   * End of a loop iteration: the log is written first (one write(2) for every connection's
   * changes), then the replies go out, so a reply never leaves before its record reached the OS
   * (under fsync=always, before the disk: those replies wait for the fsync).
   */
  private void flushLog() {
    flushScheduled = false;
    node.engine.flush();
    releaseDurable(); // under fsync=interval/never the flush itself makes records durable
    List<Session> batch = readyToSend;
    readyToSend = spareList; // sends below may close channels, which edits readyToSend
    for (Session s : batch) {
      s.queuedToSend = false;
      releaseOrWait(s);
    }
    batch.clear();
    spareList = batch;
  }

  private List<Session> readyToSend = new ArrayList<>();
  private List<Session> spareList = new ArrayList<>();

  private void releaseOrWait(Session s) {
    if (s.pending == null) {
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

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    requestLogFlush(ctx);
    Session s = ctx.channel().attr(SESSION).get();
    if (s == null || s.pending == null || s.queuedToSend) {
      return;
    }
    s.queuedToSend = true;
    readyToSend.add(s);
  }

  private void send(Session s) {
    ByteBuf out = s.pending;
    s.pending = null;
    if (out == null) {
      return;
    }
    if (s.remoteReply != null) {
      byte[] bytes = io.netty.buffer.ByteBufUtil.getBytes(out);
      out.release();
      s.remoteReply.accept(bytes);
      return;
    }
    Channel ch = s.channel;
    long limit = node.outputBufferLimitBytes;
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

  /**
   * Runs a command a peer forwarded, as if this node's own client sent it with the given keyspace
   * and protocol; {@code done} gets the encoded reply once it may be released (after fsync under
   * fsync=always). Must be called on the node loop.
   */
  public void executeForwarded(
      int keyspace,
      int protocol,
      RespRequest request,
      int hops,
      java.util.function.Consumer<byte[]> done) {
    executeForwarded(
        keyspace, protocol, request, hops, new io.replicakv.server.session.SessionState(), done);
  }

  /**
   * Like {@link #executeForwarded(int, int, RespRequest, int, java.util.function.Consumer)}, with
   * {@code sessionState} as the forwarded command's session, which the caller reads once {@code
   * done} runs (the command's session position, for the forwarding node's client).
   */
  public void executeForwarded(
      int keyspace,
      int protocol,
      RespRequest request,
      int hops,
      io.replicakv.server.session.SessionState sessionState,
      java.util.function.Consumer<byte[]> done) {
    Session s = new Session(-1, null, node.tickClock());
    s.sessionState = sessionState;
    s.keyspace = keyspace;
    s.protocol = protocol;
    s.remoteReply = done;
    s.forwardHops = hops;
    Reply reply = dispatcher.execute(s, request);
    if (reply == Dispatcher.FORWARDED) {
      // this node's newer view names another owner: relay that node's answer
      s.forwarded.whenComplete(
          (bytes, error) -> {
            if (error == null) {
              done.accept(bytes);
              return;
            }
            node.metrics.forwardFailures++;
            io.netty.buffer.ByteBuf b = io.netty.buffer.Unpooled.buffer(128);
            RespEncoder.encode(
                Reply.error(
                    "TRYAGAIN forwarding to the key's owner failed; the command may or may not"
                        + " have been applied"),
                protocol,
                b);
            byte[] out = new byte[b.readableBytes()];
            b.readBytes(out);
            done.accept(out);
          });
      s.forwarded = null;
      return;
    }
    s.pending = io.netty.buffer.PooledByteBufAllocator.DEFAULT.ioBuffer(64);
    RespEncoder.encode(reply, protocol, s.pending);
    node.engine.flush();
    if (s.awaitSequence > node.engine.durableSequence()) {
      s.waitingForDisk = true;
      waitingForDisk.add(s);
      return;
    }
    send(s);
  }

  /** Called on the log writer thread when the log's durable sequence advanced (fsync=always). */
  public void onDurable(long durableSequence) {
    if (releasePending.compareAndSet(false, true)) {
      node.loopExecute(releaseTask);
    }
  }

  private final java.util.concurrent.atomic.AtomicBoolean releasePending =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final Runnable releaseTask = this::releaseFromLoop;

  private void releaseFromLoop() {
    releasePending.set(false);
    releaseDurable();
  }

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
    flushLog();
    releaseDurable();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    Session s = ctx.channel().attr(SESSION).get();
    boolean forwardsBelowCap = s == null || s.inFlight.size() < FORWARDED_IN_FLIGHT_MAX;
    ctx.channel().config().setAutoRead(ctx.channel().isWritable() && forwardsBelowCap);
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
