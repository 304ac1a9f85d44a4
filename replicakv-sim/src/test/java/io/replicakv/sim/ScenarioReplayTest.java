package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * Replays one seed of one named scenario, as printed by {@link SimRunner}: {@code
 * -Dsim.scenario=NAME -Dsim.seed=N}. Skipped when either property is missing.
 */
class ScenarioReplayTest {
  @Test
  void replaysTheGivenSeedOfTheGivenScenario() {
    String name = System.getProperty(SimSeeds.SCENARIO_PROPERTY);
    String seed = System.getProperty(SimSeeds.SEED_PROPERTY);
    assumeTrue(name != null && seed != null, "set -Dsim.scenario and -Dsim.seed to replay");
    Scenario.Outcome outcome = Scenarios.named(name).run(Long.parseLong(seed));
    String report = outcome.report(SimSeeds.replayScenarioCommand(name, Long.parseLong(seed)));
    System.out.println(report);
    assertThat(outcome.failed()).as(report).isFalse();
  }
}
