package io.replicakv.core;

import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.util.Check;
import java.util.List;

/**
 * Everything a {@link Replica} asks its caller to do, in the order the caller must do it: persist
 * {@link #records()} (and sync them first when {@link #syncBeforeSend()} is set), send {@link
 * #messages()}, deliver {@link #replies()}, apply {@link #committed()}, then call {@link
 * Replica#advance(Ready)} with this same object.
 *
 * <p>Why the sync flag: a replica that promises something in a message or reply (an ack, a vote)
 * must not forget it in a crash, so the records behind that promise must be on stable storage
 * before the message leaves. Records that back no promise (fsync=interval, an async follower) may
 * ride unsynced and be lost or torn by a crash.
 *
 * @param records records to append to durable storage, in order
 * @param syncBeforeSend whether the records must be synced before any message or reply goes out
 * @param messages messages to peers
 * @param replies replies to clients
 * @param committed entries newly committed, in log order
 */
public record Ready(
    List<PersistRecord> records,
    boolean syncBeforeSend,
    List<Envelope> messages,
    List<ClientReply> replies,
    List<CommittedEntry> committed) {

  /** Nothing to do. */
  public static final Ready EMPTY = new Ready(List.of(), false, List.of(), List.of(), List.of());

  public Ready {
    records = List.copyOf(records);
    messages = List.copyOf(messages);
    replies = List.copyOf(replies);
    committed = List.copyOf(committed);
    Check.argument(
        !syncBeforeSend || !records.isEmpty(), "syncBeforeSend set with no records to sync");
  }

  /** True when the caller has nothing to persist, send, reply or apply. */
  public boolean isEmpty() {
    return records.isEmpty() && messages.isEmpty() && replies.isEmpty() && committed.isEmpty();
  }
}
