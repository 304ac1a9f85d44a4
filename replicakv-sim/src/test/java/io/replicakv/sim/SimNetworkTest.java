package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SimNetworkTest {
  private static final LatencyModel FIVE_MILLIS = new LatencyModel.Fixed(5);

  @Test
  void symmetricPartitionCutsBothDirectionsUntilHealed() {
    SimNetwork network = new SimNetwork(SimNetwork.Config.reliable(FIVE_MILLIS), 3);
    Prng prng = new Prng(1);
    network.partition(List.of(0), List.of(1, 2));
    assertThat(network.nodeDelaysMillis(0, 1, prng)).isEmpty();
    assertThat(network.nodeDelaysMillis(2, 0, prng)).isEmpty();
    assertThat(network.nodeDelaysMillis(1, 2, prng)).containsExactly(5L);
    network.heal();
    assertThat(network.nodeDelaysMillis(0, 1, prng)).containsExactly(5L);
  }

  @Test
  void oneWayPartitionCutsOnlyOneDirection() {
    SimNetwork network = new SimNetwork(SimNetwork.Config.reliable(FIVE_MILLIS), 2);
    Prng prng = new Prng(1);
    network.blockOneWay(0, 1);
    assertThat(network.nodeDelaysMillis(0, 1, prng)).isEmpty();
    assertThat(network.nodeDelaysMillis(1, 0, prng)).containsExactly(5L);
  }

  @Test
  void lossAndDuplicationHappenAtAboutTheConfiguredRates() {
    SimNetwork network = new SimNetwork(new SimNetwork.Config(FIVE_MILLIS, 0.2, 0.1, 0, 0), 2);
    Prng prng = new Prng(42);
    int lost = 0;
    int duplicated = 0;
    for (int i = 0; i < 10_000; i++) {
      int copies = network.nodeDelaysMillis(0, 1, prng).size();
      lost += copies == 0 ? 1 : 0;
      duplicated += copies == 2 ? 1 : 0;
    }
    assertThat(lost).isBetween(1_800, 2_200);
    assertThat(duplicated).isBetween(650, 950);
    network.setLossy(false);
    assertThat(network.nodeDelaysMillis(0, 1, prng)).containsExactly(5L);
  }

  @Test
  void reorderingDelaysSomeMessagesPastLaterOnes() {
    SimNetwork network = new SimNetwork(new SimNetwork.Config(FIVE_MILLIS, 0, 0, 0.5, 100), 2);
    Prng prng = new Prng(7);
    long slow = 0;
    for (int i = 0; i < 1_000; i++) {
      long delay = network.nodeDelaysMillis(0, 1, prng).get(0);
      assertThat(delay).isBetween(5L, 105L);
      slow += delay > 5 ? 1 : 0;
    }
    assertThat(slow).isBetween(400L, 600L);
  }

  @Test
  void longTailLatencyStaysWithinItsCapAndHasATail() {
    LatencyModel model = new LatencyModel.LongTail(1, 10, 0.1, 200, 1_000);
    Prng prng = new Prng(3);
    long beyondUniform = 0;
    for (int i = 0; i < 10_000; i++) {
      long millis = model.drawMillis(prng);
      assertThat(millis).isBetween(1L, 1_000L);
      beyondUniform += millis > 10 ? 1 : 0;
    }
    assertThat(beyondUniform).isBetween(800L, 1_100L);
  }
}
