package io.replicakv.sim;

import io.replicakv.core.PhysicalClock;
import io.replicakv.core.util.Check;
import java.util.function.LongSupplier;

/**
 * One node's physical clock: simulated time plus a fixed offset, a drift in parts per million and
 * any jumps (an NTP step, a VM resumed after a pause). This is what a replica that needs physical
 * time (a hybrid logical clock, a lease) is handed; it can disagree with other nodes and can go
 * backwards, as real clocks do.
 */
public final class SimClock implements PhysicalClock {
  /** Simulated time 0 reads as this wall-clock instant (2023-11-14), so values look realistic. */
  static final long EPOCH_BASE_MILLIS = 1_700_000_000_000L;

  /** Largest drift accepted; real quartz is within about 100 ppm. */
  static final double DRIFT_PPM_MAX = 10_000;

  private final LongSupplier simulatedNowMillis;
  private final long offsetMillis;
  private final double driftPpm;
  private long jumpedMillis;

  SimClock(LongSupplier simulatedNowMillis, long offsetMillis, double driftPpm) {
    Check.argument(Math.abs(driftPpm) <= DRIFT_PPM_MAX, "drift %s ppm", driftPpm);
    this.simulatedNowMillis = simulatedNowMillis;
    this.offsetMillis = offsetMillis;
    this.driftPpm = driftPpm;
  }

  @Override
  public long physicalMillis() {
    long now = simulatedNowMillis.getAsLong();
    return EPOCH_BASE_MILLIS
        + now
        + offsetMillis
        + (long) (now * driftPpm / 1_000_000)
        + jumpedMillis;
  }

  /** Steps the clock by {@code deltaMillis}, forwards or backwards. */
  /** The clock's rate error in parts per million; the node's ticks run at the same rate. */
  double driftPpm() {
    return driftPpm;
  }

  void jump(long deltaMillis) {
    jumpedMillis += deltaMillis;
  }

  @Override
  public String toString() {
    return "SimClock[offset="
        + offsetMillis
        + "ms drift="
        + driftPpm
        + "ppm jumped="
        + jumpedMillis
        + "ms]";
  }
}
