package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SimClockTest {
  @Test
  void clockCarriesOffsetDriftAndJumps() {
    long[] now = {0};
    SimClock clock = new SimClock(() -> now[0], -30, 1_000);
    assertThat(clock.physicalMillis()).isEqualTo(SimClock.EPOCH_BASE_MILLIS - 30);
    now[0] = 10_000;
    assertThat(clock.physicalMillis()).isEqualTo(SimClock.EPOCH_BASE_MILLIS + 10_000 - 30 + 10);
    clock.jump(-5_000);
    assertThat(clock.physicalMillis()).isEqualTo(SimClock.EPOCH_BASE_MILLIS + 5_000 - 30 + 10);
  }
}
