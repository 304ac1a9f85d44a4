package io.replicakv.core;

import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.List;

/**
 * The outbox a replica fills while it steps and ticks, and the bookkeeping behind {@link
 * Replica#ready()} and {@link Replica#advance(Ready)}.
 *
 * <p>{@link #ready()} hands out everything pending; {@link #advance(Ready)} removes exactly what
 * that Ready contained (a prefix of each list, since new items are only appended), so items added
 * between the two calls are kept for the next Ready. Advancing with a Ready this buffer did not
 * produce is a caller bug and fails loudly. Each list is bounded by {@link #PENDING_ITEMS_MAX}: a
 * caller that stops draining must not turn into an out-of-memory error.
 */
public final class ReadyBuffer {
  /**
   * Items pending per list before the replica is considered wedged; the caller drains each step.
   */
  public static final int PENDING_ITEMS_MAX = 1_000_000;

  private final List<PersistRecord> records = new ArrayList<>();
  private final List<Envelope> messages = new ArrayList<>();
  private final List<ClientReply> replies = new ArrayList<>();
  private final List<CommittedEntry> committed = new ArrayList<>();
  private boolean syncBeforeSend;

  /** Queues a record; {@code sync} demands it be synced before any queued message leaves. */
  public void persist(PersistRecord record, boolean sync) {
    bounded(records.size());
    records.add(record);
    syncBeforeSend |= sync;
  }

  /** Queues a message to a peer. */
  public void send(PeerMessage message) {
    bounded(messages.size());
    messages.add(Envelope.of(message));
  }

  /** Queues a reply to a client. */
  public void reply(ClientReply reply) {
    bounded(replies.size());
    replies.add(reply);
  }

  /** Queues a newly committed entry. */
  public void commit(CommittedEntry entry) {
    bounded(committed.size());
    committed.add(entry);
  }

  /** Everything pending, or {@link Ready#EMPTY}. */
  public Ready ready() {
    if (records.isEmpty() && messages.isEmpty() && replies.isEmpty() && committed.isEmpty()) {
      return Ready.EMPTY;
    }
    return new Ready(records, syncBeforeSend && !records.isEmpty(), messages, replies, committed);
  }

  /** Drops what {@code done} contained; it must be a Ready this buffer produced. */
  public void advance(Ready done) {
    removePrefix(records, done.records(), "records");
    removePrefix(messages, done.messages(), "messages");
    removePrefix(replies, done.replies(), "replies");
    removePrefix(committed, done.committed(), "committed");
    if (records.isEmpty()) {
      syncBeforeSend = false;
    }
  }

  private static <T> void removePrefix(List<T> pending, List<T> done, String what) {
    Check.argument(
        done.size() <= pending.size(),
        "advance with %s %s but only %s pending",
        done.size(),
        what,
        pending.size());
    Check.argument(
        pending.subList(0, done.size()).equals(done), "advance with %s not handed out", what);
    pending.subList(0, done.size()).clear();
  }

  private static void bounded(int size) {
    Check.state(size < PENDING_ITEMS_MAX, "ready buffer holds %s items, caller not draining", size);
  }
}
