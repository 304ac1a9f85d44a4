package io.replicakv.sim;

import io.replicakv.core.util.Check;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The simulation's one source of randomness. Every random choice of a run (latency, loss, which
 * node crashes, which key a client writes) is drawn from one instance seeded from the run's seed,
 * in the order events are processed, so one seed always gives the same run.
 */
public final class Prng {
  private final SplittableRandom random;

  /** A generator whose whole output is fixed by {@code seed}. */
  public Prng(long seed) {
    this.random = new SplittableRandom(seed);
  }

  /** Uniform in {@code [0, bound)}. */
  public int nextInt(int bound) {
    return random.nextInt(bound);
  }

  /** Uniform in {@code [0, 1)}. */
  public double nextDouble() {
    return random.nextDouble();
  }

  /** True with probability {@code probability}; draws nothing when it is 0 or 1. */
  public boolean chance(double probability) {
    if (probability <= 0) {
      return false;
    }
    if (probability >= 1) {
      return true;
    }
    return random.nextDouble() < probability;
  }

  /** Uniform in {@code [low, high]}, both inclusive. */
  public long between(long low, long high) {
    Check.argument(low <= high, "low %s above high %s", low, high);
    return low == high ? low : random.nextLong(low, high + 1);
  }

  /** A uniformly chosen element of a non-empty list. */
  public <T> T pick(List<T> items) {
    Check.argument(!items.isEmpty(), "pick from an empty list");
    return items.get(random.nextInt(items.size()));
  }
}
