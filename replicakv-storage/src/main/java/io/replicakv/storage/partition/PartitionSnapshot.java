package io.replicakv.storage.partition;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.Check;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.Value;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A point-in-time copy of one partition's keys (a set of slots of one keyspace) for a new or
 * far-behind follower, taken while writes continue.
 *
 * <p><b>Point in time.</b> The copy holds every key of the slots exactly as it was when the
 * snapshot started, which the caller tags with the LSN its state had then ({@link #lsn}); the
 * follower loads the chunks and continues the partition log after that LSN. Two paths emit a key,
 * as in the node snapshot: the walk reaching it, and {@link #beforeChange}, which the engine calls
 * before any change is applied and which copies a key of the slots the walk has not emitted yet.
 * The {@code seen} set records the keys either path handled (and keys created after the start,
 * which must not appear), so each key is emitted at most once and with its value as of the start.
 *
 * <p><b>Backpressure.</b> Pull-based: nothing is produced until the sender asks for the next chunk
 * ({@link #nextChunk}) because its peer connection has room. Only the copy-before-write path
 * produces on its own, because a change cannot wait; what it copies is bounded by the keys the
 * slots held at the start.
 *
 * <p><b>Progress.</b> Keys and bytes sent, and an upper bound of the total (the keyspace's size at
 * the start; the walk visits the whole keyspace and keeps the keys of the slots).
 *
 * <p>Chunks are {@link MemoryState#encodeEntry} records, the node snapshot's entry format, which
 * the follower loads with {@link MemoryState#loadEntry}. Node loop only.
 */
public final class PartitionSnapshot implements AutoCloseable {
  /**
   * SCAN calls one {@link #nextChunk} makes at most, so that a partition with few keys in a large
   * keyspace cannot hold the node loop for a whole walk; such a chunk may come back empty.
   */
  public static final int SCAN_CALLS_PER_CHUNK_MAX = 256;

  private final MemoryState state;
  private final int keyspace;
  private final BitSet slots;
  private final Lsn lsn;
  private final Consumer<PartitionSnapshot> onClose;
  private final Set<Bytes> seen = new HashSet<>();
  private final ArrayDeque<byte[]> copied = new ArrayDeque<>();
  private final long keysTotalAtMost;
  private long cursor;
  private boolean walkDone;
  private boolean closed;
  private long keysSent;
  private long bytesSent;

  /** Use {@code StorageEngine.startPartitionSnapshot}, which routes changes to it. */
  public PartitionSnapshot(
      MemoryState state, int keyspace, BitSet slots, Lsn lsn, Consumer<PartitionSnapshot> onClose) {
    Check.argument(
        keyspace >= 0 && keyspace < state.keyspaceCount(), "keyspace %s unknown", keyspace);
    Check.argument(
        slots.length() <= Slots.SLOT_COUNT, "slot set reaches %s", (long) slots.length());
    this.state = state;
    this.keyspace = keyspace;
    this.slots = (BitSet) slots.clone();
    this.lsn = Check.notNull(lsn, "lsn");
    this.onClose = onClose;
    this.keysTotalAtMost = state.size(keyspace);
  }

  /** The partition position the copy reflects. */
  public Lsn lsn() {
    return lsn;
  }

  /** The keyspace copied. */
  public int keyspace() {
    return keyspace;
  }

  /**
   * The next encoded entries, at most about {@code maxKeys} and {@code maxBytes} (one SCAN step may
   * overshoot). May be empty while the walk passes keys of other slots: {@link #done} tells when
   * the copy is complete.
   */
  public List<byte[]> nextChunk(int maxKeys, long maxBytes) {
    Check.state(!closed, "snapshot at %s is closed", lsn);
    Check.argument(maxKeys >= 1, "maxKeys %s", maxKeys);
    List<byte[]> chunk = new ArrayList<>();
    long[] bytes = {0};
    while (!copied.isEmpty() && fits(chunk, bytes[0], maxKeys, maxBytes, copied.peek())) {
      byte[] entry = copied.poll();
      chunk.add(entry);
      bytes[0] += entry.length;
    }
    for (int calls = 0;
        !walkDone
            && chunk.size() < maxKeys
            && bytes[0] < maxBytes
            && calls < SCAN_CALLS_PER_CHUNK_MAX;
        calls++) {
      cursor =
          state.scan(
              keyspace,
              cursor,
              Math.max(1, maxKeys - chunk.size()),
              (key, value) -> {
                if (inSlots(key) && seen.add(key)) {
                  // The walk may overshoot the chunk by one scan step; the bound is soft.
                  byte[] entry = encode(key, value);
                  chunk.add(entry);
                  bytes[0] += entry.length;
                }
              });
      if (cursor == 0) {
        walkDone = true;
        seen.clear(); // every key that existed at the start has been emitted
      }
    }
    keysSent += chunk.size();
    bytesSent += bytes[0];
    return chunk;
  }

  private static boolean fits(
      List<byte[]> chunk, long bytes, int maxKeys, long maxBytes, byte[] next) {
    return chunk.isEmpty() || (chunk.size() < maxKeys && bytes + next.length <= maxBytes);
  }

  /** True once every key has been handed out. */
  public boolean done() {
    return walkDone && copied.isEmpty();
  }

  /** Keys handed out so far. */
  public long keysSent() {
    return keysSent;
  }

  /** Encoded bytes handed out so far. */
  public long bytesSent() {
    return bytesSent;
  }

  /** Upper bound of the keys the copy holds: the keyspace's size at the start. */
  public long keysTotalAtMost() {
    return keysTotalAtMost;
  }

  /** Copies the keys {@code mutation} is about to change, if the walk has not emitted them. */
  public void beforeChange(Mutation mutation) {
    if (walkDone || closed) {
      return;
    }
    switch (mutation) {
      case Mutation.StringSet m -> preserve(m.keyspace(), m.key());
      case Mutation.Delete m -> preserve(m.keyspace(), m.key());
      case Mutation.Expire m -> preserve(m.keyspace(), m.key());
      case Mutation.HashSet m -> preserve(m.keyspace(), m.key());
      case Mutation.HashDelete m -> preserve(m.keyspace(), m.key());
      case Mutation.SetAdd m -> preserve(m.keyspace(), m.key());
      case Mutation.SetRemove m -> preserve(m.keyspace(), m.key());
      case Mutation.Rename m -> {
        preserve(m.keyspace(), m.from());
        preserve(m.keyspace(), m.to());
      }
      case Mutation.FlushKeyspace m -> preserveAll(m.keyspace());
      case Mutation.Batch m -> m.parts().forEach(this::beforeChange);
      case Mutation.FlushAll m -> preserveAll(keyspace);
    }
  }

  private void preserve(int ks, byte[] rawKey) {
    if (ks != keyspace || !slots.get(Slots.slot(rawKey))) {
      return;
    }
    Bytes key = Bytes.of(rawKey);
    if (!seen.add(key)) {
      return;
    }
    Value value = state.get(ks, key);
    if (value != null) {
      copied.add(encode(key, value));
    }
  }

  private void preserveAll(int ks) {
    if (ks != keyspace) {
      return;
    }
    state.forEachEntry(
        ks,
        (key, value, expireAt) -> {
          if (inSlots(key) && seen.add(key)) {
            copied.add(MemoryState.encodeEntry(ks, key, value, expireAt));
          }
        });
  }

  private boolean inSlots(Bytes key) {
    return slots.get(Slots.slot(key.array()));
  }

  private byte[] encode(Bytes key, Value value) {
    return MemoryState.encodeEntry(keyspace, key, value, state.expireAtMillis(keyspace, key));
  }

  /** Stops the copy and frees what it held; the engine stops routing changes to it. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      seen.clear();
      copied.clear();
      onClose.accept(this);
    }
  }
}
