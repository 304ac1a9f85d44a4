package io.replicakv.sim;

import io.replicakv.core.util.Check;

/**
 * How long a message takes on one link, in simulated milliseconds. Sealed so every model is handled
 * where latencies are drawn.
 */
public sealed interface LatencyModel {
  /** Upper bound any model may return; keeps the event queue's horizon finite. */
  long LATENCY_MILLIS_MAX = 60_000;

  /** Draws one latency. */
  long drawMillis(Prng prng);

  /** Always the same latency: easiest to reason about in hand-made scenarios. */
  record Fixed(long millis) implements LatencyModel {
    public Fixed {
      Check.argument(millis >= 0 && millis <= LATENCY_MILLIS_MAX, "latency %s ms", millis);
    }

    @Override
    public long drawMillis(Prng prng) {
      return millis;
    }
  }

  /** Uniform between two bounds, inclusive. */
  record Uniform(long lowMillis, long highMillis) implements LatencyModel {
    public Uniform {
      Check.argument(
          0 <= lowMillis && lowMillis <= highMillis, "range %s..%s", lowMillis, highMillis);
      Check.argument(highMillis <= LATENCY_MILLIS_MAX, "latency %s ms", highMillis);
    }

    @Override
    public long drawMillis(Prng prng) {
      return prng.between(lowMillis, highMillis);
    }
  }

  /**
   * Mostly uniform, but with {@code tailProbability} a message is slow: an exponential excess over
   * the uniform range with mean {@code tailMeanMillis}, capped at {@code tailMillisMax}. This is
   * the shape of a GC pause or a retransmission timeout, which is what exposes races that a uniform
   * latency hides.
   */
  record LongTail(
      long lowMillis,
      long highMillis,
      double tailProbability,
      long tailMeanMillis,
      long tailMillisMax)
      implements LatencyModel {
    public LongTail {
      Check.argument(
          0 <= lowMillis && lowMillis <= highMillis, "range %s..%s", lowMillis, highMillis);
      Check.argument(0 <= tailProbability && tailProbability <= 1, "p %s", tailProbability);
      Check.argument(highMillis <= tailMillisMax, "tail max %s below high", tailMillisMax);
      Check.argument(tailMillisMax <= LATENCY_MILLIS_MAX, "tail max %s ms", tailMillisMax);
    }

    @Override
    public long drawMillis(Prng prng) {
      long base = prng.between(lowMillis, highMillis);
      if (!prng.chance(tailProbability)) {
        return base;
      }
      double excess = -tailMeanMillis * Math.log(1 - prng.nextDouble());
      return Math.min(tailMillisMax, base + (long) excess);
    }
  }
}
