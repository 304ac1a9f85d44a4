package io.replicakv.server.route;

import io.replicakv.core.ring.Slots;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.command.Command;
import io.replicakv.server.command.Session;

/**
 * Routes by the ring of the newest metadata version this node has applied.
 *
 * <p>A command's keys (from its key positions) map to slots and slots to owners. All keys here: the
 * command runs here. All keys on one other node: with {@code routing: proxy} the command is
 * forwarded there and its reply relayed, so plain Redis clients work against any node; with {@code
 * routing: redirect} the client gets {@code -MOVED slot host:port}, as from Redis Cluster. Keys on
 * several nodes: {@code -CROSSSLOT}, since a command runs atomically on one node only; hash tags
 * ({@code {user1}.a}, {@code {user1}.b}) keep keys together. A slot whose owner is down answers
 * {@code -CLUSTERDOWN} until replication can serve it from another copy.
 *
 * <p>During a move, a source's moving slots are <em>handed over</em> from its SourceReady until the
 * flip ({@link ClusterView#handoverTarget}): the target holds every acknowledged write and serves
 * them. The source then forwards commands on those slots to the target, or in redirect mode answers
 * {@code -ASK slot host:port}; the target runs such a command when it arrives forwarded, or right
 * after the client sent {@code ASKING} (Redis Cluster's migration protocol); a client that asks the
 * target without ASKING gets {@code -MOVED} to the owner, as Redis answers. In proxy mode any node
 * that knows of the handover forwards straight to the target. Writes to a source's fenced slots
 * answer {@code -TRYAGAIN} only in the short window between its fence and its SourceReady commit.
 *
 * <p>Commands without keys (DBSIZE, KEYS, SCAN, FLUSHDB, RANDOMKEY, INFO...) run on the node the
 * client is connected to and see that node's data only, as on a Redis Cluster node.
 */
public final class ClusterRouter implements Router {
  private final String selfId;
  private final PeerClient peers;
  private volatile boolean redirect;
  private volatile ClusterView view;

  public ClusterRouter(String selfId, PeerClient peers, boolean redirect, ClusterView view) {
    this.selfId = selfId;
    this.peers = peers;
    this.redirect = redirect;
    this.view = view;
  }

  public void setRedirect(boolean redirect) {
    this.redirect = redirect;
  }

  private volatile java.util.function.IntPredicate writeFence = slot -> false;

  /** Slots for which local writes answer TRYAGAIN (a move's last delta is in flight). */
  public void setWriteFence(java.util.function.IntPredicate writeFence) {
    this.writeFence = writeFence;
  }

  private volatile PeerRoutes routes = PeerRoutes.DIRECT;

  /** Where forwarded commands go for each owner (the {@code peer-routes} setting). */
  public void setPeerRoutes(PeerRoutes routes) {
    this.routes = routes;
  }

  /**
   * Routes by {@code view} from now on, unless this router already has a newer one: a restarted
   * voter replays old versions through its listeners after registration handed it a newer one.
   */
  public synchronized void setView(ClusterView view) {
    if (this.view == null || view.version() >= this.view.version()) {
      this.view = view;
    }
  }

  public ClusterView view() {
    return view;
  }

  private volatile io.replicakv.server.replication.ReplicationLoop replication;

  /** Routes commands on replicated single-leader keyspaces to their group's leader. */
  public void setReplication(io.replicakv.server.replication.ReplicationLoop replication) {
    this.replication = replication;
  }

