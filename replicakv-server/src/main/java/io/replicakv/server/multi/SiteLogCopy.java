package io.replicakv.server.multi;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.util.Check;
import io.replicakv.server.leaderless.LeaderlessRecordLog;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A non-gateway node's copy of one multi-leader keyspace's site log: the gateway's records appended
 * verbatim at the same positions, forced before they are acknowledged, so that this node can take
 * over as gateway by opening the file as its own site log.
 *
 * <p><b>Epochs.</b> {@code promisedEpoch} is the highest gateway epoch this copy has seen (in an
 * append, a probe of the election or the metadata view); an append below it is refused as {@link
 * SiteLogFrames.Status#STALE}, so a deposed gateway gets no acknowledgement from a node that has
 * heard of its successor. {@code acceptedEpoch} is the epoch whose gateway last appended here.
 * Within one epoch one gateway writes one sequence, so records at the same position are identical:
 * a resent prefix is skipped. The first append of a newer epoch may find a tail this copy holds
 * past the new gateway's {@code from} (records the old gateway wrote but never got acknowledged by
 * enough nodes, see {@link SiteLogShipper}); that tail is cut and replaced. The cut rewrites the
 * file (the kept prefix plus the new records, forced, then moved over the log atomically), so a
 * crash leaves either the old or the new file, never a log missing records it had acknowledged.
 *
 * <p><b>Prefix check.</b> Every append carries the chained hash of the gateway's records before
 * {@code from}; the copy keeps the same hash for each of its positions (8 bytes a record). A
 * mismatch means this copy holds, below {@code from}, a tail an older gateway wrote that the
 * election which chose the current one never heard of (possible when an election needs fewer than
 * all surviving nodes, {@code site-acks} of 2 or more); it answers GAP at 0 and the gateway's
 * resend from the start replaces its log.
 *
 * <p>{@code acceptedEpoch} is kept in {@code <keyspace>.epoch} (written before the first record of
 * a new epoch), so a restarted copy still skips rather than cuts a same-epoch resend. {@code
 * promisedEpoch} is kept in {@code <keyspace>.promise}, written and forced (temporary file, force,
 * atomic rename, directory force) before a probe or an append of a higher epoch is answered: a node
 * restarted between an election's probe and the commit of its result still refuses the deposed
 * gateway's appends, so the elector's count of promises stays true across restarts (Raft's {@code
 * currentTerm} is persisted before a vote for the same reason). An unreadable promise file stops
 * the copy rather than forgetting the promise.
 *
 * <p>Thread use: one thread (the site roles executor) calls every method.
 */
final class SiteLogCopy implements AutoCloseable {
  private final String keyspace;
  private final Path logFile;
  private final Path sitesFile;
  private final Path epochFile;
  private final Path promiseFile;
  private LeaderlessRecordLog log;
  private long position;
  private long promisedEpoch;
  private long acceptedEpoch = -1;

  /** The highest epoch in the promise file. */
  private long durablePromise;

  private long promisesWritten;
  private long truncations;
  private long mismatches;

  /** {@code hashes[i]}: the {@link SiteLogFrames#chain} hash of the first i records. */
  private long[] hashes = new long[1024];

  SiteLogCopy(String keyspace, Path logFile, Path sitesFile, long promisedEpoch) {
    this.keyspace = Check.notNull(keyspace, "keyspace");
    this.logFile = logFile;
    this.sitesFile = sitesFile;
    this.epochFile = logFile.resolveSibling(keyspace + ".epoch");
    this.log = new LeaderlessRecordLog(logFile);
    this.position = 0;
    hashes[0] = SiteLogFrames.EMPTY_HASH;
    extendHashes(log.recovered());
    Check.state(position == log.recovered().size(), "hashed %s records", position);
    this.promiseFile = logFile.resolveSibling(keyspace + ".promise");
    this.acceptedEpoch = readEpoch(epochFile);
    this.durablePromise = readEpoch(promiseFile);
    this.promisedEpoch = Math.max(Math.max(promisedEpoch, acceptedEpoch), durablePromise);
  }

  /** The epoch whose gateway last appended to the log at {@code file}'s sibling, or -1. */
  static long readEpoch(Path file) {
    try {
      return Files.isRegularFile(file) ? Long.parseLong(Files.readString(file).trim()) : -1;
    } catch (IOException | NumberFormatException e) {
      throw new IllegalStateException("cannot read the site log epoch " + file, e);
    }
  }

