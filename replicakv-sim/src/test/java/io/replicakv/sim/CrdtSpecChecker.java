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
 *   <li>Map (each write an increment by 1 of a counter field, or a string write of the client's own
 *       field, see {@link LeaderlessSimReplica#mapField}): every counter field obeys the counter
 *       rule on its own increments; a string field is present once a write of it was acknowledged
 *       before, and only ever shows a value some write of that field wrote; no other field shows.
 *       Which of one client's string writes shows is not checked: an LWW field keeps the write with
 *       the larger HLC stamp, and a later write created on an owner that had not yet merged the
 *       earlier one may carry a smaller stamp under clock skew (the register's documented loss).
 * </ul>
 *
 * Reads are checked only when {@code checkReads} (strict quorums: R + W > N); final states always,
 * on the key's owners.
 */
final class CrdtSpecChecker implements Checker {
  /** Which CRDT the workload builds. */
  enum Type {
    SET,
    COUNTER,
    MAP
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

  private void judgeMap(
      String what, List<String> shown, List<Op> required, List<Op> possible, List<String> out) {
    if (shown.size() % 2 != 0) {
      out.add(what + " shows an odd field list " + shown);
      return;
    }
    java.util.Map<String, String> fields = new java.util.TreeMap<>();
    for (int i = 0; i < shown.size(); i += 2) {
      fields.put(shown.get(i), shown.get(i + 1));
    }
    TreeSet<String> names = new TreeSet<>(fields.keySet());
    possible.forEach(op -> names.add(field(op)));
    for (String name : names) {
      List<Op> fieldRequired = required.stream().filter(op -> field(op).equals(name)).toList();
      List<Op> fieldPossible = possible.stream().filter(op -> field(op).equals(name)).toList();
      String value = fields.get(name);
      String label = what + " field " + name;
      if (fieldPossible.isEmpty()) {
        out.add(label + " shows " + value + " which no write of that field wrote");
      } else if (name.startsWith("c")) {
        long count = value == null ? 0 : Long.parseLong(value);
        if (count < fieldRequired.size() || count > fieldPossible.size()) {
          out.add(
              label
                  + " shows "
                  + count
                  + ", expected between "
                  + fieldRequired.size()
                  + " and "
                  + fieldPossible.size());
        }
      } else if (value == null) {
        if (!fieldRequired.isEmpty()) {
          out.add(label + " missing after acknowledged " + fieldRequired.get(0).describe());
        }
      } else if (fieldPossible.stream().noneMatch(op -> value.equals(op.written()))) {
        out.add(label + " shows " + value + " which no write of that field wrote");
      }
    }
  }

  private static String field(Op op) {
    return LeaderlessSimReplica.mapField(op.clientId(), op.requestId());
  }

  private static boolean isWrite(Op op, String key) {
    return op.kind() == Op.Kind.WRITE && op.key().equals(key);
  }

  private void judge(
      String what, List<String> shown, List<Op> required, List<Op> possible, List<String> out) {
    switch (type) {
      case MAP -> judgeMap(what, shown, required, possible, out);
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
