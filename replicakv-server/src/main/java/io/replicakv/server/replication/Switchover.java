package io.replicakv.server.replication;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.single.PartitionController;
import io.replicakv.core.single.PartitionReplica;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.replication.ReplicationLoop.GroupKey;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Planned switchovers and preferred-leader return for the replica groups whose controllers this
 * node hosts (the metadata leader). Runs on the node loop with the {@link ReplicationLoop}.
 *
 * <p><b>Switchover.</b> The protocol is the core's ({@link PartitionController#switchover}): the
 * leader drains (refuses new writes, finishes pending ones) until the target holds its whole log,
 * reports that, and only then does the controller decide the target for the next epoch. The
 * decision is recorded in metadata ({@code SetReplicaLeader}) before it is announced, as every
 * decision is. Nothing acknowledged is lost, even with {@code acks=none}, because the old leader
 * accepted nothing after the target held its log end. Writes that arrive during the drain are
 * refused with {@code -TRYAGAIN} (the client retries on the new leader), never acknowledged.
 *
 * <p><b>When a switchover is answered.</b> Once the new leader serves: it holds a lease granted
 * under the new epoch and has committed its epoch's start (so it applied every older entry). The
 * controller host asks the target ({@code REPLICATION SERVING}, a forwarded command, see {@link
 * PeerCommands}) until it says so, or until {@link #REPLY_TIMEOUT_MILLIS}. When the drain does not
 * finish in time the core falls back to an ordinary election; the answer then says which replica
 * the election chose.
 *
 * <p><b>Which targets.</b> A target must be UP in the metadata, heard from (a heartbeat to its
 * controller) within the failover timeout, caught up with the current epoch, and at most {@code
 * replication-max-lag-records} behind the leader by their last heartbeats. A far-behind target
 * would make the drain (a pause of writes) long or make it fall back to an election; refusing it up
 * front says why. Without a named target the most advanced eligible follower is chosen, ties going
 * to the preference list's order.
 *
 * <p><b>Preferred leaders</b> (setting {@code replication-preferred-leader}, on by default, like
 * Kafka's {@code auto.leader.rebalance.enable}). Elections spread leadership over the groups' first
 * replicas (their token owners); after a failover the survivor keeps the groups of the node that
 * failed. Every {@link #PREFERRED_LEADER_CHECK_TICKS} controller ticks this class looks for one
 * steady group whose first replica is eligible (as above) and not leading, and moves the group back
 * with a switchover, never a blind election. At most {@link #PREFERRED_LEADER_MOVES_IN_FLIGHT_MAX}
 * such move runs at once per controller host, so a node that returns takes its groups back one at a
 * time, each with a drain of its own.
 *
 * <p><b>Does not survive:</b> a change of metadata leader while a switchover runs (the new host
 * rebuilds its controllers from the record; the switchover's client gets an error naming what
 * happened, and the group is left under whatever the record says).
 */
final class Switchover {
  private static final Logger log = LoggerFactory.getLogger(Switchover.class);

  /** A switchover not answered by then is answered with an error that names its state. */
  static final long REPLY_TIMEOUT_MILLIS = 30_000;

  /** Controller ticks between two preferred-leader checks (1 s at the default 50 ms tick). */
  static final long PREFERRED_LEADER_CHECK_TICKS = 20;

  /** Preferred-leader switchovers running at once on one controller host, at most. */
  static final int PREFERRED_LEADER_MOVES_IN_FLIGHT_MAX = 1;

  /**
   * A group an operator switched over is left alone by the preferred-leader return for this long
   * (Kafka checks leader imbalance every 300 s), so a planned switchover is not undone at once.
   */
  static final long PREFERRED_LEADER_HOLD_OFF_MILLIS = 300_000;

  /** Switchovers waiting for their answer on one host, at most; more are refused. */
  static final int PENDING_MAX = 100_000;

  /** How long a switchover waits for a steady leader and an eligible target before it gives up. */
  static final long TARGET_READY_WAIT_MILLIS = 10_000;

  /** Time between two SERVING probes of one new leader. */
  static final long PROBE_INTERVAL_MILLIS = 100;

  /** The outcome of one group's switchover. */
  record Outcome(GroupKey group, boolean ok, String text) {}

  private final class Pending {
    final GroupKey key;
    final PartitionController controller;
    final String requested;
    final String avoid;
    final long startNanos = System.nanoTime();
    final boolean preferred;
    final CompletableFuture<Outcome> done = new CompletableFuture<>();
    boolean begun;
    String notReady = "not started";
    int target = -1;
    String targetMember;
    String fromMember;
    long startEpoch;
    long decidedEpoch = -1;
    boolean probing;
    long lastProbeNanos;
    String lastProbe = "none yet";
    boolean serving;

    Pending(
        GroupKey key,
        PartitionController controller,
        String requested,
        String avoid,
        boolean preferred) {
      this.key = key;
      this.controller = controller;
      this.requested = requested;
      this.avoid = avoid;
      this.preferred = preferred;
    }

    String name() {
      return "group " + key.keyspace() + "/" + key.group();
    }
  }

  private final ReplicationLoop replication;
  private final Map<GroupKey, Pending> pending = new TreeMap<>(ORDER);
  private final Map<GroupKey, Map<Integer, Long>> heardNanos = new HashMap<>();
  private final java.util.Set<String> drained = new java.util.TreeSet<>();
  private final Map<GroupKey, Long> manualNanos = new HashMap<>();
  private boolean preferredLeader = true;
  private long ticksSinceCheck;
  private GroupKey lastChecked;
  private final java.util.concurrent.atomic.AtomicLong completed =
      new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong failed =
      new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong preferredMoves =
      new java.util.concurrent.atomic.AtomicLong();

  private static final java.util.Comparator<GroupKey> ORDER =
      java.util.Comparator.comparingInt(GroupKey::keyspace).thenComparingInt(GroupKey::group);

  Switchover(ReplicationLoop replication) {
    this.replication = replication;
  }

  void setPreferredLeader(boolean on) {
    preferredLeader = on;
  }

  /** Counters by name (any thread). */
  Map<String, Long> counters() {
    Map<String, Long> out = new java.util.LinkedHashMap<>();
    out.put("switchovers_completed", completed.get());
    out.put("switchovers_failed", failed.get());
    out.put("preferred_leader_moves", preferredMoves.get());
    return out;
  }

  /** A replica's message to a controller hosted here: remembers when each replica was heard. */
  void onControllerInput(GroupKey key, SingleLeaderMessage message) {
    if (message instanceof SingleLeaderMessage.Heartbeat heartbeat) {
      heardNanos
          .computeIfAbsent(key, k -> new HashMap<>())
          .put(heartbeat.from(), System.nanoTime());
    }
  }

  /**
   * Starts a switchover of {@code key} to {@code targetMember} (null: the best eligible follower).
   * Loop thread, on the controller host; completes on the loop thread.
   */
  CompletableFuture<Outcome> start(GroupKey key, String targetMember) {
    return start(key, targetMember, null, false);
  }

  private CompletableFuture<Outcome> start(
      GroupKey key, String targetMember, String avoid, boolean preferred) {
    String name = "group " + key.keyspace() + "/" + key.group();
    PartitionController controller = replication.controllerOf(key);
    ReplicaGroups groups = replication.groupsOf(key.keyspace());
    ReplicaGroups.Group group = groups == null ? null : groups.groups().get(key.group());
    if (controller == null || group == null) {
      return refused(key, "ERR " + name + ": its controller is not hosted on this node");
    }
    Pending running = pending.get(key);
    if (running != null && running.preferred && !preferred) {
      // an operator's request waits for the automatic move, then runs from where it left off
      return running.done.thenComposeAsync(
          done -> start(key, targetMember, avoid, false), replication.loop());
    }
    if (running != null) {
      return refused(key, "TRYAGAIN " + name + ": a switchover of it is already running");
    }

    if (pending.size() >= PENDING_MAX) {
      return refused(key, "TRYAGAIN " + pending.size() + " switchovers are already running");
    }
    if (targetMember != null && !group.replicas().contains(targetMember)) {
      return refused(
          key,
          "ERR " + name + ": node " + targetMember + " holds no replica of it " + group.replicas());
    }
    if (targetMember != null) {
      drained.remove(targetMember);
    }
    Pending p = new Pending(key, controller, targetMember, avoid, preferred);
    pending.put(key, p);
    tryBegin(p, group);
    replication.kick();
    return p.done;
  }

  /**
   * Starts the core's switchover once there is a steady leader and an eligible target; until then
   * {@link Pending#notReady} says why not, and {@link #TARGET_READY_WAIT_MILLIS} bounds the wait (a
   * follower reports its position only every few ticks, so one that just caught up may look behind
   * for a moment).
   */
  private void tryBegin(Pending p, ReplicaGroups.Group group) {
    PartitionController controller = p.controller;
    if (replication.controllerRecording(p.key)
        || controller.phase() != PartitionController.Phase.STEADY
        || controller.leader() < 0) {
      p.notReady =
          "no steady leader to switch over from (controller "
              + controller.phase().name().toLowerCase(java.util.Locale.ROOT)
              + ", epoch "
              + controller.epoch()
              + ")";
      return;
    }
    String from = replication.memberOf(controller.leader());
    if (p.requested != null && p.requested.equals(from)) {
      p.fromMember = from;
      p.targetMember = from;
      finish(
          p, true, p.name() + ": " + from + " already leads it (epoch " + controller.epoch() + ")");
      return;
    }
    String chosen = p.requested;
    if (chosen == null) {
      chosen = bestFollower(p.key, controller, group, p.avoid);
      if (chosen == null) {
        p.notReady = "no follower is in sync to take over from " + from;
        return;
      }
    } else {
      String why = notReady(p.key, controller, chosen);
      if (why != null) {
        p.notReady = why;
        return;
      }
    }
    int target = ReplicaIds.of(chosen);
    if (!controller.switchover(target)) {
      finish(p, false, "ERR " + p.name() + ": the controller refused a switchover to " + chosen);
      return;
    }
    if (!p.preferred && !chosen.equals(group.replicas().get(0))) {
      manualNanos.put(p.key, System.nanoTime()); // moved away from the preferred leader on purpose
    }
    p.begun = true;
    p.target = target;
    p.targetMember = chosen;
    p.fromMember = from;
    p.startEpoch = controller.epoch();
    log.info(
        "{}: {}switchover from {} to {} started (epoch {})",
        p.name(),
        p.preferred ? "preferred-leader " : "",
        from,
        chosen,
        p.startEpoch);
  }

  private CompletableFuture<Outcome> refused(GroupKey key, String text) {
    failed.incrementAndGet();
    return CompletableFuture.completedFuture(new Outcome(key, false, text));
  }

  /** The most advanced eligible follower other than {@code avoid}; preference order breaks ties. */
  private String bestFollower(
      GroupKey key, PartitionController controller, ReplicaGroups.Group group, String avoid) {
    String best = null;
    Lsn bestLsn = null;
    for (String member : group.replicas()) {
      int id = ReplicaIds.of(member);
      if (id == controller.leader()
          || member.equals(avoid)
          || notReady(key, controller, member) != null) {
        continue;
      }
      Lsn lsn = controller.lastReported().get(id);
      if (best == null || lsn.compareTo(bestLsn) > 0) {
        best = member;
        bestLsn = lsn;
      }
    }
    return best;
  }

  /** Why {@code member} cannot take over {@code key} now, or null when it can. */
  private String notReady(GroupKey key, PartitionController controller, String member) {
    ClusterView view = replication.view();
    Member m = view == null ? null : view.members().get(member);
    if (m == null || m.state() != MemberState.UP) {
      return member + " is not UP (" + (m == null ? "unknown" : m.state()) + ")";
    }
    int id = ReplicaIds.of(member);
    Long heard = heardNanos.getOrDefault(key, Map.of()).get(id);
    long silentMillis = heard == null ? Long.MAX_VALUE : (System.nanoTime() - heard) / 1_000_000;
    if (silentMillis > replication.settings().failoverTimeoutMillis()) {
      return member
          + (heard == null ? " has not been heard from" : " silent for " + silentMillis + " ms");
    }
    Lsn reported = controller.lastReported().get(id);
    Lsn leaderAt = controller.lastReported().get(controller.leader());
    if (reported == null || reported.epoch() != controller.epoch()) {
      return member
          + " has not caught up with epoch "
          + controller.epoch()
          + " (it reported "
          + reported
          + ")";
    }
    long behind = leaderAt == null ? 0 : leaderAt.offset() - reported.offset();
    if (behind > replication.settings().maxLagRecords()) {
      return member + " is " + behind + " records behind the leader";
    }
    return null;
  }

  /** Every controller catch-up: moves running switchovers on, and checks preferred leaders. */
  void onTick(long controllerTicks) {
    for (Pending p : List.copyOf(pending.values())) {
      progress(p);
    }
    ticksSinceCheck += controllerTicks;
    if (preferredLeader && ticksSinceCheck >= PREFERRED_LEADER_CHECK_TICKS) {
      ticksSinceCheck = 0;
      checkPreferredLeaders();
    }
  }

  private void progress(Pending p) {
    PartitionController controller = replication.controllerOf(p.key);
    long elapsedMillis = (System.nanoTime() - p.startNanos) / 1_000_000;
    if (controller != p.controller) {
      finish(
          p,
          false,
          "ERR "
              + p.name()
              + ": switchover to "
              + (p.targetMember == null ? "a follower" : p.targetMember)
              + " interrupted: this node stopped hosting its controller (metadata leader or replica"
              + " set changed); see CLUSTER REPLICALEADER");
      return;
    }
    if (!p.begun) {
      ReplicaGroups groups = replication.groupsOf(p.key.keyspace());
      ReplicaGroups.Group group = groups == null ? null : groups.groups().get(p.key.group());
      if (group != null) {
        tryBegin(p, group);
      }
      if (!p.begun && pending.get(p.key) == p && elapsedMillis > TARGET_READY_WAIT_MILLIS) {
        finish(p, false, "TRYAGAIN " + p.name() + ": " + p.notReady);
      }
      return;
    }
    if (p.decidedEpoch < 0) {
      boolean decided =
          controller.phase() == PartitionController.Phase.STEADY
              && !replication.controllerRecording(p.key)
              && controller.epoch() > p.startEpoch;
      if (decided && controller.leader() == p.target) {
        p.decidedEpoch = controller.epoch();
      } else if (decided
          || controller.phase() == PartitionController.Phase.ELECTING
          || controller.epoch() > p.startEpoch + 1) {
        String leader = controller.leader() < 0 ? null : replication.memberOf(controller.leader());
        finish(
            p,
            false,
            "TRYAGAIN "
                + p.name()
                + ": switchover to "
                + p.targetMember
                + " did not complete (the drain did not finish in time, or the leader went"
                + " silent); an election runs instead: "
                + (leader == null
                    ? "electing in epoch " + controller.epoch()
                    : leader + " leads epoch " + controller.epoch()));
        return;
      }
    }
    if (p.decidedEpoch >= 0
        && (controller.epoch() != p.decidedEpoch || controller.leader() != p.target)) {
      String leader = controller.leader() < 0 ? null : replication.memberOf(controller.leader());
      finish(
          p,
          false,
          "TRYAGAIN "
              + p.name()
              + ": "
              + p.targetMember
              + " was chosen for epoch "
              + p.decidedEpoch
              + " but lost it before it served; "
              + (leader == null
                  ? "electing in epoch " + controller.epoch()
                  : leader + " leads epoch " + controller.epoch()));
      return;
    }
    if (p.decidedEpoch >= 0) {
      if (p.serving || servesHere(p)) {
        finish(
            p,
            true,
            p.name()
                + ": "
                + p.fromMember
                + " -> "
                + p.targetMember
                + ", epoch "
                + p.decidedEpoch
                + ", "
                + elapsedMillis
                + " ms");
        return;
      }
      probe(p);
    }
    if (elapsedMillis > REPLY_TIMEOUT_MILLIS) {
      finish(
          p,
          false,
          "TRYAGAIN "
              + p.name()
              + ": switchover to "
              + p.targetMember
              + " not confirmed within "
              + REPLY_TIMEOUT_MILLIS
              + " ms (controller "
              + controller.phase().name().toLowerCase(java.util.Locale.ROOT)
              + ", epoch "
              + controller.epoch()
              + (p.decidedEpoch < 0
                  ? ", drain not reported"
                  : ", "
                      + p.targetMember
                      + " decided but not yet serving; last probe: "
                      + p.lastProbe)
              + ")");
    }
  }

  /** True when the target is this node and its replica serves the decided epoch. */
  private boolean servesHere(Pending p) {
    if (!p.targetMember.equals(replication.selfId())) {
      return false;
    }
    PartitionReplica replica = replication.replicaOf(p.key);
    return replica != null && serves(replica, p.decidedEpoch);
  }

  /** Whether {@code replica} leads {@code epoch} with a valid lease and its start committed. */
  static boolean serves(PartitionReplica replica, long epoch) {
    return replica.role() == PartitionReplica.Role.LEADER
        && replica.epoch() == epoch
        && replica.servesLinearizableReads();
  }

  private void probe(Pending p) {
    long now = System.nanoTime();
    if (p.targetMember.equals(replication.selfId())
        || p.probing
        || (now - p.lastProbeNanos) / 1_000_000 < PROBE_INTERVAL_MILLIS) {
      return;
    }
    p.probing = true;
    p.lastProbeNanos = now;
    PeerCommands.call(
            replication,
            replication.view(),
            p.targetMember,
            p.key.keyspace(),
            "REPLICATION",
            "SERVING",
            Integer.toString(p.key.keyspace()),
            Integer.toString(p.key.group()),
            Long.toString(p.decidedEpoch))
        .whenComplete(
            (answer, error) ->
                replication
                    .loop()
                    .execute(
                        () -> {
                          p.probing = false;
                          p.lastProbe =
                              error != null
                                  ? ReplicationAdmin.rootMessage(error)
                                  : String.valueOf(answer);
                          if (error == null && Long.valueOf(1).equals(answer)) {
                            p.serving = true;
                            if (pending.get(p.key) == p) {
                              progress(p);
                            }
                          }
                        }));
  }

  private void finish(Pending p, boolean ok, String text) {
    if (pending.get(p.key) == p) {
      pending.remove(p.key);
    }
    if (ok) {
      completed.incrementAndGet();
      if (p.preferred) {
        preferredMoves.incrementAndGet();
      }
      log.info("{}{}", p.preferred ? "preferred leader: " : "switchover: ", text);
    } else {
      failed.incrementAndGet();
      log.warn("{}{}", p.preferred ? "preferred leader: " : "switchover: ", text);
    }
    p.done.complete(new Outcome(p.key, ok, text));
  }

  /**
   * Moves at most one group back to its first replica (see the class comment); groups are visited
   * round-robin so that one group that cannot move does not starve the others.
   */
  private void checkPreferredLeaders() {
    long running = pending.values().stream().filter(p -> p.preferred).count();
    if (running >= PREFERRED_LEADER_MOVES_IN_FLIGHT_MAX) {
      return;
    }
    List<GroupKey> keys = replication.controlledGroups();
    if (keys.isEmpty()) {
      return;
    }
    List<GroupKey> order = new ArrayList<>(keys.size());
    for (GroupKey key : keys) {
      if (lastChecked == null || ORDER.compare(key, lastChecked) > 0) {
        order.add(key);
      }
    }
    for (GroupKey key : keys) {
      if (lastChecked != null && ORDER.compare(key, lastChecked) <= 0) {
        order.add(key);
      }
    }
    for (GroupKey key : order) {
      lastChecked = key;
      String preferred = preferredMoveTarget(key);
      if (preferred != null) {
        start(key, preferred, null, true);
        return;
      }
    }
  }

  /** The group's first replica when it should take leadership back now, else null. */
  private String preferredMoveTarget(GroupKey key) {
    PartitionController controller = replication.controllerOf(key);
    ReplicaGroups groups = replication.groupsOf(key.keyspace());
    ReplicaGroups.Group group = groups == null ? null : groups.groups().get(key.group());
    if (controller == null
        || group == null
        || pending.containsKey(key)
        || replication.controllerRecording(key)
        || controller.phase() != PartitionController.Phase.STEADY
        || controller.leader() < 0) {
      return null;
    }
    Long manual = manualNanos.get(key);
    if (manual != null) {
      if ((System.nanoTime() - manual) / 1_000_000 < PREFERRED_LEADER_HOLD_OFF_MILLIS) {
        return null;
      }
      manualNanos.remove(key);
    }
    String first = group.replicas().get(0);
    if (drained.contains(first)) {
      ClusterView view = replication.view();
      Member m = view == null ? null : view.members().get(first);
      if (m != null && m.state() == MemberState.UP) {
        return null; // drained for maintenance and not restarted since
      }
      drained.remove(first);
    }
    if (ReplicaIds.of(first) == controller.leader() || notReady(key, controller, first) != null) {
      return null;
    }
    return first;
  }

  /**
   * Starts switchovers away from {@code member} for every group it leads whose controller is here
   * (maintenance: {@code cluster drain}). Loop thread.
   */
  List<CompletableFuture<Outcome>> drain(String member) {
    List<CompletableFuture<Outcome>> out = new ArrayList<>();
    drained.add(member);
    int id = ReplicaIds.of(member);
    for (GroupKey key : replication.controlledGroups()) {
      PartitionController controller = replication.controllerOf(key);
      if (controller != null && controller.leader() == id) {
        out.add(start(key, null, member, false));
      }
    }
    return out;
  }
}
