package io.replicakv.sim;

import io.replicakv.core.util.Check;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Index of a history's writes by value. Workloads write unique values, which is what lets a checker
 * tell which write a read observed; a history that breaks this is refused.
 */
final class Writes {
  private final Map<String, Op> byValue = new HashMap<>();

  Writes(List<Op> ops) {
    for (Op op : ops) {
      if (op.kind() == Op.Kind.WRITE) {
        Op previous = byValue.put(op.key() + "\u0000" + op.written(), op);
        Check.argument(previous == null, "value %s written twice to %s", op.written(), op.key());
      }
    }
  }

  /** The write that wrote {@code value} to {@code key}, or null for a value nobody wrote. */
  Op writerOf(String key, String value) {
    return byValue.get(key + "\u0000" + value);
  }

  /**
   * True when values read from {@code key} are older than {@code required}: no value came from
   * {@code required} or from a write that did not finish before {@code required} began. Values
   * nobody wrote are ignored here (a separate problem).
   */
  boolean staleAgainst(String key, List<String> values, Op required) {
    if (values.isEmpty()) {
      return true;
    }
    for (String value : values) {
      Op writer = writerOf(key, value);
      if (writer == null || writer == required || !writer.precedes(required)) {
        return false;
      }
    }
    return true;
  }
}
