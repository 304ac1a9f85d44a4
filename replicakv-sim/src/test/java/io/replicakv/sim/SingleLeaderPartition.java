package io.replicakv.sim;

import io.replicakv.core.Envelope;
import io.replicakv.core.Ready;
import io.replicakv.core.Replica;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Message;
import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.msg.SingleLeaderMessage.Entry;
import io.replicakv.core.single.PartitionController;
import io.replicakv.core.single.PartitionReplica;
import io.replicakv.core.single.SingleLeaderConfig;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One single-leader partition in the simulator: replicas on nodes {@code 0..n-2}, the controller on
 * the last node (standing in for the metadata leader, so it can crash and be cut off like any
 * node). The wrappers add only what the simulator needs to look inside: the applied state, where
 * clients should send requests, and, for the controller, a periodic planned switchover.
 */
final class SingleLeaderPartition {
  private SingleLeaderPartition() {}

  /** What a partition scenario varies. */
  record Setup(
      SingleLeaderConfig replicaConfig,
      SingleLeaderConfig controllerConfig,
      boolean followerReads,
      long switchoverEveryTicks,
      boolean lieAboutDrain,
      long retainedEntries) {

    Setup(
        SingleLeaderConfig replicaConfig,
        SingleLeaderConfig controllerConfig,
        boolean followerReads,
        long switchoverEveryTicks,
        boolean lieAboutDrain) {
      this(
          replicaConfig,
          controllerConfig,
          followerReads,
          switchoverEveryTicks,
          lieAboutDrain,
          PartitionReplica.RETAINED_ENTRIES_DEFAULT);
    }

    Setup(
        SingleLeaderConfig replicaConfig,
        SingleLeaderConfig controllerConfig,
        boolean followerReads,
        long switchoverEveryTicks) {
      this(replicaConfig, controllerConfig, followerReads, switchoverEveryTicks, false);
    }

    /** The same setup with {@code entries} of log retention below the commit point. */
    Setup withRetainedEntries(long entries) {
      return new Setup(
          replicaConfig,
          controllerConfig,
          followerReads,
          switchoverEveryTicks,
          lieAboutDrain,
          entries);
    }
  }

  /** Three replicas and a controller, ids 0..2 and 3. */
  static final List<Integer> REPLICAS = List.of(0, 1, 2);

  static final int CONTROLLER = 3;

  static ReplicaFactory factory(Setup setup) {
    return factory(setup, false);
  }

  /**
   * With {@code brokenSnapshots}, every shipped snapshot claims one entry more than its state holds
   * (its LSN is the commit point plus one), a bug the invariants and checkers must catch.
   */
  static ReplicaFactory factory(Setup setup, boolean brokenSnapshots) {
    SnapshotShipping shipping = new SnapshotShipping(brokenSnapshots);
    return context -> {
      if (context.nodeId() == setup.controllerConfig().controllerId()) {
        return new ControllerNode(
            new PartitionController(
                context.nodeId(), setup.controllerConfig(), context.recovered()),
            setup.switchoverEveryTicks(),
            setup.replicaConfig().replicas());
      }
      return new ReplicaNode(
          new PartitionReplica(
              context.nodeId(),
              setup.replicaConfig(),
              setup.followerReads(),
              Lsn.ZERO,
              setup.retainedEntries(),
              context.recovered()),
          setup.lieAboutDrain(),
          shipping);
    };
  }

  /** What a leader's snapshot holds: its commit point, and the register state there. */
  record SnapshotImage(long epoch, int leader, Lsn lsn, Map<String, String> registers) {}

  /**
   * The simulator's snapshot stream. The server ships a partition snapshot in its own frames; here
   * the copy rides with the {@link SingleLeaderMessage.SnapshotNeeded} message that asks for it, so
   * it is lost, delayed, duplicated and cut off exactly as that message is: the leader's wrapper
   * takes the copy when the message leaves, and the follower's wrapper installs it when the same
   * message object arrives. Looked up by identity, so a copy never crosses runs; only the newest
   * {@link #IMAGES_KEPT_MAX} are kept (an older one still in flight is a lost transfer).
   */
  static final class SnapshotShipping {
    static final int IMAGES_KEPT_MAX = 64;

    private final ArrayDeque<Object[]> images = new ArrayDeque<>();
    private final boolean claimOneEntryMore;

    SnapshotShipping(boolean claimOneEntryMore) {
      this.claimOneEntryMore = claimOneEntryMore;
    }

    void shipped(SingleLeaderMessage.SnapshotNeeded message, SnapshotImage image) {
      for (Object[] pair : images) {
        if (pair[0] == message) {
          return;
        }
      }
      if (images.size() >= IMAGES_KEPT_MAX) {
        images.pollFirst();
      }
      SnapshotImage shipped =
          claimOneEntryMore
              ? new SnapshotImage(
                  image.epoch(),
                  image.leader(),
                  new Lsn(image.epoch(), image.lsn().offset() + 1),
                  image.registers())
              : image;
      images.addLast(new Object[] {message, shipped});
    }

