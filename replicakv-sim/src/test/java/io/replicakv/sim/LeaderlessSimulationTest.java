package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Leaderless replication end to end in the simulator: five nodes, N=3, R=2, W=2, under crashes,
 * partitions, loss, duplication, reordering and clock skew, then heal and quiet. Correct
 * configurations pass every checker on every seed, and the repair mechanisms they rely on are seen
 * at work in the node counters; broken ones are flagged on fixed seeds, which shows that the checks
 * can fail. A failure prints the seed and the command that replays it ({@code -Dsim.seed=N} runs
 * only that seed). Longer campaigns: {@code replicakv-sim/run-sim.sh leaderless 600}.
 */
class LeaderlessSimulationTest {
  /** Seeds each correct scenario must pass. */
  static final int CORRECT_SEEDS = 30;

  /** Seeds among which each broken scenario must be flagged at least once. */
  static final int BROKEN_SEEDS = 10;

  @Test
  void strictQuorumsWithSiblingsLoseNoAcknowledgedWriteAndReadsSeeThem() {
    Map<String, Long> counters =
        passesEverySeed(
            LeaderlessScenarios.strictSiblings(),
            1,
            "strictQuorumsWithSiblingsLoseNoAcknowledgedWriteAndReadsSeeThem");
    assertThat(counters.get("read_repairs_sent")).as(counters.toString()).isPositive();
    assertThat(counters.get("anti_entropy_keys_repaired")).as(counters.toString()).isPositive();
    assertThat(counters.get("not_enough_replicas") + counters.get("timeouts"))
        .as("faults made some requests fail: " + counters)
        .isPositive();
  }

  @Test
  void blockingReadRepairKeepsEveryGuaranteeAndGivesMonotonicReads() {
    Map<String, Long> counters =
        passesEverySeed(
            LeaderlessScenarios.strictBlockingReadRepair(),
            6_000,
            "blockingReadRepairKeepsEveryGuaranteeAndGivesMonotonicReads");
    assertThat(counters.get("read_repairs_sent")).as(counters.toString()).isPositive();
  }

  @Test
  void sloppyQuorumWithHintedHandoffConvergesAndLosesNothingAfterHeal() {
    Map<String, Long> counters =
        passesEverySeed(
            LeaderlessScenarios.sloppySiblings(),
            1_000,
            "sloppyQuorumWithHintedHandoffConvergesAndLosesNothingAfterHeal");
    assertThat(counters.get("hints_stored")).as(counters.toString()).isPositive();
    assertThat(counters.get("hints_handed_off")).as(counters.toString()).isPositive();
  }

  @Test
  void deletedValuesNeverComeBackInReadsOrFinalStates() {
    LeaderlessScenarios.Instrumented scenario = LeaderlessScenarios.strictSiblingsWithDeletes();
    long[] deletes = new long[2];
    passesEverySeed(
        scenario,
        5_000,
        "deletedValuesNeverComeBackInReadsOrFinalStates",
        () -> {
          long[] counts = scenario.run().deleteCounts();
          deletes[0] += counts[0];
          deletes[1] += counts[1];
        });
    assertThat(deletes[1]).as("deletes that covered seen values, of %s", deletes[0]).isPositive();
  }

  @Test
  void collectedTombstonesNeverBringDeletedValuesBackAndAllAreCollectedAfterHeal() {
    LeaderlessScenarios.Instrumented scenario = LeaderlessScenarios.strictDeletesWithCollection();
    long[] deletes = new long[2];
    Map<String, Long> counters =
        passesEverySeed(
            scenario,
            7_000,
            "collectedTombstonesNeverBringDeletedValuesBackAndAllAreCollectedAfterHeal",
            () -> {
              long[] counts = scenario.run().deleteCounts();
              deletes[0] += counts[0];
              deletes[1] += counts[1];
            });
    assertThat(deletes[1]).as("deletes that covered seen values, of %s", deletes[0]).isPositive();
    assertThat(counters.get("tombstones_dropped")).as(counters.toString()).isPositive();
    assertThat(counters.get("tombstone_gc_confirmations")).as(counters.toString()).isPositive();
  }

  @Test
  void collectionUnderSloppyQuorumsAndHintReplayBringsNothingBack() {
    Map<String, Long> counters =
        passesEverySeed(
            LeaderlessScenarios.sloppyDeletesWithCollection(),
            8_000,
            "collectionUnderSloppyQuorumsAndHintReplayBringsNothingBack");
    assertThat(counters.get("tombstones_dropped")).as(counters.toString()).isPositive();
    assertThat(counters.get("hints_stored")).as(counters.toString()).isPositive();
  }

  @Test
  void withoutCollectionTombstonesStayAndTheCollectionCheckSaysSo() {
    Map<String, List<Long>> flagged =
        flaggedSeeds(LeaderlessScenarios.brokenNoCollection().scenario(), 1);
    assertThat(flagged.get("tombstones collected after heal")).as(flagged.toString()).isNotEmpty();
    assertThat(flagged.get("deleted values stay deleted")).isEmpty();
  }

  @Test
  void deletesWithoutContextLeaveTheValuesTheyMeantToDelete() {
    Map<String, List<Long>> flagged =
        flaggedSeeds(LeaderlessScenarios.brokenBlindDeletes().scenario(), 1);
    assertThat(flagged.get("deleted values stay deleted")).as(flagged.toString()).isNotEmpty();
  }

  @Test
  void lastWriteWinsWithTieBreakConvergesUnderFaults() {
    Map<String, Long> counters =
        passesEverySeed(
            LeaderlessScenarios.strictLww(),
            2_000,
            "lastWriteWinsWithTieBreakConvergesUnderFaults");
    assertThat(counters.get("lww_writes_discarded")).as(counters.toString()).isPositive();
  }

