package io.replicakv.sim;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.util.Check;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * One node's disk, as an append-only file with an OS page cache in front of it.
 *
 * <p>Model. Each record is framed as {@code [length u32][crc32c u32][payload]}, as the storage
 * module frames its log. An append lands in the page cache (unsynced); {@link #sync()} makes every
 * appended frame durable. A crash keeps the durable bytes, plus a random prefix of the unsynced
 * frames (the OS may have written some back on its own), and the last surviving unsynced frame may
 * be torn: cut at a random byte. Recovery reads frames in order and stops at the first frame that
 * is short or fails its checksum, cutting the file there, so a torn tail is never replayed.
 *
 * <p>Invariant: every frame that was durable before a crash is returned, in order, by {@link
 * #recover()}. Not modelled: corruption of synced data, reordering of writes within a sync, lost
 * fsyncs (a lying disk).
 */
public final class SimDisk {
  /** Header bytes in front of each payload: length and checksum. */
  static final int FRAME_HEADER_BYTES = 8;

  /** Bytes one simulated disk may hold; a run that needs more is misconfigured. */
  static final long DISK_BYTES_MAX = 256L * 1024 * 1024;

  private final double tornWriteProbability;
  private byte[] durable = new byte[1024];
  private int durableBytes;
  private final List<byte[]> unsynced = new ArrayList<>();
  private long unsyncedBytes;
  private long syncCount;

  SimDisk(double tornWriteProbability) {
    Check.argument(
        0 <= tornWriteProbability && tornWriteProbability <= 1, "p %s", tornWriteProbability);
    this.tornWriteProbability = tornWriteProbability;
  }

  /** Appends one record to the page cache. */
  void append(PersistRecord record) {
    byte[] payload = record.payload();
    CRC32C crc = new CRC32C();
    crc.update(payload);
    ByteBuffer frame = ByteBuffer.allocate(FRAME_HEADER_BYTES + payload.length);
    frame.putInt(payload.length).putInt((int) crc.getValue()).put(payload);
    Check.state(
        durableBytes + unsyncedBytes + frame.capacity() <= DISK_BYTES_MAX,
        "simulated disk full at %s bytes",
        durableBytes + unsyncedBytes);
    unsynced.add(frame.array());
    unsyncedBytes += frame.capacity();
  }

  /** Makes every appended record durable. */
  void sync() {
    for (byte[] frame : unsynced) {
      writeDurable(frame, frame.length);
    }
    if (!unsynced.isEmpty()) {
      syncCount++;
    }
    unsynced.clear();
    unsyncedBytes = 0;
  }

  /**
   * Loses power: keeps a random prefix of the unsynced frames, possibly tearing the last one kept.
   *
   * @return what happened, for the trace
   */
  String crash(Prng prng) {
    int kept = unsynced.isEmpty() ? 0 : prng.nextInt(unsynced.size() + 1);
    String torn = "";
    for (int i = 0; i < kept; i++) {
      byte[] frame = unsynced.get(i);
      int length = frame.length;
      if (i == kept - 1 && prng.chance(tornWriteProbability)) {
        length = prng.nextInt(frame.length);
        torn = " torn at " + length + "/" + frame.length + "B";
      }
      writeDurable(frame, length);
    }
    String summary = "kept " + kept + "/" + unsynced.size() + " unsynced" + torn;
    unsynced.clear();
    unsyncedBytes = 0;
    return summary;
  }

  /** The records a restarting node finds, cutting any torn or corrupt tail off the file. */
  List<PersistRecord> recover() {
    Check.state(
        unsynced.isEmpty(), "recover with %s unsynced frames: crash first", unsynced.size());
    List<PersistRecord> records = new ArrayList<>();
    ByteBuffer file = ByteBuffer.wrap(durable, 0, durableBytes);
    int validBytes = 0;
    while (file.remaining() >= FRAME_HEADER_BYTES) {
      int length = file.getInt();
      int expectedCrc = file.getInt();
      if (length < 0 || length > file.remaining()) {
        break;
      }
      byte[] payload = new byte[length];
      file.get(payload);
      CRC32C crc = new CRC32C();
      crc.update(payload);
      if ((int) crc.getValue() != expectedCrc) {
        break;
      }
      records.add(new PersistRecord(payload));
      validBytes = file.position();
    }
    durableBytes = validBytes;
    return records;
  }

  /** Bytes that would survive a crash right now. */
  long durableBytes() {
    return durableBytes;
  }

  /** Records appended but not yet synced. */
  int unsyncedRecords() {
    return unsynced.size();
  }

  /** How many syncs wrote something. */
  long syncCount() {
    return syncCount;
  }

  private void writeDurable(byte[] frame, int length) {
    if (durableBytes + length > durable.length) {
      durable = Arrays.copyOf(durable, Math.max(durable.length * 2, durableBytes + length));
    }
    System.arraycopy(frame, 0, durable, durableBytes, length);
    durableBytes += length;
  }
}
