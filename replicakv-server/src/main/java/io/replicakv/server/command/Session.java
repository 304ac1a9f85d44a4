package io.replicakv.server.command;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * One client connection's state. Owned by the node loop; nothing here is shared between threads
 * except through the loop.
 */
public final class Session {
  public final long id;
  public final Channel channel;
  public final long createdMillis;
  public int keyspace;
  public int protocol = 2;
  public String name = "";
  public String libraryName = "";
  public String libraryVersion = "";
  public long lastCommandMillis;
  public String lastCommand = "NULL";
  public long commandsProcessed;

  /** Replies encoded in this read batch, not yet handed to the channel. */
  public ByteBuf pending;

  /**
   * Under fsync=always, the log sequence that must be durable before {@link #pending} may go out.
   */
  public long awaitSequence;

  public boolean waitingForDisk;

  /** Queued to get its replies at the end of this loop iteration, after the log write. */
  public boolean queuedToSend;

  public boolean closeAfterReply;

  /**
   * For a command forwarded to this node by a peer: receives the encoded reply instead of a
   * channel. Such sessions are never routed again, so a forward cannot loop.
   */
  public java.util.function.Consumer<byte[]> remoteReply;

  /**
   * Set by ASKING: the next command may run on a slot this node imports (Redis's one-shot flag).
   */
  public boolean askingPending;

  /** True while the command right after an ASKING runs; the router reads it. */
  public boolean asking;

  /** For a forwarded command: how many times it was forwarded to reach this node (1 or more). */
  public int forwardHops;

  /** Set by the dispatcher when the last command went to another node. */
  public java.util.concurrent.CompletableFuture<byte[]> forwarded;

  /**
   * Replies still coming from other nodes, oldest first. While any is outstanding, later replies
   * queue behind it (in {@link AsyncReply#after}) so the client reads them in command order.
   */
  public final java.util.ArrayDeque<AsyncReply> inFlight = new java.util.ArrayDeque<>();

  /** A reply being computed elsewhere, and the replies that must follow it. */
  public static final class AsyncReply {
    public ByteBuf reply;
    public boolean done;
    public ByteBuf after;
  }

  /** The connection's session token (SESSION TOKEN / RESUME), raised by replicated commands. */
  public io.replicakv.server.session.SessionState sessionState =
      new io.replicakv.server.session.SessionState();

  /** Set by the dispatcher while a follower read runs, so its position is not the leader's. */
  public boolean followerReadServed;

  public Session(long id, Channel channel, long createdMillis) {
    this.id = id;
    this.channel = channel;
    this.createdMillis = createdMillis;
    this.lastCommandMillis = createdMillis;
  }

  public String address() {
    return format(channel == null ? null : channel.remoteAddress());
  }

  public String localAddress() {
    return format(channel == null ? null : channel.localAddress());
  }

  private static String format(SocketAddress a) {
    if (a instanceof InetSocketAddress inet) {
      return inet.getAddress().getHostAddress() + ":" + inet.getPort();
    }
    return String.valueOf(a);
  }

  /** The CLIENT LIST / CLIENT INFO line for this client. */
  public String describe(long nowMillis) {
    return "id="
        + id
        + " addr="
        + address()
        + " laddr="
        + localAddress()
        + " name="
        + name
        + " age="
        + (nowMillis - createdMillis) / 1000
        + " idle="
        + (nowMillis - lastCommandMillis) / 1000
        + " db="
        + keyspace
        + " cmd="
        + lastCommand.toLowerCase(java.util.Locale.ROOT)
        + " resp="
        + protocol
        + " lib-name="
        + libraryName
        + " lib-ver="
        + libraryVersion;
  }
}
