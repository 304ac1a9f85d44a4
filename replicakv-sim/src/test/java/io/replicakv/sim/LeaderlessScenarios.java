package io.replicakv.sim;

import io.replicakv.core.leaderless.ConflictMode;
import io.replicakv.core.leaderless.LeaderlessConfig;
import io.replicakv.core.leaderless.MerkleTree;
import io.replicakv.core.leaderless.Placement;
import java.util.ArrayList;
import java.util.List;

/**
 * Leaderless (Dynamo-style) scenarios: five nodes, N=3, R=2, W=2, clients on every node, under
 * crashes (only synced records survive), partitions, loss, duplication, reordering and clock skew;
 * then heal, quiet, and let read repair, hinted handoff and anti-entropy converge the replicas.
 *
 * <p>Correct variants must pass every checker; broken variants (no read repair and no anti-entropy;
 * LWW without a tie-break) must be flagged, which shows the checks can fail.
 */
public final class LeaderlessScenarios {
  /** Nodes in every leaderless scenario. */
  static final int NODES = 5;

  /** Clients, hence the most concurrent writers of one key. */
  static final int CLIENTS = 4;

  /** Tokens per node: about 20 partitions over 5 nodes, enough to spread 6 keys. */
  static final int VNODES = 4;

  /** Clock resolution in the contended LWW scenarios: one-second timestamps make ties common. */
  static final long COARSE_CLOCK_MILLIS = 1_000;

  /**
   * Workload of the contended LWW scenarios: short, so that the last round of writes starts almost
   * at once on several owners and the winning timestamp is often tied.
   */
  static final long CONTENDED_WORKLOAD_MILLIS = 40;

  private LeaderlessScenarios() {}

  /** Strict quorums (R+W>N), siblings, at most N-W=1 node down: nothing acknowledged is lost. */
  public static Scenario strictSiblings() {
    return scenario("leaderless-strict-siblings", baseConfig(), Faults.moderate(), true, true);
  }

  /** Sloppy quorum with hinted handoff, siblings, two nodes may be down at once. */
  public static Scenario sloppySiblings() {
    Faults faults = new Faults(100, 0.15, 0.30, 0.10, 0.3, 0.25, 0.05, 2_000, 2);
    return scenario(
        "leaderless-sloppy-siblings", baseConfig().withSloppyQuorum(true), faults, false, true);
  }

  /** Strict quorums in LWW mode: converges, ties broken by node id. */
  public static Scenario strictLww() {
    return scenario(
        "leaderless-strict-lww",
        baseConfig().withConflicts(ConflictMode.LWW, true),
        Faults.moderate(),
        false,
        false);
  }

  /** Broken: no read repair and no anti-entropy, so replicas that missed writes stay behind. */
  public static Scenario brokenNoRepair() {
    return scenario(
        "leaderless-broken-no-repair",
        baseConfig().withRepair(false, false, 0),
        Faults.moderate(),
        true,
        true);
  }

  /**
   * LWW under contention: exact clocks, many clients, one key, so different owners often stamp
   * writes with equal HLC timestamps; the node-id tie-break must still make replicas agree.
   */
  public static Scenario contendedLww() {
    LeaderlessConfig config = baseConfig().withConflicts(ConflictMode.LWW, true);
    return scenario(
        "leaderless-contended-lww", config, contended(), Faults.NONE, false, false, true);
  }

  /**
   * Broken: LWW that keeps the local value on equal timestamps, under the same contention as {@link
   * #contendedLww()}: replicas that received tied writes in different orders disagree.
   */
  public static Scenario brokenLwwWithoutTieBreak() {
    LeaderlessConfig config = baseConfig().withConflicts(ConflictMode.LWW, false);
    return scenario(
        "leaderless-broken-lww-no-tie-break", config, contended(), Faults.NONE, false, false, true);
  }

