package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Multi-leader sites under link outages, crashes, loss, duplication, reordering and clock skew:
 * every correct scenario passes every checker on many seeds; each broken variant is caught on the
 * first few fixed seeds. A failure prints its seed and the command that replays it ({@code
 * -Dsim.seed=N} runs only that seed).
 */
class MultiLeaderSimulationTest {
  /** Seeds per correct scenario; the whole class stays well under a minute on two cores. */
  static final int SEEDS_PER_SCENARIO = 25;

  /** Seeds a broken variant gets to be caught in. */
  static final int BROKEN_SEEDS = 10;

  static Stream<String> correctScenarios() {
    return MultiSiteScenarios.all().keySet().stream().filter(name -> !name.contains("broken"));
  }

  @ParameterizedTest
  @MethodSource("correctScenarios")
  void correctSitesPassEveryCheckerOnManySeeds(String scenario) {
    long writes = 0;
    long crashes = 0;
    long cuts = 0;
    for (long seed : SimSeeds.seeds(10_000, SEEDS_PER_SCENARIO)) {
      MultiSiteScenarios.Outcome outcome =
          MultiSiteScenarios.run(MultiSiteScenarios.named(scenario), seed);
      String replay =
          SimSeeds.replayCommand(getClass(), "correctSitesPassEveryCheckerOnManySeeds", seed)
              + "  (or: "
              + MultiSiteScenarios.replayCommand(scenario, seed)
              + ")";
      assertThat(outcome.failed()).as(outcome.report(replay)).isFalse();
      writes += outcome.run().writes().size();
      crashes += outcome.run().counters().getOrDefault("crashes", 0L);
      cuts += outcome.run().counters().getOrDefault("link cuts", 0L);
    }
    // The faults and the workload really happened.
    assertThat(writes).isGreaterThan(SimSeeds.seeds(1, SEEDS_PER_SCENARIO).size() * 10L);
    if (SimSeeds.seeds(1, SEEDS_PER_SCENARIO).size() > 1) {
      assertThat(crashes).isPositive();
      assertThat(cuts).isPositive();
    }
  }

  @org.junit.jupiter.api.Test
  void retentionScenariosReallyCatchLinksUpByState() {
    for (String scenario :
        MultiSiteScenarios.all().keySet().stream().filter(n -> n.contains("retention")).toList()) {
      long joined = 0;
      for (long seed : SimSeeds.seeds(10_000, 5)) {
        MultiSiteScenarios.Outcome outcome =
            MultiSiteScenarios.run(MultiSiteScenarios.named(scenario), seed);
        assertThat(outcome.failed())
            .as(outcome.report(MultiSiteScenarios.replayCommand(scenario, seed)))
            .isFalse();
        joined += outcome.run().counters().getOrDefault("catch-ups joined", 0L);
      }
      assertThat(joined).as("catch-ups joined in %s", scenario).isPositive();
    }
  }

  @ParameterizedTest
  @MethodSource("brokenScenarios")
  void brokenVariantsAreCaughtOnFixedSeeds(String scenario, String expectedChecker) {
    Map<String, List<Long>> flagged = new TreeMap<>();
    for (long seed : SimSeeds.seeds(1, BROKEN_SEEDS)) {
      MultiSiteScenarios.Outcome outcome =
          MultiSiteScenarios.run(MultiSiteScenarios.named(scenario), seed);
      for (String checker : outcome.failedCheckers()) {
        flagged.computeIfAbsent(checker, name -> new ArrayList<>()).add(seed);
      }
    }
    assertThat(flagged).as(scenario + " flagged " + flagged).containsKey(expectedChecker);
  }

  static Stream<org.junit.jupiter.params.provider.Arguments> brokenScenarios() {
    return Stream.of(
        org.junit.jupiter.params.provider.Arguments.of("multi-broken-no-path-circular", "no loops"),
        org.junit.jupiter.params.provider.Arguments.of("multi-broken-no-path-star", "no loops"),
        org.junit.jupiter.params.provider.Arguments.of(
            "multi-broken-no-causal-buffer-all-to-all", "causal order"),
        org.junit.jupiter.params.provider.Arguments.of(
            "multi-broken-lock-without-earlier-writes-all-to-all", "lock: no conflicts"),
        org.junit.jupiter.params.provider.Arguments.of(
            "multi-broken-remote-deletes-ignored-all-to-all", "deleted values stay deleted"));
  }

  @org.junit.jupiter.api.Test
  void aSeedFixesTheWholeRun() {
    for (String scenario : List.of("multi-siblings-all-to-all", "multi-lock-star")) {
      MultiSiteScenarios.Outcome first =
          MultiSiteScenarios.run(MultiSiteScenarios.named(scenario), 77);
      MultiSiteScenarios.Outcome second =
          MultiSiteScenarios.run(MultiSiteScenarios.named(scenario), 77);
      assertThat(second.run().writes()).isEqualTo(first.run().writes());
      assertThat(second.run().counters()).isEqualTo(first.run().counters());
      assertThat(second.run().traceTail()).isEqualTo(first.run().traceTail());
      Map<String, Object> firstStates = new TreeMap<>();
      first.run().finalSites().forEach((id, site) -> firstStates.put(id, site.visibleState()));
      Map<String, Object> secondStates = new TreeMap<>();
      second.run().finalSites().forEach((id, site) -> secondStates.put(id, site.visibleState()));
      assertThat(secondStates).isEqualTo(firstStates);
      MultiSiteScenarios.Outcome other =
          MultiSiteScenarios.run(MultiSiteScenarios.named(scenario), 78);
      assertThat(other.run().writes()).isNotEqualTo(first.run().writes());
    }
  }
}
