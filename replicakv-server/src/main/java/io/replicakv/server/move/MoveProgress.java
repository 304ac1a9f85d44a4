package io.replicakv.server.move;

import io.replicakv.core.ring.Slots;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.function.LongSupplier;

/**
 * The progress of the move this node runs as a source, for CLUSTER MOVEPROGRESS, /admin/cluster,
 * /metrics and the CLI's progress bar.
 *
 * <p>Model. A move's size is fixed when its copy starts: the keys and data bytes (key length plus
 * {@link io.replicakv.storage.data.Value#dataBytes}) that the storage's per-slot counters hold in
 * the moving slots, summed over every keyspace, in O(keyspaces in use x slots) with no walk over
 * keys. The copy then sends every key of those slots once; each acknowledged batch adds its keys
 * and the same data bytes of what it carried, so copied/planned is the copy's fraction done, in one
 * unit on both sides. Wire bytes (frames, encodings) are counted apart. Keys re-sent by the
 * catch-up rounds count as delta, not as copy progress, since the plan did not include them.
 *
 * <p>Writes continue during the copy, so a slot may hold more at the end than at the start: copied
 * can pass planned, and readers clamp the fraction to 1. A copy that restarts (the change feed was
 * trimmed) takes its plan again and starts from zero: the fraction falls, which is the truth.
 *
 * <p>Threading. The node loop writes (through {@link KeyMover}); any thread reads {@link
 * #snapshot}, which returns an immutable view published through one volatile field.
 */
public final class MoveProgress {
  /** How far back the copy rate looks for the ETA. */
  static final long RATE_WINDOW_NANOS = 5_000_000_000L;

  /** Rate samples kept (one per acknowledged batch, older ones dropped first). */
  static final int RATE_SAMPLES_MAX = 256;

  /** Where the source's move stands; the names are what CLUSTER MOVEPROGRESS prints. */
  public enum Phase {
    IDLE,
    COPY,
    DELTA,
    FENCED,
    /** The handover is recorded in metadata; the targets serve the slots until the flip. */
    HANDED_OVER,
    DELETING;

    /** Lower-case name, as printed. */
    public String text() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * What the move stands at.
   *
   * @param member the joining or leaving member whose move this is; empty when idle
   * @param targets the nodes this one sends to
   * @param plannedKeys keys in the moving slots when the copy started
   * @param plannedBytes their data bytes
   * @param copiedKeys keys the copy sent and the targets acknowledged
   * @param copiedBytes their data bytes
   * @param deltaKeys keys re-sent by catch-up rounds (written during the copy)
   * @param wireBytes encoded batch bytes sent, copy and delta
   * @param copyRestarts times the copy started again from zero
   * @param copyBytesPerSecond copy rate over the last seconds; NaN while unknown
   * @param lastMember member of the move this node finished or cancelled last; empty if none
   * @param lastResult "done" or "cancelled"; empty if none
   */
  public record Snapshot(
      String member,
      List<String> targets,
      Phase phase,
      long plannedKeys,
      long plannedBytes,
      long copiedKeys,
      long copiedBytes,
      long deltaKeys,
      long wireBytes,
      long copyRestarts,
      long throttleBytesPerSecond,
      double copyBytesPerSecond,
      String lastMember,
      String lastResult) {

    /** Copy bytes still to send (0 once past the copy phase). */
    public long remainingBytes() {
      if (phase != Phase.COPY) {
        return 0;
      }
      return Math.max(0, plannedBytes - copiedBytes);
    }

    /** Seconds left of the copy at the recent rate; 0 past the copy, -1 unknown. */
    public long etaSeconds() {
      if (phase == Phase.IDLE) {
        return 0;
      }
      return RateWindow.etaSeconds(remainingBytes(), copyBytesPerSecond);
    }
  }

  private final long throttleBytesPerSecond;
  private final LongSupplier nanoClock;
  private volatile Snapshot current;

