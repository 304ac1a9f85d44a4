package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SessionCheckerTest {
  private static CheckResult check(SessionChecker.Guarantee guarantee, Op... ops) {
    return new SessionChecker(guarantee).check(Observation.of(List.of(ops)));
  }

  private static final Op[] GOOD_HISTORY = {
    Op.write(1, "x", "a", 1, 2),
    Op.read(1, "x", "a", 3, 4),
    Op.write(2, "y", "b", 5, 6),
    Op.read(1, "y", "b", 7, 8),
    Op.read(1, "x", "a", 9, 10),
    Op.write(2, "x", "c", 11, 12),
    Op.read(2, "x", "c", 13, 14),
  };

  @Test
  void historyThatKeepsEveryGuaranteePassesAllThree() {
    for (SessionChecker.Guarantee guarantee : SessionChecker.Guarantee.values()) {
      assertThat(check(guarantee, GOOD_HISTORY).verdict())
          .as(guarantee.name())
          .isEqualTo(CheckResult.Verdict.PASS);
    }
  }

  @Test
  void readYourWritesFlagsAReadThatMissesTheSessionsOwnWrite() {
    CheckResult result =
        check(
            SessionChecker.Guarantee.READ_YOUR_WRITES,
            Op.write(1, "x", "a", 1, 2),
            Op.read(1, "x", (String) null, 3, 4));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.FAIL);
    assertThat(result.problems().get(0)).contains("own", "x=a");
  }

  @Test
  void readYourWritesFlagsAnOlderValueButAcceptsAConcurrentNewerOne() {
    Op older = Op.write(2, "x", "old", 1, 2);
    Op own = Op.write(1, "x", "mine", 3, 4);
    assertThat(
            check(
                    SessionChecker.Guarantee.READ_YOUR_WRITES,
                    older,
                    own,
                    Op.read(1, "x", "old", 5, 6))
                .verdict())
        .isEqualTo(CheckResult.Verdict.FAIL);
    Op concurrent = Op.write(2, "x", "other", 3, 9);
    assertThat(
            check(
                    SessionChecker.Guarantee.READ_YOUR_WRITES,
                    concurrent,
                    own,
                    Op.read(1, "x", "other", 5, 6))
                .verdict())
        .isEqualTo(CheckResult.Verdict.PASS);
  }

  @Test
  void monotonicReadsFlagsGoingBackInTime() {
    CheckResult result =
        check(
            SessionChecker.Guarantee.MONOTONIC_READS,
            Op.write(2, "x", "a", 1, 2),
            Op.write(2, "x", "b", 3, 4),
            Op.read(1, "x", "b", 5, 6),
            Op.read(1, "x", "a", 7, 8));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.FAIL);
    assertThat(result.problems().get(0)).contains("older than an earlier read");
  }

  @Test
  void monotonicReadsIgnoresOtherSessions() {
    CheckResult result =
        check(
            SessionChecker.Guarantee.MONOTONIC_READS,
            Op.write(2, "x", "a", 1, 2),
            Op.write(2, "x", "b", 3, 4),
            Op.read(1, "x", "b", 5, 6),
            Op.read(3, "x", "a", 7, 8));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.PASS);
  }

  @Test
  void consistentPrefixFlagsSeeingALaterWriteWithoutAnEarlierOne() {
    // y=answer was written after x=question finished; a session that saw the answer must see the
    // question (DDIA's example of a violated consistent prefix).
    CheckResult result =
        check(
            SessionChecker.Guarantee.CONSISTENT_PREFIX,
            Op.write(2, "x", "question", 1, 2),
            Op.write(3, "y", "answer", 3, 4),
            Op.read(1, "y", "answer", 5, 6),
            Op.read(1, "x", (String) null, 7, 8));
    assertThat(result.verdict()).isEqualTo(CheckResult.Verdict.FAIL);
    assertThat(result.problems().get(0)).contains("x=question", "y=answer");
  }
}
