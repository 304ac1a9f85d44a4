package io.replicakv.sim;

import java.util.ArrayList;
import java.util.List;

/**
 * Command-line runner for long simulation campaigns: runs consecutive seeds of one scenario (or
 * all) until a wall-clock budget is spent, then prints a summary with every failing seed and the
 * command that replays it. Exit status 1 when any seed failed.
 *
 * <p>Run it from the repository root after compiling the test classes (the simulator needs only the
 * JDK and replicakv-core):
 *
 * <pre>
 * ./mvnw -B -q -pl replicakv-sim -am test-compile
 * java -cp replicakv-sim/target/test-classes:replicakv-core/target/classes \
 *     io.replicakv.sim.SimRunner --scenario sync-primary-backup --seconds 600 --first-seed 1000
 * </pre>
 *
 * or {@code replicakv-sim/run-sim.sh} with the same arguments.
 */
public final class SimRunner {
  /** Failure reports printed in full; later failures are listed by seed only. */
  static final int FULL_REPORTS_MAX = 3;

  /** Failing seeds listed with their replay command in the summary. */
  static final int SEEDS_LISTED_MAX = 20;

  private SimRunner() {}

  /** Summary of one campaign. */
  record Summary(
      String scenario, long seedsRun, List<Long> failedSeeds, long events, long elapsedMillis) {}

  public static void main(String[] args) {
    String scenarioName = "sync-primary-backup";
    long seconds = 60;
    long firstSeed = 1;
    long maxSeeds = Long.MAX_VALUE;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--scenario" -> scenarioName = args[i + 1];
        case "--seconds" -> seconds = Long.parseLong(args[i + 1]);
        case "--first-seed" -> firstSeed = Long.parseLong(args[i + 1]);
        case "--max-seeds" -> maxSeeds = Long.parseLong(args[i + 1]);
        default ->
            throw new IllegalArgumentException(
                "unknown option "
                    + args[i]
                    + "; use --scenario NAME|PREFIX*|all --seconds N --first-seed S --max-seeds M");
      }
    }
    if (scenarioName.startsWith("multi")) {
      System.exit(multiSiteCampaigns(scenarioName, seconds, firstSeed, maxSeeds) ? 1 : 0);
    }
    String prefix =
        scenarioName.endsWith("*") ? scenarioName.substring(0, scenarioName.length() - 1) : null;
    List<Scenario> scenarios =
        scenarioName.equals("all")
            ? List.copyOf(Scenarios.all().values())
            : prefix != null
                ? Scenarios.all().values().stream()
                    .filter(s -> s.name().startsWith(prefix))
                    .toList()
                : List.of(Scenarios.named(scenarioName));
    boolean anyFailed = false;
    for (Scenario scenario : scenarios) {
      Summary summary = campaign(scenario, seconds * 1000 / scenarios.size(), firstSeed, maxSeeds);
      anyFailed |= !summary.failedSeeds().isEmpty();
    }
    System.exit(anyFailed ? 1 : 0);
  }

  /**
   * Runs seeds {@code firstSeed, firstSeed+1, ...} until the budget or {@code maxSeeds} is spent.
   */
  static Summary campaign(Scenario scenario, long budgetMillis, long firstSeed, long maxSeeds) {
    long startNanos = System.nanoTime();
    long deadlineNanos = startNanos + budgetMillis * 1_000_000;
    List<Long> failed = new ArrayList<>();
    long seedsRun = 0;
    long events = 0;
    for (long seed = firstSeed; seedsRun < maxSeeds && System.nanoTime() < deadlineNanos; seed++) {
      Scenario.Outcome outcome = scenario.run(seed);
      seedsRun++;
      events += outcome.result().events();
      if (outcome.failed()) {
        failed.add(seed);
        if (failed.size() <= FULL_REPORTS_MAX) {
          System.out.println(outcome.report(SimSeeds.replayScenarioCommand(scenario.name(), seed)));
        }
      }
    }
    long elapsedMillis = (System.nanoTime() - startNanos) / 1_000_000;
    Summary summary = new Summary(scenario.name(), seedsRun, failed, events, elapsedMillis);
    System.out.println(
        "== "
            + scenario.name()
            + ": "
            + seedsRun
            + " seeds from "
            + firstSeed
            + " in "
            + elapsedMillis
            + " ms ("
            + events
            + " events), "
            + failed.size()
            + " failed");
    for (long seed : failed.subList(0, Math.min(failed.size(), SEEDS_LISTED_MAX))) {
      System.out.println(
          "   seed " + seed + ": " + SimSeeds.replayScenarioCommand(scenario.name(), seed));
    }
    return summary;
  }

  /**
   * Multi-leader campaigns ({@link MultiSiteScenarios}): {@code multi-all} runs every correct
   * scenario, any other name that one scenario. True when a seed failed.
   */
  static boolean multiSiteCampaigns(String name, long seconds, long firstSeed, long maxSeeds) {
    List<String> names =
        name.equals("multi-all")
            ? MultiSiteScenarios.all().keySet().stream().filter(n -> !n.contains("broken")).toList()
            : List.of(name);
    boolean anyFailed = false;
    for (String scenario : names) {
      MultiSiteSimulation.Config config = MultiSiteScenarios.named(scenario);
      long deadlineNanos = System.nanoTime() + seconds * 1_000_000_000 / names.size();
      List<Long> failed = new ArrayList<>();
      long seedsRun = 0;
      for (long seed = firstSeed;
          seedsRun < maxSeeds && System.nanoTime() < deadlineNanos;
          seed++) {
        MultiSiteScenarios.Outcome outcome = MultiSiteScenarios.run(config, seed);
        seedsRun++;
        if (outcome.failed()) {
          failed.add(seed);
          if (failed.size() <= FULL_REPORTS_MAX) {
            System.out.println(outcome.report(MultiSiteScenarios.replayCommand(scenario, seed)));
          }
        }
      }
      System.out.println(
          "== "
              + scenario
              + ": "
              + seedsRun
              + " seeds from "
              + firstSeed
              + ", "
              + failed.size()
              + " failed");
      for (long seed : failed.subList(0, Math.min(failed.size(), SEEDS_LISTED_MAX))) {
        System.out.println(
            "   seed " + seed + ": " + MultiSiteScenarios.replayCommand(scenario, seed));
      }
      anyFailed |= !failed.isEmpty();
    }
    return anyFailed;
  }
}