    Optional<SnapshotImage> arrived(SingleLeaderMessage.SnapshotNeeded message) {
      for (Object[] pair : images) {
        if (pair[0] == message) {
          return Optional.of((SnapshotImage) pair[1]);
        }
      }
      return Optional.empty();
    }
  }

  /** A partition replica as the simulator sees it. */
  static final class ReplicaNode implements Replica, StateView, RoutingHint {
    final PartitionReplica replica;

    /** Broken on purpose: report "drained" as soon as asked, before the target caught up. */
    private final boolean lieAboutDrain;

    private final SnapshotShipping shipping;
    private final List<Envelope> lies = new ArrayList<>();
    private Ready innerReady = Ready.EMPTY;

    ReplicaNode(PartitionReplica replica, boolean lieAboutDrain, SnapshotShipping shipping) {
      this.replica = replica;
      this.lieAboutDrain = lieAboutDrain;
      this.shipping = shipping;
    }

    @Override
    public void step(Message message) {
      replica.step(message);
      if (message instanceof SingleLeaderMessage.SnapshotNeeded needed) {
        shipping
            .arrived(needed)
            .ifPresent(
                image ->
                    replica.installSnapshot(
                        image.epoch(), image.leader(), image.lsn(), image.registers()));
      }
      if (lieAboutDrain && message instanceof SingleLeaderMessage.Drain drain) {
        lies.add(
            Envelope.of(
                new SingleLeaderMessage.Drained(
                    drain.to(), drain.from(), drain.epoch(), drain.target(), replica.lastLsn())));
      }
    }

    @Override
    public void tick() {
      replica.tick();
    }

    @Override
    public Ready ready() {
      innerReady = replica.ready();
      for (Envelope envelope : innerReady.messages()) {
        if (envelope.message() instanceof SingleLeaderMessage.SnapshotNeeded needed) {
          shipping.shipped(
              needed,
              new SnapshotImage(
                  needed.epoch(),
                  needed.from(),
                  replica.commitLsn(),
                  new TreeMap<>(replica.appliedState())));
        }
      }
      if (lies.isEmpty()) {
        return innerReady;
      }
      List<Envelope> messages = new ArrayList<>(innerReady.messages());
      messages.addAll(lies);
      return new Ready(
          innerReady.records(),
          innerReady.syncBeforeSend(),
          messages,
          innerReady.replies(),
          innerReady.committed());
    }

    @Override
    public void advance(Ready done) {
      if (done != innerReady) {
        lies.clear();
      }
      replica.advance(innerReady);
    }

    @Override
    public Map<String, List<String>> visibleState() {
      Map<String, List<String>> visible = new TreeMap<>();
      replica.appliedState().forEach((key, value) -> visible.put(key, List.of(value)));
      return visible;
    }

    @Override
    public boolean believesLeader() {
      return replica.acceptsWrites();
    }

    @Override
    public boolean holdsData() {
      return true;
    }

    @Override
    public String toString() {
      return replica.toString();
    }
  }

  /**
   * The controller, which every {@code switchoverEveryTicks} moves leadership to the next replica.
   */
  static final class ControllerNode implements Replica, RoutingHint {
    final PartitionController controller;
    private final long switchoverEveryTicks;
    private final List<Integer> replicas;
    private long ticks;

    ControllerNode(
        PartitionController controller, long switchoverEveryTicks, List<Integer> replicas) {
      this.controller = controller;
      this.switchoverEveryTicks = switchoverEveryTicks;
      this.replicas = replicas;
    }

    @Override
    public void step(Message message) {
      controller.step(message);
    }

    @Override
    public void tick() {
      controller.tick();
      ticks++;
      if (switchoverEveryTicks > 0
          && ticks % switchoverEveryTicks == 0
          && controller.leader() >= 0) {
        int next = replicas.get((replicas.indexOf(controller.leader()) + 1) % replicas.size());
        controller.switchover(next);
      }
    }

    @Override
    public Ready ready() {
      return controller.ready();
    }

    @Override
    public void advance(Ready done) {
      controller.advance(done);
    }

    @Override
    public boolean believesLeader() {
      return false;
    }

    @Override
    public boolean holdsData() {
      return false;
    }
  }

  /**
   * Lease safety in real time: after every event, at most one replica would accept a write. Two at
   * once means an old leader's lease outlived the controller's failover timeout.
   */
  static final class OneWriterAtATime implements Invariant {
    private final int nodeCount;

    OneWriterAtATime(int nodeCount) {
      this.nodeCount = nodeCount;
    }

    @Override
    public Optional<String> check(View view) {
      List<String> writers = new ArrayList<>();
      for (int id = 0; id < nodeCount; id++) {
        if (view.replica(id).orElse(null) instanceof ReplicaNode node
            && node.replica.acceptsWrites()) {
          writers.add(node.toString());
        }
      }
      return writers.size() <= 1
          ? Optional.empty()
          : Optional.of("replicas accepting writes at once: " + writers);
    }
  }