  // node loop only
  private RateWindow rate = new RateWindow(RATE_WINDOW_NANOS, RATE_SAMPLES_MAX);

  /**
   * @param throttleBytesPerSecond the mover's throttle, reported as is (0 is unlimited)
   * @param nanoClock monotonic nanoseconds, for the rate
   */
  public MoveProgress(long throttleBytesPerSecond, LongSupplier nanoClock) {
    this.throttleBytesPerSecond = throttleBytesPerSecond;
    this.nanoClock = nanoClock;
    this.current =
        new Snapshot(
            "",
            List.of(),
            Phase.IDLE,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            throttleBytesPerSecond,
            Double.NaN,
            "",
            "");
  }

  /** The latest state (any thread). */
  public Snapshot snapshot() {
    return current;
  }

  /** An outgoing move for {@code member} to {@code targets} begins; its copy starts later. */
  public void start(String member, Collection<String> targets) {
    Snapshot s = current;
    rate = new RateWindow(RATE_WINDOW_NANOS, RATE_SAMPLES_MAX);
    current =
        new Snapshot(
            member,
            List.copyOf(new TreeSet<>(targets)),
            Phase.COPY,
            0,
            0,
            0,
            0,
            0,
            0,
            -1,
            throttleBytesPerSecond,
            Double.NaN,
            s.lastMember(),
            s.lastResult());
  }

  /**
   * The copy starts (or starts again): its size is taken from the slot counters now, for the slots
   * whose entry in {@code targetBySlot} is not null.
   */
  public void copyStarted(MemoryState state, String[] targetBySlot) {
    long[] planned = plannedFromCounters(state, targetBySlot);
    Snapshot s = current;
    rate = new RateWindow(RATE_WINDOW_NANOS, RATE_SAMPLES_MAX);
    rate.add(nanoClock.getAsLong(), 0);
    current =
        new Snapshot(
            s.member(),
            s.targets(),
            Phase.COPY,
            planned[0],
            planned[1],
            0,
            0,
            s.deltaKeys(),
            s.wireBytes(),
            s.copyRestarts() + 1,
            throttleBytesPerSecond,
            Double.NaN,
            s.lastMember(),
            s.lastResult());
  }

  /** The move entered {@code phase} (delta, fenced or deleting). */
  public void phase(Phase phase) {
    Snapshot s = current;
    current =
        new Snapshot(
            s.member(),
            s.targets(),
            phase,
            s.plannedKeys(),
            s.plannedBytes(),
            s.copiedKeys(),
            s.copiedBytes(),
            s.deltaKeys(),
            s.wireBytes(),
            s.copyRestarts(),
            throttleBytesPerSecond,
            s.copyBytesPerSecond(),
            s.lastMember(),
            s.lastResult());
  }

  /**
   * The targets acknowledged batches holding {@code keys} keys; {@code batches} are the mutations
   * they carried and {@code wireBytes} their encoded size.
   */
  public void onBatchesAcknowledged(
      long keys, Collection<? extends List<Mutation>> batches, long wireBytes) {
    Snapshot s = current;
    long dataBytes = 0;
    for (List<Mutation> batch : batches) {
      dataBytes += dataBytes(batch);
    }
    boolean copy = s.phase() == Phase.COPY;
    long copiedBytes = s.copiedBytes() + (copy ? dataBytes : 0);
    double perSecond = s.copyBytesPerSecond();
    if (copy) {
      rate.add(nanoClock.getAsLong(), copiedBytes);
      perSecond = rate.perSecond();
    }
    current =
        new Snapshot(
            s.member(),
            s.targets(),
            s.phase(),
            s.plannedKeys(),
            s.plannedBytes(),
            s.copiedKeys() + (copy ? keys : 0),
            copiedBytes,
            s.deltaKeys() + (copy ? 0 : keys),
            s.wireBytes() + wireBytes,
            s.copyRestarts(),
            throttleBytesPerSecond,
            perSecond,
            s.lastMember(),
            s.lastResult());
  }

