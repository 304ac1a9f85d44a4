package io.replicakv.server.move;

import io.replicakv.core.util.Check;
import java.util.ArrayDeque;

/**
 * The rate of a growing total (bytes copied) over the last few seconds, and the time left at that
 * rate: what a progress bar needs for its ETA.
 *
 * <p>Samples are (time, total) pairs; the rate is the growth between the oldest sample still in the
 * window and the newest one. A window of a few seconds follows a throttle change or a slower target
 * within that time, yet smooths the steps of batch-wise progress. When the total falls (the copy
 * restarted), the older samples no longer describe this copy and are dropped. Not thread-safe: one
 * owner feeds and reads it.
 */
public final class RateWindow {
  /** Shortest span of samples that gives a rate; a shorter one is mostly batch noise. */
  static final long MIN_SPAN_NANOS = 400_000_000L;

  private final long windowNanos;
  private final int samplesMax;
  private final ArrayDeque<long[]> samples = new ArrayDeque<>();

  /**
   * @param windowNanos how far back the rate looks
   * @param samplesMax most samples kept (older ones are dropped first), bounding memory when fed
   *     faster than the window needs
   */
  public RateWindow(long windowNanos, int samplesMax) {
    Check.argument(
        windowNanos >= MIN_SPAN_NANOS, "window %s ns shorter than the minimum span", windowNanos);
    Check.argument(samplesMax >= 2, "samplesMax %s below 2", samplesMax);
    this.windowNanos = windowNanos;
    this.samplesMax = samplesMax;
  }

  /** Records that the total was {@code total} at {@code nanos} (a monotonic clock). */
  public void add(long nanos, long total) {
    long[] newest = samples.peekLast();
    if (newest != null && (total < newest[1] || nanos < newest[0])) {
      samples.clear();
    }
    samples.addLast(new long[] {nanos, total});
    // keep one sample at or before the window's start, so the span covers the whole window
    while (samples.size() > samplesMax
        || (samples.size() > 2 && secondOldest()[0] <= nanos - windowNanos)) {
      samples.removeFirst();
    }
  }

  private long[] secondOldest() {
    var it = samples.iterator();
    it.next();
    return it.next();
  }

  /** Growth per second over the window; NaN until the samples span {@link #MIN_SPAN_NANOS}. */
  public double perSecond() {
    if (samples.size() < 2) {
      return Double.NaN;
    }
    long[] oldest = samples.peekFirst();
    long[] newest = samples.peekLast();
    long span = newest[0] - oldest[0];
    if (span < MIN_SPAN_NANOS) {
      return Double.NaN;
    }
    return (newest[1] - oldest[1]) * 1e9 / span;
  }

  /**
   * Whole seconds (rounded up) to cover {@code remaining} at {@code perSecond}; 0 when nothing
   * remains, -1 when unknown (no rate yet, or no progress in the window).
   */
  public static long etaSeconds(long remaining, double perSecond) {
    if (remaining <= 0) {
      return 0;
    }
    if (Double.isNaN(perSecond) || perSecond <= 0) {
      return -1;
    }
    double seconds = Math.ceil(remaining / perSecond);
    return seconds >= Long.MAX_VALUE ? -1 : (long) seconds;
  }
}
