package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The checkers that judge final states: lost writes, convergence, siblings. */
class StateCheckersTest {
  private static final List<Op> HISTORY =
      List.of(
          Op.write(1, "x", "a", 1, 2),
          Op.write(1, "x", "b", 3, 4),
          Op.write(2, "x", "c", 3, 10),
          Op.writeUnknown(3, "y", "d", 5));

  @Test
  void finalValueAsNewAsTheLastAcknowledgedWritePasses() {
    Observation observation =
        new Observation(
            HISTORY,
            Map.of(0, Map.of("x", List.of("b")), 1, Map.of("x", List.of("c"), "y", List.of("d"))));
    assertThat(new LostWriteChecker().check(observation).verdict())
        .isEqualTo(CheckResult.Verdict.PASS);
  }

  @Test
  void finalValueOlderThanAnAcknowledgedWriteIsALostWrite() {
    Observation observation = new Observation(HISTORY, Map.of(0, Map.of("x", List.of("a"))));
    CheckResult result = new LostWriteChecker().check(observation);
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.FAIL);
    assertThat(result.problems())
        .anyMatch(
            problem -> problem.contains("node 0 lost acknowledged") && problem.contains("x=b"));
  }

  @Test
  void missingKeyAfterAcknowledgedWriteIsALostWrite() {
    Observation observation = new Observation(HISTORY, Map.of(0, Map.of()));
    assertThat(new LostWriteChecker().check(observation).verdict())
        .isEqualTo(CheckResult.Verdict.FAIL);
  }

  @Test
  void valueNoClientWroteIsReported() {
    Observation observation =
        new Observation(HISTORY, Map.of(0, Map.of("x", List.of("b", "ghost"))));
    CheckResult result = new LostWriteChecker().check(observation);
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.FAIL);
    assertThat(result.problems()).anyMatch(problem -> problem.contains("ghost"));
  }

  @Test
  void nodesThatAgreeHaveConverged() {
    Map<String, List<String>> state = Map.of("x", List.of("b", "c"));
    Observation observation =
        new Observation(HISTORY, Map.of(0, state, 1, Map.of("x", List.of("c", "b")), 2, state));
    assertThat(new ConvergenceChecker().check(observation).verdict())
        .isEqualTo(CheckResult.Verdict.PASS);
  }

  @Test
  void nodesThatDisagreeHaveNotConverged() {
    Observation observation =
        new Observation(
            HISTORY,
            Map.of(0, Map.of("x", List.of("b")), 1, Map.of("x", List.of("b"), "y", List.of("d"))));
    CheckResult result = new ConvergenceChecker().check(observation);
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.FAIL);
    assertThat(result.problems()).containsExactly("key y differs: n0=[] n1=[d]");
  }

  @Test
  void siblingsOverTheBoundAreFlaggedInReadsAndFinalStates() {
    SiblingsChecker checker = new SiblingsChecker(2);
    assertThat(
            checker
                .check(new Observation(HISTORY, Map.of(0, Map.of("x", List.of("b", "c")))))
                .verdict())
        .isEqualTo(CheckResult.Verdict.PASS);
    assertThat(
            checker
                .check(new Observation(HISTORY, Map.of(0, Map.of("x", List.of("a", "b", "c")))))
                .verdict())
        .isEqualTo(CheckResult.Verdict.FAIL);
    Op read = Op.read(4, "x", List.of("a", "b", "c"), 20, 21);
    assertThat(checker.check(Observation.of(List.of(read))).verdict())
        .isEqualTo(CheckResult.Verdict.FAIL);
  }
}
