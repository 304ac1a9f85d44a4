package io.replicakv.sim;

import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * The simulated network between nodes: it decides, for each message sent, whether and when copies
 * of it arrive. It does not hold messages itself; the {@link Simulation} schedules the deliveries
 * it returns, so in-flight messages live in the one event queue.
 *
 * <p>Faults: a latency drawn from a {@link LatencyModel}; loss; duplication (a second copy with its
 * own latency); reordering (an extra delay for some messages, on top of the jitter the latency
 * model already causes); partitions, symmetric or one-way, which drop messages on blocked links at
 * send time (a message already on the wire still arrives, as a packet in a switch buffer would).
 * Client links are not partitioned: a client that cannot reach a node is modelled by its timeout.
 */
public final class SimNetwork {
  /** Copies of one message the network may deliver (original plus duplicates). */
  static final int COPIES_MAX = 2;

  /**
   * Fault knobs of the network.
   *
   * @param latency latency of every node-to-node and client link
   * @param lossProbability chance a node-to-node message is dropped
   * @param duplicateProbability chance a delivered message arrives twice
   * @param reorderProbability chance a message gets an extra delay
   * @param reorderDelayMillisMax largest extra delay
   */
  public record Config(
      LatencyModel latency,
      double lossProbability,
      double duplicateProbability,
      double reorderProbability,
      long reorderDelayMillisMax) {
    public Config {
      Check.argument(0 <= lossProbability && lossProbability < 1, "loss %s", lossProbability);
      Check.argument(
          0 <= duplicateProbability && duplicateProbability < 1, "dup %s", duplicateProbability);
      Check.argument(
          0 <= reorderProbability && reorderProbability <= 1, "reorder %s", reorderProbability);
      Check.argument(
          0 <= reorderDelayMillisMax && reorderDelayMillisMax <= LatencyModel.LATENCY_MILLIS_MAX,
          "reorder delay %s",
          reorderDelayMillisMax);
    }

    /** A network that only delays. */
    public static Config reliable(LatencyModel latency) {
      return new Config(latency, 0, 0, 0, 0);
    }
  }

  private final Config config;
  private final int nodeCount;
  // Blocked directed links, encoded from * nodeCount + to; sorted so the trace is stable.
  private final TreeSet<Integer> blocked = new TreeSet<>();
  private boolean lossy = true;

  SimNetwork(Config config, int nodeCount) {
    this.config = config;
    this.nodeCount = nodeCount;
  }

  /** Delays after which copies of a node-to-node message arrive; empty when it is lost. */
  List<Long> nodeDelaysMillis(int from, int to, Prng prng) {
    if (isBlocked(from, to)) {
      return List.of();
    }
    if (lossy && prng.chance(config.lossProbability())) {
      return List.of();
    }
    List<Long> delays = new ArrayList<>(COPIES_MAX);
    delays.add(drawDelayMillis(prng));
    if (lossy && prng.chance(config.duplicateProbability())) {
      delays.add(drawDelayMillis(prng));
    }
    return delays;
  }

  /** Delay of a message on a client link. */
  long clientDelayMillis(Prng prng) {
    return config.latency().drawMillis(prng);
  }

  private long drawDelayMillis(Prng prng) {
    long millis = config.latency().drawMillis(prng);
    if (lossy && prng.chance(config.reorderProbability())) {
      millis += prng.between(0, config.reorderDelayMillisMax());
    }
    return millis;
  }

  /** Cuts every link between the two sides, both ways. */
  void partition(List<Integer> sideA, List<Integer> sideB) {
    for (int a : sideA) {
      for (int b : sideB) {
        blockOneWay(a, b);
        blockOneWay(b, a);
      }
    }
  }

  /** Cuts the link from {@code from} to {@code to} only: {@code to}'s messages still reach it. */
  void blockOneWay(int from, int to) {
    Check.argument(
        from != to && 0 <= from && from < nodeCount && 0 <= to && to < nodeCount,
        "link %s->%s",
        from,
        to);
    blocked.add(from * nodeCount + to);
  }

  /** Restores every link. */
  void heal() {
    blocked.clear();
  }

  /** Turns loss, duplication and reordering off (for the quiet phase after faults) or on. */
  void setLossy(boolean lossy) {
    this.lossy = lossy;
  }

  boolean isBlocked(int from, int to) {
    return blocked.contains(from * nodeCount + to);
  }

  /** Blocked links as "a->b" text, for the trace. */
  String describeBlocked() {
    StringBuilder text = new StringBuilder();
    for (int link : blocked) {
      text.append(link / nodeCount).append("->").append(link % nodeCount).append(' ');
    }
    return text.toString().trim();
  }
}
