package io.replicakv.core.leaderless;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.util.Check;
import java.util.List;

/**
 * The outcome of one {@link KvRequest}.
 *
 * @param clientId from the request
 * @param requestId from the request
 * @param outcome what happened
 * @param values OK: the visible values (none, one, or siblings); for a write, the values at the
 *     replica that created the version (what a client that wants return-body sees)
 * @param context OK: the causal context to send with the next write of this key
 * @param answered replicas that answered (acknowledged a write, or returned a read)
 * @param needed the quorum the request waited for
 * @param detail a sentence for people and logs
 * @param type OK: the key's type as {@link KeyState#typeName()} names it ({@code string}, {@code
 *     counter}, {@code set}, {@code hash}), or "" when no replica read had a state for the key
 */
public record KvResult(
    long clientId,
    long requestId,
    Outcome outcome,
    List<String> values,
    VersionVector context,
    int answered,
    int needed,
    String detail,
    String type) {

  /** How a request ended. */
  public enum Outcome {
    /** Quorum reached. */
    OK,
    /**
     * Fewer than the quorum of replicas were reachable when the request arrived; nothing was sent,
     * so a write certainly had no effect.
     */
    NOT_ENOUGH_REPLICAS,
    /** A replica refused the write (sibling limit, wrong type, full hint store): no effect. */
    REFUSED,
    /**
     * The quorum was not reached in time. A write may have been applied at the replicas that
     * acknowledged it (and may still spread from them), so its effect is unknown.
     */
    TIMEOUT
  }

  public KvResult {
    Check.notNull(outcome, "outcome");
    values = List.copyOf(values);
    Check.notNull(context, "context");
    Check.notNull(detail, "detail");
    Check.notNull(type, "type");
  }

  /** A result without a type (as results were before types were reported). */
  public KvResult(
      long clientId,
      long requestId,
      Outcome outcome,
      List<String> values,
      VersionVector context,
      int answered,
      int needed,
      String detail) {
    this(clientId, requestId, outcome, values, context, answered, needed, detail, "");
  }

  /** The same outcome as a plain client reply (context dropped). */
  public Reply toReply(boolean isWrite) {
    return switch (outcome) {
      case OK -> isWrite ? new Reply.Written() : new Reply.Values(values);
      case NOT_ENOUGH_REPLICAS, REFUSED -> new Reply.Rejected(detail);
      case TIMEOUT -> new Reply.Uncertain(detail);
    };
  }
}
