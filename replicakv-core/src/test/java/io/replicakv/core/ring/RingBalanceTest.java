package io.replicakv.core.ring;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Measures, for 3 to 64 nodes at {@link Ring#DEFAULT_VNODES}, the share of slots a join moves
 * against the ideal 1/(n+1), and the spread of slots per node. Prints one line per n so the numbers
 * can be read in the build output, then asserts the bounds the design promises.
 */
class RingBalanceTest {
  /** A join may move at most this multiple of the ideal share 1/(n+1). */
  private static final double MOVED_OVER_IDEAL_MAX = 1.2;

  /** The most loaded node may hold at most this multiple of the mean. */
  private static final double MAX_OVER_MEAN_MAX = 1.15;

  static List<RingNode> nodes(int count) {
    List<RingNode> nodes = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      nodes.add(RingNode.of("node-" + i));
    }
    return nodes;
  }

  /** {moved/ideal, max/mean} for a ring of n nodes and the join of node n. */
  static double[] measure(int n, int vnodes) {
    Ring before = Ring.of(vnodes, nodes(n));
    Ring after = before.withNode(RingNode.of("node-" + n));
    int moved = RingDiff.slotsMoved(RingDiff.between(before, after));
    double movedShare = moved / (double) Slots.SLOT_COUNT;
    double ideal = 1.0 / (n + 1);
    int max = before.slotCounts().values().stream().mapToInt(Integer::intValue).max().orElseThrow();
    double mean = Slots.SLOT_COUNT / (double) n;
    return new double[] {movedShare, ideal, movedShare / ideal, max / mean};
  }

  @Test
  void joinMovesAboutOneOverNPlusOneAndLoadStaysEven() {
    double worstMoved = 0;
    double worstSpread = 0;
    for (int n = 3; n <= 64; n++) {
      double[] m = measure(n, Ring.DEFAULT_VNODES);
      System.out.println(
          String.format(
              Locale.ROOT,
              "ring n=%d vnodes=%d join moved=%.4f ideal=%.4f moved/ideal=%.3f max/mean=%.3f",
              n,
              Ring.DEFAULT_VNODES,
              m[0],
              m[1],
              m[2],
              m[3]));
      worstMoved = Math.max(worstMoved, m[2]);
      worstSpread = Math.max(worstSpread, m[3]);
    }
    System.out.println(
        String.format(
            Locale.ROOT,
            "ring worst moved/ideal=%.3f worst max/mean=%.3f",
            worstMoved,
            worstSpread));
    assertThat(worstMoved).isLessThanOrEqualTo(MOVED_OVER_IDEAL_MAX);
    assertThat(worstSpread).isLessThanOrEqualTo(MAX_OVER_MEAN_MAX);
  }
}
