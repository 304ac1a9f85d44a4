package io.replicakv.core.msg;

import io.replicakv.core.util.Check;
import java.util.List;

/**
 * The outcome of a client operation. The distinction between {@link Rejected} and {@link Uncertain}
 * is what history checkers rely on: a rejected operation certainly had no effect, an uncertain one
 * may take effect at any later time or never.
 */
public sealed interface Reply permits Reply.Written, Reply.Values, Reply.Rejected, Reply.Uncertain {

  /** A write took effect (was acknowledged). */
  record Written() implements Reply {}

  /**
   * A read's result: no value, one value, or siblings (concurrent values a later write resolves).
   */
  record Values(List<String> values) implements Reply {
    public Values {
      values = List.copyOf(values);
    }
  }

  /** The operation certainly did not take effect (not the leader, bad input, refused by config). */
  record Rejected(String reason) implements Reply {
    public Rejected {
      Check.argument(reason != null, "reason is null");
    }
  }

  /** The operation may or may not take effect (timeout after the write was sent on). */
  record Uncertain(String reason) implements Reply {
    public Uncertain {
      Check.argument(reason != null, "reason is null");
    }
  }
}