  @Override
  public Decision route(Session session, Command command, RespRequest request) {
    if (command.firstKey() <= 0 || request.argc() <= command.firstKey()) {
      return LOCAL;
    }
    ClusterView v = view;
    int last = command.lastKey() < 0 ? request.argc() + command.lastKey() : command.lastKey();
    int step = Math.max(1, command.keyStep());
    io.replicakv.server.replication.ReplicationLoop groups = replication;
    if (groups != null && replicatedKeyspace(v, session.keyspace)) {
      // Decided by the keyspace's definition, not by whether the replication loop has formed its
      // groups yet: a node whose loop lags its view answers TRYAGAIN rather than serving the keys
      // as their plain ring owner from a copy the replica groups never see.
      if (v.ring().nodes().isEmpty()) {
        return new Decision.Answer(
            Reply.error(
                "CLUSTERDOWN no replica groups yet: this node's metadata view has no ring"));
      }
      String missing = unregisteredVoter(v);
      if (missing != null) {
        return new Decision.Answer(
            Reply.error(
                "CLUSTERDOWN the cluster is still forming: voter "
                    + missing
                    + " has not registered yet"));
      }
      return routeToLeader(groups, session, command, request, v, last, step);
    }
    if (v.ring().nodes().isEmpty()) {
      return LOCAL;
    }
    int firstSlot = -1;
    Member owner = null;
    boolean sameSlot = true;
    boolean fenced = false;
    java.util.function.IntPredicate fence = writeFence;
    for (int i = command.firstKey(); i <= last && i < request.argc(); i += step) {
      int slot = Slots.slot(request.arg(i));
      Member m = v.ownerOf(slot);
      fenced |= fence.test(slot);
      if (firstSlot < 0) {
        firstSlot = slot;
        owner = m;
      } else {
        sameSlot &= slot == firstSlot;
        if (m == null || owner == null || !m.id().equals(owner.id())) {
          return new Decision.Answer(
              Reply.error(
                  "CROSSSLOT Keys in request don't hash to the same node (use hash tags such as {user1})"));
        }
      }
    }
    boolean forwarded = session.remoteReply != null;
    String importer = owner == null ? null : v.handoverTarget(firstSlot);
    if (importer != null && sameSlotsHandedOver(v, command, request, last, step, importer)) {
      if (importer.equals(selfId)) {
        if (forwarded || session.asking || !redirect) {
          return LOCAL; // this node imports the slot and holds every acknowledged write
        }
        // else: MOVED to the owner below, as Redis answers a client that did not send ASKING
      } else {
        Decision handover =
            routeToImporter(session, request, v, owner, importer, firstSlot, sameSlot);
        if (handover != null) {
          return handover;
        }
      }
    }
    if (owner == null || owner.id().equals(selfId)) {
      if (command.isWrite() && owner != null && fenced) {
        return new Decision.Answer(
            Reply.error(
                "TRYAGAIN slot " + firstSlot + " is moving to another node; retry shortly"));
      }
      return LOCAL;
    }
    if (forwarded && session.forwardHops >= ForwardCodec.HOPS_MAX) {
      return new Decision.Answer(
          Reply.error(
              "TRYAGAIN slot " + firstSlot + " changed owner while the command was forwarded"));
    }
    if (owner.state() == MemberState.DOWN) {
      return new Decision.Answer(
          Reply.error(
              "CLUSTERDOWN slot " + firstSlot + " is on node " + owner.id() + ", which is down"));
    }
    if (redirect && !forwarded) {
      if (!sameSlot) {
        return new Decision.Answer(
            Reply.error("CROSSSLOT Keys in request don't hash to the same slot"));
      }
      return new Decision.Answer(
          Reply.error("MOVED " + firstSlot + " " + owner.host() + ":" + owner.clientPort()));
    }
    return forward(session, request, owner);
  }

  private volatile java.util.Set<String> formationVoters = java.util.Set.of();

  /**
   * The metadata voters this node was started with. Until each of them is a member (in any state),
   * the cluster is still forming: its ring, and with it every replica group and N = min(3, nodes),
   * changes with each registration, and a write acknowledged by a group of the half-formed ring
   * would sit in a replica group that the next registration re-forms around members that never saw
   * it. Replicated keyspaces answer {@code -CLUSTERDOWN} until then. Once every voter has
   * registered the condition holds for good (members are never removed, only marked LEFT).
   */
  public void setFormationVoters(java.util.Set<String> voters) {
    this.formationVoters = java.util.Set.copyOf(voters);
  }

  /** A configured voter that is not a member of {@code v} yet, or null when all are. */
  private String unregisteredVoter(ClusterView v) {
    for (String voter : formationVoters) {
      if (!v.members().containsKey(voter)) {
        return voter;
      }
    }
    return null;
  }

  /**
   * Whether commands on keys of {@code keyspace} must go through single-leader replication (on a
   * node where replication is on): keyspace 0 always (it is single-leader in every cluster, even
   * before this node's view holds its definition), any other keyspace by its definition in {@code
   * v}.
   */
  public static boolean replicatedKeyspace(ClusterView v, int keyspace) {
    if (keyspace == 0) {
      return true;
    }
    io.replicakv.server.cluster.KeyspaceEntry entry =
        v == null ? null : v.keyspaces().get(keyspace);
    return entry != null && io.replicakv.server.replication.ReplicationLoop.replicated(entry);
  }

