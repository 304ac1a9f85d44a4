package io.replicakv.sim;

import io.replicakv.core.util.Check;

/**
 * What the nemesis may do, and how often. Every {@code intervalMillis} of the workload phase it
 * draws, in this order: a crash, a restart, a partition, a heal and a clock jump, each with its own
 * probability. At the end of the workload every fault is repaired (see {@link Simulation}).
 *
 * @param intervalMillis time between nemesis decisions; 0 disables the nemesis
 * @param crashProbability chance to crash one up node (never more than {@code nodesDownMax})
 * @param restartProbability chance to restart one down node
 * @param partitionProbability chance to cut the network (symmetric split or one-way link)
 * @param oneWayProbability given a partition, the chance it is a single one-way link
 * @param healProbability chance to restore every link
 * @param clockJumpProbability chance to step one node's clock
 * @param clockJumpMillisMax largest clock step, either direction
 * @param nodesDownMax most nodes down at once
 */
public record Faults(
    long intervalMillis,
    double crashProbability,
    double restartProbability,
    double partitionProbability,
    double oneWayProbability,
    double healProbability,
    double clockJumpProbability,
    long clockJumpMillisMax,
    int nodesDownMax) {

  /** No nemesis at all. */
  public static final Faults NONE = new Faults(0, 0, 0, 0, 0, 0, 0, 0, 0);

  public Faults {
    Check.argument(intervalMillis >= 0, "interval %s", intervalMillis);
    Check.argument(clockJumpMillisMax >= 0, "clock jump %s", clockJumpMillisMax);
    Check.argument(nodesDownMax >= 0, "nodesDownMax %s", nodesDownMax);
  }

  /** Crashes, restarts, partitions and clock jumps at a moderate rate, one node down at most. */
  public static Faults moderate() {
    return new Faults(100, 0.10, 0.30, 0.10, 0.3, 0.25, 0.05, 2_000, 1);
  }

  /** Only partitions and heals: no node loses its disk cache. */
  public static Faults partitionsOnly() {
    return new Faults(100, 0, 0, 0.15, 0.3, 0.25, 0, 0, 0);
  }
}
