package io.replicakv.sim;

import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Checks that each key behaves as a linearizable read/write register (Herlihy and Wing), with the
 * search of Wing and Gong as improved by Lowe ("Testing for linearizability", 2017): memoise every
 * (set of linearized ops, register value) configuration already explored, so equivalent
 * interleavings are explored once. Keys are checked separately, which is sound because
 * linearizability is compositional (local).
 *
 * <p>Model. A history is a set of ops with invoke and completion times; it is linearizable when the
 * ops can be put in one order that respects real time (an op that completed before another began
 * comes first) in which every read returns the value of the latest write before it (no value before
 * the first write). An op with an unknown outcome may take effect at any point after its invocation
 * or not at all: an unknown write gets an infinite completion time (it can always be placed last,
 * where it changes nothing), an unknown read is dropped (it returned nothing to explain), and a
 * failed op is dropped (it certainly had no effect).
 *
 * <p>Search. Call and return entries sit in one time-ordered doubly linked list. Scanning from the
 * head, the search tries to linearize the op at each call entry (lifting its call and return out of
 * the list); reaching a return entry means that op's deadline passed unlinearized, so it backtracks
 * to the last choice. The history is linearizable when the list empties and not when backtracking
 * runs out of choices. Worst case is exponential, hence two budgets: explored states (memory) and
 * wall-clock time; exceeding either gives {@link CheckResult.Verdict#UNKNOWN}, never a false
 * verdict.
 *
 * <p>Report. On a violation the checker shrinks the history to a small window that is still not
 * linearizable: the shortest prefix (ops invoked by some instant, ops still open then treated as
 * unknown), then drops reads, then writes no remaining read observed. Each removal keeps the window
 * a sound witness: removing a read only removes a constraint, and removing a write whose (unique)
 * value nobody read cannot make a linearizable history non-linearizable.
 */
public final class LinearizabilityChecker implements Checker {
  /** Memoised configurations kept before giving up as unknown; about 100 bytes each. */
  static final long STATES_MAX_DEFAULT = 2_000_000;

  /** Wall-clock search time per check before giving up as unknown. */
  static final long TIME_BUDGET_MILLIS_DEFAULT = 20_000;

  /** Searches the shrinking of a failing window may run. */
  static final int SHRINK_SEARCHES_MAX = 300;

  /** Ops one key may have; the bitset memo grows with it. */
  static final int OPS_PER_KEY_MAX = 100_000;

  private enum Outcome {
    LINEARIZABLE,
    VIOLATION,
    BUDGET_EXCEEDED
  }

  /** An op as the search sees it: value is what a write wrote or what a read returned. */
  private record SearchOp(Op op, boolean write, String value, long invokeAt, long completeAt) {
    SearchOp pendingFrom() {
      return new SearchOp(op, write, value, invokeAt, Op.NEVER);
    }
  }

  private record Configuration(BitSet linearized, String value) {}

  private final long statesMax;
  private final long timeBudgetMillis;
  private long deadlineNanos;

  /** A checker with explicit budgets. */
  public LinearizabilityChecker(long statesMax, long timeBudgetMillis) {
    Check.argument(
        statesMax > 0 && timeBudgetMillis > 0, "budgets %s/%s", statesMax, timeBudgetMillis);
    this.statesMax = statesMax;
    this.timeBudgetMillis = timeBudgetMillis;
  }

  /** A checker with {@link #STATES_MAX_DEFAULT} and {@link #TIME_BUDGET_MILLIS_DEFAULT}. */
  public static LinearizabilityChecker withDefaults() {
    return new LinearizabilityChecker(STATES_MAX_DEFAULT, TIME_BUDGET_MILLIS_DEFAULT);
  }

  @Override
  public CheckResult check(Observation observation) {
    deadlineNanos = System.nanoTime() + timeBudgetMillis * 1_000_000;
    Map<String, List<SearchOp>> byKey = new TreeMap<>();
    List<String> problems = new ArrayList<>();
    List<String> unknown = new ArrayList<>();
    for (Op op : observation.ops()) {
      if (op.status() == Op.Status.FAIL
          || (op.kind() == Op.Kind.READ && op.status() == Op.Status.INFO)) {
        continue;
      }
      if (op.kind() == Op.Kind.READ && op.read().size() > 1) {
        problems.add("key " + op.key() + ": a register read returned siblings: " + op.describe());
        continue;
      }
      String value =
          op.kind() == Op.Kind.WRITE
              ? op.written()
              : (op.read().isEmpty() ? null : op.read().get(0));
      byKey
          .computeIfAbsent(op.key(), key -> new ArrayList<>())
          .add(new SearchOp(op, op.kind() == Op.Kind.WRITE, value, op.invokeAt(), op.completeAt()));
    }
    for (Map.Entry<String, List<SearchOp>> key : byKey.entrySet()) {
      Check.argument(
          key.getValue().size() <= OPS_PER_KEY_MAX,
          "key %s has %s ops",
          key.getKey(),
          key.getValue().size());
      switch (search(key.getValue())) {
        case LINEARIZABLE -> {}
        case BUDGET_EXCEEDED ->
            unknown.add(
                "key "
                    + key.getKey()
                    + ": search budget exceeded ("
                    + statesMax
                    + " states, "
                    + timeBudgetMillis
                    + " ms) over "
                    + key.getValue().size()
                    + " ops");
        case VIOLATION -> problems.add(describeWindow(key.getKey(), shrink(key.getValue())));
      }
    }
    if (!problems.isEmpty()) {
      return CheckResult.of("linearizability", problems);
    }
    if (!unknown.isEmpty()) {
      return new CheckResult("linearizability", CheckResult.Verdict.UNKNOWN, unknown);
    }
    return CheckResult.of("linearizability", List.of());
  }

  /** The Wing–Gong–Lowe search over one key's ops. */
  private Outcome search(List<SearchOp> ops) {
    int n = ops.size();
    int head = 2 * n;
    int tail = 2 * n + 1;
    Integer[] order = new Integer[2 * n];
    for (int i = 0; i < 2 * n; i++) {
      order[i] = i;
    }
    // Entry e < n is the call of op e, entry n + e its return. Calls sort before returns at one
    // time, which treats touching ops as concurrent: the lenient reading.
    java.util.Arrays.sort(
        order,
        Comparator.<Integer>comparingLong(
                e -> e < n ? ops.get(e).invokeAt() : ops.get(e - n).completeAt())
            .thenComparingInt(e -> e < n ? 0 : 1)
            .thenComparingInt(e -> e));
    int[] next = new int[2 * n + 2];
    int[] prev = new int[2 * n + 2];
    int last = head;
    for (int e : order) {
      next[last] = e;
      prev[e] = last;
      last = e;
    }
    next[last] = tail;
    prev[tail] = last;

    BitSet linearized = new BitSet(n);
    Set<Configuration> seen = new HashSet<>();
    int[] stackEntry = new int[n];
    String[] stackValue = new String[n];
    int depth = 0;
    String value = null;
    long steps = 0;
    int entry = next[head];
    while (next[head] != tail) {
      if ((++steps & 1023) == 0 && System.nanoTime() > deadlineNanos) {
        return Outcome.BUDGET_EXCEEDED;
      }
      Check.state(entry != tail, "search ran off the end of the entry list");
      if (entry < n) {
        SearchOp op = ops.get(entry);
        boolean legal = op.write() || Objects.equals(op.value(), value);
        if (legal) {
          String after = op.write() ? op.value() : value;
          linearized.set(entry);
          if (seen.add(new Configuration((BitSet) linearized.clone(), after))) {
            if (seen.size() > statesMax) {
              return Outcome.BUDGET_EXCEEDED;
            }
            stackEntry[depth] = entry;
            stackValue[depth] = value;
            depth++;
            value = after;
            unlink(entry, next, prev);
            unlink(entry + n, next, prev);
            entry = next[head];
            continue;
          }
          linearized.clear(entry);
        }
        entry = next[entry];
      } else {
        if (depth == 0) {
          return Outcome.VIOLATION;
        }
        depth--;
        int call = stackEntry[depth];
        value = stackValue[depth];
        linearized.clear(call);
        relink(call + n, next, prev);
        relink(call, next, prev);
        entry = next[call];
      }
    }
    return Outcome.LINEARIZABLE;
  }

  private static void unlink(int entry, int[] next, int[] prev) {
    next[prev[entry]] = next[entry];
    prev[next[entry]] = prev[entry];
  }

  private static void relink(int entry, int[] next, int[] prev) {
    next[prev[entry]] = entry;
    prev[next[entry]] = entry;
  }

  /** A small sub-history that is still not linearizable (see the class comment). */
  private List<SearchOp> shrink(List<SearchOp> ops) {
    int[] budget = {SHRINK_SEARCHES_MAX};
    List<SearchOp> window = shortestFailingPrefix(ops, budget);
    for (int i = window.size() - 1; i >= 0 && budget[0] > 0; i--) {
      if (!window.get(i).write()) {
        window = withoutIfStillFailing(window, i, budget);
      }
    }
    for (int i = window.size() - 1; i >= 0 && budget[0] > 0; i--) {
      SearchOp op = window.get(i);
      if (op.write()
          && window.stream()
              .noneMatch(other -> !other.write() && op.value().equals(other.value()))) {
        window = withoutIfStillFailing(window, i, budget);
      }
    }
    return window;
  }

  private List<SearchOp> shortestFailingPrefix(List<SearchOp> ops, int[] budget) {
    TreeSet<Long> cutSet = new TreeSet<>();
    for (SearchOp op : ops) {
      if (op.completeAt() != Op.NEVER) {
        cutSet.add(op.completeAt());
      }
    }
    List<Long> cuts = new ArrayList<>(cutSet);
    int low = 0;
    int high = cuts.size() - 1;
    List<SearchOp> best = new ArrayList<>(ops);
    while (low <= high && budget[0] > 0) {
      int middle = (low + high) >>> 1;
      List<SearchOp> prefix = prefixAt(ops, cuts.get(middle));
      budget[0]--;
      if (search(prefix) == Outcome.VIOLATION) {
        best = prefix;
        high = middle - 1;
      } else {
        low = middle + 1;
      }
    }
    return best;
  }

  private static List<SearchOp> prefixAt(List<SearchOp> ops, long cut) {
    List<SearchOp> prefix = new ArrayList<>();
    for (SearchOp op : ops) {
      if (op.invokeAt() > cut) {
        continue;
      }
      if (op.completeAt() <= cut) {
        prefix.add(op);
      } else if (op.write()) {
        prefix.add(op.pendingFrom());
      }
    }
    return prefix;
  }

  private List<SearchOp> withoutIfStillFailing(List<SearchOp> window, int index, int[] budget) {
    List<SearchOp> smaller = new ArrayList<>(window);
    smaller.remove(index);
    budget[0]--;
    return search(smaller) == Outcome.VIOLATION ? smaller : window;
  }

  private static String describeWindow(String key, List<SearchOp> window) {
    StringBuilder text =
        new StringBuilder(
            "key "
                + key
                + ": not linearizable; smallest failing window found has "
                + window.size()
                + " ops:");
    window.stream()
        .sorted(Comparator.comparingLong(SearchOp::invokeAt))
        .forEach(
            op ->
                text.append("\n    ")
                    .append(op.op().describe())
                    .append(
                        op.completeAt() == Op.NEVER && op.op().completeAt() != Op.NEVER
                            ? " (open at cut)"
                            : ""));
    return text.toString();
  }
}