  /**
   * A replicated keyspace: every command on a key runs on the leader of the key's replica group
   * (reads too, so they see every acknowledged write), forwarded there or redirected with {@code
   * -MOVED}; keys of several groups are {@code -CROSSSLOT}; while no leader is known, {@code
   * -TRYAGAIN}. Returns {@link #LOCAL} (null) when this node leads the group.
   */
  private Decision routeToLeader(
      io.replicakv.server.replication.ReplicationLoop groups,
      Session session,
      Command command,
      RespRequest request,
      ClusterView v,
      int last,
      int step) {
    io.replicakv.server.replication.ReplicationLoop.Target first = null;
    int firstSlot = -1;
    boolean sameSlot = true;
    for (int i = command.firstKey(); i <= last && i < request.argc(); i += step) {
      int slot = Slots.slot(request.arg(i));
      io.replicakv.server.replication.ReplicationLoop.Target target =
          groups.target(session.keyspace, slot);
      if (target == null) {
        return new Decision.Answer(
            Reply.error("TRYAGAIN slot " + slot + " has no replica group on this node yet"));
      }
      if (first == null) {
        first = target;
        firstSlot = slot;
      } else {
        sameSlot &= slot == firstSlot;
        if (target.group() != first.group()) {
          return new Decision.Answer(
              Reply.error(
                  "CROSSSLOT Keys in request don't hash to the same replica group (use hash tags"
                      + " such as {user1})"));
        }
      }
    }
    if (!command.isWrite()
        && session.remoteReply == null
        && groups.followerReads(session.keyspace)
        && groups.hosts(session.keyspace, firstSlot)) {
      // follower-reads=on: this replica answers, honouring the connection's session token. Not
      // for a forwarded read: its token stayed on the forwarding node, so only a leader serves it.
      return LOCAL;
    }
    if (first.leader() == null) {
      return new Decision.Answer(
          Reply.error(
              "TRYAGAIN slot " + firstSlot + " has no leader right now (election under way)"));
    }
    if (first.leader().equals(selfId)) {
      return LOCAL;
    }
    Member leader = v.members().get(first.leader());
    if (leader == null || leader.peerPort() == 0) {
      return new Decision.Answer(
          Reply.error("TRYAGAIN slot " + firstSlot + ": leader " + first.leader() + " unknown"));
    }
    boolean forwarded = session.remoteReply != null;
    if (forwarded && session.forwardHops >= ForwardCodec.HOPS_MAX) {
      return new Decision.Answer(
          Reply.error(
              "TRYAGAIN slot " + firstSlot + " changed leader while the command was forwarded"));
    }
    if (redirect && !forwarded) {
      if (!sameSlot) {
        return new Decision.Answer(
            Reply.error("CROSSSLOT Keys in request don't hash to the same slot"));
      }
      return new Decision.Answer(
          Reply.error("MOVED " + firstSlot + " " + leader.host() + ":" + leader.clientPort()));
    }
    return forwardWithSession(session, request, leader);
  }

  private Decision forward(Session session, RespRequest request, Member to) {
    boolean forwarded = session.remoteReply != null;
    byte[] payload =
        ForwardCodec.encode(
            session.keyspace, session.protocol, request, forwarded ? session.forwardHops + 1 : 1);
    return new Decision.Forwarded(
        peers
            .request(routes.host(to), routes.port(to), Frame.of(ForwardCodec.TYPE_FORWARD, payload))
            .thenApply(Frame::payload));
  }

  /**
   * Forwards a command on a replicated keyspace asking for the session position it reaches there
   * (ForwardCodec version 3), merged into this connection's token before its client sees the reply.
   */
  private Decision forwardWithSession(Session session, RespRequest request, Member to) {
    boolean forwarded = session.remoteReply != null;
    byte[] payload =
        ForwardCodec.encode(
            session.keyspace,
            session.protocol,
            request,
            forwarded ? session.forwardHops + 1 : 1,
            true);
    io.replicakv.server.session.SessionState state = session.sessionState;
    java.util.concurrent.CompletableFuture<byte[]> reply =
        peers
            .request(routes.host(to), routes.port(to), Frame.of(ForwardCodec.TYPE_FORWARD, payload))
            .thenApply(
                frame -> {
                  io.replicakv.server.session.SessionForward.Answer answer =
                      io.replicakv.server.session.SessionForward.unwrap(frame.payload());
                  state.merge(answer.token());
                  return answer.reply();
                });
    state.track(reply);
    return new Decision.Forwarded(reply);
  }

  /** True when every key's slot is handed over to {@code importer} (so all keys go there). */
  private static boolean sameSlotsHandedOver(
      ClusterView v, Command command, RespRequest request, int last, int step, String importer) {
    for (int i = command.firstKey(); i <= last && i < request.argc(); i += step) {
      if (!importer.equals(v.handoverTarget(Slots.slot(request.arg(i))))) {
        return false;
      }
    }
    return true;
  }

  /**
   * Routes a command whose slots are handed over to another node, {@code importer}: forwarded
   * there, or ASK from the owner in redirect mode; null falls through to the ordinary owner routing
   * (MOVED to the owner, which answers ASK).
   */
  private Decision routeToImporter(
      Session session,
      RespRequest request,
      ClusterView v,
      Member owner,
      String importer,
      int firstSlot,
      boolean sameSlot) {
    boolean forwarded = session.remoteReply != null;
    Member target = v.members().get(importer);
    if (target == null || target.peerPort() == 0) {
      return null;
    }
    if (forwarded && session.forwardHops >= ForwardCodec.HOPS_MAX) {
      return new Decision.Answer(
          Reply.error(
              "TRYAGAIN slot " + firstSlot + " changed owner while the command was forwarded"));
    }
    if (redirect && !forwarded) {
      if (!owner.id().equals(selfId)) {
        return null; // MOVED to the owner, which answers ASK
      }
      if (!sameSlot) {
        return new Decision.Answer(
            Reply.error("CROSSSLOT Keys in request don't hash to the same slot"));
      }
      return new Decision.Answer(
          Reply.error("ASK " + firstSlot + " " + target.host() + ":" + target.clientPort()));
    }
    return forward(session, request, target);
  }
}
