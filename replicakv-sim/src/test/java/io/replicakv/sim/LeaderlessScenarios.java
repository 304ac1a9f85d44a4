package io.replicakv.sim;

import io.replicakv.core.leaderless.ConflictMode;
import io.replicakv.core.leaderless.LeaderlessConfig;
import io.replicakv.core.leaderless.MerkleTree;
import io.replicakv.core.leaderless.Placement;
import io.replicakv.sim.LeaderlessSimReplica.Workload;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Leaderless (Dynamo-style) scenarios: five nodes, N=3, R=2, W=2, clients on every node, under
 * crashes (only synced records survive), partitions, loss, duplication, reordering and clock skew;
 * then heal, quiet, and let read repair, hinted handoff and anti-entropy converge the replicas.
 *
 * <p>Correct variants must pass every checker; broken variants (no read repair and no anti-entropy;
 * LWW without a tie-break; blind writes) must be flagged, which shows the checks can fail.
 */
public final class LeaderlessScenarios {
  /** Nodes in every leaderless scenario. */
  static final int NODES = 5;

  /** Clients in the ordinary scenarios. */
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

  /** A scenario with a handle on its per-run state, so tests can read node counters after a run. */
  record Instrumented(Scenario scenario, LeaderlessSimReplica.RunState run) {
    /** Node counters of the last run, summed over every node instance. */
    Map<String, Long> counters() {
      return run.counterTotals();
    }
  }

  private LeaderlessScenarios() {}

  /** Strict quorums (R+W>N), siblings, at most N-W=1 node down: nothing acknowledged is lost. */
  public static Instrumented strictSiblings() {
    return new Builder("leaderless-strict-siblings", baseConfig())
        .faults(Faults.moderate())
        .readsSeeWrites()
        .noLostWrites()
        .build();
  }

  /**
   * Strict quorums with blocking read repair: a read answers only once the replicas it read hold
   * what it returns, so a later read (whose quorum meets them) never goes back: monotonic reads,
   * checked in real time over acknowledged writes and causally over every read's context (which
   * covers values of writes still in flight). Background repair was run as a contrast under the
   * same faults (seeds 6000-6163, and 6000-6563 with a fifth of messages lost and no anti-entropy)
   * and broke neither check: with R + W > N the window needs a write's replicates and the read's
   * repairs to both stragglers to arrive after the client's next read, which did not occur.
   */
  public static Instrumented strictBlockingReadRepair() {
    return new Builder("leaderless-strict-blocking-repair", baseConfig().withRepair(true, true, 5))
        .faults(Faults.moderate())
        .readsSeeWrites()
        .noLostWrites()
        .monotonicReads()
        .build();
  }

  /** Sloppy quorum with hinted handoff, siblings, two nodes may be down at once. */
  public static Instrumented sloppySiblings() {
    return new Builder("leaderless-sloppy-siblings", baseConfig().withSloppyQuorum(true))
        .faults(new Faults(100, 0.15, 0.30, 0.10, 0.3, 0.25, 0.05, 2_000, 2))
        .noLostWrites()
        .build();
  }

  /**
   * Strict quorums, siblings, and deletes (tombstones) among the writes: nothing a delete covered
   * comes back in a later read or in the final states.
   */
  public static Instrumented strictSiblingsWithDeletes() {
    return new Builder("leaderless-strict-deletes", baseConfig())
        .faults(Faults.moderate())
        .workload(Workload.REGISTER_WITH_DELETES)
        .build();
  }

  /**
   * Collection grace in the tombstone scenarios: 80 ticks (800 ms), above the request timeout (20
   * ticks) plus the longest message delay of the simulated network (500 ms tail, 30 ms reorder).
   */
  static final int TOMBSTONE_GRACE_TICKS = 80;

  /** Quiet period of the tombstone scenarios: room for three confirmation rounds after heal. */
  static final long TOMBSTONE_QUIET_MILLIS = 6_000;

  /**
   * Strict quorums, many deletes, crashes and partitions, and tombstone collection: no deleted
   * value comes back, and after heal every tombstone has been collected.
   */
  public static Instrumented strictDeletesWithCollection() {
    return new Builder(
            "leaderless-strict-deletes-gc", baseConfig().withTombstoneGc(5, TOMBSTONE_GRACE_TICKS))
        .faults(Faults.moderate())
        .quietMillis(TOMBSTONE_QUIET_MILLIS)
        .workload(Workload.REGISTER_WITH_DELETES)
        .tombstonesCollected()
        .build();
  }

