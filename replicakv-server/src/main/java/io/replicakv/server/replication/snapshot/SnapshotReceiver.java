package io.replicakv.server.replication.snapshot;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.Check;
import io.replicakv.storage.StorageEngine;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.HashValue;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.SetValue;
import io.replicakv.storage.data.StringValue;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The follower's side of partition snapshot transfers: for each partition, at most one transfer at
 * a time, whose frames it takes strictly in order and answers one by one.
 *
 * <p><b>Install.</b> On {@link SnapshotFrame.Begin} it asks the {@link Acceptor} whether the
 * partition's replica takes a snapshot at that LSN now (it must follow that leader in that epoch
 * with its whole log before the LSN, see {@code PartitionReplica.acceptsSnapshot}); the acceptor
 * then holds the replica's replication input back until the transfer ends, so the answer cannot
 * change meanwhile. It deletes every key of the partition's slots, loads each chunk, and on the
 * {@link SnapshotFrame.End} whose totals match what arrived, hands the LSN to the acceptor, which
 * installs it in the replica ({@code PartitionReplica.installSnapshot}).
 *
 * <p><b>Durability.</b> The deletions and the loaded keys go through {@link StorageEngine#apply},
 * one logged batch per chunk, so they are in the node's write-ahead log like any write and survive
 * a restart, and node snapshots and recovery need nothing new. The replica's install record goes to
 * the same log after them, synced before the replica acknowledges, so a durable install implies
 * durable data. Cost: the snapshot's bytes are written to the log once more on the follower.
 *
 * <p><b>Ordering and restart.</b> A frame whose sequence is not the next one, or of another
 * transfer than the running one, is refused and the transfer is dropped: the sender starts over
 * with a new Begin, which clears the slots again, so keys from an interrupted attempt never
 * survive. A Begin with a new transfer id replaces a running transfer the same way. After a
 * follower restart nothing is running, so frames of the old transfer are refused. Not handled here:
 * between a crash in mid-transfer and the next complete transfer, the partition's keys on this node
 * are a mix of old and new; the replica's log still ends where it ended, so it does not claim them,
 * but follower reads of that partition would see them.
 *
 * <p>Node loop only; every method returns the Ack to send back.
 */
public final class SnapshotReceiver {
  /** Keys deleted per logged batch while clearing a partition's slots. */
  public static final int CLEAR_BATCH_KEYS = 1_024;

  /** The replication layer's part in a transfer. */
  public interface Acceptor {
    /**
     * Null when the partition's replica takes the snapshot {@code begin} describes and will hold
     * its replication input back until {@link #installed} or {@link #abandoned}; else why not.
     */
    String refusal(SnapshotFrame.Begin begin);

    /** The slots of {@code partition} of {@code keyspace} on this node. */
    BitSet slots(int keyspace, int partition);

    /** Every key arrived: install the snapshot in the replica and release its input. */
    void installed(Installed installed);

    /** The transfer for the partition ended without an install: release the replica's input. */
    void abandoned(int keyspace, int partition, String reason);
  }

  /** A complete transfer: the partition's state at {@code lsn} is loaded. */
  public record Installed(
      int keyspace, int partition, long epoch, int leader, Lsn lsn, long keys, long bytes) {}

  private record PartitionKey(int keyspace, int partition) {}

  private static final class Transfer {
    final SnapshotFrame.Begin begin;
    final BitSet slots;
    long nextSequence = 1;
    long keys;
    long bytes;

    Transfer(SnapshotFrame.Begin begin, BitSet slots) {
      this.begin = begin;
      this.slots = slots;
    }
  }

  private final StorageEngine engine;
  private final Acceptor acceptor;
  private final Map<PartitionKey, Transfer> running = new HashMap<>();
  private long installs;
  private long refusals;

  public SnapshotReceiver(StorageEngine engine, Acceptor acceptor) {
    this.engine = Check.notNull(engine, "engine");
    this.acceptor = Check.notNull(acceptor, "acceptor");
  }

  /** Takes one frame from a leader and returns the answer for it. */
  public SnapshotFrame.Ack onFrame(SnapshotFrame frame) {
    return switch (frame) {
      case SnapshotFrame.Begin begin -> onBegin(begin);
      case SnapshotFrame.Chunk chunk -> onChunk(chunk);
      case SnapshotFrame.End end -> onEnd(end);
      case SnapshotFrame.Ack ack -> refuse(ack, "an Ack is not for the receiver");
    };
  }

  private SnapshotFrame.Ack onBegin(SnapshotFrame.Begin begin) {
    PartitionKey key = new PartitionKey(begin.keyspace(), begin.partition());
    Transfer previous = running.remove(key);
    if (previous != null) {
      acceptor.abandoned(
          key.keyspace(),
          key.partition(),
          "transfer " + previous.begin.transferId() + " replaced by " + begin.transferId());
    }
    String refusal = acceptor.refusal(begin);
    if (refusal != null) {
      return refuse(begin, refusal);
    }
    BitSet slots = acceptor.slots(begin.keyspace(), begin.partition());
    Check.state(slots != null, "no slots for accepted partition %s", key);
    running.put(key, new Transfer(begin, (BitSet) slots.clone()));
    clearSlots(engine, begin.keyspace(), slots);
    return ok(begin);
  }

  private SnapshotFrame.Ack onChunk(SnapshotFrame.Chunk chunk) {
    Transfer transfer = current(chunk);
    if (transfer == null) {
      return drop(chunk, orderProblem(chunk));
    }
    List<Mutation> parts = new ArrayList<>();
    long bytes = 0;
    for (byte[] entry : chunk.entries()) {
      MemoryState.Entry decoded;
      try {
        decoded = MemoryState.decodeEntry(entry);
      } catch (IllegalArgumentException | IllegalStateException e) {
        return drop(chunk, "corrupt entry: " + e.getMessage());
      }
      if (decoded.keyspace() != chunk.keyspace()
          || !transfer.slots.get(Slots.slot(decoded.key().array()))) {
        return drop(chunk, "entry outside the partition: keyspace " + decoded.keyspace());
      }
      load(decoded, parts);
      bytes += entry.length;
    }
    if (!parts.isEmpty()) {
      engine.apply(new Mutation.Batch(parts));
    }
    transfer.keys += chunk.entries().size();
    transfer.bytes += bytes;
    transfer.nextSequence++;
    return ok(chunk);
  }

  private SnapshotFrame.Ack onEnd(SnapshotFrame.End end) {
    Transfer transfer = current(end);
    if (transfer == null) {
      return drop(end, orderProblem(end));
    }
    if (end.keys() != transfer.keys || end.bytes() != transfer.bytes) {
      return drop(
          end,
          "sender counted "
              + end.keys()
              + " keys / "
              + end.bytes()
              + " bytes, received "
              + transfer.keys
              + " / "
              + transfer.bytes);
    }
    running.remove(new PartitionKey(end.keyspace(), end.partition()));
    SnapshotFrame.Begin begin = transfer.begin;
    installs++;
    acceptor.installed(
        new Installed(
            begin.keyspace(),
            begin.partition(),
            begin.epoch(),
            begin.leader(),
            begin.lsn(),
            transfer.keys,
            transfer.bytes));
    return ok(end);
  }

  /** The running transfer {@code frame} continues in order, or null. */
  private Transfer current(SnapshotFrame frame) {
    Transfer transfer = running.get(new PartitionKey(frame.keyspace(), frame.partition()));
    boolean inOrder =
        transfer != null
            && transfer.begin.transferId() == frame.transferId()
            && transfer.nextSequence == frame.sequence();
    return inOrder ? transfer : null;
  }

  private String orderProblem(SnapshotFrame frame) {
    Transfer transfer = running.get(new PartitionKey(frame.keyspace(), frame.partition()));
    if (transfer == null) {
      return "no transfer running for the partition";
    }
    if (transfer.begin.transferId() != frame.transferId()) {
      return "transfer "
          + frame.transferId()
          + " is not the running "
          + transfer.begin.transferId();
    }
    return "frame " + frame.sequence() + " out of order, expected " + transfer.nextSequence;
  }

  /** Refuses {@code frame} and abandons the partition's running transfer, if any. */
  private SnapshotFrame.Ack drop(SnapshotFrame frame, String reason) {
    if (running.remove(new PartitionKey(frame.keyspace(), frame.partition())) != null) {
      acceptor.abandoned(frame.keyspace(), frame.partition(), reason);
    }
    return refuse(frame, reason);
  }

  private SnapshotFrame.Ack refuse(SnapshotFrame frame, String reason) {
    refusals++;
    String shown =
        reason.length() > SnapshotFrameCodec.REFUSAL_CHARS_MAX
            ? reason.substring(0, SnapshotFrameCodec.REFUSAL_CHARS_MAX)
            : reason;
    return new SnapshotFrame.Ack(
        frame.keyspace(), frame.partition(), frame.transferId(), frame.sequence(), shown);
  }

  private static SnapshotFrame.Ack ok(SnapshotFrame frame) {
    return new SnapshotFrame.Ack(
        frame.keyspace(), frame.partition(), frame.transferId(), frame.sequence(), "");
  }

  /** Deletes every key of {@code slots} in {@code keyspace}, through the engine's log. */
  public static void clearSlots(StorageEngine engine, int keyspace, BitSet slots) {
    MemoryState state = engine.state();
    boolean any = false;
    for (int slot = slots.nextSetBit(0); slot >= 0 && !any; slot = slots.nextSetBit(slot + 1)) {
      any = state.keysInSlot(keyspace, slot) > 0;
    }
    if (!any) {
      return;
    }
    List<Bytes> doomed = new ArrayList<>();
    state.forEachEntry(
        keyspace,
        (key, value, expireAt) -> {
          if (slots.get(Slots.slot(key.array()))) {
            doomed.add(key);
          }
        });
    for (int from = 0; from < doomed.size(); from += CLEAR_BATCH_KEYS) {
      List<Mutation> deletes = new ArrayList<>();
      for (Bytes key : doomed.subList(from, Math.min(doomed.size(), from + CLEAR_BATCH_KEYS))) {
        deletes.add(new Mutation.Delete(keyspace, key.array()));
      }
      engine.apply(new Mutation.Batch(deletes));
    }
  }

  /** The mutations that make {@code entry} the key's whole value and expiry. */
  private static void load(MemoryState.Entry entry, List<Mutation> parts) {
    int keyspace = entry.keyspace();
    byte[] key = entry.key().array();
    switch (entry.value()) {
      case StringValue string ->
          parts.add(new Mutation.StringSet(keyspace, key, string.bytes(), entry.expireAtMillis()));
      case HashValue hash -> {
        List<byte[]> fieldsAndValues = new ArrayList<>(2 * hash.size());
        hash.fields()
            .forEach(
                (field, value) -> {
                  fieldsAndValues.add(field.array());
                  fieldsAndValues.add(value);
                });
        parts.add(new Mutation.Delete(keyspace, key));
        parts.add(new Mutation.HashSet(keyspace, key, fieldsAndValues));
        expire(entry, parts);
      }
      case SetValue set -> {
        List<byte[]> members = new ArrayList<>(set.size());
        set.members().forEach((member, ignored) -> members.add(member.array()));
        parts.add(new Mutation.Delete(keyspace, key));
        parts.add(new Mutation.SetAdd(keyspace, key, members));
        expire(entry, parts);
      }
    }
  }

  private static void expire(MemoryState.Entry entry, List<Mutation> parts) {
    if (entry.expireAtMillis() > 0) {
      parts.add(new Mutation.Expire(entry.keyspace(), entry.key().array(), entry.expireAtMillis()));
    }
  }

  /**
   * True while a transfer for the partition runs: the replication loop then keeps that replica's
   * peer messages back (dropping them is safe; the leader resends), so its log cannot move.
   */
  public boolean receiving(int keyspace, int partition) {
    return running.containsKey(new PartitionKey(keyspace, partition));
  }

  /** Partitions with a transfer running now. */
  public int transfersRunning() {
    return running.size();
  }

  /** Transfers completed since this receiver started. */
  public long installs() {
    return installs;
  }

  /** Frames refused since this receiver started. */
  public long refusals() {
    return refusals;
  }
}
