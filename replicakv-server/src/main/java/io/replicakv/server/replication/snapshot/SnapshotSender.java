package io.replicakv.server.replication.snapshot;

import io.replicakv.core.util.Check;
import io.replicakv.storage.partition.PartitionSnapshot;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Streams one partition snapshot from the leader's node to one follower: a {@link
 * SnapshotFrame.Begin} with the snapshot's LSN, then chunks pulled from the storage engine's {@link
 * PartitionSnapshot}, then an {@link SnapshotFrame.End} with the totals. Raft's InstallSnapshot and
 * Redis's full resynchronisation do the same job; unlike Redis, nothing is buffered on the leader
 * beyond the window, because the snapshot is point-in-time by copy-before-write in the engine
 * (writes continue meanwhile), not a fork plus a replication backlog.
 *
 * <p><b>Backpressure.</b> The sender pulls a chunk only while the encoded bytes sent and not yet
 * acknowledged are below {@code windowBytes} (one frame always may go, so a large key still moves);
 * the follower acknowledges each frame once it has applied it, which opens the window again. So a
 * slow follower disk slows the walk on the leader instead of filling memory, and the peak of
 * unacknowledged bytes is reported ({@link Progress#peakUnackedBytes}).
 *
 * <p><b>Failure.</b> A refused frame (the follower lost its place: a restart, a newer transfer, a
 * frame out of order), a link failure the caller reports ({@link #fail}) or no acknowledgement for
 * {@link #ACK_TIMEOUT_MILLIS} ends the transfer as {@link Status#FAILED} and closes the storage
 * snapshot. There is no resume: the caller starts a new sender, with a new transfer id and a new
 * snapshot at the commit point of that moment, when the follower asks again (its replica keeps
 * sending {@code SnapshotNeeded}). A follower's receiver drops a half-loaded transfer when a newer
 * Begin arrives and clears the partition's keys again, so a restart from scratch is always clean.
 *
 * <p>Time is the caller's: every method that needs it takes {@code nowMillis}. Node loop only.
 */
public final class SnapshotSender implements AutoCloseable {
  /** Default window of unacknowledged frame bytes to one follower. */
  public static final long WINDOW_BYTES_DEFAULT = 8L << 20;

  /** Keys pulled into one chunk, at most (the storage walk may overshoot by one scan step). */
  public static final int CHUNK_KEYS_MAX = 2_048;

  /** Entry bytes pulled into one chunk, about (a single larger key still makes one chunk). */
  public static final long CHUNK_BYTES_MAX = 512L << 10;

  /** Chunks one {@link #pump} call pulls at most, so that one transfer cannot hold the loop. */
  public static final int CHUNKS_PER_PUMP_MAX = 16;

  /** A transfer whose oldest unacknowledged frame waits this long has failed. */
  public static final long ACK_TIMEOUT_MILLIS = 30_000;

  /** Sends one encoded frame towards the follower; its Ack comes back through {@link #onAck}. */
  @FunctionalInterface
  public interface Link {
    void send(byte[] frame);
  }

  /** Where a transfer stands. */
  public enum Status {
    RUNNING,
    DONE,
    FAILED
  }

  /**
   * Progress for metrics and logs.
   *
   * @param keysSent keys handed to the link
   * @param bytesSent entry bytes handed to the link
   * @param keysTotalAtMost upper bound of the keys the snapshot holds
   * @param framesSent frames handed to the link, Begin and End included
   * @param unackedBytes encoded bytes sent and not acknowledged now
   * @param peakUnackedBytes the largest {@code unackedBytes} so far
   * @param status where the transfer stands
   * @param failure why it failed, empty otherwise
   */
  public record Progress(
      long keysSent,
      long bytesSent,
      long keysTotalAtMost,
      long framesSent,
      long unackedBytes,
      long peakUnackedBytes,
      Status status,
      String failure) {}

  private final PartitionSnapshot snapshot;
  private final int partition;
  private final long transferId;
  private final long epoch;
  private final int leader;
  private final Link link;
  private final long windowBytes;
  private final Map<Long, Integer> unacked = new LinkedHashMap<>();
  private long unackedBytes;
  private long peakUnackedBytes;
  private long nextSequence;
  private long framesSent;
  private long keysSent;
  private long bytesSent;
  private long endSequence = -1;
  private long lastProgressMillis;
  private Status status = Status.RUNNING;
  private String failure = "";
  private java.util.function.BooleanSupplier endGate = () -> true;

  /**
   * A transfer of {@code snapshot} (which this sender owns and closes) for partition {@code
   * partition}, led by {@code leader} in {@code epoch}; nothing is sent before {@link #pump}.
   */
  public SnapshotSender(
      PartitionSnapshot snapshot,
      int partition,
      long transferId,
      long epoch,
      int leader,
      Link link,
      long windowBytes,
      long nowMillis) {
    Check.argument(windowBytes >= 1, "windowBytes %s", windowBytes);
    this.snapshot = Check.notNull(snapshot, "snapshot");
    this.partition = partition;
    this.transferId = transferId;
    this.epoch = epoch;
    this.leader = leader;
    this.link = Check.notNull(link, "link");
    this.windowBytes = windowBytes;
    this.lastProgressMillis = nowMillis;
  }

  /** Sends what the window allows: the Begin first, chunks while there is room, the End last. */
  public void pump(long nowMillis) {
    if (status != Status.RUNNING) {
      return;
    }
    if (nextSequence == 0) {
      lastProgressMillis = nowMillis;
      send(
          new SnapshotFrame.Begin(
              snapshot.keyspace(),
              partition,
              transferId,
              epoch,
              leader,
              snapshot.lsn(),
              snapshot.keysTotalAtMost()));
    }
    for (int pulls = 0;
        status == Status.RUNNING && endSequence < 0 && pulls < CHUNKS_PER_PUMP_MAX && windowOpen();
        pulls++) {
      if (snapshot.done()) {
        if (!endGate.getAsBoolean()) {
          return; // every chunk is out; the End waits for the gate (the caller pumps again)
        }
        endSequence = nextSequence;
        send(
            new SnapshotFrame.End(
                snapshot.keyspace(), partition, transferId, nextSequence, keysSent, bytesSent));
        return;
      }
      List<byte[]> entries = snapshot.nextChunk(chunkKeys(), CHUNK_BYTES_MAX);
      if (entries.isEmpty()) {
        continue; // the walk passed keys of other slots
      }
      for (byte[] entry : entries) {
        if (entry.length > SnapshotFrameCodec.ENTRY_BYTES_MAX) {
          // A peer frame cannot carry it; say so instead of stalling the transfer forever.
          fail(
              "a key of "
                  + entry.length
                  + " encoded bytes exceeds the "
                  + SnapshotFrameCodec.ENTRY_BYTES_MAX
                  + "-byte snapshot entry bound");
          return;
        }
      }
      keysSent += entries.size();
      for (byte[] entry : entries) {
        bytesSent += entry.length;
      }
      send(
          new SnapshotFrame.Chunk(
              snapshot.keyspace(), partition, transferId, nextSequence, entries));
    }
  }

  /**
   * Keys to ask for: the storage walk honours the byte bound only between scan steps, so the key
   * count is sized from the average entry seen so far to keep a chunk near {@link
   * #CHUNK_BYTES_MAX}.
   */
  private int chunkKeys() {
    if (keysSent == 0) {
      return CHUNK_KEYS_MAX;
    }
    long averageEntryBytes = Math.max(1, bytesSent / keysSent);
    return (int) Math.max(1, Math.min(CHUNK_KEYS_MAX, CHUNK_BYTES_MAX / averageEntryBytes));
  }

  private boolean windowOpen() {
    return unacked.isEmpty() || unackedBytes < windowBytes;
  }

  private void send(SnapshotFrame frame) {
    Check.state(
        frame.sequence() == nextSequence, "frame %s, next %s", frame.sequence(), nextSequence);
    byte[] encoded;
    try {
      encoded = SnapshotFrameCodec.encode(frame);
    } catch (IllegalArgumentException tooLarge) {
      // Several large keys from one storage scan step can overfill a frame.
      fail("frame " + frame.sequence() + " cannot be sent: " + tooLarge.getMessage());
      return;
    }
    unacked.put(nextSequence, encoded.length);
    unackedBytes += encoded.length;
    peakUnackedBytes = Math.max(peakUnackedBytes, unackedBytes);
    nextSequence++;
    framesSent++;
    link.send(encoded);
  }

  /**
   * Holds the End frame back until {@code mayEnd} says yes (asked on each {@link #pump} once every
   * chunk is out): the receiver installs the snapshot on the End, and the caller may need a
   * condition on its side first (the leader's commit point reaching the snapshot's LSN).
   */
  public void holdEnd(java.util.function.BooleanSupplier mayEnd) {
    this.endGate = Check.notNull(mayEnd, "mayEnd");
  }

  /** Takes the follower's answer to one frame; answers to another transfer are ignored. */
  public void onAck(SnapshotFrame.Ack ack, long nowMillis) {
    if (status != Status.RUNNING
        || ack.transferId() != transferId
        || ack.partition() != partition
        || ack.keyspace() != snapshot.keyspace()) {
      return;
    }
    if (!ack.accepted()) {
      fail("follower refused frame " + ack.sequence() + ": " + ack.refusal());
      return;
    }
    Integer bytes = unacked.remove(ack.sequence());
    if (bytes == null) {
      return; // a duplicate answer
    }
    unackedBytes -= bytes;
    lastProgressMillis = nowMillis;
    if (ack.sequence() == endSequence) {
      Check.state(unacked.isEmpty(), "End acknowledged with %s frames open", unacked.size());
      status = Status.DONE;
      snapshot.close();
    }
  }

  /** Fails the transfer when the follower has been silent too long. */
  public void onTimer(long nowMillis) {
    if (status == Status.RUNNING
        && !unacked.isEmpty()
        && nowMillis - lastProgressMillis >= ACK_TIMEOUT_MILLIS) {
      fail("no acknowledgement for " + (nowMillis - lastProgressMillis) + " ms");
    }
  }

  /** Ends the transfer as failed (for example the connection to the follower broke). */
  public void fail(String reason) {
    if (status == Status.RUNNING) {
      status = Status.FAILED;
      failure = reason;
      snapshot.close();
    }
  }

  /** Where the transfer stands. */
  public Status status() {
    return status;
  }

  /** The transfer id the frames carry. */
  public long transferId() {
    return transferId;
  }

  /** Progress now. */
  public Progress progress() {
    return new Progress(
        keysSent,
        bytesSent,
        snapshot.keysTotalAtMost(),
        framesSent,
        unackedBytes,
        peakUnackedBytes,
        status,
        failure);
  }

  /** Stops the transfer (failed unless done) and frees the storage snapshot. */
  @Override
  public void close() {
    fail("closed");
  }
}
