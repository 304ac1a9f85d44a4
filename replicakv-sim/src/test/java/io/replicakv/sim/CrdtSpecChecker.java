package io.replicakv.sim;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * CRDT results equal the sequential specification, allowing for writes whose outcome is unknown:
 *
 * <ul>
 *   <li>Set (every write an add of its unique value): a read or final state holds every add
 *       acknowledged before it began (reads; final states: every acknowledged add) and nothing that
 *       no client tried to add.
 *   <li>Counter (every write an increment by 1): a read or final value lies between the number of
 *       increments acknowledged before it began and the number invoked before it ended (final
 *       states: between acknowledged and attempted increments).
 * </ul>
 *
 * Reads are checked only when {@code checkReads} (strict quorums: R + W > N); final states always,
 * on the key's owners.
 */
final class CrdtSpecChecker implements Checker {
  /** Which CRDT the workload builds. */
  enum Type {
    SET,
    COUNTER
  }

  private final Type type;
  private final boolean checkReads;
  private final io.replicakv.core.leaderless.Placement placement;

  CrdtSpecChecker(Type type, boolean checkReads, io.replicakv.core.leaderless.Placement placement) {
    this.type = type;
    this.checkReads = checkReads;
    this.placement = placement;
  }

  @Override
  public CheckResult check(Observation observation) {
    List<String> problems = new ArrayList<>();
    List<Op> ops = observation.ops();
    if (checkReads) {
      for (Op read : ops) {
        if (read.kind() == Op.Kind.READ && read.status() == Op.Status.OK) {
          List<Op> required =
              ops.stream()
                  .filter(
                      w -> isWrite(w, read.key()) && w.status() == Op.Status.OK && w.precedes(read))
                  .toList();
          List<Op> possible =
              ops.stream()
                  .filter(
                      w ->
                          isWrite(w, read.key())
                              && w.status() != Op.Status.FAIL
                              && w.invokeAt() < read.completeAt())
                  .toList();
          judge(read.describe(), read.read(), required, possible, problems);
        }
      }
    }
    TreeSet<String> keys = new TreeSet<>();
    ops.forEach(op -> keys.add(op.key()));
    for (String key : keys) {
      List<Op> acknowledged =
          ops.stream().filter(w -> isWrite(w, key) && w.status() == Op.Status.OK).toList();
      List<Op> attempted =
          ops.stream().filter(w -> isWrite(w, key) && w.status() != Op.Status.FAIL).toList();
      for (int owner : placement.owners(placement.partitionOf(key))) {
        Map<String, List<String>> state = observation.finalStates().get(owner);
        if (state != null) {
          List<String> values = state.getOrDefault(key, List.of());
          judge("node " + owner + " final " + key, values, acknowledged, attempted, problems);
        }
      }
    }
    return CheckResult.of("crdt " + type.name().toLowerCase() + " matches spec", problems);
  }

  private static boolean isWrite(Op op, String key) {
    return op.kind() == Op.Kind.WRITE && op.key().equals(key);
  }

  private void judge(
      String what, List<String> shown, List<Op> required, List<Op> possible, List<String> out) {
    switch (type) {
      case SET -> {
        Set<String> values = new TreeSet<>(shown);
        Set<String> allowed = new TreeSet<>();
        possible.forEach(op -> allowed.add(op.written()));
        for (Op op : required) {
          if (!values.contains(op.written())) {
            out.add(what + " misses acknowledged add " + op.describe());
          }
        }
        for (String value : values) {
          if (!allowed.contains(value)) {
            out.add(what + " shows " + value + " which no earlier add wrote");
          }
        }
      }
      case COUNTER -> {
        long value = shown.isEmpty() ? 0 : Long.parseLong(shown.get(0));
        if (shown.size() > 1 || value < required.size() || value > possible.size()) {
          out.add(
              what
                  + " shows "
                  + shown
                  + ", expected between "
                  + required.size()
                  + " and "
                  + possible.size());
        }
      }
    }
  }
}
