package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** One seed, one run: the whole trace is byte-identical across runs of the same seed. */
class DeterminismTest {
  private static SimResult run(long seed) {
    Scenario scenario = Scenarios.synchronousPrimaryBackup();
    return new Simulation(
            seed, scenario.config(), scenario.factory(), scenario.invariants().get(), true)
        .run();
  }

  @Test
  void sameSeedGivesAByteIdenticalTrace() {
    for (long seed : SimSeeds.seeds(7, 2)) {
      SimResult first = run(seed);
      SimResult second = run(seed);
      assertThat(first.fullTrace()).as("seed %s", seed).isNotEmpty().isEqualTo(second.fullTrace());
      assertThat(first.traceDigest()).isEqualTo(second.traceDigest());
      assertThat(first.observation()).isEqualTo(second.observation());
      assertThat(first.counters()).containsKeys("crashes", "partitions", "messages dropped");
    }
  }

  @Test
  void differentSeedsGiveDifferentRuns() {
    assertThat(List.of(run(1).traceDigest(), run(2).traceDigest(), run(3).traceDigest()))
        .doesNotHaveDuplicates();
  }

  @Test
  void seedPropertyOverridesTheFixedSeedList() {
    String before = System.getProperty(SimSeeds.SEED_PROPERTY);
    try {
      System.setProperty(SimSeeds.SEED_PROPERTY, "123");
      assertThat(SimSeeds.seeds(1, 100)).containsExactly(123L);
      System.clearProperty(SimSeeds.SEED_PROPERTY);
      assertThat(SimSeeds.seeds(1, 3)).containsExactly(1L, 2L, 3L);
    } finally {
      if (before != null) {
        System.setProperty(SimSeeds.SEED_PROPERTY, before);
      }
    }
    assertThat(SimSeeds.replayCommand(DeterminismTest.class, "sameSeedGivesAByteIdenticalTrace", 9))
        .isEqualTo(
            "./mvnw -B -pl replicakv-sim -am test -Dsurefire.failIfNoSpecifiedTests=false"
                + " -Dtest=DeterminismTest#sameSeedGivesAByteIdenticalTrace -Dsim.seed=9");
  }
}
