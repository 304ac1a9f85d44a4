package io.replicakv.server.command;

import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.storage.log.FsyncPolicy;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one request: lookup, arity, the write gates (disk refusing writes, maxmemory), the handler,
 * and the per-command metrics. Never throws: every failure becomes an error reply and the
 * connection carries on.
 */
public final class Dispatcher {
  private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);

  private final Node node;
  private final boolean replyAfterFsync;
  private volatile io.replicakv.server.route.Router router =
      io.replicakv.server.route.Router.SINGLE_NODE;

  /**
   * Returned by {@link #execute} when the command went to another node; the pending reply is in
   * {@link Session#forwarded}.
   */
  public static final Reply FORWARDED = Reply.simple("FORWARDED");

  public Dispatcher(Node node, FsyncPolicy fsync) {
    this.node = node;
    this.replyAfterFsync = fsync == FsyncPolicy.ALWAYS;
  }

  public void setRouter(io.replicakv.server.route.Router router) {
    this.router = router;
  }

  private volatile io.replicakv.server.leaderless.LeaderlessKeyspaces leaderless;

  /** Serves the keyed commands of leaderless keyspaces through {@code keyspaces}. */
  public void setLeaderless(io.replicakv.server.leaderless.LeaderlessKeyspaces keyspaces) {
    this.leaderless = keyspaces;
  }

  private volatile io.replicakv.server.multi.SiteKeyspaces multi;

  /** Serves the keyed commands of multi-leader keyspaces through {@code keyspaces}. */
  public void setMulti(io.replicakv.server.multi.SiteKeyspaces keyspaces) {
    this.multi = keyspaces;
  }

  public static CommandTable allCommands() {
    CommandTable t = new CommandTable();
    ServerCommands.register(t);
    StringCommands.register(t);
    KeyCommands.register(t);
    HashCommands.register(t);
    SetCommands.register(t);
    ClusterCommands.register(t);
    io.replicakv.server.leaderless.LeaderlessCommands.commands().forEach(t::register);
    io.replicakv.server.multi.SiteCommands.commands().forEach(t::register);
    io.replicakv.server.leaderless.LeaderlessAdminCommands.commands().forEach(t::register);
    io.replicakv.server.session.SessionCommands.commands().forEach(t::register);
    io.replicakv.server.replication.ReplicationAdmin.commands().forEach(t::register);
    return t;
  }

  /**
   * Runs one request. A command on a replicated key that meets a leader change ({@code -TRYAGAIN}
   * before it ran) waits up to {@code replication-hold-ms} for a leader that can serve it, in order
   * behind the commands of its group that already wait ({@link
   * io.replicakv.server.replication.HeldCommands}); its reply then comes through {@link
   * Session#forwarded}.
   */
  public Reply execute(Session session, RespRequest request) {
    io.replicakv.server.replication.ReplicationLoop replication = node.replication;
    long group = heldGroup(replication, session, request);
    if (group != NOT_HELD) {
      io.replicakv.server.replication.HeldCommands held = replication.held();
      if (held.waiting(group) && held.hasRoom()) {
        return hold(replication, session, request, group);
      }
      Reply reply = executeNow(session, request);
      if (waitsOut(reply) && held.hasRoom()) {
        return hold(replication, session, request, group);
      }
      return reply;
    }
    return executeNow(session, request);
  }

  private static final long NOT_HELD = Long.MIN_VALUE;

  /** The hold queue of a keyed command of a replicated keyspace, or NOT_HELD. */
  private long heldGroup(
      io.replicakv.server.replication.ReplicationLoop replication,
      Session session,
      RespRequest request) {
    if (replication == null
        || replication.holdMillis() <= 0
        || !replication.replicates(session.keyspace)) {
      return NOT_HELD;
    }
    Command c = node.commands.find(request.arg(0));
    if (c == null || c.firstKey() <= 0 || request.argc() <= c.firstKey()) {
      return NOT_HELD;
    }
    int slot = io.replicakv.core.ring.Slots.slot(request.arg(c.firstKey()));
    return io.replicakv.server.replication.HeldCommands.key(
        session.keyspace, replication.groupIdOf(session.keyspace, slot));
  }

  /** A refusal before the command ran, worth waiting out: every TRYAGAIN this method returns. */
  private static boolean waitsOut(Reply reply) {
    return reply instanceof Reply.ErrorReply error && error.text().startsWith("TRYAGAIN ");
  }

  private Reply hold(
      io.replicakv.server.replication.ReplicationLoop replication,
      Session session,
      RespRequest request,
      long group) {
    java.util.concurrent.CompletableFuture<byte[]> answer =
        new java.util.concurrent.CompletableFuture<>();
    int protocol = session.protocol;
    replication
        .held()
        .hold(
            group,
            replication.holdMillis(),
            last -> {
              node.tickClock();
              Reply reply = executeNow(session, request);
              boolean refused = waitsOut(reply);
              if (!last && refused) {
                return io.replicakv.server.replication.HeldCommands.Outcome.WAITS;
              }
              node.engine.flush(); // as at the end of a client's batch: the log goes first
              if (reply == FORWARDED) {
                java.util.concurrent.CompletableFuture<byte[]> pending = session.forwarded;
                session.forwarded = null;
                pending.whenComplete(
                    (bytes, error) -> {
                      if (error != null) {
                        answer.completeExceptionally(error);
                      } else {
                        answer.complete(bytes);
                      }
                    });
              } else {
                answer.complete(encode(reply, protocol));
              }
              return refused
                  ? io.replicakv.server.replication.HeldCommands.Outcome.REFUSED
                  : io.replicakv.server.replication.HeldCommands.Outcome.RAN;
            });
    session.forwarded = answer;
    return FORWARDED;
  }

  private Reply executeNow(Session session, RespRequest request) {
    node.metrics.commandsProcessed++;
    session.commandsProcessed++;
    session.lastCommandMillis = node.now();
    Command c = node.commands.find(request.arg(0));
    if (c == null) {
      return Reply.error(unknownCommand(request));
    }
    session.lastCommand = c.name();
    if (!c.arityOk(request.argc())) {
      return Reply.error("ERR wrong number of arguments for '" + c.name() + "' command");
    }
    // ASKING holds for exactly the next command, whatever it is (Redis's rule)
    session.asking = session.askingPending && !c.name().equals("asking");
    if (!c.name().equals("asking")) {
      session.askingPending = false;
    }
    io.replicakv.server.multi.SiteKeyspaces sites = multi;
    if (sites != null
        && sites.isMultiLeader(session.keyspace)
        && io.replicakv.server.multi.SiteCommands.applies(c)) {
      // a site's replica holds every key (at its gateway): no slot routing, no single-leader engine
      session.forwarded =
          io.replicakv.server.multi.SiteCommands.run(
              sites,
              session.keyspace,
              c,
              request,
              session.protocol,
              session.remoteReply != null ? session.forwardHops : 0);
      return FORWARDED;
    }
    io.replicakv.server.leaderless.LeaderlessKeyspaces keyspaces = leaderless;
    if (keyspaces != null
        && keyspaces.isLeaderless(session.keyspace)
        && io.replicakv.server.leaderless.LeaderlessCommands.applies(c)) {
      // any node coordinates a leaderless key: no slot routing, no single-leader engine
      session.forwarded =
          io.replicakv.server.leaderless.LeaderlessCommands.run(
              keyspaces, keyspaces.service(session.keyspace), c, request, session.protocol);
      return FORWARDED;
    }
    io.replicakv.server.route.Router.Decision decision = router.route(session, c, request);
    if (decision instanceof io.replicakv.server.route.Router.Decision.Answer answer) {
      return answer.reply();
    }
    if (decision instanceof io.replicakv.server.route.Router.Decision.Forwarded forwarded) {
      session.forwarded = forwarded.encodedReply();
      node.metrics.forwardedCommands++;
      return FORWARDED;
    }
    if (c.isWrite() && node.engine.failure() != null) {
      return Reply.error(node.misconf());
    }
    if (c.denyOom() && node.overMaxmemory()) {
      node.metrics.oomRejections++;
      return Reply.error(CommandError.OOM);
    }
    io.replicakv.server.replication.ReplicationLoop replication = node.replication;
    int replicatedSlot = -1;
    if (replication != null
        && c.firstKey() > 0
        && request.argc() > c.firstKey()
        && !replication.replicates(session.keyspace)
        && node.clusterView != null
        && io.replicakv.server.route.ClusterRouter.replicatedKeyspace(
            node.clusterView.get(), session.keyspace)) {
      // the keyspace is replicated but this node's groups are not formed (yet): never run its
      // keyed commands on the local copy alone, where no replica or later leader would see them
      return Reply.error(
          "TRYAGAIN keyspace " + session.keyspace + " has no replica groups on this node yet");
    }
    if (replication != null
        && c.firstKey() > 0
        && request.argc() > c.firstKey()
        && replication.replicates(session.keyspace)) {
      replicatedSlot = io.replicakv.core.ring.Slots.slot(request.arg(c.firstKey()));
      String refusal = replicationRefusal(replication, session, c, request, replicatedSlot);
      if (refusal != null
          && !c.isWrite()
          && session.remoteReply == null
          && replication.followerReads(session.keyspace)
          && replication.hosts(session.keyspace, replicatedSlot)) {
        Reply followerReply = followerRead(replication, session, c, request, replicatedSlot);
        if (followerReply != null) {
          return followerReply;
        }
        refusal = null; // the replica already holds the session's position: read it now, below
      }
      if (refusal != null) {
        return Reply.error(refusal);
      }
    }
    long startNanos = System.nanoTime();
    long sequenceBefore = node.engine.lastSequence();
    Reply reply;
    boolean failed = false;
    java.util.List<io.replicakv.storage.data.Mutation> captured =
        replicatedSlot >= 0 && c.isWrite() ? new java.util.ArrayList<>() : null;
    node.mutationCapture = captured;
    try {
      reply = c.handler().run(node, session, request);
    } catch (CommandError e) {
      reply = Reply.error(e.getMessage());
      failed = true;
    } catch (RuntimeException e) {
      log.error("command {} failed", c.name(), e);
      reply =
          Reply.error("ERR internal error in '" + c.name() + "': " + e.getClass().getSimpleName());
      failed = true;
    } finally {
      node.mutationCapture = null;
    }
    if (captured != null && !captured.isEmpty()) {
      // The leader applied the command; its reply waits until the replicas acknowledged it.
      Reply own = reply;
      int protocol = session.protocol;
      session.forwarded =
          replication
              .replicate(session.keyspace, replicatedSlot, captured)
              .thenApply(error -> encode(error == null ? own : Reply.error(error), protocol));
      observeLeaderPosition(replication, session, replicatedSlot);
      node.metrics.command(c.name()).record((System.nanoTime() - startNanos) / 1000, failed);
      return FORWARDED;
    }
    // A reply leaves only once the log holds every change made so far (this client's or another's,
    // so that nobody reads a value the log could still lose): under fsync=always once it is
    // fsynced,
    // otherwise once write(2) returned, which a failing disk can delay.
    if (replicatedSlot >= 0 && !session.followerReadServed) {
      observeLeaderPosition(replication, session, replicatedSlot);
    }
    session.followerReadServed = false;
    long sequenceAfter = node.engine.lastSequence();
    if (sequenceAfter != sequenceBefore || replyAfterFsync) {
      session.awaitSequence = sequenceAfter;
    }
    node.metrics.command(c.name()).record((System.nanoTime() - startNanos) / 1000, failed);
    return reply;
  }

  /**
   * A read on a replicated keyspace with {@code follower-reads=on}, on a node that holds a replica
   * of the key's group but does not lead it (or leads it without a lease): answered from this
   * replica's applied state once that includes the connection's session token for the group.
   * Returns null when it already does (the caller runs the command now, and the session moves to
   * the replica's commit position); else the reply comes later through {@link Session#forwarded}
   * ({@link #FORWARDED}), or {@code -TRYAGAIN} after the bounded wait.
   */
  private Reply followerRead(
      io.replicakv.server.replication.ReplicationLoop replication,
      Session session,
      Command c,
      RespRequest request,
      int slot) {
    io.replicakv.server.session.SessionToken.Group group =
        replication.groupHere(session.keyspace, slot);
    io.replicakv.server.session.SessionState state = session.sessionState;
    java.util.concurrent.CompletableFuture<
            io.replicakv.server.replication.ReplicationLoop.FollowerRead>
        read =
            replication.followerRead(
                session.keyspace, slot, state.token().get(group.keyspace(), group.group()));
    if (read.isDone()) {
      io.replicakv.server.replication.ReplicationLoop.FollowerRead now = read.join();
      if (now.error() != null) {
        return Reply.error(now.error());
      }
      state.observe(group.keyspace(), group.group(), now.position());
      session.followerReadServed = true;
      return null;
    }
    int protocol = session.protocol;
    java.util.concurrent.CompletableFuture<byte[]> reply =
        read.thenApply(
            outcome -> {
              if (outcome.error() != null) {
                return encode(Reply.error(outcome.error()), protocol);
              }
              state.observe(group.keyspace(), group.group(), outcome.position());
              return encode(runRead(session, c, request), protocol);
            });
    state.track(reply);
    session.forwarded = reply;
    return FORWARDED;
  }

  /** Runs a read command's handler (a follower read whose replica caught up); never throws. */
  private Reply runRead(Session session, Command c, RespRequest request) {
    long startNanos = System.nanoTime();
    boolean failed = false;
    Reply reply;
    try {
      reply = c.handler().run(node, session, request);
    } catch (CommandError e) {
      reply = Reply.error(e.getMessage());
      failed = true;
    } catch (RuntimeException e) {
      log.error("command {} failed", c.name(), e);
      reply =
          Reply.error("ERR internal error in '" + c.name() + "': " + e.getClass().getSimpleName());
      failed = true;
    }
    node.metrics.command(c.name()).record((System.nanoTime() - startNanos) / 1000, failed);
    return reply;
  }

  /** The session saw this leader's whole log of the slot's group (see ReplicationLoop.lastLsn). */
  private static void observeLeaderPosition(
      io.replicakv.server.replication.ReplicationLoop replication, Session session, int slot) {
    io.replicakv.server.session.SessionToken.Group group =
        replication.groupHere(session.keyspace, slot);
    if (group != null) {
      session.sessionState.observe(
          group.keyspace(), group.group(), replication.lastLsn(session.keyspace, slot));
    }
  }

  /** Most bytes of arguments a replicated write may carry (its log entry's payload bound). */
  static final long REPLICATED_REQUEST_BYTES_MAX =
      io.replicakv.core.msg.Operation.PAYLOAD_BYTES_MAX - 64 * 1024;

  /**
   * Why a command on a replicated key cannot run here now, or null: this node must lead the key's
   * group and be able to accept (write) or serve (read) it; checked before the command runs,
   * because the leader applies a write before replicating it.
   */
  private static String replicationRefusal(
      io.replicakv.server.replication.ReplicationLoop replication,
      Session session,
      Command c,
      RespRequest request,
      int slot) {
    if (c.isWrite()) {
      long bytes = 0;
      for (int i = 0; i < request.argc(); i++) {
        bytes += request.arg(i).length;
      }
      if (bytes > REPLICATED_REQUEST_BYTES_MAX) {
        return "ERR a replicated write carries at most "
            + REPLICATED_REQUEST_BYTES_MAX
            + " bytes of arguments";
      }
    }
    return replication.refusal(session.keyspace, slot, c.isWrite());
  }

  private static byte[] encode(Reply reply, int protocol) {
    io.netty.buffer.ByteBuf buffer = io.netty.buffer.Unpooled.buffer(64);
    io.replicakv.net.resp.RespEncoder.encode(reply, protocol, buffer);
    byte[] bytes = new byte[buffer.readableBytes()];
    buffer.readBytes(bytes);
    return bytes;
  }

  /** Redis's text: the name and the first arguments, each cut to 128 bytes. */
  static String unknownCommand(RespRequest request) {
    StringBuilder b = new StringBuilder("ERR unknown command '");
    b.append(cut(request.arg(0))).append("', with args beginning with: ");
    for (int i = 1; i < request.argc() && b.length() < 256; i++) {
      b.append('\'').append(cut(request.arg(i))).append("' ");
    }
    return b.toString();
  }

  private static String cut(byte[] arg) {
    String s = new String(arg, 0, Math.min(arg.length, 128), StandardCharsets.UTF_8);
    return s.replace('\r', ' ').replace('\n', ' ');
  }
}
