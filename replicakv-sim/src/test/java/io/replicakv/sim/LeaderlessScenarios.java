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
   * Broken: LWW that keeps the local value on equal timestamps. Clocks are exact and writes
   * frequent, so equal HLC timestamps from different coordinators occur and replicas disagree.
   */
  public static Scenario brokenLwwWithoutTieBreak() {
    LeaderlessConfig config = baseConfig().withConflicts(ConflictMode.LWW, false);
    return scenario("leaderless-broken-lww-no-tie-break", config, Faults.NONE, false, false);
  }

  /** Every leaderless scenario, for {@link Scenarios#all()}. */
  static List<Scenario> all() {
    return List.of(
        strictSiblings(),
        sloppySiblings(),
        strictLww(),
        brokenNoRepair(),
        brokenLwwWithoutTieBreak());
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

  static SimConfig simConfig(boolean exactClocks) {
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
        exactClocks ? 0 : 50,
        exactClocks ? 0 : 100,
        0.5,
        0);
  }

  private static Scenario scenario(
      String name,
      LeaderlessConfig config,
      Faults faults,
      boolean checkReadsSeeWrites,
      boolean checkNoLostWrites) {
    boolean exactClocks = config.conflicts() == ConflictMode.LWW && !config.lwwTieBreak();
    SimConfig simConfig = simConfig(exactClocks).withFaults(faults);
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
        LeaderlessSimReplica.factory(placement, config, contexts, true),
        // Scenario.run asks for fresh invariants once at the start of every run: that is where the
        // previous run's client contexts are forgotten.
        () -> {
          contexts.clear();
          return List.of();
        },
        checkers);
  }
}
