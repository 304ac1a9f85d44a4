package io.replicakv.sim;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * A named simulation setup: the replica under test, the config, the invariants checked after every
 * event and the checkers run on the history afterwards. Tests and {@link SimRunner} share
 * scenarios, so a seed that fails in a long run replays in a test by name.
 *
 * @param name stable name, used in replay commands
 * @param config everything but the seed
 * @param factory builds the replicas
 * @param invariants fresh invariant instances for each run
 * @param checkers run on each run's observation
 */
public record Scenario(
    String name,
    SimConfig config,
    ReplicaFactory factory,
    Supplier<List<Invariant>> invariants,
    List<Checker> checkers) {

  /** One run's result and the checkers' verdicts. */
  public record Outcome(Scenario scenario, SimResult result, List<CheckResult> checks) {
    /** True when an invariant broke, a replica threw, or a checker failed. */
    public boolean failed() {
      return result.violation().isPresent() || checks.stream().anyMatch(CheckResult::failed);
    }

    /** Checker verdicts that failed. */
    public List<CheckResult> failedChecks() {
      return checks.stream().filter(CheckResult::failed).toList();
    }

    /** Everything a person needs to replay and read the failure. */
    public String report(String replayCommand) {
      StringBuilder text = new StringBuilder();
      text.append("scenario ")
          .append(scenario.name())
          .append(" seed ")
          .append(result.seed())
          .append(failed() ? " FAILED" : " passed")
          .append('\n');
      text.append("replay: ").append(replayCommand).append('\n');
      result.violation().ifPresent(v -> text.append("invariant: ").append(v).append('\n'));
      for (CheckResult check : checks) {
        text.append(check).append('\n');
      }
      if (failed()) {
        text.append("last trace lines:\n");
        result.traceTail().forEach(line -> text.append("  ").append(line).append('\n'));
      }
      return text.toString();
    }
  }

  /** Runs one seed and, unless an invariant already broke, every checker. */
  public Outcome run(long seed) {
    SimResult result = new Simulation(seed, config, factory, invariants.get(), false).run();
    List<CheckResult> checks = new ArrayList<>();
    if (result.violation().isEmpty()) {
      for (Checker checker : checkers) {
        checks.add(checker.check(result.observation()));
      }
    }
    return new Outcome(this, result, checks);
  }

  /** Every checker this module has, for register scenarios with {@code clients} sessions. */
  static List<Checker> allRegisterCheckers(int clients) {
    return List.of(
        LinearizabilityChecker.withDefaults(),
        new LostWriteChecker(),
        new ConvergenceChecker(),
        new SessionChecker(SessionChecker.Guarantee.READ_YOUR_WRITES),
        new SessionChecker(SessionChecker.Guarantee.MONOTONIC_READS),
        new SessionChecker(SessionChecker.Guarantee.CONSISTENT_PREFIX),
        new SiblingsChecker(clients));
  }
}
