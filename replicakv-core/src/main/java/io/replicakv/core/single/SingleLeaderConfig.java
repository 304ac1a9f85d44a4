package io.replicakv.core.single;

import io.replicakv.core.quorum.Acks;
import io.replicakv.core.util.Check;
import java.util.List;

/**
 * Everything a single-leader partition's replicas and its controller must agree on. All durations
 * are in ticks of the node that counts them.
 *
 * <p>Clock assumption (see {@link PartitionReplica}): every node's tick rate is within {@code
 * driftPpm} parts per million of real time. The lease a leader counts on its own ticks must end, in
 * real time, before the controller (counting its own ticks from the moment it last heard the
 * leader) may start an election; with tick rates off by at most a factor {@code 1 ± d}, that holds
 * when {@code leaseTicks * (1 + d) + LEASE_MARGIN_TICKS <= failoverTimeoutTicks * (1 - d)}. The two
 * margin ticks cover the phase difference between two nodes' tick schedules. The constructor
 * refuses a config that breaks this.
 *
 * @param replicas node ids of the partition's replicas (the preference list), distinct
 * @param controllerId node id of the controller
 * @param acks followers that must persist a write before the client is answered
 * @param leaseTicks how long a controller grant lets a leader serve, from the heartbeat it answers
 * @param failoverTimeoutTicks leader silence after which the controller elects another
 * @param driftPpm bound on any node's tick-rate error, in parts per million
 * @param heartbeatIntervalTicks how often replicas report to the controller
 * @param writeTimeoutTicks a write that has not met {@code acks} by then is answered "uncertain"
 * @param maxLagRecords a follower further behind than this leaves the in-sync set
 * @param maxLagTicks a follower silent for longer than this leaves the in-sync set
 * @param readWaitTicks how long a replica holds a read whose session token it has not applied
 */
public record SingleLeaderConfig(
    List<Integer> replicas,
    int controllerId,
    Acks acks,
    long leaseTicks,
    long failoverTimeoutTicks,
    long driftPpm,
    long heartbeatIntervalTicks,
    long writeTimeoutTicks,
    long maxLagRecords,
    long maxLagTicks,
    long readWaitTicks) {

  /** Phase difference between two nodes' tick schedules, plus one tick of rounding. */
  public static final long LEASE_MARGIN_TICKS = 2;

  /** Replicas one partition may have. */
  public static final int REPLICAS_MAX = 16;

  public SingleLeaderConfig {
    replicas = List.copyOf(replicas);
    Check.argument(
        1 <= replicas.size() && replicas.size() <= REPLICAS_MAX, "replicas %s", replicas.size());
    Check.argument(
        replicas.stream().distinct().count() == replicas.size(), "duplicate replicas %s", replicas);
    Check.argument(!replicas.contains(controllerId), "controller %s is a replica", controllerId);
    Check.argument(acks != null, "acks is null");
    Check.argument(
        acks.followersRequired(replicas.size()) <= replicas.size() - 1,
        "acks %s needs more followers than %s replicas have",
        acks,
        replicas.size());
    Check.argument(0 <= driftPpm && driftPpm < 100_000, "driftPpm %s", driftPpm);
    Check.argument(leaseTicks >= 1, "leaseTicks %s", leaseTicks);
    double drift = driftPpm / 1e6;
    Check.argument(
        leaseTicks * (1 + drift) + LEASE_MARGIN_TICKS <= failoverTimeoutTicks * (1 - drift),
        "lease %s ticks must end before failover %s ticks with %s ppm drift",
        leaseTicks,
        failoverTimeoutTicks,
        driftPpm);
    Check.argument(
        1 <= heartbeatIntervalTicks && heartbeatIntervalTicks < leaseTicks,
        "heartbeat every %s ticks must renew a %s-tick lease",
        heartbeatIntervalTicks,
        leaseTicks);
    Check.argument(writeTimeoutTicks >= 1, "writeTimeoutTicks %s", writeTimeoutTicks);
    Check.argument(maxLagRecords >= 1, "maxLagRecords %s", maxLagRecords);
    Check.argument(maxLagTicks >= 1, "maxLagTicks %s", maxLagTicks);
    Check.argument(readWaitTicks >= 0, "readWaitTicks %s", readWaitTicks);
  }

  /** Followers whose persist the client's acknowledgement waits for. */
  public int acksFollowers() {
    return acks.followersRequired(replicas.size());
  }

  /**
   * Fence answers the controller needs before it picks a new leader. An acknowledged write sits on
   * the leader and {@code k = acksFollowers()} followers, {@code k + 1} replicas; any {@code N - k}
   * replicas include at least one of them ({@code (N - k) + (k + 1) > N}), and the most advanced
   * answer holds it. With {@code acks=none} ({@code k = 0}) that would mean waiting for every
   * replica, the old leader included, so a dead leader would block failover forever; instead {@code
   * acks=none} waits for {@code N - 1} and accepts that writes only the old leader held become
   * divergent writes. One replica answers alone only when it is the only one.
   */
  public int fenceAnswersNeeded() {
    int n = replicas.size();
    int k = acksFollowers();
    return n == 1 ? 1 : k == 0 ? n - 1 : n - k;
  }

  /**
   * Followers that must hold an entry before it is committed (never undone): enough that every
   * election's answers include one of them, {@code N - fenceAnswersNeeded()}. Equal to {@link
   * #acksFollowers()} except for {@code acks=none}, where the client is answered earlier.
   */
  public int commitFollowers() {
    return replicas.size() - fenceAnswersNeeded();
  }

  /**
   * Simulator-sized timeouts for 10 ms ticks and tick rates within 1%: heartbeat every 2 ticks,
   * lease 8, failover after 12 silent ticks, writes time out after 15, followers leave the in-sync
   * set 50 records behind or 6 ticks silent, reads wait up to 10 ticks for their token.
   */
  public static SingleLeaderConfig forSimulation(
      List<Integer> replicas, int controller, Acks acks) {
    return new SingleLeaderConfig(replicas, controller, acks, 8, 12, 10_000, 2, 15, 50, 6, 10);
  }
}