  /**
   * Exact, coarse (one-second) clocks, 30 clients hammering one key with no think time to speak of.
   */
  static SimConfig contended() {
    SimConfig base = simConfig();
    return new SimConfig(
        NODES,
        30,
        1,
        CONTENDED_WORKLOAD_MILLIS,
        2_000,
        base.tickMillis(),
        base.clientTimeoutMillis(),
        2,
        0.2,
        SimConfig.Routing.ANY_NODE,
        base.network(),
        Faults.NONE,
        0,
        0,
        0.5,
        0);
  }

  /**
   * Broken: clients write blind (no causal context), so every write becomes a sibling of all
   * earlier ones and siblings pile up past the number of concurrent writers.
   */
  public static Scenario brokenBlindWrites() {
    return scenario(
        "leaderless-broken-blind-writes",
        baseConfig(),
        simConfig(),
        Faults.NONE,
        false,
        false,
        false);
  }

  /** Every leaderless scenario, for {@link Scenarios#all()}. */
  static List<Scenario> all() {
    return List.of(
        strictSiblings(),
        sloppySiblings(),
        strictLww(),
        brokenNoRepair(),
        contendedLww(),
        brokenLwwWithoutTieBreak(),
        brokenBlindWrites());
  }

  static LeaderlessConfig baseConfig() {
    return new LeaderlessConfig(
        3,
        2,
        2,
        false,
        true,
        false,
        ConflictMode.SIBLINGS,
        true,
        5,
        20,
        3,
        12,
        5,
        LeaderlessConfig.HINTS_PER_PEER_MAX,
        LeaderlessConfig.SIBLINGS_MAX,
        MerkleTree.DEFAULT_FAN_OUT,
        MerkleTree.DEFAULT_DEPTH);
  }

  static SimConfig simConfig() {
    SimConfig defaults = SimConfig.defaults();
    return new SimConfig(
        NODES,
        CLIENTS,
        6,
        3_000,
        3_000,
        10,
        300,
        20,
        0.5,
        SimConfig.Routing.ANY_NODE,
        defaults.network(),
        Faults.NONE,
        50,
        100,
        0.5,
        0);
  }

  private static Scenario scenario(
      String name,
      LeaderlessConfig config,
      Faults faults,
      boolean checkReadsSeeWrites,
      boolean checkNoLostWrites) {
    return scenario(
        name, config, simConfig(), faults, checkReadsSeeWrites, checkNoLostWrites, true);
  }

  private static Scenario scenario(
      String name,
      LeaderlessConfig config,
      SimConfig baseSimConfig,
      Faults faults,
      boolean checkReadsSeeWrites,
      boolean checkNoLostWrites,
      boolean sendContexts) {
    SimConfig simConfig = baseSimConfig.withFaults(faults);
    boolean contention = baseSimConfig.keyCount() == 1;
    Placement placement = LeaderlessSimReplica.placement(NODES, VNODES, config.replicas());
    LeaderlessSimReplica.ClientContexts contexts = new LeaderlessSimReplica.ClientContexts();
    List<Checker> checkers = new ArrayList<>();
    checkers.add(new PerReplicaSetChecker(new ConvergenceChecker(), placement));
    if (checkNoLostWrites) {
      checkers.add(new PerReplicaSetChecker(new LostWriteChecker(), placement));
    }
    if (checkReadsSeeWrites) {
      checkers.add(new QuorumReadChecker());
    }
    if (config.conflicts() == ConflictMode.SIBLINGS) {
      checkers.add(new SiblingsPerWriterChecker());
    }
    return new Scenario(
        name,
        simConfig,
        LeaderlessSimReplica.factory(
            placement, config, contexts, sendContexts, contention ? COARSE_CLOCK_MILLIS : 1),
        // Scenario.run asks for fresh invariants once at the start of every run: that is where the
        // previous run's client contexts are forgotten.
        () -> {
          contexts.clear();
          return List.of();
        },
        checkers);
  }
}
