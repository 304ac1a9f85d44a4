package io.replicakv.sim;

import java.util.ArrayList;
import java.util.List;

/**
 * Seeds for simulation tests and the commands that replay them. A test runs a fixed list of seeds
 * unless {@code -Dsim.seed=N} is given, in which case it runs exactly seed N; that is what the
 * printed replay command relies on.
 */
public final class SimSeeds {
  /** System property naming the one seed to run. */
  public static final String SEED_PROPERTY = "sim.seed";

  /** System property naming the scenario for {@code ScenarioReplayTest}. */
  public static final String SCENARIO_PROPERTY = "sim.scenario";

  private SimSeeds() {}

  /** {@code count} consecutive seeds from {@code first}, or only {@code -Dsim.seed} when set. */
  public static List<Long> seeds(long first, int count) {
    String forced = System.getProperty(SEED_PROPERTY);
    if (forced != null && !forced.isBlank()) {
      return List.of(Long.parseLong(forced.trim()));
    }
    List<Long> seeds = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      seeds.add(first + i);
    }
    return seeds;
  }

  /** The one command that reruns {@code testClass#method} for exactly {@code seed}. */
  public static String replayCommand(Class<?> testClass, String method, long seed) {
    return "./mvnw -B -pl replicakv-sim -am test -Dsurefire.failIfNoSpecifiedTests=false -Dtest="
        + testClass.getSimpleName()
        + "#"
        + method
        + " -D"
        + SEED_PROPERTY
        + "="
        + seed;
  }

  /** The one command that reruns scenario {@code scenario} for exactly {@code seed}. */
  public static String replayScenarioCommand(String scenario, long seed) {
    return "./mvnw -B -pl replicakv-sim -am test -Dsurefire.failIfNoSpecifiedTests=false"
        + " -Dtest=ScenarioReplayTest -D"
        + SCENARIO_PROPERTY
        + "="
        + scenario
        + " -D"
        + SEED_PROPERTY
        + "="
        + seed;
  }
}
