package io.replicakv.storage.log;

import io.replicakv.core.util.Check;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Objects;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's write-ahead log: one physical, segmented, append-only log shared by all partitions.
 *
 * <h2>Model</h2>
 *
 * The log is the AOF half of the Redis AOF + RDB model: every change is a record {@code (sequence,
 * partition, payload)}; the first record is sequence 1 and each later one is the previous plus one.
 * Records live in segment files named by their first sequence (format in {@link LogFormat}); a
 * snapshot tagged with sequence S lets {@link #deleteSegmentsBefore} drop whole segments at or
 * below S. Partitions share the file and its fsyncs, so hundreds of partitions cost one log.
 *
 * <h2>Threads</h2>
 *
 * One caller thread (the node loop) calls {@link #append}, {@link #flush}, {@link #sync}, {@link
 * #replay} and {@link #deleteSegmentsBefore}; {@code append} only encodes into a buffer the caller
 * owns. What {@link #flush} does depends on the policy:
 *
 * <ul>
 *   <li>ALWAYS: it hands the filled buffers to a single daemon thread, {@value
 *       LogWriter#THREAD_NAME}, which performs write(2) and fsync off the caller's thread, so the
 *       node loop never waits for the disk (group commit).
 *   <li>INTERVAL and NEVER: it performs the write(2) itself, as Redis writes its AOF buffer in
 *       {@code beforeSleep} before it replies. A write into the page cache costs microseconds,
 *       while a hand-off to another thread costs a wake-up and a context switch per loop turn,
 *       which on a two-core machine shared with the clients is most of a request's budget. The
 *       daemon thread then only fsyncs: the active segment (a channel may be forced while another
 *       thread writes it) and the segments the caller rolled past, which the caller hands over
 *       instead of closing so that no fsync meets a closed channel.
 * </ul>
 *
 * The read-only accessors may be called from any thread. Durability listeners run on the writer
 * thread under ALWAYS and inside {@link #flush} on the caller's thread otherwise; they must be
 * quick.
 *
 * <h2>Durability</h2>
 *
 * {@link #durableSequence()} is what the fsync policy lets the server acknowledge:
 *
 * <ul>
 *   <li>{@link FsyncPolicy#ALWAYS}: group commit. The writer writes everything handed over, fsyncs
 *       once, and only then advances the durable sequence; whatever arrives during that fsync is
 *       covered by the next one. Survives a machine crash.
 *   <li>{@link FsyncPolicy#INTERVAL}: the durable sequence advances when write(2) returns, so
 *       "durable" means "in the OS page cache" until the next fsync, about {@code
 *       fsyncIntervalMillis} later (Redis {@code appendfsync everysec}). Since the write happens
 *       inside {@link #flush}, everything flushed survives a process crash (kill -9) as soon as
 *       flush returns; a machine crash may lose up to about one interval of acknowledged writes.
 *   <li>{@link FsyncPolicy#NEVER}: like INTERVAL but fsync only on {@link #sync()} and close.
 * </ul>
 *
 * <h2>Bounds and faults</h2>
 *
 * Bytes appended but not yet written are bounded by {@code maxBufferedBytes}: past it {@code
 * append} flushes (and under ALWAYS blocks until the writer catches up). A failed write or fsync
 * (ENOSPC, EIO) keeps the unwritten bytes in memory, sets {@link #failure()}, logs one warning and
 * retries every second (a failed write under INTERVAL and NEVER is retried by the next {@link
 * #flush} call at least that long after the failure, so the caller should flush periodically);
 * meanwhile {@code append} throws {@link LogWriteException} so that the server replies with an
 * error instead of queueing without bound. Nothing durable is ever dropped, and a partially written
 * batch resumes at the byte where it stopped. Known limit: after a failed fsync, Linux may have
 * dropped the dirty pages and a retried fsync can succeed without them (the PostgreSQL "fsyncgate"
 * case); ALWAYS only advances durability after a successful fsync, but pages lost that way are not
 * rewritten.
 *
 * <h2>Recovery</h2>
 *
 * {@link #open} scans every segment ({@link LogRecovery}): bounds, CRC32C and consecutive
 * sequences. A torn or corrupt tail is cut at the last valid record (truncate, delete later
 * segments, fsync) and reported once. Bytes past a cut are never replayed, so a record either
 * survives whole or not at all, and the survivors have no gaps.
 */
public final class SegmentedLog implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SegmentedLog.class);

  /** Interval between retries of a failed write or fsync. */
  static final long WRITE_RETRY_INTERVAL_MILLIS = 1000;

  /** First capacity of a caller-side buffer; it doubles as needed. */
  private static final int BATCH_INITIAL_BYTES = 64 << 10;

  /** A caller-side buffer is sealed once it would grow past this, to bound copying on growth. */
  private static final int BATCH_MAX_BYTES = 4 << 20;

  private final LogOptions options;
  private final LogDisk disk;
  private final RecoveryReport recovery;
  private final SegmentSet segments;
  private final LogWriter writer;
  private final LongSupplier nanoClock;
  private final long retryIntervalNanos;

  // caller thread
  private final ArrayDeque<Batch> sealed = new ArrayDeque<>();
  private ByteBuffer current;
  private long currentFirstSequence;
  private boolean currentStartsSegment;
  private long unflushedBytes;

  /** Reused by {@link #append} for every record's checksum. */
  private final java.util.zip.CRC32C recordCrc = new java.util.zip.CRC32C();

  /** INTERVAL and NEVER: the last failed write(2) on this thread, until a retry succeeds. */
  private volatile IOException writeFailure;

  private long writeRetryAtNanos;

  /** Bytes the active segment will hold once everything appended is written; -1: none yet. */
  private long activeSegmentBytes;

  private volatile long lastSequence;
  private volatile long appendedRecords;
  private volatile boolean closed;

  private SegmentedLog(
      LogOptions options,
      LogDisk disk,
      LogRecovery.Result recovered,
      LongSupplier nanoClock,
      long retryIntervalMillis)
      throws IOException {
    this.options = options;
    this.disk = disk;
    this.recovery = recovered.report();
    this.segments = new SegmentSet(recovered.segments());
    this.lastSequence = recovered.nextSequence() - 1;
    this.activeSegmentBytes =
        recovered.segments().isEmpty() ? -1 : recovered.segments().getLast().sizeBytes();
    this.writer =
        new LogWriter(options, disk, nanoClock, retryIntervalMillis, segments, lastSequence);
    this.nanoClock = nanoClock;
    this.retryIntervalNanos =
        java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(retryIntervalMillis);
  }

  /** Opens (creating if needed) and recovers the log in {@code options.directory()}. */
  public static SegmentedLog open(LogOptions options) throws IOException {
    return open(options, LogDisk.REAL, System::nanoTime, WRITE_RETRY_INTERVAL_MILLIS);
  }

  /** The seam for tests: a fault-injecting disk, a clock, a shorter retry interval. */
  static SegmentedLog open(
      LogOptions options, LogDisk disk, LongSupplier nanoClock, long retryIntervalMillis)
      throws IOException {
    Objects.requireNonNull(options, "options");
    LogRecovery.Result recovered = LogRecovery.recover(options.directory());
    SegmentedLog log = new SegmentedLog(options, disk, recovered, nanoClock, retryIntervalMillis);
    log.writer.start();
    RecoveryReport report = recovered.report();
    LOG.info(
        "log {} opened: sequences {}..{}, {} records in {} segments, fsync={}",
        options.directory(),
        report.firstSequence(),
        report.lastSequence(),
        report.recordCount(),
        report.segmentCount(),
        options.fsync());
    return log;
  }

  /** What recovery found when this log was opened. */
  public RecoveryReport recovery() {
    return recovery;
  }

  /**
   * Appends one record to the caller's buffer; nothing reaches the file before {@link #flush()}.
   * Past {@code maxBufferedBytes} unwritten bytes it flushes first, and under ALWAYS blocks while
   * more than that wait for the writer.
   *
   * @return the record's sequence, {@link #lastSequence()} + 1
   * @throws LogWriteException while the disk refuses writes; the record was not appended
   */
  public long append(int partition, byte[] payload) {
    Objects.requireNonNull(payload, "payload");
    Check.argument(
        payload.length <= LogFormat.PAYLOAD_MAX_BYTES,
        "payload of %s bytes exceeds %s",
        payload.length,
        LogFormat.PAYLOAD_MAX_BYTES);
    if (closed) {
      throw new LogWriteException("log is closed", new IOException("closed"));
    }
    throwIfFailed();
    int recordBytes = LogFormat.recordBytes(payload.length);
    if (unflushedBytes + writer.queuedBytes() + recordBytes > options.maxBufferedBytes()) {
      flush();
      throwIfFailed();
      IOException error = writer.awaitQueuedAtMost(options.maxBufferedBytes() - recordBytes);
      if (error != null) {
        throw new LogWriteException("log write failed: " + error.getMessage(), error);
      }
    }
    long sequence = lastSequence + 1;
    boolean roll =
        activeSegmentBytes < 0
            || (activeSegmentBytes > LogFormat.HEADER_BYTES
                && activeSegmentBytes + recordBytes > options.segmentSizeBytes());
    if (roll) {
      seal();
      activeSegmentBytes = LogFormat.HEADER_BYTES;
    }
    reserve(recordBytes, sequence, roll);
    LogFormat.encode(current, sequence, partition, payload, recordCrc);
    activeSegmentBytes += recordBytes;
    unflushedBytes += recordBytes;
    appendedRecords++;
    lastSequence = sequence;
    return sequence;
  }

  /** Makes room for one record in the current buffer, sealing or growing it. */
  private void reserve(int recordBytes, long sequence, boolean startsSegment) {
    if (current != null && current.remaining() < recordBytes) {
      int needed = current.position() + recordBytes;
      if (needed > BATCH_MAX_BYTES) {
        seal();
      } else {
        int capacity = Math.min(BATCH_MAX_BYTES, Math.max(needed, current.capacity() * 2));
        ByteBuffer bigger = ByteBuffer.allocate(capacity);
        bigger.put(current.flip());
        current = bigger;
      }
    }
    if (current == null) {
      current = ByteBuffer.allocate(Math.max(BATCH_INITIAL_BYTES, recordBytes));
      currentFirstSequence = sequence;
      currentStartsSegment = startsSegment;
    }
  }

  private void seal() {
    if (current != null && current.position() > 0) {
      sealed.add(
          new Batch(current.flip(), currentFirstSequence, lastSequence, currentStartsSegment));
    }
    current = null;
  }

  private void throwIfFailed() {
    IOException error = failure();
    if (error != null) {
      throw new LogWriteException("log write failed: " + error.getMessage(), error);
    }
  }

  /**
   * Under ALWAYS hands everything appended so far to the writer thread (cheap, non-blocking). Under
   * INTERVAL and NEVER writes it to the segment file on this thread: when flush returns without
   * {@link #failure()}, a process crash no longer loses it. A failed write keeps the unwritten
   * bytes and is retried by a later flush once the retry interval has passed.
   */
  public void flush() {
    seal();
    if (!writer.callerWrites()) {
      for (Batch batch = sealed.poll(); batch != null; batch = sealed.poll()) {
        writer.handOff(batch);
      }
      unflushedBytes = 0;
      return;
    }
    if (sealed.isEmpty()
        || (writeFailure != null && nanoClock.getAsLong() - writeRetryAtNanos < 0)) {
      return;
    }
    try {
      for (Batch batch = sealed.peek(); batch != null; batch = sealed.peek()) {
        writer.writeOnCaller(batch);
        sealed.poll();
        unflushedBytes -= batch.sizeBytes;
      }
      if (writeFailure != null) {
        LOG.info("log writes to {} succeed again", options.directory());
        writeFailure = null;
      }
    } catch (IOException e) {
      if (writeFailure == null) {
        LOG.warn(
            "log write to {} failed, retrying every {} ms; appends are refused meanwhile: {}",
            options.directory(),
            java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(retryIntervalNanos),
            e.toString());
      }
      writeFailure = e;
      writeRetryAtNanos = nanoClock.getAsLong() + retryIntervalNanos;
    }
    Check.state(
        !sealed.isEmpty() || unflushedBytes == 0, "%s unflushed bytes left", unflushedBytes);
    writer.publishWrittenOnCaller();
  }

  /** The last appended sequence (0 for an empty, never-written log). */
  public long lastSequence() {
    return lastSequence;
  }

  /**
   * The first sequence still on disk, or {@link #lastSequence()} + 1 when the log holds no records
   * (after deletions it may be past 1).
   */
  public long firstSequence() {
    List<Segment> all = segments.snapshot();
    return all.isEmpty() ? lastSequence + 1 : all.getFirst().firstSequence;
  }

  /** The highest sequence the fsync policy counts as durable (see the class comment). */
  public long durableSequence() {
    return writer.durableSequence();
  }

  /**
   * Called with the new value whenever {@link #durableSequence()} grows: on the writer thread under
   * ALWAYS, inside {@link #flush()} on the caller's thread otherwise.
   */
  public void addDurabilityListener(LongConsumer listener) {
    writer.addListener(Objects.requireNonNull(listener, "listener"));
  }

  /** The last write or fsync error while the disk refuses writes, else null. */
  public IOException failure() {
    IOException error = writeFailure;
    return error != null ? error : writer.failure();
  }

  /**
   * Flushes, then blocks until everything appended is written and fsynced whatever the policy.
   *
   * @throws IOException the writer's failure, if the disk refuses writes
   */
  public void sync() throws IOException {
    flush();
    awaitWritten(lastSequence);
    writer.awaitSynced(lastSequence);
  }

  /**
   * Calls {@code consumer} for every record with a sequence above {@code afterSequence}, in order,
   * read back from the segment files and verified. Flushes first and waits until everything
   * appended so far is written (not fsynced). Records appended during replay are not included.
   *
   * @throws IOException if those records were deleted, the disk refuses writes, or a record read
   *     back fails its checks
   */
  public void replay(long afterSequence, LogRecordConsumer consumer) throws IOException {
    Objects.requireNonNull(consumer, "consumer");
    flush();
    long target = lastSequence;
    if (afterSequence >= target) {
      return;
    }
    awaitWritten(target);
    List<Segment> all = segments.snapshot();
    int start = 0;
    for (int i = 0; i < all.size(); i++) {
      if (all.get(i).firstSequence <= afterSequence + 1) {
        start = i;
      }
    }
    if (all.isEmpty() || all.get(start).firstSequence > afterSequence + 1) {
      throw new IOException(
          "records after "
              + afterSequence
              + " are no longer in the log; it starts at "
              + firstSequence());
    }
    long next = all.get(start).firstSequence;
    for (int i = start; i < all.size() && next <= target; i++) {
      next = replaySegment(all.get(i), next, afterSequence, target, consumer);
    }
    if (next <= target) {
      throw new IOException("log ended at sequence " + (next - 1) + " before " + target);
    }
  }

  /** Under ALWAYS waits for the writer thread; otherwise flush has already written or failed. */
  private void awaitWritten(long sequence) throws IOException {
    if (!writer.callerWrites()) {
      writer.awaitWritten(sequence);
      return;
    }
    if (writer.writtenSequence() < sequence) {
      IOException error = failure();
      throw error != null ? error : new IOException("log not written up to " + sequence);
    }
  }

  /** Replays one segment; returns the sequence expected next. */
  private static long replaySegment(
      Segment segment, long next, long afterSequence, long target, LogRecordConsumer consumer)
      throws IOException {
    if (segment.firstSequence != next) {
      throw new IOException("segment " + segment + " does not start at " + next);
    }
    try (SegmentReader reader = SegmentReader.open(segment.path)) {
      if (!reader.readHeader(segment.firstSequence)) {
        throw new IOException("segment " + segment + ": " + reader.problem());
      }
      while (next <= target) {
        LogRecord record = reader.next();
        if (record == null) {
          if (reader.problem() != null) {
            throw new IOException(
                "segment " + segment + " at offset " + reader.position() + ": " + reader.problem());
          }
          return next;
        }
        Check.state(
            record.sequence() == next,
            "segment %s holds sequence %s where %s was expected",
            segment,
            record.sequence(),
            next);
        if (record.sequence() > afterSequence) {
          consumer.accept(record.sequence(), record.partition(), record.payload());
        }
        next++;
      }
      return next;
    } catch (NoSuchFileException e) {
      throw new IOException("segment " + segment + " was deleted during replay", e);
    }
  }

  /**
   * Deletes every segment whose records all have a sequence below {@code sequence} (after a
   * snapshot that includes them). The active segment is never deleted.
   */
  public void deleteSegmentsBefore(long sequence) {
    List<Segment> removed = segments.removeBefore(sequence);
    if (removed.isEmpty()) {
      return;
    }
    for (Segment segment : removed) {
      try {
        Files.deleteIfExists(segment.path);
      } catch (IOException e) {
        LOG.warn("could not delete log segment {}: {}", segment.path, e.toString());
      }
    }
    try {
      // Deletions are made durable so that a crash cannot resurrect an older segment below a gap.
      disk.forceDirectory(options.directory());
    } catch (IOException e) {
      LOG.warn("fsync of log directory {} failed: {}", options.directory(), e.toString());
    }
    LOG.info("deleted {} log segments before sequence {}", removed.size(), sequence);
  }

  /** Counters for {@code /metrics}. */
  public LogMetrics metrics() {
    return writer.metrics(appendedRecords);
  }

  /** Flushes, syncs and stops the writer thread. Idempotent. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    IOException error = null;
    try {
      sync();
    } catch (IOException e) {
      error = e;
    }
    closed = true;
    writer.stop();
    if (error != null) {
      throw error;
    }
  }

  /** For tests: the highest sequence handed to write(2) so far. */
  long writtenSequence() {
    return writer.writtenSequence();
  }
}
