package io.replicakv.sim;

import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.Message;
import java.util.List;

/** Everything that can happen in a simulation; sealed so the event loop handles each kind. */
sealed interface SimEvent {
  /** A message (client request or peer message) reaches a node. */
  record DeliverToNode(int nodeId, Message message) implements SimEvent {}

  /** A reply reaches a client. */
  record DeliverToClient(long clientId, int fromNode, ClientReply reply) implements SimEvent {}

  /** A node's tick timer fires; stale after a restart ({@code incarnation} changed). */
  record Tick(int nodeId, long incarnation) implements SimEvent {}

  /** A client issues its next op. */
  record ClientInvoke(long clientId) implements SimEvent {}

  /** A client's patience for one request runs out. */
  record ClientTimeout(long clientId, long requestId) implements SimEvent {}

  /** The nemesis decides on faults. */
  record Nemesis() implements SimEvent {}

  /** The OS writes back a node's unsynced records. */
  record DiskFlush(int nodeId) implements SimEvent {}

  /** A node loses power. */
  record Crash(int nodeId) implements SimEvent {}

  /** A down node starts again from its disk. */
  record Restart(int nodeId) implements SimEvent {}

  /** The network splits into two sides. */
  record Partition(List<Integer> sideA, List<Integer> sideB) implements SimEvent {}

  /** Messages from one node to another are dropped; the reverse direction still works. */
  record BlockLink(int fromNode, int toNode) implements SimEvent {}

  /** Every link works again. */
  record Heal() implements SimEvent {}

  /** A node's clock steps. */
  record ClockJump(int nodeId, long deltaMillis) implements SimEvent {}

  /** The workload phase ends: faults repaired, clients stop issuing, replicas catch up. */
  record EndWorkload() implements SimEvent {}
}
