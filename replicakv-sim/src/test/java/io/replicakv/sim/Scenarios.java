package io.replicakv.sim;

import io.replicakv.core.quorum.Acks;
import io.replicakv.core.single.SingleLeaderConfig;
import io.replicakv.core.util.Check;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The scenarios known by name to tests and to {@link SimRunner}. */
public final class Scenarios {
  private Scenarios() {}

  /** Correct synchronous primary/backup under crashes, partitions, loss and clock jumps. */
  public static Scenario synchronousPrimaryBackup() {
    SimConfig config = SimConfig.defaults().withFaults(Faults.moderate());
    return new Scenario(
        "sync-primary-backup",
        config,
        PrimaryBackupRegister.factory(PrimaryBackupRegister.Mode.SYNCHRONOUS),
        () -> List.of(new CommittedAgreement()),
        Scenario.allRegisterCheckers(config.clientCount()));
  }

  /**
   * Broken asynchronous primary/backup with backup reads, no crashes or partitions: stale reads
   * only. Client links are fast (1-3 ms) while replication suffers loss and reordering delays of up
   * to 300 ms, so backups lag each other and the primary visibly, as an overloaded replication link
   * would.
   */
  public static Scenario asynchronousStaleReads() {
    SimConfig config =
        SimConfig.defaults()
            .withNetwork(new SimNetwork.Config(new LatencyModel.Uniform(1, 3), 0.2, 0, 0.3, 300));
    return new Scenario(
        "async-stale-reads",
        config,
        PrimaryBackupRegister.factory(PrimaryBackupRegister.Mode.ASYNCHRONOUS_WITH_BACKUP_READS),
        () -> List.of(new CommittedAgreement()),
        Scenario.allRegisterCheckers(config.clientCount()));
  }

  /**
   * Broken asynchronous primary/backup under crashes: unsynced acknowledged writes vanish and
   * offsets are reused.
   */
  public static Scenario asynchronousCrashes() {
    SimConfig config =
        SimConfig.defaults()
            .withRouting(SimConfig.Routing.PRIMARY_ONLY)
            .withFaults(Faults.moderate());
    return new Scenario(
        "async-crashes",
        config,
        PrimaryBackupRegister.factory(PrimaryBackupRegister.Mode.ASYNCHRONOUS_WITH_BACKUP_READS),
        () -> List.of(new CommittedAgreement()),
        Scenario.allRegisterCheckers(config.clientCount()));
  }

  /**
   * Three replicas and a controller under crashes (disks keep only synced records; one node down at
   * a time), partitions, one-way links, loss, duplication, reordering and clocks whose tick rates
   * drift by up to 1%. Crashes and cuts last long enough, against a 12-tick failover timeout, that
   * most runs see several elections.
   */
  static SimConfig singleLeaderConfig(SimConfig.Routing routing) {
    return new SimConfig(
        4,
        3,
        2,
        3_000,
        1_500,
        10,
        300,
        20,
        0.5,
        routing,
        SimConfig.defaults().network(),
        new Faults(100, 0.15, 0.25, 0.15, 0.3, 0.2, 0.05, 2_000, 1),
        50,
        10_000,
        0.5,
        0);
  }

  static SingleLeaderPartition.Setup singleLeaderSetup(Acks acks, boolean followerReads) {
    SingleLeaderConfig config =
        SingleLeaderConfig.forSimulation(
            SingleLeaderPartition.REPLICAS, SingleLeaderPartition.CONTROLLER, acks);
    return new SingleLeaderPartition.Setup(config, config, followerReads, 0);
  }

  static Scenario singleLeader(
      String name, SimConfig config, SingleLeaderPartition.Setup setup, List<Checker> checkers) {
    return new Scenario(
        name,
        config,
        SingleLeaderPartition.factory(setup),
        () ->
            List.of(
                new CommittedAgreement(),
                new SingleLeaderPartition.CommittedLogAgreement(config.nodeCount()),
                new SingleLeaderPartition.OneWriterAtATime(config.nodeCount())),
        checkers);
  }

