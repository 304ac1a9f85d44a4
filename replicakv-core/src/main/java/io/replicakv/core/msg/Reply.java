package io.replicakv.core.msg;

import io.replicakv.core.util.Check;
import java.util.List;

/**
 * The outcome of a client operation. The distinction between {@link Rejected} and {@link Uncertain}
 * is what history checkers rely on: a rejected operation certainly had no effect, an uncertain one
 * may take effect at any later time or never.
 */
public sealed interface Reply permits Reply.Written, Reply.Values, Reply.Rejected, Reply.Uncertain {

  /**
   * A write took effect (was acknowledged).
   *
   * @param sessionToken the write's position, for replicas that have one ({@link Lsn#ZERO} if not)
   */
  record Written(Lsn sessionToken) implements Reply {
    public Written {
      Check.argument(sessionToken != null, "sessionToken is null");
    }

    /** An acknowledgement without a position. */
    public Written() {
      this(Lsn.ZERO);
    }
  }

  /**
   * A read's result: no value, one value, or siblings (concurrent values a later write resolves).
   * {@code sessionToken} is the position of the state read ({@link Lsn#ZERO} where there is none).
   */
  record Values(List<String> values, Lsn sessionToken) implements Reply {
    public Values {
      values = List.copyOf(values);
      Check.argument(sessionToken != null, "sessionToken is null");
    }

    /** A read result without a position. */
    public Values(List<String> values) {
      this(values, Lsn.ZERO);
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
