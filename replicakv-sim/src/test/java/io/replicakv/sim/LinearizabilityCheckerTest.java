package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LinearizabilityCheckerTest {
  private static CheckResult check(Op... ops) {
    return LinearizabilityChecker.withDefaults().check(Observation.of(List.of(ops)));
  }

  @Test
  void sequentialReadsOfTheLatestWritePass() {
    CheckResult result =
        check(
            Op.read(1, "x", (String) null, 1, 2),
            Op.write(1, "x", "a", 3, 4),
            Op.read(2, "x", "a", 5, 6),
            Op.write(2, "x", "b", 7, 8),
            Op.read(1, "x", "b", 9, 10));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.PASS);
  }

  @Test
  void readOfAnOverwrittenValueAfterTheOverwriteIsAcknowledgedFails() {
    CheckResult result =
        check(Op.write(1, "x", "a", 1, 2), Op.write(1, "x", "b", 3, 4), Op.read(2, "x", "a", 5, 6));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.FAIL);
    assertThat(result.problems().get(0)).contains("key x", "x=a", "x=b", "read x->[a]");
  }

  @Test
  void readConcurrentWithAWriteMaySeeEitherValue() {
    assertThat(
            check(
                    Op.write(1, "x", "a", 1, 2),
                    Op.write(1, "x", "b", 3, 10),
                    Op.read(2, "x", "a", 4, 5))
                .verdict())
        .isEqualTo(CheckResult.Verdict.PASS);
    assertThat(
            check(
                    Op.write(1, "x", "a", 1, 2),
                    Op.write(1, "x", "b", 3, 10),
                    Op.read(2, "x", "b", 4, 5))
                .verdict())
        .isEqualTo(CheckResult.Verdict.PASS);
  }

  @Test
  void readsMustAgreeOnTheOrderOfConcurrentWrites() {
    // Both writes overlap every read, but once one reader saw b after a, a later read cannot see a.
    CheckResult result =
        check(
            Op.write(1, "x", "a", 1, 20),
            Op.write(2, "x", "b", 1, 20),
            Op.read(3, "x", "a", 2, 3),
            Op.read(3, "x", "b", 4, 5),
            Op.read(3, "x", "a", 6, 7));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.FAIL);
  }

  @Test
  void writeWithUnknownOutcomeMayTakeEffectLongAfterItWasInvoked() {
    CheckResult result =
        check(
            Op.write(1, "x", "a", 1, 2),
            Op.writeUnknown(2, "x", "b", 3),
            Op.read(1, "x", "a", 50, 51),
            Op.read(1, "x", "b", 100, 101));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.PASS);
  }

  @Test
  void writeWithUnknownOutcomeCannotBeUndoneOnceSeen() {
    CheckResult result =
        check(
            Op.write(1, "x", "a", 1, 2),
            Op.writeUnknown(2, "x", "b", 3),
            Op.read(1, "x", "b", 10, 11),
            Op.read(1, "x", "a", 20, 21));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.FAIL);
  }

  @Test
  void failedWriteHasNoEffect() {
    Op failed = new Op(1, 1, Op.Kind.WRITE, "x", "a", List.of(), 1, 2, 1, Op.Status.FAIL);
    assertThat(check(failed, Op.read(2, "x", (String) null, 3, 4)).verdict())
        .isEqualTo(CheckResult.Verdict.PASS);
    assertThat(check(failed, Op.read(2, "x", "a", 3, 4)).verdict())
        .isEqualTo(CheckResult.Verdict.FAIL);
  }

  @Test
  void readOfAValueNobodyWroteFails() {
    assertThat(check(Op.write(1, "x", "a", 1, 2), Op.read(2, "x", "zzz", 3, 4)).verdict())
        .isEqualTo(CheckResult.Verdict.FAIL);
  }

  @Test
  void registerReadReturningSiblingsFails() {
    CheckResult result =
        check(
            Op.write(1, "x", "a", 1, 5),
            Op.write(2, "x", "b", 1, 5),
            Op.read(3, "x", List.of("a", "b"), 6, 7));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.FAIL);
    assertThat(result.problems().get(0)).contains("siblings");
  }

  @Test
  void keysAreCheckedIndependently() {
    CheckResult result =
        check(
            Op.write(1, "x", "a", 1, 2),
            Op.write(1, "y", "b", 3, 4),
            Op.read(2, "x", "a", 5, 6),
            Op.read(2, "y", (String) null, 7, 8));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.FAIL);
    assertThat(result.problems()).hasSize(1);
    assertThat(result.problems().get(0)).startsWith("key y");
  }

  @Test
  void exhaustedStateBudgetGivesUnknownNotAVerdict() {
    List<Op> ops = new ArrayList<>();
    for (int client = 1; client <= 6; client++) {
      ops.add(Op.write(client, "x", "v" + client, 1, 100));
    }
    ops.add(Op.read(7, "x", "v3", 101, 102));
    CheckResult result = new LinearizabilityChecker(3, 10_000).check(Observation.of(ops));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.UNKNOWN);
    assertThat(result.problems().get(0)).contains("budget");
  }

  @Test
  void manyConcurrentWritersAreSearchedQuicklyThanksToMemoisation() {
    // 14 writers overlap one another: 14! orders, but only 2^14 x 15 configurations.
    List<Op> ops = new ArrayList<>();
    for (int client = 1; client <= 14; client++) {
      ops.add(Op.write(client, "x", "v" + client, client, 100 + client));
    }
    ops.add(Op.read(20, "x", "v1", 200, 201));
    CheckResult result = LinearizabilityChecker.withDefaults().check(Observation.of(ops));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.PASS);
  }

  @Test
  void failingWindowIsShrunkToTheOpsThatMatter() {
    List<Op> ops = new ArrayList<>();
    long time = 1;
    for (int i = 0; i < 100; i++) {
      ops.add(Op.write(1, "x", "w" + i, time, time + 1));
      ops.add(Op.read(2, "x", "w" + i, time + 2, time + 3));
      time += 4;
    }
    ops.add(Op.read(2, "x", "w50", time, time + 1));
    for (int i = 100; i < 150; i++) {
      time += 4;
      ops.add(Op.write(1, "x", "w" + i, time, time + 1));
    }
    CheckResult result = LinearizabilityChecker.withDefaults().check(Observation.of(ops));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.FAIL);
    String window = result.problems().get(0);
    assertThat(window).contains("has 3 ops", "x=w50", "read x->[w50]");
    assertThat(window).doesNotContain("w120");
  }
}
