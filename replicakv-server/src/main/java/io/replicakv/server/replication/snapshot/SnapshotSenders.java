package io.replicakv.server.replication.snapshot;

import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongFunction;

/**
 * A leader node's partition snapshot transfers: at most one per (keyspace, partition, follower),
 * started when that partition's replica asks for one ({@code SnapshotNeeded} in its Ready) and none
 * runs, dropped when it ends. A failed transfer is not retried here: the replica repeats {@code
 * SnapshotNeeded} while the follower still needs one, and that starts a fresh transfer, at the
 * commit point of that moment and with a new id. Keeps the totals {@code /metrics} shows.
 *
 * <p>Node loop only; time is the caller's.
 */
public final class SnapshotSenders implements AutoCloseable {
  /** Transfers running at once on one node, at most; more requests wait for the next ask. */
  public static final int RUNNING_MAX = 64;

  /** Who a transfer is for. */
  public record Target(int keyspace, int partition, int follower) {}

  /** Totals for metrics: keys and bytes sent by every transfer, and the outcomes. */
  public record Totals(
      long keysSent,
      long bytesSent,
      long keysTotalMax,
      long transfersStarted,
      long transfersDone,
      long transfersFailed,
      int running) {}

  private final Map<Target, SnapshotSender> running = new LinkedHashMap<>();
  private final List<String> recentFailures = new ArrayList<>();
  private long nextTransferId;
  private long keysSentFinished;
  private long bytesSentFinished;
  private long started;
  private long done;
  private long failed;

  /**
   * @param firstTransferId the first id to hand out; a node takes a base that differs per start
   *     (for example its incarnation shifted left by 32) so that ids do not repeat across restarts
   */
  public SnapshotSenders(long firstTransferId) {
    this.nextTransferId = firstTransferId;
  }

  /**
   * The replica asked for a snapshot for {@code target}: starts one with {@code start} (given the
   * transfer id; it opens the storage snapshot at the replica's commit point and returns the
   * sender) unless one runs already or {@link #RUNNING_MAX} do. Returns whether it started one.
   */
  public boolean onSnapshotNeeded(
      Target target, LongFunction<SnapshotSender> start, long nowMillis) {
    if (running.containsKey(target) || running.size() >= RUNNING_MAX) {
      return false;
    }
    SnapshotSender sender = Check.notNull(start.apply(nextTransferId++), "sender");
    running.put(target, sender);
    started++;
    sender.pump(nowMillis);
    return true;
  }

  /** Routes a follower's Ack to its transfer and sends what the window then allows. */
  public void onAck(int follower, SnapshotFrame.Ack ack, long nowMillis) {
    SnapshotSender sender = running.get(new Target(ack.keyspace(), ack.partition(), follower));
    if (sender != null) {
      sender.onAck(ack, nowMillis);
      sender.pump(nowMillis);
    }
    reap();
  }

  /** Fails every transfer to {@code follower} (its connection broke). */
  public void followerUnreachable(int follower, String reason) {
    running.forEach(
        (target, sender) -> {
          if (target.follower() == follower) {
            sender.fail(reason);
          }
        });
    reap();
  }

  /** Timeouts, then one pump of every running transfer. */
  public void onTimer(long nowMillis) {
    for (SnapshotSender sender : running.values()) {
      sender.onTimer(nowMillis);
      sender.pump(nowMillis);
    }
    reap();
  }

  private void reap() {
    Iterator<Map.Entry<Target, SnapshotSender>> entries = running.entrySet().iterator();
    while (entries.hasNext()) {
      Map.Entry<Target, SnapshotSender> entry = entries.next();
      SnapshotSender.Progress progress = entry.getValue().progress();
      if (progress.status() == SnapshotSender.Status.RUNNING) {
        continue;
      }
      entries.remove();
      keysSentFinished += progress.keysSent();
      bytesSentFinished += progress.bytesSent();
      if (progress.status() == SnapshotSender.Status.DONE) {
        done++;
      } else {
        failed++;
        if (recentFailures.size() == 16) {
          recentFailures.removeFirst();
        }
        recentFailures.add(entry.getKey() + ": " + progress.failure());
      }
    }
  }

  /** The running transfer for {@code target}, or null. */
  public SnapshotSender running(Target target) {
    return running.get(target);
  }

  /** The last few failures, oldest first, with their targets: the "why" for logs and admin. */
  public List<String> recentFailures() {
    return List.copyOf(recentFailures);
  }

  /** Totals over finished and running transfers. */
  public Totals totals() {
    long keys = keysSentFinished;
    long bytes = bytesSentFinished;
    long keysTotalMax = 0;
    for (SnapshotSender sender : running.values()) {
      SnapshotSender.Progress progress = sender.progress();
      keys += progress.keysSent();
      bytes += progress.bytesSent();
      keysTotalMax = Math.max(keysTotalMax, progress.keysTotalAtMost());
    }
    return new Totals(keys, bytes, keysTotalMax, started, done, failed, running.size());
  }

  /** Stops every running transfer and frees its storage snapshot. */
  @Override
  public void close() {
    running.values().forEach(SnapshotSender::close);
    reap();
  }
}
