package io.replicakv.core.quorum;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class QuorumMathTest {

  @Test
  void classicConfigurations() {
    assertThat(QuorumMath.majority(3)).isEqualTo(2);
    assertThat(QuorumMath.majority(4)).isEqualTo(3);
    assertThat(QuorumMath.readsOverlapWrites(3, 2, 2)).isTrue();
    assertThat(QuorumMath.readsOverlapWrites(3, 1, 2)).isFalse();
    assertThat(QuorumMath.writeQuorumsIntersect(4, 2)).isFalse();
    assertThat(QuorumMath.writeQuorumsIntersect(5, 3)).isTrue();
    assertThat(QuorumMath.writeFailuresTolerated(5, 3)).isEqualTo(2);
    assertThatThrownBy(() -> QuorumMath.readsOverlapWrites(3, 4, 1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /** The formulas agree with brute force over every pair of replica subsets. */
  @Property(seed = "31", tries = 150)
  void formulasMatchExhaustiveSubsets(
      @ForAll @IntRange(min = 1, max = 7) int n,
      @ForAll @IntRange(min = 1, max = 7) int r,
      @ForAll @IntRange(min = 1, max = 7) int w) {
    Assume.that(r <= n && w <= n);
    boolean everyReadMeetsEveryWrite = true;
    boolean everyWriteMeetsEveryWrite = true;
    for (int read = 0; read < 1 << n; read++) {
      for (int write = 0; write < 1 << n; write++) {
        if (Integer.bitCount(write) != w) {
          continue;
        }
        if (Integer.bitCount(read) == r && (read & write) == 0) {
          everyReadMeetsEveryWrite = false;
        }
        if (Integer.bitCount(read) == w && (read & write) == 0) {
          everyWriteMeetsEveryWrite = false;
        }
      }
    }
    assertThat(QuorumMath.readsOverlapWrites(n, r, w)).isEqualTo(everyReadMeetsEveryWrite);
    assertThat(QuorumMath.writeQuorumsIntersect(n, w)).isEqualTo(everyWriteMeetsEveryWrite);
  }
}
