package io.replicakv.core.causal;

import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;

/**
 * A hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks and Consistent
 * Snapshots in Globally Distributed Databases", 2014): the only timestamp ReplicaKV uses for
 * last-writer-wins.
 *
 * <p><b>Model.</b> A timestamp is physical milliseconds plus a logical counter. The clock never
 * reads time itself: the caller passes the physical reading it took (the node loop's clock or the
 * simulator's {@code SimClock}) to {@link #now} for a local event and to {@link #update} when a
 * message carrying a remote timestamp arrives.
 *
 * <p><b>Invariants.</b> (1) Timestamps issued by one clock strictly increase, even if the physical
 * readings passed in go backwards (NTP step, VM pause). (2) After {@code update(remote, ...)} every
 * later timestamp is after {@code remote}, so a write that causally follows another always gets a
 * later LWW timestamp: causality is never overruled by skew. (3) The physical part never runs ahead
 * of the largest physical reading seen, locally or in an accepted remote timestamp.
 *
 * <p><b>Failure cases.</b> A node whose clock runs far ahead would, through (2), pull every
 * timestamp in the cluster forward with it, and its writes would win every LWW conflict until real
 * time caught up. {@link #update} therefore refuses a remote timestamp more than {@link
 * #maxRemoteAheadMillis()} ahead of local physical time with {@link ClockDriftException}; the
 * caller drops the message and reports the peer. Skew below the bound is survived but still decides
 * LWW between truly concurrent writes, which is the documented cost of LWW. If the logical counter
 * would overflow (billions of events within one stuck millisecond) the physical part is advanced by
 * one millisecond instead, which keeps (1) and bends (3) by that millisecond.
 *
 * <p>Not thread-safe: a clock belongs to one replica state machine, driven by one thread.
 *
 * <p>Binary form: version byte 1, the last issued {@link Hlc} (12 bytes), the bound as a varint.
 */
public final class HybridLogicalClock {
  /**
   * Default for how far a remote timestamp may run ahead of local physical time: one minute. Large
   * enough that ordinary NTP error never trips it, small enough that a broken clock is caught.
   */
  public static final long DEFAULT_MAX_REMOTE_AHEAD_MILLIS = 60_000;

  private static final int FORMAT_VERSION = 1;

  private final long maxRemoteAheadMillis;
  private Hlc last;

  /** A clock that has issued nothing yet, with the default drift bound. */
  public HybridLogicalClock() {
    this(Hlc.ZERO, DEFAULT_MAX_REMOTE_AHEAD_MILLIS);
  }

  /**
   * A clock resuming after {@code last} (for example the newest timestamp found in the log after a
   * restart), refusing remote timestamps more than {@code maxRemoteAheadMillis} ahead.
   */
  public HybridLogicalClock(Hlc last, long maxRemoteAheadMillis) {
    Check.argument(maxRemoteAheadMillis >= 0, "maxRemoteAheadMillis %s < 0", maxRemoteAheadMillis);
    this.last = Check.notNull(last, "last");
    this.maxRemoteAheadMillis = maxRemoteAheadMillis;
  }

  /** The timestamp for a local event (a write) at the given physical reading. */
  public Hlc now(long physicalMillis) {
    Check.argument(physicalMillis >= 0, "physicalMillis %s < 0", physicalMillis);
    Hlc next =
        physicalMillis > last.physicalMillis()
            ? new Hlc(physicalMillis, 0)
            : successor(last.physicalMillis(), last.logical());
    return issue(next);
  }

  /**
   * Merges a timestamp received from a peer and returns the timestamp of the receive event, which
   * is after both {@code remote} and every timestamp this clock issued before.
   *
   * @throws ClockDriftException if {@code remote} is more than {@link #maxRemoteAheadMillis()}
   *     ahead of {@code physicalMillis}; the clock is left unchanged
   */
  public Hlc update(Hlc remote, long physicalMillis) {
    Check.notNull(remote, "remote");
    Check.argument(physicalMillis >= 0, "physicalMillis %s < 0", physicalMillis);
    if (remote.physicalMillis() - physicalMillis > maxRemoteAheadMillis) {
      throw new ClockDriftException(remote, physicalMillis, maxRemoteAheadMillis);
    }
    long physical =
        Math.max(physicalMillis, Math.max(last.physicalMillis(), remote.physicalMillis()));
    int base;
    if (physical == last.physicalMillis() && physical == remote.physicalMillis()) {
      base = Math.max(last.logical(), remote.logical());
    } else if (physical == last.physicalMillis()) {
      base = last.logical();
    } else if (physical == remote.physicalMillis()) {
      base = remote.logical();
    } else {
      return issue(new Hlc(physical, 0));
    }
    return issue(successor(physical, base));
  }

  /** The last timestamp issued (or the one this clock resumed after). */
  public Hlc last() {
    return last;
  }

  /** How far ahead of local physical time a remote timestamp may be before it is refused. */
  public long maxRemoteAheadMillis() {
    return maxRemoteAheadMillis;
  }

  /** The binary form described in the class comment. */
  public byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(FORMAT_VERSION);
    last.writeTo(writer);
    return writer.writeVarLong(maxRemoteAheadMillis).toByteArray();
  }

  /** Decodes {@link #toBytes()}. */
  public static HybridLogicalClock fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "HybridLogicalClock");
    Hlc last = Hlc.readFrom(reader);
    long bound = reader.readVarLong();
    reader.finish();
    return new HybridLogicalClock(last, bound);
  }

  private static Hlc successor(long physicalMillis, int logical) {
    return logical == Integer.MAX_VALUE
        ? new Hlc(physicalMillis + 1, 0)
        : new Hlc(physicalMillis, logical + 1);
  }

  private Hlc issue(Hlc next) {
    Check.state(next.isAfter(last), "HLC would go backwards: %s after %s", next, last);
    last = next;
    return next;
  }
}
