package io.replicakv.sim;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The session guarantees of Terry et al. ("Session guarantees for weakly consistent replicated
 * data", 1994), checked per client over acknowledged ops, with real time standing in for the
 * version order: a value is older than a write {@code w} when the write that produced it finished
 * before {@code w} began. Sound for any store whose acknowledged writes are ordered consistently
 * with real time; a store that orders writes otherwise (clock-skewed LWW) is flagged, rightly.
 *
 * <ul>
 *   <li>{@link Guarantee#READ_YOUR_WRITES}: a read returns the session's own latest acknowledged
 *       write to that key, or something newer.
 *   <li>{@link Guarantee#MONOTONIC_READS}: a read never returns something older than what an
 *       earlier read of the session returned for that key.
 *   <li>{@link Guarantee#CONSISTENT_PREFIX}: once a session has read a write {@code o} on one key,
 *       its reads of any other key reflect every write to that key that finished before {@code o}
 *       began (the session sees a prefix of history, never a later write without an earlier one).
 * </ul>
 */
public final class SessionChecker implements Checker {
  /** Which guarantee to check. */
  public enum Guarantee {
    READ_YOUR_WRITES,
    MONOTONIC_READS,
    CONSISTENT_PREFIX
  }

  private final Guarantee guarantee;

  /** A checker for one guarantee. */
  public SessionChecker(Guarantee guarantee) {
    this.guarantee = guarantee;
  }

  @Override
  public CheckResult check(Observation observation) {
    Writes writes = new Writes(observation.ops());
    Map<Long, List<Op>> bySession = new TreeMap<>();
    for (Op op : observation.ops()) {
      if (op.status() == Op.Status.OK) {
        bySession.computeIfAbsent(op.clientId(), id -> new ArrayList<>()).add(op);
      }
    }
    Map<String, List<Op>> acknowledgedWritesByKey = new HashMap<>();
    for (Op op : observation.ops()) {
      if (op.kind() == Op.Kind.WRITE && op.status() == Op.Status.OK) {
        acknowledgedWritesByKey.computeIfAbsent(op.key(), key -> new ArrayList<>()).add(op);
      }
    }
    List<String> problems = new ArrayList<>();
    for (List<Op> session : bySession.values()) {
      session.sort(Comparator.comparingLong(Op::invokeAt));
      switch (guarantee) {
        case READ_YOUR_WRITES -> readYourWrites(session, writes, problems);
        case MONOTONIC_READS -> monotonicReads(session, writes, problems);
        case CONSISTENT_PREFIX ->
            consistentPrefix(session, writes, acknowledgedWritesByKey, problems);
      }
    }
    return CheckResult.of(
        guarantee.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '), problems);
  }

  private static void readYourWrites(List<Op> session, Writes writes, List<String> problems) {
    Map<String, Op> lastOwnWrite = new HashMap<>();
    for (Op op : session) {
      if (op.kind() == Op.Kind.WRITE) {
        lastOwnWrite.put(op.key(), op);
      } else {
        Op own = lastOwnWrite.get(op.key());
        if (own != null && writes.staleAgainst(op.key(), op.read(), own)) {
          problems.add(op.describe() + " misses the session's own " + own.describe());
        }
      }
    }
  }

  private static void monotonicReads(List<Op> session, Writes writes, List<String> problems) {
    Map<String, List<Op>> observed = new HashMap<>();
    for (Op op : session) {
      if (op.kind() != Op.Kind.READ) {
        continue;
      }
      List<Op> earlier = observed.computeIfAbsent(op.key(), key -> new ArrayList<>());
      for (Op seen : earlier) {
        if (writes.staleAgainst(op.key(), op.read(), seen)) {
          problems.add(op.describe() + " is older than an earlier read of " + seen.describe());
          break;
        }
      }
      for (String value : op.read()) {
        Op writer = writes.writerOf(op.key(), value);
        if (writer != null) {
          earlier.add(writer);
        }
      }
    }
  }

  private static void consistentPrefix(
      List<Op> session, Writes writes, Map<String, List<Op>> writesByKey, List<String> problems) {
    Map<String, Op> latestObservedPerKey = new HashMap<>();
    for (Op op : session) {
      if (op.kind() != Op.Kind.READ) {
        continue;
      }
      for (Map.Entry<String, Op> observed : latestObservedPerKey.entrySet()) {
        if (observed.getKey().equals(op.key())) {
          continue;
        }
        Op required =
            latestFinishedBefore(
                writesByKey.getOrDefault(op.key(), List.of()), observed.getValue());
        if (required != null && writes.staleAgainst(op.key(), op.read(), required)) {
          problems.add(
              op.describe()
                  + " misses "
                  + required.describe()
                  + " though the session saw the later "
                  + observed.getValue().describe());
          break;
        }
      }
      for (String value : op.read()) {
        Op writer = writes.writerOf(op.key(), value);
        Op previous = latestObservedPerKey.get(op.key());
        if (writer != null && (previous == null || writer.invokeAt() > previous.invokeAt())) {
          latestObservedPerKey.put(op.key(), writer);
        }
      }
    }
  }

  /** Of the writes that finished before {@code observed} began, the one that began last. */
  private static Op latestFinishedBefore(List<Op> keyWrites, Op observed) {
    Op latest = null;
    for (Op write : keyWrites) {
      if (write.precedes(observed) && (latest == null || write.invokeAt() > latest.invokeAt())) {
        latest = write;
      }
    }
    return latest;
  }
}