  /** Saves {@code epoch} as the epoch of the log's writer (temporary file, force, rename). */
  static void writeEpoch(Path file, long epoch) {
    try {
      Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
      try (java.nio.channels.FileChannel channel =
          java.nio.channels.FileChannel.open(
              temporary,
              java.nio.file.StandardOpenOption.CREATE,
              java.nio.file.StandardOpenOption.TRUNCATE_EXISTING,
              java.nio.file.StandardOpenOption.WRITE)) {
        channel.write(java.nio.ByteBuffer.wrap((epoch + "\n").getBytes(StandardCharsets.UTF_8)));
        channel.force(true);
      }
      Files.move(
          temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      forceDirectory(file.toAbsolutePath().getParent());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot save the site log epoch " + file, e);
    }
  }

  /** Forces a directory's entries (a rename in it) to the device; a no-op where unsupported. */
  static void forceDirectory(Path directory) throws IOException {
    try (java.nio.channels.FileChannel channel =
        java.nio.channels.FileChannel.open(directory, java.nio.file.StandardOpenOption.READ)) {
      channel.force(true);
    } catch (UnsupportedOperationException | java.nio.file.AccessDeniedException e) {
      // some platforms cannot open a directory for force; the rename is still atomic there
    }
  }

  String keyspace() {
    return keyspace;
  }

  /** Records this copy holds, durable. */
  long position() {
    return position;
  }

  long promisedEpoch() {
    return promisedEpoch;
  }

  /** Tails cut because a newer gateway's log ended before them. */
  long truncations() {
    return truncations;
  }

  /**
   * Raises the promised epoch (from the view); never lowers it. The view's record is durable in the
   * metadata quorum, so this one is not written to the promise file.
   */
  void promise(long epoch) {
    promisedEpoch = Math.max(promisedEpoch, epoch);
  }

  /** Promise files written so far (each forced before its answer left). */
  long promisesWritten() {
    return promisesWritten;
  }

  /** Answers one request of frame type 36 addressed to this copy. */
  byte[] onRequest(SiteLogFrames.Request request) {
    if (request.epoch() < promisedEpoch) {
      return SiteLogFrames.reply(SiteLogFrames.Status.STALE, promisedEpoch, position);
    }
    if (request.epoch() > durablePromise) {
      // durable before the answer leaves: a restart must not let an older gateway back in
      writeEpoch(promiseFile, request.epoch());
      durablePromise = request.epoch();
      promisesWritten++;
    }
    promisedEpoch = request.epoch();
    if (request.kind() == SiteLogFrames.KIND_PROBE) {
      return SiteLogFrames.reply(SiteLogFrames.Status.OK, promisedEpoch, position);
    }
    if (request.from() > position) {
      return SiteLogFrames.reply(SiteLogFrames.Status.GAP, promisedEpoch, position);
    }
    if (hashes[(int) request.from()] != request.prefixHash()) {
      // this copy's records before `from` are not the gateway's: an older gateway's tail that
      // the election never heard of; the log is resent from the start and replaces this one
      mismatches++;
      acceptedEpoch = -1; // the resend from 0 must replace, not skip
      return SiteLogFrames.reply(SiteLogFrames.Status.GAP, promisedEpoch, 0);
    }
    keepSites(request.sites());
    List<PersistRecord> records = request.records();
    if (request.epoch() != acceptedEpoch) {
      writeEpoch(epochFile, request.epoch());
      if (request.from() < position) {
        replaceTail(request.from(), records);
      } else {
        append(records);
      }
      acceptedEpoch = request.epoch();
    } else {
      // same gateway, same sequence: positions below ours hold these very records
      int skip = (int) Math.min(records.size(), position - request.from());
      append(records.subList(skip, records.size()));
    }
    return SiteLogFrames.reply(SiteLogFrames.Status.OK, promisedEpoch, position);
  }

  private void append(List<PersistRecord> records) {
    if (records.isEmpty()) {
      return;
    }
    log.append(records, true);
    extendHashes(records);
  }

  private void extendHashes(List<PersistRecord> records) {
    for (PersistRecord record : records) {
      if (position + 1 >= hashes.length) {
        hashes = java.util.Arrays.copyOf(hashes, hashes.length * 2);
      }
      hashes[(int) position + 1] = SiteLogFrames.chain(hashes[(int) position], record);
      position++;
    }
  }

  /** Appends whose prefix hash differed from this copy's (a divergent tail found). */
  long mismatches() {
    return mismatches;
  }

  /** Keeps positions below {@code from}, then {@code records}: one atomic file replacement. */
  private void replaceTail(long from, List<PersistRecord> records) {
    log.close();
    List<PersistRecord> kept;
    try (LeaderlessRecordLog reread = new LeaderlessRecordLog(logFile)) {
      kept = new ArrayList<>(reread.recovered().subList(0, (int) from));
    }
    kept.addAll(records);
    Path temporary = logFile.resolveSibling(logFile.getFileName() + ".cut");
    try {
      Files.deleteIfExists(temporary);
      try (LeaderlessRecordLog fresh = new LeaderlessRecordLog(temporary)) {
        fresh.append(kept, true);
      }
      Files.move(
          temporary, logFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot cut the site log copy " + logFile, e);
    }
    this.log = new LeaderlessRecordLog(logFile);
    long before = position;
    this.position = from;
    extendHashes(records);
    Check.state(
        position == log.recovered().size(), "cut copy holds %s, wrote %s", position, kept.size());
    truncations++;
    org.slf4j.LoggerFactory.getLogger(SiteLogCopy.class)
        .warn(
            "multi-leader keyspace {}: site log copy cut from {} to {} records (a newer gateway's"
                + " log ends there; the cut records were never acknowledged), now {}",
            keyspace,
            before,
            from,
            position);
  }

  private void keepSites(String sites) {
    if (sites.isEmpty() || Files.isRegularFile(sitesFile)) {
      return;
    }
    try {
      Files.createDirectories(sitesFile.toAbsolutePath().getParent());
      Files.writeString(sitesFile, sites + "\n", StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep the site list of " + keyspace, e);
    }
  }

  @Override
  public void close() {
    log.close();
  }
}