  /** The move ended: {@code done} after its keys were deleted here, else cancelled. */
  public void finish(boolean done) {
    Snapshot s = current;
    current =
        new Snapshot(
            "",
            List.of(),
            Phase.IDLE,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            throttleBytesPerSecond,
            Double.NaN,
            s.member(),
            done ? "done" : "cancelled");
  }

  /**
   * Keys and data bytes the slot counters hold, over every keyspace, in the slots whose entry of
   * {@code slots} is not null: {@code {keys, bytes}}.
   */
  static long[] plannedFromCounters(MemoryState state, Object[] slots) {
    long keys = 0;
    long bytes = 0;
    for (int ks = 0; ks < state.keyspaceCount(); ks++) {
      if (state.isEmpty(ks)) {
        continue;
      }
      for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
        if (slots[slot] != null) {
          keys += state.keysInSlot(ks, slot);
          bytes += state.bytesInSlot(ks, slot);
        }
      }
    }
    return new long[] {keys, bytes};
  }

  /**
   * Data bytes a batch carries, in the unit of the slot counters: key plus string, hash fields and
   * values, or set members; deletes and expiries carry none.
   */
  static long dataBytes(List<Mutation> batch) {
    long total = 0;
    for (Mutation m : batch) {
      total += dataBytes(m);
    }
    return total;
  }

  private static long dataBytes(Mutation m) {
    return switch (m) {
      case Mutation.StringSet s -> s.key().length + (long) s.value().length;
      case Mutation.HashSet h -> h.key().length + lengths(h.fieldsAndValues());
      case Mutation.SetAdd s -> s.key().length + lengths(s.members());
      case Mutation.Batch b -> dataBytes(b.parts());
      case Mutation.Delete d -> 0;
      case Mutation.Expire e -> 0;
      case Mutation.HashDelete h -> 0;
      case Mutation.SetRemove s -> 0;
      case Mutation.Rename r -> 0;
      case Mutation.FlushKeyspace f -> 0;
      case Mutation.FlushAll f -> 0;
    };
  }

  private static long lengths(List<byte[]> parts) {
    long total = 0;
    for (byte[] part : parts) {
      total += part.length;
    }
    return total;
  }

  /** CLUSTER MOVEPROGRESS's lines about this node's move: "field:value", as CLUSTER INFO. */
  public static String render(String nodeId, Snapshot s) {
    double perSecond = s.copyBytesPerSecond();
    return "node:"
        + nodeId
        + "\r\nmember:"
        + s.member()
        + "\r\nphase:"
        + s.phase().text()
        + "\r\ntargets:"
        + String.join(",", s.targets())
        + "\r\nplanned_keys:"
        + s.plannedKeys()
        + "\r\nplanned_bytes:"
        + s.plannedBytes()
        + "\r\ncopied_keys:"
        + s.copiedKeys()
        + "\r\ncopied_bytes:"
        + s.copiedBytes()
        + "\r\ndelta_keys:"
        + s.deltaKeys()
        + "\r\nwire_bytes:"
        + s.wireBytes()
        + "\r\ncopy_restarts:"
        + Math.max(0, s.copyRestarts())
        + "\r\nthrottle_bytes_per_sec:"
        + s.throttleBytesPerSecond()
        + "\r\ncopy_bytes_per_sec:"
        + (Double.isNaN(perSecond) ? -1 : Math.round(perSecond))
        + "\r\neta_seconds:"
        + s.etaSeconds()
        + "\r\nlast_member:"
        + s.lastMember()
        + "\r\nlast_result:"
        + s.lastResult()
        + "\r\n";
  }

  /** A byte count for people: "812 B", "3.1 KiB", "1.2 MiB", "4.0 GiB". */
  public static String formatBytes(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = bytes;
    int unit = -1;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    if (value >= 1023.95 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
  }
}
