package io.replicakv.core.multi;

import io.replicakv.core.util.Check;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Conflict and replication counters of one site for one multi-leader keyspace, and the bounded
 * window of writes last-writer-wins discarded (LESSONS.md 2 and 3: every lossy event is counted and
 * its keys are listable).
 *
 * <p>Counter names follow the metrics page: {@code multi_<what>_total}; each {@link #counters()}
 * key carries the strategy as a label, e.g. {@code multi_concurrent_writes_total{strategy="lww"}}.
 * Counters are recomputed on restart by replaying the site's log, so they survive crashes.
 */
public final class ConflictMetrics {
  /** Discarded writes kept for listing; older ones leave the window but stay counted. */
  public static final int LOST_WRITES_WINDOW_MAX = 10_000;

  /** A change arrived while live versions it had not seen existed. */
  public static final String CONCURRENT_WRITES = "multi_concurrent_writes_total";

  /** Last-writer-wins discarded a concurrent write. */
  public static final String LWW_OVERWRITES = "multi_lww_overwrites_total";

  /** A key went from one live value to several (siblings). */
  public static final String SIBLINGS_CREATED = "multi_siblings_created_total";

  /** Two concurrent CRDT states were joined. */
  public static final String CRDT_JOINS = "multi_crdt_joins_total";

  /** Concurrent CRDT states of different types; the higher type tag won. */
  public static final String CRDT_TYPE_CONFLICTS = "multi_crdt_type_conflicts_total";

  /** A change waited in the causal buffer for a change it depends on. */
  public static final String CAUSAL_BUFFERED = "multi_causal_buffered_total";

  /** A change was refused because the causal buffer was full; the sender resends it later. */
  public static final String CAUSAL_BUFFER_FULL = "multi_causal_buffer_full_total";

  /** A change arrived that was already applied (retransmission or a second path). */
  public static final String DUPLICATES = "multi_duplicate_changes_total";

  /** A change arrived back at a site on its own path: a forwarding loop (must stay 0). */
  public static final String LOOPED = "multi_looped_changes_total";

  /** A remote timestamp ran too far ahead of the local clock to be merged into the HLC. */
  public static final String CLOCK_DRIFT_REFUSALS = "multi_clock_drift_refusals_total";

  /**
   * A write under a lock carried a fencing token not above the one of the write it overwrites: a
   * stale lock holder. Its value is discarded (and listed as a lost write); must stay 0.
   */
  public static final String FENCING_REFUSALS = "multi_fencing_refusals_total";

  /** A local write was refused (too many siblings, lock site unreachable, ...). */
  public static final String WRITES_REFUSED = "multi_writes_refused_total";

  /** A link fell behind the retained log and a full-state catch-up of the keyspace started. */
  public static final String CATCH_UPS_STARTED = "multi_catch_ups_started_total";

  /** Catch-ups this site sent that the downstream site joined into its state. */
  public static final String CATCH_UPS_SENT = "multi_catch_ups_sent_total";

  /** Catch-ups this site received and joined into its state. */
  public static final String CATCH_UPS_RECEIVED = "multi_catch_ups_received_total";

  /** Key states sent in catch-up pages (resends included). */
  public static final String CATCH_UP_KEYS_SENT = "multi_catch_up_keys_sent_total";

  /** Key states joined from received catch-ups. */
  public static final String CATCH_UP_KEYS_RECEIVED = "multi_catch_up_keys_received_total";

  /**
   * Log entries dropped by the retention bound before every downstream site acknowledged them (the
   * sites that lacked them get a catch-up instead).
   */
  public static final String LOG_DROPPED_UNACKNOWLEDGED = "multi_log_dropped_unacknowledged_total";

  private final String strategy;
  private final TreeMap<String, Long> counters = new TreeMap<>();
  private final Deque<LostWrite> lostWrites = new ArrayDeque<>();

  /** Counters labelled with {@code strategy}. */
  public ConflictMetrics(String strategy) {
    this.strategy = Check.notNull(strategy, "strategy");
  }

  /** Adds one to {@code name}. */
  public void increment(String name) {
    counters.merge(name, 1L, Math::addExact);
  }

  /** Adds {@code delta} to {@code name}. */
  public void add(String name, long delta) {
    Check.argument(delta >= 0, "counter %s moves back by %s", name, delta);
    counters.merge(name, delta, Math::addExact);
  }

  /** Counts a write discarded by last-writer-wins and keeps it in the window. */
  public void lostWrite(LostWrite lost) {
    increment(LWW_OVERWRITES);
    if (lostWrites.size() == LOST_WRITES_WINDOW_MAX) {
      lostWrites.removeFirst();
    }
    lostWrites.addLast(lost);
  }

  /** The value of one counter, 0 if never incremented. */
  public long get(String name) {
    return counters.getOrDefault(name, 0L);
  }

  /** Every counter, keyed {@code name{strategy="..."}}. */
  public SortedMap<String, Long> counters() {
    TreeMap<String, Long> labelled = new TreeMap<>();
    counters.forEach(
        (name, value) -> labelled.put(name + "{strategy=\"" + strategy + "\"}", value));
    return Collections.unmodifiableSortedMap(labelled);
  }

  /** The most recent discarded writes, oldest first, at most {@link #LOST_WRITES_WINDOW_MAX}. */
  public List<LostWrite> lostWrites() {
    return List.copyOf(lostWrites);
  }
}
