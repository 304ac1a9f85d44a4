package io.replicakv.sim;

import java.util.List;

/**
 * A checker's verdict.
 *
 * @param checker which checker
 * @param verdict pass, fail, or unknown (a search budget ran out)
 * @param problems one line per violation (or the reason for unknown), capped at {@link
 *     #PROBLEMS_MAX}
 */
public record CheckResult(String checker, Verdict verdict, List<String> problems) {
  /** Problems listed per result; the rest are counted in the last line. */
  static final int PROBLEMS_MAX = 20;

  /** Outcome of a check. */
  public enum Verdict {
    PASS,
    FAIL,
    UNKNOWN
  }

  public CheckResult {
    if (problems.size() > PROBLEMS_MAX) {
      int omitted = problems.size() - PROBLEMS_MAX;
      problems = new java.util.ArrayList<>(problems.subList(0, PROBLEMS_MAX));
      problems.add("... and " + omitted + " more");
    }
    problems = List.copyOf(problems);
  }

  /** PASS when {@code problems} is empty, else FAIL. */
  static CheckResult of(String checker, List<String> problems) {
    return new CheckResult(checker, problems.isEmpty() ? Verdict.PASS : Verdict.FAIL, problems);
  }

  public boolean failed() {
    return verdict == Verdict.FAIL;
  }

  @Override
  public String toString() {
    return checker
        + ": "
        + verdict
        + (problems.isEmpty() ? "" : "\n  " + String.join("\n  ", problems));
  }
}