  /**
   * Sloppy quorums (two nodes may be down, so hints are kept and replayed), many deletes, and
   * tombstone collection: the hint check and the third confirmation keep old hints from bringing a
   * deleted value back.
   */
  public static Instrumented sloppyDeletesWithCollection() {
    return new Builder(
            "leaderless-sloppy-deletes-gc",
            baseConfig().withSloppyQuorum(true).withTombstoneGc(5, TOMBSTONE_GRACE_TICKS))
        .faults(new Faults(100, 0.15, 0.30, 0.10, 0.3, 0.25, 0.05, 2_000, 2))
        .quietMillis(TOMBSTONE_QUIET_MILLIS)
        .workload(Workload.REGISTER_WITH_DELETES)
        .tombstonesCollected()
        .build();
  }

  /** Broken: collection switched off, so the "tombstones collected" check must object. */
  public static Instrumented brokenNoCollection() {
    return new Builder("leaderless-broken-no-gc", baseConfig().withTombstoneGc(0, 100))
        .quietMillis(TOMBSTONE_QUIET_MILLIS)
        .workload(Workload.REGISTER_WITH_DELETES)
        .tombstonesCollected()
        .build();
  }

  /** Broken: deletes sent without the client's context cover nothing, so deleted values stay. */
  public static Instrumented brokenBlindDeletes() {
    return new Builder("leaderless-broken-blind-deletes", baseConfig())
        .workload(Workload.REGISTER_WITH_BLIND_DELETES)
        .build();
  }

  /** Strict quorums in LWW mode under faults: converges, ties broken by node id. */
  public static Instrumented strictLww() {
    return new Builder("leaderless-strict-lww", baseConfig().withConflicts(ConflictMode.LWW, true))
        .faults(Faults.moderate())
        .build();
  }

  /**
   * LWW under contention: coarse clocks, many clients, one key, so different owners often stamp
   * writes with equal HLC timestamps; the node-id tie-break must still make replicas agree.
   */
  public static Instrumented contendedLww() {
    return new Builder(
            "leaderless-contended-lww", baseConfig().withConflicts(ConflictMode.LWW, true))
        .contended()
        .build();
  }

  /** CRDT add-wins set under faults: every acknowledged add is in every read and final state. */
  public static Instrumented strictCrdtSet() {
    return new Builder(
            "leaderless-strict-crdt-set", baseConfig().withConflicts(ConflictMode.CRDT, true))
        .faults(Faults.moderate())
        .workload(Workload.SET)
        .build();
  }

  /** CRDT PN-counter under faults: values stay between acknowledged and attempted increments. */
  public static Instrumented strictCrdtCounter() {
    return new Builder(
            "leaderless-strict-crdt-counter", baseConfig().withConflicts(ConflictMode.CRDT, true))
        .faults(Faults.moderate())
        .workload(Workload.COUNTER)
        .build();
  }

  /**
   * CRDT hash under faults: counter fields count every acknowledged HINCRBY once, string fields
   * show only written values and are present once written; no siblings, no lost field.
   */
  public static Instrumented strictCrdtMap() {
    return new Builder(
            "leaderless-strict-crdt-map", baseConfig().withConflicts(ConflictMode.CRDT, true))
        .faults(Faults.moderate())
        .workload(Workload.MAP)
        .build();
  }

  /** Broken: no read repair and no anti-entropy, so replicas that missed writes stay behind. */
  public static Instrumented brokenNoRepair() {
    return new Builder("leaderless-broken-no-repair", baseConfig().withRepair(false, false, 0))
        .faults(Faults.moderate())
        .readsSeeWrites()
        .noLostWrites()
        .build();
  }

  /**
   * Broken: LWW that keeps the local value on equal timestamps, under the same contention as {@link
   * #contendedLww()}: replicas that received tied writes in different orders disagree.
   */
  public static Instrumented brokenLwwWithoutTieBreak() {
    return new Builder(
            "leaderless-broken-lww-no-tie-break",
            baseConfig().withConflicts(ConflictMode.LWW, false))
        .contended()
        .build();
  }

  /**
   * Broken: clients write blind (no causal context), so every write becomes a sibling of all
   * earlier ones and siblings pile up past the number of concurrent writers.
   */
  public static Instrumented brokenBlindWrites() {
    return new Builder("leaderless-broken-blind-writes", baseConfig())
        .workload(Workload.BLIND_REGISTER)
        .build();
  }

  /** Every leaderless scenario, for {@link Scenarios#all()}. */
  static List<Scenario> all() {
    return List.of(
            strictSiblings(),
            sloppySiblings(),
            strictSiblingsWithDeletes(),
            strictDeletesWithCollection(),
            sloppyDeletesWithCollection(),
            strictBlockingReadRepair(),
            strictLww(),
            contendedLww(),
            strictCrdtSet(),
            strictCrdtCounter(),
            strictCrdtMap(),
            brokenNoRepair(),
            brokenLwwWithoutTieBreak(),
            brokenBlindWrites(),
            brokenBlindDeletes(),
            brokenNoCollection())
        .stream()
        .map(Instrumented::scenario)
        .toList();
  }

