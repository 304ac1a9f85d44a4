package io.replicakv.server.replication;

import io.replicakv.core.util.Check;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Commands on replicated keys that met a leader change and wait, in order, for a leader that can
 * serve them, instead of getting {@code -TRYAGAIN} at once.
 *
 * <p><b>Why.</b> A leader change is short when it is planned (a switchover, the return of a
 * preferred leader: the old leader drains, the new one is granted a lease and commits its epoch's
 * first entry, well under a second) and a few seconds when it is not (an election after the
 * failover timeout). Redis clients treat {@code -TRYAGAIN} as an error the application sees; a
 * command that waits a bounded time and then runs on the new leader (here, or forwarded to it)
 * turns most such changes into latency. The wait is bounded ({@code replication-hold-ms}, shorter
 * than client and forwarding timeouts); past it the command gets the refusal it met, exactly as
 * without holding. Nothing held has run: a command is held only on a refusal checked before it
 * runs, so a held write is never applied twice.
 *
 * <p><b>Order.</b> Commands wait per replica group in arrival order; a command of a group with
 * commands waiting queues behind them even when its group could serve it, and each turn releases a
 * group's queue from its head only while the head runs (a head that is still refused stops the
 * group's turn). So writes to one key from one connection keep their order. Commands of different
 * groups may overtake each other, as commands on different nodes of a Redis Cluster do.
 *
 * <p><b>Bounds.</b> At most {@link #HELD_MAX} commands wait on a node; past it a command gets its
 * refusal at once. Loop thread only.
 */
public final class HeldCommands {
  /** Commands waiting on one node, at most; more are refused at once. */
  public static final int HELD_MAX = 10_000;

  /** What a released command's attempt came to. */
  public enum Outcome {
    /** Refused again for a reason worth waiting out: it did not run and stays at the head. */
    WAITS,
    /** It ran (here or forwarded to the leader). */
    RAN,
    /** Its wait was over and it was answered with the refusal it met. */
    REFUSED
  }

  /** What the caller does with a released command. */
  public interface Attempt {
    /**
     * Runs the command again. {@code last} is true once its wait is over: it must then run or
     * answer its refusal (never {@link Outcome#WAITS}).
     */
    Outcome run(boolean last);
  }

  private record Held(long deadlineNanos, Attempt attempt) {}

  private final Map<Long, ArrayDeque<Held>> byGroup = new LinkedHashMap<>();
  private final LongSupplier nanoTime;
  private int size;
  private long heldTotal;
  private long expiredTotal;

  public HeldCommands(LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
  }

  /** The queue key of a group: keyspace and group id. */
  public static long key(int keyspace, int group) {
    return ((long) keyspace << 32) | (group & 0xffffffffL);
  }

  /** Whether commands of this group are waiting (a new one must queue behind them). */
  public boolean waiting(long group) {
    return byGroup.containsKey(group);
  }

  /** Whether one more command may wait. */
  public boolean hasRoom() {
    return size < HELD_MAX;
  }

  /** Queues a command of {@code group} for up to {@code holdMillis}. */
  public void hold(long group, long holdMillis, Attempt attempt) {
    Check.state(size < HELD_MAX, "%s commands held", size);
    byGroup
        .computeIfAbsent(group, g -> new ArrayDeque<>())
        .addLast(new Held(nanoTime.getAsLong() + holdMillis * 1_000_000L, attempt));
    size++;
    heldTotal++;
  }

  /** Releases what can run now, per group from its head; called every replication tick. */
  public void release() {
    if (size == 0) {
      return;
    }
    long now = nanoTime.getAsLong();
    for (Iterator<Map.Entry<Long, ArrayDeque<Held>>> it = byGroup.entrySet().iterator();
        it.hasNext(); ) {
      ArrayDeque<Held> queue = it.next().getValue();
      while (!queue.isEmpty()) {
        Held head = queue.peekFirst();
        boolean last = now - head.deadlineNanos() >= 0;
        Outcome outcome = head.attempt().run(last);
        if (outcome == Outcome.WAITS) {
          Check.state(!last, "a held command's last attempt must answer");
          break;
        }
        queue.pollFirst();
        size--;
        if (outcome == Outcome.REFUSED) {
          expiredTotal++;
        }
      }
      if (queue.isEmpty()) {
        it.remove();
      }
    }
  }

  /** Commands waiting now. */
  public int size() {
    return size;
  }

  /** Commands that waited, since start. */
  public long heldTotal() {
    return heldTotal;
  }

  /** Commands whose wait ran out and that got their refusal, since start. */
  public long expiredTotal() {
    return expiredTotal;
  }
}
