package io.replicakv.server.multi;

import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.FrameHandler;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.KeyspaceEntry;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.cluster.MetadataChange;
import io.replicakv.server.route.PeerRoutes;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gateways of multi-leader keyspaces on a site of several nodes: which node runs the keyspace's
 * {@link SiteService} (the <em>gateway</em>), how the others keep a copy of its site log ({@link
 * SiteLogCopy}), and how a new gateway is elected when the current one is gone.
 *
 * <p><b>Model.</b> Inside a site a multi-leader keyspace is single-leader: one node at a time
 * writes its site log and talks to the other sites. The choice is a record of the site's metadata
 * quorum, {@code SetReplicaLeader(keyspace, }{@link #GATEWAY_GROUP}{@code , node, epoch)} (the
 * record single-leader replica groups use; the metadata refuses an epoch that does not rise and a
 * leader that is not a member; multi-leader keyspaces have no replica groups, so the group number
 * is free). Every other node forwards the keyspace's commands and the link frames it receives to
 * the gateway.
 *
 * <p><b>Election.</b> Run by the node that acts for the cluster (the metadata leader, which also
 * marks members DOWN after {@code failover-timeout-ms} of silence) when there is no gateway or the
 * gateway is DOWN, and by a recorded gateway that restarted (it never serves again under an epoch
 * it did not win in this process, since its unforced tail may be gone while copies hold it). The
 * elector probes every member with epoch {@code e+1}; a node that answers promises to refuse
 * appends below {@code e+1} and reports its log length. With {@code site-acks} = k, an acknowledged
 * write is on at least k+1 nodes, so the elector needs answers from {@code members − k} nodes (any
 * such set meets every set of k+1) and picks the UP node with the longest log (ties: the lowest
 * id). Logs of one epoch are prefixes of its gateway's log, so the longest answer holds every
 * acknowledged record. Then it proposes the record; a refused proposal (another elector won the
 * epoch) just ends the round. The elected node serves once the record is committed and only if it
 * was probed for that very epoch in this process; it opens its copy as its site log (the {@link
 * SiteService} restart path rebuilds the replica), so link positions and dots carry on.
 *
 * <p><b>Fencing.</b> A deposed gateway that still runs gets STALE from every node that answered the
 * probe, so it collects no acknowledgement and its writes answer TIMEOUT; it steps down when its
 * view shows the new record, or when a newer epoch's append or probe reaches it.
 *
 * <p><b>What it survives.</b> With three nodes and {@code site-acks=1}: the loss of any one node,
 * gateway included, without losing an acknowledged write or a change another site has seen (in
 * general, up to {@code site-acks} nodes while {@code members - site-acks} still answer). Losing
 * two of three stops the keyspace at that site (no election can prove it holds every acknowledged
 * write): writes answer errors until a node returns. A node's promise to a probe is forced to its
 * {@code <keyspace>.promise} file before it answers ({@link SiteLogCopy}), so a restart between a
 * probe and the commit of its record does not let the deposed gateway back in.
 *
 * <p><b>Membership.</b> A serving gateway's followers are the view's other members: every view that
 * adds or removes a node of the site updates its shipper ({@link SiteLogShipper#followers}) without
 * a restart, so a node added to the site receives the site log from its start and can be elected
 * later; a removed node stops counting toward {@code site-acks}.
 *
 * <p>Thread use: one single-threaded executor ({@code site-roles}) runs every role change, every
 * copy append and the elections; the services run on the node loop.
 */
final class SiteGateways implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SiteGateways.class);

  /** The replica-group number under which a keyspace's gateway is recorded. */
  static final int GATEWAY_GROUP = 1_000_000;

  /** How often roles are checked and elections considered. */
  static final long ROLES_PERIOD_MILLIS = 250;

  /** How long an elector waits for probe answers. */
  static final long PROBE_TIMEOUT_MILLIS = 2_000;

  private final String self;
  private final int siteAcks;
  private final long failoverTimeoutMillis;
  private final PeerClient peers;
  private final PeerRoutes routes;
  private final Path dir;
  private final SiteKeyspaces keyspaces;
  private final BooleanSupplier actsForCluster;
  private final Function<MetadataChange, CompletableFuture<ClusterView>> proposer;
  private final LongSupplier clock;
  private final ScheduledExecutorService roles;

  private final Map<String, SiteLogCopy> copies = new HashMap<>();
  private final Map<String, Long> probedEpoch = new HashMap<>();
  private final Map<String, Long> servingEpoch = new ConcurrentHashMap<>();

  /** The followers each served keyspace's shipper was last given (roles thread only). */
  private final Map<String, List<String>> servingFollowers = new HashMap<>();

  private final Set<String> electing = new HashSet<>();
  private final Map<String, String> copyStates = new ConcurrentHashMap<>();
  private volatile ClusterView latest;

  SiteGateways(
      String self,
      int siteAcks,
      long failoverTimeoutMillis,
      PeerClient peers,
      PeerRoutes routes,
      Path dir,
      SiteKeyspaces keyspaces,
      BooleanSupplier actsForCluster,
      Function<MetadataChange, CompletableFuture<ClusterView>> proposer,
      LongSupplier clock) {
    this.self = self;
    this.siteAcks = siteAcks;
    this.failoverTimeoutMillis = failoverTimeoutMillis;
    this.peers = peers;
    this.routes = routes;
    this.dir = dir;
    this.keyspaces = keyspaces;
    this.actsForCluster = actsForCluster;
    this.proposer = proposer;
    this.clock = clock;
    this.roles =
        Executors.newSingleThreadScheduledExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "site-roles");
              thread.setDaemon(true);
              return thread;
            });
    roles.scheduleWithFixedDelay(
        this::safeApplyRoles, ROLES_PERIOD_MILLIS, ROLES_PERIOD_MILLIS, TimeUnit.MILLISECONDS);
  }

  /** Whether {@code view} describes a site of several nodes (gateways apply). */
  static boolean multiNode(ClusterView view) {
    return view != null && view.members().size() > 1;
  }

  void onView(ClusterView view) {
    ClusterView before = latest;
    if (before == null || view.version() >= before.version()) {
      latest = view;
    }
    roles.execute(this::safeApplyRoles);
  }

  /** The gateway of keyspace {@code number} when it is another member, else null. */
  Member remoteGateway(int number) {
    ClusterView view = latest;
    if (!multiNode(view)) {
      return null;
    }
    ClusterView.PartitionState record = view.replicaLeader(number, GATEWAY_GROUP);
    if (record == null || record.leader().equals(self)) {
      return null;
    }
    return view.members().get(record.leader());
  }

  /** The recorded gateway and epoch of keyspace {@code number}, or null. */
  ClusterView.PartitionState gateway(int number) {
    ClusterView view = latest;
    return view == null ? null : view.replicaLeader(number, GATEWAY_GROUP);
  }

  /** The peer address of member {@code id} in the newest view, or null. */
  PeerRoutes.Address addressOf(String id) {
    ClusterView view = latest;
    Member member = view == null ? null : view.members().get(id);
    return member == null ? null : routes.of(member);
  }

  /** Position and promised epoch of this node's copy of {@code name}, or null (for SITE INFO). */
  String copyState(String name) {
    return copyStates.get(name);
  }

  private void publish(SiteLogCopy copy) {
    copyStates.put(
        copy.keyspace(),
        "copy,records="
            + copy.position()
            + ",promised="
            + copy.promisedEpoch()
            + ",cuts="
            + copy.truncations()
            + ",mismatches="
            + copy.mismatches());
  }

  private void safeApplyRoles() {
    try {
      applyRoles();
    } catch (RuntimeException e) {
      log.error("site gateway roles: {}", e.toString(), e);
    }
  }

  private void applyRoles() {
    ClusterView view = latest;
    if (!multiNode(view)) {
      return;
    }
    Set<String> present = new HashSet<>();
    for (KeyspaceEntry entry : view.keyspaces().values()) {
      if (entry.config().style() != io.replicakv.core.quorum.Style.MULTI_LEADER
          || !keyspaces.servable(entry.name())) {
        continue;
      }
      String name = entry.name();
      present.add(name);
      ClusterView.PartitionState record = view.replicaLeader(entry.number(), GATEWAY_GROUP);
      boolean mine =
          record != null
              && record.leader().equals(self)
              && Long.valueOf(record.epoch()).equals(probedEpoch.get(name));
      if (mine) {
        if (!Long.valueOf(record.epoch()).equals(servingEpoch.get(name))) {
          becomeGateway(entry, record.epoch(), view);
        } else {
          followMembership(name, view);
        }
      } else {
        servingEpoch.remove(name);
        if (keyspaces.service(name) != null) {
          // a deposed gateway, or the service of the time this site had one node
          keyspaces.stopServing(name);
          log.info(
              "multi-leader keyspace {}: this node does not serve it (gateway: {})",
              name,
              record == null ? "none yet" : record.leader() + " at epoch " + record.epoch());
        }
        SiteLogCopy copy = copy(name);
        if (record != null) {
          copy.promise(record.epoch());
        }
        publish(copy);
      }
      considerElection(entry, record, view);
    }
    for (String name : List.copyOf(copies.keySet())) {
      if (!present.contains(name)) {
        copies.remove(name).close();
        copyStates.remove(name);
      }
    }
  }

  private void becomeGateway(KeyspaceEntry entry, long epoch, ClusterView view) {
    String name = entry.name();
    if (servingEpoch.remove(name) != null) {
      keyspaces.stopServing(name);
    }
    SiteLogCopy copy = copies.remove(name);
    if (copy != null) {
      copy.close();
    }
    copyStates.remove(name);
    SiteLogCopy.writeEpoch(dir.resolve(name + ".epoch"), epoch);
    List<String> followers = followersIn(view);
    servingFollowers.put(name, followers);
    keyspaces.startGateway(
        entry,
        (sites, recovered, loopInput) ->
            new SiteLogShipper(
                name,
                epoch,
                sites,
                followers,
                siteAcks,
                failoverTimeoutMillis,
                peers,
                this::addressOf,
                loopInput,
                clock,
                recovered));
    servingEpoch.put(name, epoch);
    log.info(
        "multi-leader keyspace {}: this node is the site's gateway at epoch {} (followers {},"
            + " site-acks {})",
        name,
        epoch,
        followers,
        siteAcks);
  }

  /** A serving gateway's followers become the view's other members (nodes added or removed). */
  private void followMembership(String name, ClusterView view) {
    List<String> followers = followersIn(view);
    if (followers.equals(servingFollowers.get(name))) {
      return;
    }
    SiteService service = keyspaces.service(name);
    if (service != null) {
      log.info(
          "multi-leader keyspace {}: site membership changed; gateway followers now {}",
          name,
          followers);
      service.followers(followers);
      servingFollowers.put(name, followers);
    }
  }

  private List<String> followersIn(ClusterView view) {
    return view.members().keySet().stream().filter(id -> !id.equals(self)).sorted().toList();
  }

  private SiteLogCopy copy(String name) {
    return copies.computeIfAbsent(
        name, n -> new SiteLogCopy(n, dir.resolve(n + ".log"), dir.resolve(n + ".sites"), 0));
  }

  private void considerElection(
      KeyspaceEntry entry, ClusterView.PartitionState record, ClusterView view) {
    String name = entry.name();
    if (electing.contains(name)) {
      return;
    }
    boolean restartedGateway =
        record != null
            && record.leader().equals(self)
            && !Long.valueOf(record.epoch()).equals(servingEpoch.get(name))
            && !Long.valueOf(record.epoch()).equals(probedEpoch.get(name));
    Member leader = record == null ? null : view.members().get(record.leader());
    boolean gone = record == null || leader == null || leader.state() == MemberState.DOWN;
    if (restartedGateway || (gone && actsForCluster.getAsBoolean())) {
      elect(entry, record == null ? 1 : record.epoch() + 1, view);
    }
  }

  private void elect(KeyspaceEntry entry, long epoch, ClusterView view) {
    String name = entry.name();
    electing.add(name);
    List<Member> members = List.copyOf(view.members().values());
    Map<String, Long> positions = new ConcurrentHashMap<>();
    List<CompletableFuture<?>> probes = new ArrayList<>();
    byte[] probe = SiteLogFrames.probe(name, epoch);
    for (Member member : members) {
      PeerRoutes.Address address = routes.of(member);
      probes.add(
          peers
              .request(address.host(), address.port(), Frame.of(SiteLogFrames.TYPE_SITE_LOG, probe))
              .orTimeout(PROBE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)
              .thenAccept(
                  reply -> {
                    if (!reply.isError()) {
                      SiteLogFrames.Reply answer = SiteLogFrames.decodeReply(reply.payload());
                      if (answer.status() == SiteLogFrames.Status.OK) {
                        positions.put(member.id(), answer.position());
                      }
                    }
                  })
              .exceptionally(error -> null));
    }
    CompletableFuture.allOf(probes.toArray(CompletableFuture[]::new))
        .whenComplete(
            (done, error) -> roles.execute(() -> finishElection(entry, epoch, members, positions)));
  }

  private void finishElection(
      KeyspaceEntry entry, long epoch, List<Member> members, Map<String, Long> positions) {
    String name = entry.name();
    int needed = members.size() - Math.min(siteAcks, members.size() - 1);
    String chosen = null;
    long best = -1;
    for (Member member : members) {
      Long position = positions.get(member.id());
      if (position == null || member.state() == MemberState.DOWN) {
        continue;
      }
      if (position > best || (position == best && member.id().compareTo(chosen) < 0)) {
        best = position;
        chosen = member.id();
      }
    }
    if (positions.size() < needed || chosen == null) {
      electing.remove(name);
      log.warn(
          "multi-leader keyspace {}: no gateway for epoch {}: {} of {} nodes answered, {} needed"
              + " to be sure the new gateway holds every acknowledged write",
          name,
          epoch,
          positions.size(),
          members.size(),
          needed);
      return;
    }
    String winner = chosen;
    long length = best;
    proposer
        .apply(new MetadataChange.SetReplicaLeader(entry.number(), GATEWAY_GROUP, winner, epoch))
        .whenComplete(
            (view, error) ->
                roles.execute(
                    () -> {
                      electing.remove(name);
                      if (error != null) {
                        log.info(
                            "multi-leader keyspace {}: gateway epoch {} not recorded ({})",
                            name,
                            epoch,
                            error.getMessage());
                      } else {
                        log.info(
                            "multi-leader keyspace {}: gateway {} elected at epoch {} (log {}"
                                + " records; answers {})",
                            name,
                            winner,
                            epoch,
                            length,
                            positions);
                        onView(view);
                      }
                    }));
  }

  /** Receives a frame of type 36 (an append from the gateway, or an election's probe). */
  void onFrame(Frame request, FrameHandler.Responder responder) {
    SiteLogFrames.Request decoded;
    try {
      decoded = SiteLogFrames.decodeRequest(request.payload());
    } catch (CorruptEncodingException e) {
      responder.fail("corrupt site log frame: " + e.getMessage());
      return;
    }
    roles.execute(
        () -> {
          try {
            byte[] reply = handle(decoded);
            if (reply == null) {
              responder.fail(
                  "keyspace " + decoded.keyspace() + " is not multi-leader at this node");
            } else {
              responder.reply(
                  new Frame(SiteLogFrames.TYPE_SITE_LOG, request.correlationId(), reply));
            }
          } catch (RuntimeException e) {
            log.error("site log frame for {} failed", decoded.keyspace(), e);
            responder.fail("site log frame failed: " + e.getMessage());
          }
        });
  }

  private byte[] handle(SiteLogFrames.Request request) {
    ClusterView view = latest;
    String name = request.keyspace();
    KeyspaceEntry entry = view == null ? null : view.keyspace(name);
    if (entry == null
        || entry.config().style() != io.replicakv.core.quorum.Style.MULTI_LEADER
        || !keyspaces.servable(name)) {
      return null;
    }
    Long serving = servingEpoch.get(name);
    if (serving != null) {
      if (request.epoch() <= serving) {
        return SiteLogFrames.reply(SiteLogFrames.Status.STALE, serving, 0);
      }
      servingEpoch.remove(name);
      keyspaces.stopServing(name);
      log.warn(
          "multi-leader keyspace {}: gateway epoch {} seen, above ours ({}): stepping down",
          name,
          request.epoch(),
          serving);
    }
    SiteLogCopy copy = copy(name);
    byte[] reply = copy.onRequest(request);
    publish(copy);
    if (request.kind() == SiteLogFrames.KIND_PROBE
        && SiteLogFrames.decodeReply(reply).status() == SiteLogFrames.Status.OK) {
      probedEpoch.put(name, request.epoch());
    }
    return reply;
  }

  @Override
  public void close() {
    roles.shutdown();
    try {
      roles.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (SiteLogCopy copy : copies.values()) {
      copy.close();
    }
    copies.clear();
  }
}