  /**
   * N=3, R=2, W=2, strict, read repair, siblings; anti-entropy every 5 ticks, requests time out
   * after 20 ticks (200 ms, below the clients' 300 ms), pings every 3, suspicion after 12.
   */
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

  /** Five nodes, four clients, six keys, three seconds of work and three of quiet. */
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

  /** Exact, coarse (one-second) clocks, 30 clients hammering one key with hardly any think time. */
  static SimConfig contendedSimConfig() {
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

  private static final class Builder {
    private final String name;
    private final LeaderlessConfig config;
    private SimConfig simConfig = simConfig();
    private long clockGranularityMillis = 1;
    private Workload workload = Workload.REGISTER;
    private boolean readsSeeWrites;
    private boolean noLostWrites;
    private boolean monotonicReads;
    private boolean tombstonesCollected;

    Builder(String name, LeaderlessConfig config) {
      this.name = name;
      this.config = config;
    }

    Builder faults(Faults faults) {
      simConfig = simConfig.withFaults(faults);
      return this;
    }

    Builder contended() {
      simConfig = contendedSimConfig();
      clockGranularityMillis = COARSE_CLOCK_MILLIS;
      return this;
    }

    Builder workload(Workload workload) {
      this.workload = workload;
      return this;
    }

    Builder quietMillis(long quietMillis) {
      simConfig = simConfig.withQuietMillis(quietMillis);
      return this;
    }

    Builder tombstonesCollected() {
      tombstonesCollected = true;
      return this;
    }

    Builder readsSeeWrites() {
      readsSeeWrites = true;
      return this;
    }

    Builder monotonicReads() {
      monotonicReads = true;
      return this;
    }

    Builder noLostWrites() {
      noLostWrites = true;
      return this;
    }

    Instrumented build() {
      Placement placement = LeaderlessSimReplica.placement(NODES, VNODES, config.replicas());
      LeaderlessSimReplica.RunState run = new LeaderlessSimReplica.RunState();
      List<Checker> checkers = new ArrayList<>();
      checkers.add(new PerReplicaSetChecker(new ConvergenceChecker(), placement));
      switch (workload) {
        case SET ->
            checkers.add(
                new CrdtSpecChecker(
                    CrdtSpecChecker.Type.SET, config.strictQuorumsOverlap(), placement));
        case COUNTER ->
            checkers.add(
                new CrdtSpecChecker(
                    CrdtSpecChecker.Type.COUNTER, config.strictQuorumsOverlap(), placement));
        case MAP ->
            checkers.add(
                new CrdtSpecChecker(
                    CrdtSpecChecker.Type.MAP, config.strictQuorumsOverlap(), placement));
        case REGISTER_WITH_DELETES, REGISTER_WITH_BLIND_DELETES -> {
          checkers.add(
              new DeletedValuesChecker(
                  (client, request) -> LeaderlessSimReplica.isDelete(request),
                  run::coveredByDelete,
                  config.strictQuorumsOverlap(),
                  placement));
          checkers.add(new SiblingsPerWriterChecker());
          if (tombstonesCollected) {
            checkers.add(new TombstonesCollectedChecker(run::tombstonesHeldByNewestNodes));
          }
        }
        case REGISTER, BLIND_REGISTER -> {
          if (noLostWrites) {
            checkers.add(new PerReplicaSetChecker(new LostWriteChecker(), placement));
          }
          if (readsSeeWrites) {
            checkers.add(new QuorumReadChecker());
          }
          if (monotonicReads) {
            checkers.add(new SessionChecker(SessionChecker.Guarantee.MONOTONIC_READS));
            checkers.add(new MonotonicCausalReadsChecker(run::monotonicReadViolations));
          }
          if (config.conflicts() == ConflictMode.SIBLINGS) {
            checkers.add(new SiblingsPerWriterChecker());
          }
        }
      }
      Scenario scenario =
          new Scenario(
              name,
              simConfig,
              LeaderlessSimReplica.factory(
                  placement, config, run, workload, clockGranularityMillis),
              // Scenario.run asks for fresh invariants once at the start of every run: that is
              // where the previous run's client contexts and nodes are forgotten.
              () -> {
                run.clear();
                return List.of(new LeaderlessInvariant(NODES));
              },
              checkers);
      return new Instrumented(scenario, run);
    }
  }
}
