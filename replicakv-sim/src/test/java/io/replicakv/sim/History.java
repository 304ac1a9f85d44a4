package io.replicakv.sim;

import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The record of what clients asked and what they were told, as invoke and completion events in one
 * global order. Completion is ok (acknowledged), fail (certainly not applied) or info (unknown:
 * timed out, or the replica said it cannot tell).
 */
public final class History {
  /** Events one history may hold; a run that needs more is misconfigured. */
  static final int EVENTS_MAX = 2_000_000;

  private record Pending(
      long clientId, long requestId, Operation operation, long invokeAt, long invokeMillis) {}

  private final Map<String, Pending> pending = new LinkedHashMap<>();
  private final List<Op> ops = new ArrayList<>();
  private int events;

  /** A client invoked {@code operation}; {@code at} is the global event position. */
  void invoke(long clientId, long requestId, Operation operation, long at, long nowMillis) {
    Check.state(events++ < EVENTS_MAX, "history over %s events", EVENTS_MAX);
    Pending previous =
        pending.put(
            key(clientId, requestId), new Pending(clientId, requestId, operation, at, nowMillis));
    Check.state(previous == null, "request %s/%s invoked twice", clientId, requestId);
  }

  /** The client got {@code reply} for its request. */
  void complete(long clientId, long requestId, Reply reply, long at) {
    Pending invoked = pending.remove(key(clientId, requestId));
    Check.state(invoked != null, "completion of unknown request %s/%s", clientId, requestId);
    events++;
    ops.add(toOp(invoked, reply, at));
  }

  /** The client gave up waiting: the outcome is unknown. */
  void timeout(long clientId, long requestId, long at) {
    complete(clientId, requestId, new Reply.Uncertain("client timeout"), at);
  }

  /** Completed ops in completion order, then ops still in flight as unknown. */
  public List<Op> ops() {
    List<Op> all = new ArrayList<>(ops);
    for (Pending invoked : pending.values()) {
      all.add(toOp(invoked, new Reply.Uncertain("still in flight"), Op.NEVER));
    }
    return all;
  }

  private static Op toOp(Pending invoked, Reply reply, long at) {
    Operation operation = invoked.operation();
    Op.Kind kind = operation instanceof Operation.Put ? Op.Kind.WRITE : Op.Kind.READ;
    String written = operation instanceof Operation.Put put ? put.value() : null;
    Op.Status status =
        switch (reply) {
          case Reply.Written written1 -> Op.Status.OK;
          case Reply.Values values -> Op.Status.OK;
          case Reply.Rejected rejected -> Op.Status.FAIL;
          case Reply.Uncertain uncertain -> Op.Status.INFO;
        };
    Check.state(
        !(reply instanceof Reply.Written) || kind == Op.Kind.WRITE, "Written reply to a read");
    Check.state(
        !(reply instanceof Reply.Values) || kind == Op.Kind.READ, "Values reply to a write");
    List<String> read = reply instanceof Reply.Values values ? values.values() : List.of();
    long completeAt = status == Op.Status.INFO ? Op.NEVER : at;
    return new Op(
        invoked.clientId(),
        invoked.requestId(),
        kind,
        operation.key(),
        written,
        read,
        invoked.invokeAt(),
        completeAt,
        invoked.invokeMillis(),
        status);
  }

  private static String key(long clientId, long requestId) {
    return clientId + "/" + requestId;
  }
}