  /** acks=all, every op at the leader: linearizable, nothing acknowledged lost, convergent. */
  public static Scenario singleLeaderAcksAll() {
    return singleLeader(
        "single-leader-acks-all",
        singleLeaderConfig(SimConfig.Routing.LEADER),
        singleLeaderSetup(Acks.ALL, false),
        List.of(
            LinearizabilityChecker.withDefaults(),
            new LostWriteChecker(),
            new ConvergenceChecker()));
  }

  /** acks=1, every op at the leader: no acknowledged write lost with one replica down at a time. */
  public static Scenario singleLeaderAcksOne() {
    return singleLeader(
        "single-leader-acks-1",
        singleLeaderConfig(SimConfig.Routing.LEADER),
        singleLeaderSetup(Acks.of(1), false),
        List.of(
            new LostWriteChecker(),
            new ConvergenceChecker(),
            LinearizabilityChecker.withDefaults()));
  }

  /** acks=none: converges; lost acknowledged writes are judged against the divergent record. */
  public static Scenario singleLeaderAcksNone() {
    return singleLeader(
        "single-leader-acks-none",
        singleLeaderConfig(SimConfig.Routing.LEADER),
        singleLeaderSetup(Acks.NONE, false),
        List.of(new ConvergenceChecker()));
  }

  /** acks=1 with follower reads and session tokens: read-your-writes and monotonic reads. */
  public static Scenario singleLeaderFollowerReads() {
    return singleLeader(
        "single-leader-follower-reads",
        singleLeaderConfig(SimConfig.Routing.WRITES_TO_LEADER_READS_ANY_REPLICA),
        singleLeaderSetup(Acks.of(1), true),
        List.of(
            new SessionChecker(SessionChecker.Guarantee.READ_YOUR_WRITES),
            new SessionChecker(SessionChecker.Guarantee.MONOTONIC_READS),
            new LostWriteChecker(),
            new ConvergenceChecker()));
  }

  /** Log retention of the snapshot scenario, in entries below the commit point. */
  static final long SNAPSHOT_SCENARIO_RETAINED_ENTRIES = 8;

  /**
   * acks=1 with a log retention of only {@link #SNAPSHOT_SCENARIO_RETAINED_ENTRIES} entries, under
   * the usual crashes and partitions: a follower that is down or cut off while a few dozen writes
   * commit finds the leader's log trimmed past it and catches up through a partition snapshot.
   * Linearizable, nothing acknowledged lost, convergent.
   */
  public static Scenario singleLeaderSnapshotCatchUp() {
    return singleLeader(
        "single-leader-snapshot-catch-up",
        singleLeaderConfig(SimConfig.Routing.LEADER),
        singleLeaderSetup(Acks.of(1), false)
            .withRetainedEntries(SNAPSHOT_SCENARIO_RETAINED_ENTRIES),
        List.of(
            LinearizabilityChecker.withDefaults(),
            new LostWriteChecker(),
            new ConvergenceChecker()));
  }

  /**
   * Broken on purpose: the snapshot scenario with snapshots whose LSN claims one entry more than
   * their state holds, so a follower that installs one skips a committed write.
   */
  public static Scenario brokenSingleLeaderSnapshotSkipsAnEntry() {
    Scenario correct = singleLeaderSnapshotCatchUp();
    SingleLeaderPartition.Setup setup =
        singleLeaderSetup(Acks.of(1), false)
            .withRetainedEntries(SNAPSHOT_SCENARIO_RETAINED_ENTRIES);
    SimConfig config = correct.config();
    return new Scenario(
        "broken-single-leader-snapshot",
        config,
        SingleLeaderPartition.factory(setup, true),
        () ->
            List.of(
                new CommittedAgreement(),
                new SingleLeaderPartition.CommittedLogAgreement(config.nodeCount()),
                new SingleLeaderPartition.OneWriterAtATime(config.nodeCount())),
        correct.checkers());
  }

  /**
   * acks=none with a planned switchover every 40 ticks and no crashes or partitions (the network
   * still loses, duplicates and reorders): switchovers drain first, so nothing acknowledged is
   * lost.
   */
  public static Scenario singleLeaderSwitchovers() {
    SingleLeaderPartition.Setup base = singleLeaderSetup(Acks.NONE, false);
    return singleLeader(
        "single-leader-switchovers",
        singleLeaderConfig(SimConfig.Routing.LEADER).withFaults(Faults.NONE),
        new SingleLeaderPartition.Setup(base.replicaConfig(), base.controllerConfig(), false, 40),
        List.of(new LostWriteChecker(), new ConvergenceChecker()));
  }

