package io.replicakv.sim;

import io.replicakv.core.util.Check;
import java.util.List;

/**
 * One client operation as a checker sees it: invoked at {@code invokeAt}, completed at {@code
 * completeAt}, with its outcome.
 *
 * <p>Times are positions in one global order of events (the simulator uses the index of the event
 * that invoked or completed the op, so two ops in the same simulated millisecond are still
 * ordered); {@code a} precedes {@code b} in real time when {@code a.completeAt < b.invokeAt}. An op
 * whose outcome is unknown ({@link Status#INFO}) may take effect at any time after its invocation,
 * or never, so its {@code completeAt} is {@link #NEVER}. A {@link Status#FAIL} op certainly had no
 * effect.
 *
 * @param clientId the session that ran it; a session runs one op at a time
 * @param requestId unique per client
 * @param kind read or write
 * @param key the register
 * @param written the value a write wrote (values are unique per history), null for reads
 * @param read what an OK read returned (empty: no value; more than one: siblings)
 * @param invokeAt position of the invocation
 * @param completeAt position of the completion, {@link #NEVER} when unknown
 * @param invokeMillis simulated time of the invocation, for reports
 * @param status outcome
 */
public record Op(
    long clientId,
    long requestId,
    Kind kind,
    String key,
    String written,
    List<String> read,
    long invokeAt,
    long completeAt,
    long invokeMillis,
    Status status) {

  /** Completion time of an op whose outcome is unknown. */
  public static final long NEVER = Long.MAX_VALUE;

  /** Read or write. */
  public enum Kind {
    READ,
    WRITE
  }

  /** Acknowledged, certainly not applied, or unknown. */
  public enum Status {
    OK,
    FAIL,
    INFO
  }

  public Op {
    read = List.copyOf(read);
    Check.argument(
        invokeAt < completeAt, "op completes at %s before invoke %s", completeAt, invokeAt);
    Check.argument((kind == Kind.WRITE) == (written != null), "write value mismatch for %s", kind);
    Check.argument(
        status == Status.INFO || completeAt != NEVER, "%s op without completion", status);
  }

  /** True when this op finished before {@code other} began. */
  public boolean precedes(Op other) {
    return completeAt < other.invokeAt;
  }

  /** An acknowledged write, for hand-made histories. */
  public static Op write(long clientId, String key, String value, long invokeAt, long completeAt) {
    return new Op(
        clientId,
        invokeAt,
        Kind.WRITE,
        key,
        value,
        List.of(),
        invokeAt,
        completeAt,
        invokeAt,
        Status.OK);
  }

  /** A write whose outcome is unknown, for hand-made histories. */
  public static Op writeUnknown(long clientId, String key, String value, long invokeAt) {
    return new Op(
        clientId,
        invokeAt,
        Kind.WRITE,
        key,
        value,
        List.of(),
        invokeAt,
        NEVER,
        invokeAt,
        Status.INFO);
  }

  /** An OK read that returned {@code values} (none, one, or siblings), for hand-made histories. */
  public static Op read(
      long clientId, String key, List<String> values, long invokeAt, long completeAt) {
    return new Op(
        clientId,
        invokeAt,
        Kind.READ,
        key,
        null,
        values,
        invokeAt,
        completeAt,
        invokeAt,
        Status.OK);
  }

  /** An OK read of one value (null: no value), for hand-made histories. */
  public static Op read(long clientId, String key, String value, long invokeAt, long completeAt) {
    return read(clientId, key, value == null ? List.of() : List.of(value), invokeAt, completeAt);
  }

  /** One line for reports. */
  public String describe() {
    String what = kind == Kind.WRITE ? "write " + key + "=" + written : "read " + key + "->" + read;
    String done = completeAt == NEVER ? "?" : Long.toString(completeAt);
    return "client " + clientId + " #" + requestId + " " + what + " [" + invokeAt + ".." + done
        + "] " + status;
  }
}
