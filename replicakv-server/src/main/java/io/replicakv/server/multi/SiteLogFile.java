package io.replicakv.server.multi;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.util.Check;
import io.replicakv.server.durable.GroupCommit;
import io.replicakv.server.leaderless.LeaderlessRecordLog;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * A multi-leader keyspace's site log file ({@code data-dir/multi/<keyspace>.log}) that can be
 * compacted under a running {@link GroupCommit}.
 *
 * <p><b>Compaction, the safe way.</b> {@link #compact} writes the records that stand for the whole
 * file (the replica's checkpoint, and the lock records kept as they are) to {@code
 * <keyspace>.log.compact}, forces it, renames it over the log atomically and forces the directory,
 * so a crash at any point leaves either the old file or the new one, each complete. A leftover
 * temporary file from a crash is deleted at open.
 *
 * <p><b>Sequences.</b> The group commit counts records written since open; a compaction does not
 * reset that count: everything written before it is durable in the new file (it was forced before
 * the rename), so the sequence carries on and no held output waits for a force of the old file.
 * {@link #force} and {@link #compact} take one lock, so a force running on the syncer thread
 * finishes on the old file before it is closed.
 *
 * <p>Thread use: the service loop writes and compacts; the syncer thread forces.
 */
final class SiteLogFile implements GroupCommit.Forceable, AutoCloseable {
  private final Path path;
  private final Path temporary;
  private final Object lock = new Object();
  private volatile LeaderlessRecordLog log;
  private List<PersistRecord> recovered;

  /** Records written before the current file was opened (by compactions). */
  private volatile long sequenceBase;

  /** Records the file holds now (read at open or written by a compaction, plus appends). */
  private long records;

  private long compactions;

  SiteLogFile(Path path) {
    this.path = path;
    this.temporary = path.resolveSibling(path.getFileName() + ".compact");
    try {
      Files.deleteIfExists(temporary);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove the leftover " + temporary, e);
    }
    this.log = new LeaderlessRecordLog(path);
    this.recovered = log.recovered();
    this.records = recovered.size();
    log.forgetRecovered();
  }

  /** The records read at open; null once {@link #forgetRecovered} ran. */
  List<PersistRecord> recovered() {
    return recovered;
  }

  /** Lets the records read at open be collected once the replica is rebuilt from them. */
  void forgetRecovered() {
    recovered = null;
  }

  /** Writes {@code written} without forcing; returns the sequence of the last one. */
  long write(List<PersistRecord> written) {
    long sequence = log.write(written);
    records += written.size();
    return sequenceBase + sequence;
  }

  @Override
  public long writtenSequence() {
    return sequenceBase + log.writtenSequence();
  }

  @Override
  public void force() {
    synchronized (lock) {
      log.force();
    }
  }

  /** Records in the file now. */
  long records() {
    return records;
  }

  /** Compactions done since open. */
  long compactions() {
    return compactions;
  }

  /** Bytes of the file on disk. */
  long sizeBytes() {
    try {
      return Files.size(path);
    } catch (IOException e) {
      return -1;
    }
  }

  /**
   * Replaces the file by {@code replacement}, which must stand for every record written so far.
   * Written and forced beside the log, renamed over it atomically, the directory forced.
   */
  void compact(List<PersistRecord> replacement) {
    Check.argument(!replacement.isEmpty(), "empty replacement for %s", path);
    try {
      Files.deleteIfExists(temporary);
      try (LeaderlessRecordLog fresh = new LeaderlessRecordLog(temporary)) {
        fresh.append(replacement, true);
      }
      synchronized (lock) {
        long written = writtenSequence();
        log.close();
        Files.move(
            temporary, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        SiteLogCopy.forceDirectory(path.toAbsolutePath().getParent());
        LeaderlessRecordLog reopened = new LeaderlessRecordLog(path);
        Check.state(
            reopened.recovered().size() == replacement.size(),
            "compacted %s holds %s records, wrote %s",
            path,
            reopened.recovered().size(),
            replacement.size());
        reopened.forgetRecovered();
        sequenceBase = written;
        log = reopened;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot compact the site log " + path, e);
    }
    records = replacement.size();
    compactions++;
  }

  @Override
  public void close() {
    synchronized (lock) {
      log.close();
    }
  }
}