  /**
   * Broken on purpose: the switchover scenario with leaders that report "drained" at once, before
   * the target holds their log, so the handover truncates acknowledged acks=none writes.
   */
  public static Scenario brokenSingleLeaderSwitchoverWithoutDrain() {
    Scenario correct = singleLeaderSwitchovers();
    SingleLeaderPartition.Setup base = singleLeaderSetup(Acks.NONE, false);
    return singleLeader(
        "broken-single-leader-switchover",
        correct.config(),
        new SingleLeaderPartition.Setup(
            base.replicaConfig(), base.controllerConfig(), false, 40, true),
        correct.checkers());
  }

  /**
   * Broken on purpose: replicas hold 200-tick leases while the controller fails over after 8 silent
   * ticks (each config valid alone, mismatched together), so a deposed leader keeps serving.
   */
  public static Scenario brokenSingleLeaderLeaseOutlivesFailover() {
    SingleLeaderConfig replicas =
        new SingleLeaderConfig(
            SingleLeaderPartition.REPLICAS,
            SingleLeaderPartition.CONTROLLER,
            Acks.ALL,
            200,
            1_000,
            10_000,
            3,
            15,
            50,
            10,
            10);
    SingleLeaderConfig controller =
        new SingleLeaderConfig(
            SingleLeaderPartition.REPLICAS,
            SingleLeaderPartition.CONTROLLER,
            Acks.ALL,
            5,
            8,
            10_000,
            3,
            15,
            50,
            10,
            10);
    return singleLeader(
        "broken-single-leader-lease",
        singleLeaderConfig(SimConfig.Routing.LEADER).withFaults(Faults.partitionsOnly()),
        new SingleLeaderPartition.Setup(replicas, controller, false, 0),
        List.of(LinearizabilityChecker.withDefaults(), new LostWriteChecker()));
  }

  /**
   * Broken on purpose: replicas acknowledge with acks=1 but the controller believes acks=all and so
   * elects after a single fence answer, which need not hold the acknowledged writes.
   */
  public static Scenario brokenSingleLeaderElectionTooFewAnswers() {
    SingleLeaderPartition.Setup replicas = singleLeaderSetup(Acks.of(1), false);
    SingleLeaderPartition.Setup controller = singleLeaderSetup(Acks.ALL, false);
    return singleLeader(
        "broken-single-leader-election",
        singleLeaderConfig(SimConfig.Routing.LEADER),
        new SingleLeaderPartition.Setup(
            replicas.replicaConfig(), controller.controllerConfig(), false, 0),
        List.of(new LostWriteChecker(), LinearizabilityChecker.withDefaults()));
  }

  /** Every scenario by name. */
  public static Map<String, Scenario> all() {
    Map<String, Scenario> all = new TreeMap<>();
    for (Scenario scenario :
        List.of(
            synchronousPrimaryBackup(),
            asynchronousStaleReads(),
            asynchronousCrashes(),
            singleLeaderAcksAll(),
            singleLeaderAcksOne(),
            singleLeaderAcksNone(),
            singleLeaderFollowerReads(),
            singleLeaderSwitchovers(),
            singleLeaderSnapshotCatchUp(),
            brokenSingleLeaderSnapshotSkipsAnEntry(),
            brokenSingleLeaderLeaseOutlivesFailover(),
            brokenSingleLeaderSwitchoverWithoutDrain(),
            brokenSingleLeaderElectionTooFewAnswers())) {
      all.put(scenario.name(), scenario);
    }
    for (Scenario scenario : LeaderlessScenarios.all()) {
      all.put(scenario.name(), scenario);
    }
    return all;
  }

  /** The scenario called {@code name}; fails listing the known names. */
  public static Scenario named(String name) {
    Scenario scenario = all().get(name);
    Check.argument(scenario != null, "no scenario %s; known: %s", name, all().keySet());
    return scenario;
  }
}