  /**
   * Committed prefixes agree entry by entry, epoch-start markers included (which {@link
   * CommittedAgreement} does not see, since they carry no client write): once any replica has
   * committed LSN {@code (e, o)}, no replica ever commits anything else at offset {@code o}.
   */
  static final class CommittedLogAgreement implements Invariant {
    private final int nodeCount;
    private final Map<Long, String> committedByOffset = new java.util.HashMap<>();
    private final Map<Integer, PartitionReplica> checkedReplica = new java.util.HashMap<>();
    private final Map<Integer, Long> checkedUpTo = new java.util.HashMap<>();

    CommittedLogAgreement(int nodeCount) {
      this.nodeCount = nodeCount;
    }

    @Override
    public Optional<String> check(View view) {
      for (int id = 0; id < nodeCount; id++) {
        if (!(view.replica(id).orElse(null) instanceof ReplicaNode node)) {
          continue;
        }
        if (checkedReplica.get(id) != node.replica) {
          checkedReplica.put(id, node.replica);
          checkedUpTo.put(id, 0L);
        }
        // Offsets an installed snapshot covers are no longer in this replica's log.
        long from = Math.max(checkedUpTo.get(id) + 1, node.replica.logFirstOffset());
        for (long offset = from; offset <= node.replica.commitOffset(); offset++) {
          String lsn = node.replica.lsnAt(offset) + " at n" + id;
          String first = committedByOffset.putIfAbsent(offset, lsn);
          if (first != null
              && !first
                  .substring(0, first.indexOf(' '))
                  .equals(lsn.substring(0, lsn.indexOf(' ')))) {
            return Optional.of("offset " + offset + " committed as " + first + " and as " + lsn);
          }
        }
        checkedUpTo.put(id, Math.max(checkedUpTo.get(id), node.replica.commitOffset()));
      }
      return Optional.empty();
    }
  }

  /**
   * Not a check: records the fate of every write after every event, so that a test can account for
   * each acknowledged write under {@code acks=none}: values some replica reported committed, and
   * values some replica truncated into its divergent-writes record.
   */
  static final class WriteFates implements Invariant {
    private final int nodeCount;
    final java.util.Set<String> committedValues = new java.util.HashSet<>();
    final java.util.Set<String> divergentValues = new java.util.HashSet<>();

    WriteFates(int nodeCount) {
      this.nodeCount = nodeCount;
    }

    @Override
    public Optional<String> check(View view) {
      for (NodeCommit commit : view.committedThisEvent()) {
        if (commit.entry().operation() instanceof io.replicakv.core.msg.Operation.Put put) {
          committedValues.add(put.value());
        }
      }
      for (int id = 0; id < nodeCount; id++) {
        if (view.replica(id).orElse(null) instanceof ReplicaNode node) {
          for (Entry entry : node.replica.divergentWrites()) {
            if (entry.operation() instanceof io.replicakv.core.msg.Operation.Put put) {
              divergentValues.add(put.value());
            }
          }
        }
      }
      return Optional.empty();
    }
  }

  /**
   * Retention keeps every replica's in-memory log bounded: after every event, the entries it holds
   * at or below its commit point are at most {@code retainedEntries} plus {@code slackEntries}
   * (what an in-sync follower may lag, which the leader keeps for it). Also records the largest
   * commit point and the snapshot installs seen, so a test can tell that retention really cut and
   * that snapshots really happened.
   */
  static final class BoundedLog implements Invariant {
    private final int nodeCount;
    private final long boundEntries;
    private final Map<Integer, PartitionReplica> seenReplica = new java.util.HashMap<>();
    private final Map<Integer, Long> installsBefore = new java.util.HashMap<>();
    long largestCommitOffset;
    long largestHeldAtOrBelowCommit;
    long snapshotsInstalled;

    BoundedLog(int nodeCount, long retainedEntries, long slackEntries) {
      this.nodeCount = nodeCount;
      this.boundEntries = retainedEntries + slackEntries;
    }

    @Override
    public Optional<String> check(View view) {
      for (int id = 0; id < nodeCount; id++) {
        if (!(view.replica(id).orElse(null) instanceof ReplicaNode node)) {
          continue;
        }
        PartitionReplica replica = node.replica;
        if (seenReplica.get(id) != replica) {
          // A restarted replica replays its install records: count only new installs.
          seenReplica.put(id, replica);
          installsBefore.put(id, replica.snapshotsInstalled());
        }
        snapshotsInstalled += replica.snapshotsInstalled() - installsBefore.get(id);
        installsBefore.put(id, replica.snapshotsInstalled());
        long held = replica.commitOffset() - replica.logFirstOffset() + 1;
        largestCommitOffset = Math.max(largestCommitOffset, replica.commitOffset());
        largestHeldAtOrBelowCommit = Math.max(largestHeldAtOrBelowCommit, held);
        if (held > boundEntries) {
          return Optional.of(
              "n"
                  + id
                  + " holds "
                  + held
                  + " committed entries, bound "
                  + boundEntries
                  + ": "
                  + replica);
        }
      }
      return Optional.empty();
    }
  }
}