  @Test
  void lastWriteWinsTieBreakKeepsContendedReplicasInAgreement() {
    passesEverySeed(
        LeaderlessScenarios.contendedLww(),
        1,
        "lastWriteWinsTieBreakKeepsContendedReplicasInAgreement");
  }

  @Test
  void crdtSetKeepsEveryAcknowledgedAdd() {
    passesEverySeed(LeaderlessScenarios.strictCrdtSet(), 3_000, "crdtSetKeepsEveryAcknowledgedAdd");
  }

  @Test
  void crdtCounterCountsEveryAcknowledgedIncrementOnce() {
    passesEverySeed(
        LeaderlessScenarios.strictCrdtCounter(),
        4_000,
        "crdtCounterCountsEveryAcknowledgedIncrementOnce");
  }

  @Test
  void crdtMapCountsEveryAcknowledgedFieldIncrementOnceAndKeepsEveryWrittenField() {
    passesEverySeed(
        LeaderlessScenarios.strictCrdtMap(),
        9_000,
        "crdtMapCountsEveryAcknowledgedFieldIncrementOnceAndKeepsEveryWrittenField");
  }

  @Test
  void withoutReadRepairAndAntiEntropyReplicasStayDiverged() {
    LeaderlessScenarios.Instrumented broken = LeaderlessScenarios.brokenNoRepair();
    Map<String, List<Long>> flagged = flaggedSeeds(broken.scenario(), 1);
    assertThat(flagged.get("convergence")).as(flagged.toString()).isNotEmpty();
    assertThat(broken.counters().get("read_repairs_sent")).isZero();
    assertThat(broken.counters().get("anti_entropy_exchanges")).isZero();
  }

  @Test
  void lastWriteWinsWithoutTieBreakDiverges() {
    Map<String, List<Long>> flagged =
        flaggedSeeds(LeaderlessScenarios.brokenLwwWithoutTieBreak().scenario(), 1);
    assertThat(flagged.get("convergence")).as(flagged.toString()).isNotEmpty();
  }

  @Test
  void blindWritesPileUpSiblingsPastConcurrentWriters() {
    Map<String, List<Long>> flagged =
        flaggedSeeds(LeaderlessScenarios.brokenBlindWrites().scenario(), 1);
    assertThat(flagged.get("siblings bounded by concurrent writers"))
        .as(flagged.toString())
        .isNotEmpty();
    // Blind writes lose nothing and still converge: only the sibling check objects.
    assertThat(flagged.get("convergence")).isEmpty();
  }

  @Test
  void aLeaderlessRunReplaysByteForByteFromItsSeed() {
    Scenario scenario = LeaderlessScenarios.sloppySiblings().scenario();
    long seed = SimSeeds.seeds(77, 1).get(0);
    SimResult first =
        new Simulation(
                seed, scenario.config(), scenario.factory(), scenario.invariants().get(), true)
            .run();
    SimResult second =
        new Simulation(
                seed, scenario.config(), scenario.factory(), scenario.invariants().get(), true)
            .run();
    assertThat(first.fullTrace()).isNotEmpty().isEqualTo(second.fullTrace());
    assertThat(first.observation()).isEqualTo(second.observation());
  }

  /** Runs the seeds, fails with a replay command on the first failure, sums node counters. */
  private Map<String, Long> passesEverySeed(
      LeaderlessScenarios.Instrumented instrumented, long first, String method) {
    return passesEverySeed(instrumented, first, method, () -> {});
  }

  private Map<String, Long> passesEverySeed(
      LeaderlessScenarios.Instrumented instrumented,
      long first,
      String method,
      Runnable afterEachRun) {
    long reads = 0;
    long writes = 0;
    Map<String, Long> totals = new TreeMap<>();
    for (long seed : SimSeeds.seeds(first, CORRECT_SEEDS)) {
      Scenario.Outcome outcome = instrumented.scenario().run(seed);
      String replay = SimSeeds.replayCommand(getClass(), method, seed);
      assertThat(outcome.failed()).as(outcome.report(replay)).isFalse();
      assertThat(outcome.checks()).noneMatch(c -> c.verdict() == CheckResult.Verdict.UNKNOWN);
      instrumented.counters().forEach((name, value) -> totals.merge(name, value, Long::sum));
      afterEachRun.run();
      for (Op op : outcome.result().observation().ops()) {
        if (op.status() == Op.Status.OK) {
          if (op.kind() == Op.Kind.READ) {
            reads++;
          } else {
            writes++;
          }
        }
      }
    }
    assertThat(reads).as("acknowledged reads").isGreaterThan(0);
    assertThat(writes).as("acknowledged writes").isGreaterThan(0);
    return totals;
  }

  /** Checker name to the seeds it flagged; every checker of the scenario has an entry. */
  private static Map<String, List<Long>> flaggedSeeds(Scenario scenario, long firstSeed) {
    Map<String, List<Long>> flagged = new TreeMap<>();
    for (long seed : SimSeeds.seeds(firstSeed, BROKEN_SEEDS)) {
      Scenario.Outcome outcome = scenario.run(seed);
      assertThat(outcome.result().violation()).as(outcome.report("seed " + seed)).isEmpty();
      for (CheckResult check : outcome.checks()) {
        List<Long> seeds = flagged.computeIfAbsent(check.checker(), name -> new ArrayList<>());
        if (check.failed()) {
          seeds.add(seed);
        }
      }
    }
    return flagged;
  }
}
