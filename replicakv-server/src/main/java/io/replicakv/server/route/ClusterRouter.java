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

  public void setView(ClusterView view) {
    this.view = view;
  }

  public ClusterView view() {
    return view;
  }

  @Override
  public Decision route(Session session, Command command, RespRequest request) {
    if (command.firstKey() <= 0 || request.argc() <= command.firstKey()) {
      return LOCAL;
    }
    ClusterView v = view;
    if (v.ring().nodes().isEmpty()) {
      return LOCAL;
    }
    int last = command.lastKey() < 0 ? request.argc() + command.lastKey() : command.lastKey();
    int step = Math.max(1, command.keyStep());
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
    if (owner == null || owner.id().equals(selfId)) {
      if (command.isWrite() && owner != null && fenced) {
        return new Decision.Answer(
            Reply.error(
                "TRYAGAIN slot " + firstSlot + " is moving to another node; retry shortly"));
      }
      return LOCAL;
    }
    boolean forwarded = session.remoteReply != null;
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
    byte[] payload =
        ForwardCodec.encode(
            session.keyspace, session.protocol, request, forwarded ? session.forwardHops + 1 : 1);
    return new Decision.Forwarded(
        peers
            .request(
                routes.host(owner),
                routes.port(owner),
                Frame.of(ForwardCodec.TYPE_FORWARD, payload))
            .thenApply(Frame::payload));
  }
}
