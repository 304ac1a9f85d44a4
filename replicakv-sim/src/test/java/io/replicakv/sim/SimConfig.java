package io.replicakv.sim;

import io.replicakv.core.util.Check;

/**
 * Everything that shapes one simulated run except the seed and the replica under test.
 *
 * @param nodeCount replicas, ids {@code 0..nodeCount-1}
 * @param clientCount concurrent sessions, ids {@code 1..clientCount}
 * @param keyCount distinct keys the workload touches
 * @param workloadMillis how long clients issue operations and the nemesis acts
 * @param quietMillis after the workload: faults repaired, no new ops, replicas catch up
 * @param tickMillis simulated time between two {@code tick()} calls of a node
 * @param clientTimeoutMillis a client gives up (outcome unknown) after this
 * @param thinkMillisMax a client waits up to this long between ops
 * @param readProbability chance an op is a read
 * @param routing which node a client sends each op to
 * @param network link behaviour
 * @param faults nemesis behaviour
 * @param clockOffsetMillisMax each node's clock offset is drawn in {@code [-max, max]}
 * @param clockDriftPpmMax each node's drift is drawn in {@code [-max, max]}
 * @param tornWriteProbability chance the last unsynced record kept by a crash is torn
 * @param diskFlushIntervalMillis the OS writes back unsynced records this often; 0 never
 */
public record SimConfig(
    int nodeCount,
    int clientCount,
    int keyCount,
    long workloadMillis,
    long quietMillis,
    long tickMillis,
    long clientTimeoutMillis,
    long thinkMillisMax,
    double readProbability,
    Routing routing,
    SimNetwork.Config network,
    Faults faults,
    long clockOffsetMillisMax,
    double clockDriftPpmMax,
    double tornWriteProbability,
    long diskFlushIntervalMillis) {

  /** Nodes one run may have. */
  static final int NODES_MAX = 64;

  /** Clients one run may have. */
  static final int CLIENTS_MAX = 1_000;

  /** Which node a client sends an op to; node 0 is the primary of the toy registers. */
  public enum Routing {
    /** Every op goes to node 0. */
    PRIMARY_ONLY,
    /** Writes go to node 0, reads to a uniformly chosen node. */
    READS_ANY_NODE,
    /** Every op goes to a uniformly chosen node. */
    ANY_NODE,
    /** Every op goes to a node whose replica believes it leads ({@link RoutingHint}). */
    LEADER,
    /** Writes as {@link #LEADER}; reads to a uniformly chosen node that holds data. */
    WRITES_TO_LEADER_READS_ANY_REPLICA
  }

  public SimConfig {
    Check.argument(1 <= nodeCount && nodeCount <= NODES_MAX, "nodeCount %s", nodeCount);
    Check.argument(1 <= clientCount && clientCount <= CLIENTS_MAX, "clientCount %s", clientCount);
    Check.argument(keyCount >= 1, "keyCount %s", keyCount);
    Check.argument(
        workloadMillis > 0 && quietMillis >= 0, "phases %s/%s", workloadMillis, quietMillis);
    Check.argument(tickMillis > 0, "tickMillis %s", tickMillis);
    Check.argument(clientTimeoutMillis > 0, "clientTimeoutMillis %s", clientTimeoutMillis);
    Check.argument(thinkMillisMax >= 0, "thinkMillisMax %s", thinkMillisMax);
    Check.argument(
        0 <= readProbability && readProbability <= 1, "readProbability %s", readProbability);
    Check.argument(clockOffsetMillisMax >= 0, "clockOffsetMillisMax %s", clockOffsetMillisMax);
    Check.argument(diskFlushIntervalMillis >= 0, "flush %s", diskFlushIntervalMillis);
  }

  /** Three nodes, three clients, two keys, two simulated seconds of work and one of quiet. */
  public static SimConfig defaults() {
    return new SimConfig(
        3,
        3,
        2,
        2_000,
        1_000,
        10,
        200,
        20,
        0.5,
        Routing.READS_ANY_NODE,
        new SimNetwork.Config(
            new LatencyModel.LongTail(1, 10, 0.02, 50, 500), 0.02, 0.02, 0.05, 30),
        Faults.NONE,
        50,
        100,
        0.5,
        0);
  }

  public SimConfig withFaults(Faults faults) {
    return new SimConfig(
        nodeCount,
        clientCount,
        keyCount,
        workloadMillis,
        quietMillis,
        tickMillis,
        clientTimeoutMillis,
        thinkMillisMax,
        readProbability,
        routing,
        network,
        faults,
        clockOffsetMillisMax,
        clockDriftPpmMax,
        tornWriteProbability,
        diskFlushIntervalMillis);
  }

  public SimConfig withRouting(Routing routing) {
    return new SimConfig(
        nodeCount,
        clientCount,
        keyCount,
        workloadMillis,
        quietMillis,
        tickMillis,
        clientTimeoutMillis,
        thinkMillisMax,
        readProbability,
        routing,
        network,
        faults,
        clockOffsetMillisMax,
        clockDriftPpmMax,
        tornWriteProbability,
        diskFlushIntervalMillis);
  }

  public SimConfig withNetwork(SimNetwork.Config network) {
    return new SimConfig(
        nodeCount,
        clientCount,
        keyCount,
        workloadMillis,
        quietMillis,
        tickMillis,
        clientTimeoutMillis,
        thinkMillisMax,
        readProbability,
        routing,
        network,
        faults,
        clockOffsetMillisMax,
        clockDriftPpmMax,
        tornWriteProbability,
        diskFlushIntervalMillis);
  }

  public SimConfig withWorkloadMillis(long workloadMillis) {
    return new SimConfig(
        nodeCount,
        clientCount,
        keyCount,
        workloadMillis,
        quietMillis,
        tickMillis,
        clientTimeoutMillis,
        thinkMillisMax,
        readProbability,
        routing,
        network,
        faults,
        clockOffsetMillisMax,
        clockDriftPpmMax,
        tornWriteProbability,
        diskFlushIntervalMillis);
  }

  public SimConfig withQuietMillis(long quietMillis) {
    return new SimConfig(
        nodeCount,
        clientCount,
        keyCount,
        workloadMillis,
        quietMillis,
        tickMillis,
        clientTimeoutMillis,
        thinkMillisMax,
        readProbability,
        routing,
        network,
        faults,
        clockOffsetMillisMax,
        clockDriftPpmMax,
        tornWriteProbability,
        diskFlushIntervalMillis);
  }

  public SimConfig withDiskFlushIntervalMillis(long diskFlushIntervalMillis) {
    return new SimConfig(
        nodeCount,
        clientCount,
        keyCount,
        workloadMillis,
        quietMillis,
        tickMillis,
        clientTimeoutMillis,
        thinkMillisMax,
        readProbability,
        routing,
        network,
        faults,
        clockOffsetMillisMax,
        clockDriftPpmMax,
        tornWriteProbability,
        diskFlushIntervalMillis);
  }
}
