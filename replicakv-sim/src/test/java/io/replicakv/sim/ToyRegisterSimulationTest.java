package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The simulator and checkers end to end, on toy registers: correct ones pass every checker over
 * many seeds under faults, broken ones are caught. Each failure message carries the seed and the
 * command that replays it ({@code -Dsim.seed=N} runs only that seed).
 */
class ToyRegisterSimulationTest {
  /** Seeds the correct toys must pass; the broken ones must fail for some seed among the first. */
  static final int CORRECT_SEEDS = 200;

  static final int BROKEN_SEEDS = 20;

  @Test
  void synchronousPrimaryBackupPassesEveryCheckerUnderFaults() {
    Scenario scenario = Scenarios.synchronousPrimaryBackup();
    long operations = 0;
    for (long seed : SimSeeds.seeds(1_000, CORRECT_SEEDS)) {
      Scenario.Outcome outcome = scenario.run(seed);
      String replay =
          SimSeeds.replayCommand(
              getClass(), "synchronousPrimaryBackupPassesEveryCheckerUnderFaults", seed);
      assertThat(outcome.failed()).as(outcome.report(replay)).isFalse();
      assertThat(outcome.checks())
          .noneMatch(check -> check.verdict() == CheckResult.Verdict.UNKNOWN);
      operations += outcome.result().observation().ops().size();
    }
    assertThat(operations).isGreaterThan(0);
  }

  @Test
  void singleCopyRegisterThatSyncsPassesEveryCheckerAcrossCrashes() {
    Scenario scenario = singleCopy(true);
    for (long seed : SimSeeds.seeds(2_000, 50)) {
      Scenario.Outcome outcome = scenario.run(seed);
      String replay =
          SimSeeds.replayCommand(
              getClass(), "singleCopyRegisterThatSyncsPassesEveryCheckerAcrossCrashes", seed);
      assertThat(outcome.failed()).as(outcome.report(replay)).isFalse();
    }
  }

  @Test
  void singleCopyRegisterThatDoesNotSyncLosesAcknowledgedWrites() {
    Map<String, List<Long>> flagged = flaggedSeeds(singleCopy(false), 3_000, BROKEN_SEEDS);
    assertThat(flagged.get("no lost acknowledged writes")).as(flagged.toString()).isNotEmpty();
    assertThat(flagged.get("linearizability")).as(flagged.toString()).isNotEmpty();
  }

  @Test
  void asynchronousBackupReadsAreCaughtByLinearizabilityAndSessionCheckers() {
    Map<String, List<Long>> flagged =
        flaggedSeeds(Scenarios.asynchronousStaleReads(), 1, BROKEN_SEEDS);
    assertThat(flagged.get("linearizability")).as(flagged.toString()).isNotEmpty();
    assertThat(flagged.get("read your writes")).as(flagged.toString()).isNotEmpty();
    assertThat(flagged.get("monotonic reads")).as(flagged.toString()).isNotEmpty();
    assertThat(flagged.get("consistent prefix")).as(flagged.toString()).isNotEmpty();
    // Without crashes the broken toy still converges and loses nothing: those checkers stay quiet.
    assertThat(flagged.get("convergence")).isEmpty();
    assertThat(flagged.get("no lost acknowledged writes")).isEmpty();
  }

  @Test
  void asynchronousPrimaryThatForgetsAcknowledgedWritesBreaksCommittedAgreement() {
    Scenario scenario = Scenarios.asynchronousCrashes();
    List<Long> violations = new ArrayList<>();
    for (long seed : SimSeeds.seeds(1, BROKEN_SEEDS)) {
      if (scenario
          .run(seed)
          .result()
          .violation()
          .filter(v -> v.startsWith("CommittedAgreement"))
          .isPresent()) {
        violations.add(seed);
      }
    }
    assertThat(violations).isNotEmpty();
  }

  @Test
  void asynchronousPrimaryCrashesAreCaughtByLostWriteAndConvergenceCheckers() {
    Scenario withInvariants = Scenarios.asynchronousCrashes();
    // Without the invariant the run goes on to the end, so the history checkers get to judge it.
    Scenario scenario =
        new Scenario(
            withInvariants.name(),
            withInvariants.config(),
            withInvariants.factory(),
            List::of,
            withInvariants.checkers());
    Map<String, List<Long>> flagged = flaggedSeeds(scenario, 1, BROKEN_SEEDS);
    assertThat(flagged.get("no lost acknowledged writes")).as(flagged.toString()).isNotEmpty();
    assertThat(flagged.get("convergence")).as(flagged.toString()).isNotEmpty();
  }

  private static Scenario singleCopy(boolean syncWrites) {
    SimConfig defaults = SimConfig.defaults();
    SimConfig config =
        new SimConfig(
            1,
            3,
            2,
            2_000,
            500,
            10,
            200,
            20,
            0.5,
            SimConfig.Routing.PRIMARY_ONLY,
            defaults.network(),
            new Faults(100, 0.15, 0.5, 0, 0, 0, 0, 0, 1),
            0,
            0,
            0.5,
            0);
    return new Scenario(
        syncWrites ? "single-copy-synced" : "single-copy-unsynced",
        config,
        SingleCopyRegister.factory(syncWrites),
        // Without sync the toy reuses offsets after a crash, which CommittedAgreement would stop at
        // once; leave it out so that the history checkers get to judge the whole run.
        syncWrites ? () -> List.of(new CommittedAgreement()) : List::of,
        List.of(
            LinearizabilityChecker.withDefaults(),
            new LostWriteChecker(),
            new SessionChecker(SessionChecker.Guarantee.READ_YOUR_WRITES)));
  }

  /** Checker name to the seeds it flagged; every checker of the scenario has an entry. */
  private static Map<String, List<Long>> flaggedSeeds(
      Scenario scenario, long firstSeed, int count) {
    Map<String, List<Long>> flagged = new TreeMap<>();
    for (long seed : SimSeeds.seeds(firstSeed, count)) {
      Scenario.Outcome outcome = scenario.run(seed);
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
