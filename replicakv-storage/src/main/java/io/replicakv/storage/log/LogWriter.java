package io.replicakv.storage.log;

import io.replicakv.core.util.Check;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The log's background thread. Under {@link FsyncPolicy#ALWAYS} it takes {@link Batch}es from the
 * hand-off queue, writes them through the {@link SegmentAppender}, fsyncs and only then advances
 * the durable sequence (group commit). Under INTERVAL and NEVER the caller thread writes (see
 * {@link #writeOnCaller}) and this thread only fsyncs: the active segment every interval or on
 * request, and the rolled segments the caller retired to it. See {@link SegmentedLog} for the
 * model.
 *
 * <p>Every field marked "writer thread" is touched only by that thread. The published sequences are
 * volatile and only grow; waiters block on {@link #progress} and are signalled after every loop
 * turn.
 */
final class LogWriter implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(LogWriter.class);

  static final String THREAD_NAME = "replicakv-log-writer";

  /** Poll period of an idle writer; only bounds how long a lost wake-up could go unnoticed. */
  private static final long IDLE_POLL_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** How long close waits for the writer thread to finish before giving up on it. */
  private static final long STOP_TIMEOUT_MILLIS = 30_000;

  /** A rolled segment waiting for its fsync: with its open channel, or by path (NEVER). */
  private record Retired(Path path, FileChannel channel) {}

  private final Path directory;
  private final FsyncPolicy policy;
  private final boolean callerWrites;
  private final long fsyncIntervalNanos;
  private final long retryIntervalNanos;
  private final LogDisk disk;
  private final LongSupplier nanoClock;
  private final SegmentSet segments;
  private final SegmentAppender appender;

  private final LinkedBlockingQueue<Batch> handoff = new LinkedBlockingQueue<>();
  private final AtomicLong queuedBytes = new AtomicLong();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition progress = lock.newCondition();
  private final List<LongConsumer> listeners = new CopyOnWriteArrayList<>();
  private final ConcurrentLinkedQueue<Retired> retired = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean directoryDirty = new AtomicBoolean();
  private final Thread thread;

  private volatile long writtenSequence;
  private volatile long syncedSequence;
  private volatile long durableSequence;

  /** The synced sequence once durability and listeners have caught up with it; sync waits on it. */
  private volatile long publishedSyncedSequence;

  private volatile long syncRequestedSequence;
  private volatile IOException failure;
  private volatile boolean stopping;
  private volatile boolean stopped;

  private volatile long fsyncCount;
  private volatile long fsyncTotalNanos;
  private volatile long fsyncMaxNanos;

  // writer thread
  private final ArrayDeque<Batch> pending = new ArrayDeque<>();
  private long nextIntervalFsyncNanos;
  private long retryAtNanos;

  LogWriter(
      LogOptions options,
      LogDisk disk,
      LongSupplier nanoClock,
      long retryIntervalMillis,
      SegmentSet segments,
      long lastSequence)
      throws IOException {
    this.directory = options.directory();
    this.policy = options.fsync();
    this.callerWrites = policy != FsyncPolicy.ALWAYS;
    this.fsyncIntervalNanos = TimeUnit.MILLISECONDS.toNanos(options.fsyncIntervalMillis());
    this.retryIntervalNanos = TimeUnit.MILLISECONDS.toNanos(retryIntervalMillis);
    this.disk = disk;
    this.nanoClock = nanoClock;
    this.segments = segments;
    this.writtenSequence = lastSequence;
    this.syncedSequence = lastSequence;
    this.durableSequence = lastSequence;
    this.publishedSyncedSequence = lastSequence;
    this.appender =
        new SegmentAppender(
            directory, disk, segments, this::retire, () -> directoryDirty.set(true));
    this.nextIntervalFsyncNanos = nanoClock.getAsLong() + fsyncIntervalNanos;
    this.thread = new Thread(this, THREAD_NAME);
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /** True when the caller thread performs write(2) (INTERVAL and NEVER). */
  boolean callerWrites() {
    return callerWrites;
  }

  // ---- caller side ----

  void handOff(Batch batch) {
    Check.state(!callerWrites, "hand-off under %s, where the caller writes", policy);
    queuedBytes.addAndGet(batch.sizeBytes);
    handoff.add(batch);
  }

  /**
   * Under INTERVAL and NEVER: writes the rest of {@code batch} on the calling thread. Afterwards
   * the caller publishes with {@link #publishWrittenOnCaller}. On failure the batch keeps its
   * position.
   */
  void writeOnCaller(Batch batch) throws IOException {
    Check.state(callerWrites, "caller write under %s", policy);
    Check.state(
        batch.firstSequence == writtenSequence + 1 || batch.data.position() > 0,
        "batch starts at %s after written %s",
        batch.firstSequence,
        writtenSequence);
    appender.write(batch);
    writtenSequence = batch.lastSequence;
  }

  /**
   * Under INTERVAL and NEVER: what is written counts as durable; tells the listeners on the calling
   * thread.
   */
  void publishWrittenOnCaller() {
    long durable = writtenSequence;
    if (durable > durableSequence) {
      durableSequence = durable;
      notifyListeners(durable);
    }
  }

  long queuedBytes() {
    return queuedBytes.get();
  }

  long writtenSequence() {
    return writtenSequence;
  }

  long durableSequence() {
    return durableSequence;
  }

  IOException failure() {
    return failure;
  }

  void addListener(LongConsumer listener) {
    listeners.add(listener);
  }

  LogMetrics metrics(long appendedRecords) {
    long size = 0;
    List<Segment> all = segments.snapshot();
    for (Segment segment : all) {
      size += segment.sizeBytes();
    }
    return new LogMetrics(
        appendedRecords,
        appender.bytesWritten(),
        fsyncCount,
        fsyncTotalNanos,
        fsyncMaxNanos,
        size,
        all.size());
  }

  /**
   * Blocks until at most {@code limitBytes} wait for the writer (or none at all, so that one record
   * larger than the limit still passes).
   *
   * @return the failure that ended the wait, or null
   */
  IOException awaitQueuedAtMost(long limitBytes) {
    return await(() -> queuedBytes.get() <= Math.max(0, limitBytes));
  }

  /** Blocks until every record up to {@code sequence} is written (not necessarily synced). */
  void awaitWritten(long sequence) throws IOException {
    IOException error = await(() -> writtenSequence >= sequence);
    if (error != null) {
      throw error;
    }
  }

  /** Asks for an fsync covering {@code sequence} and blocks until one has returned. */
  void awaitSynced(long sequence) throws IOException {
    if (publishedSyncedSequence >= sequence) {
      return;
    }
    lock.lock();
    try {
      syncRequestedSequence = Math.max(syncRequestedSequence, sequence);
    } finally {
      lock.unlock();
    }
    handoff.add(Batch.WAKE);
    IOException error = await(() -> publishedSyncedSequence >= sequence);
    if (error != null) {
      throw error;
    }
  }

  private interface Condition0 {
    boolean holds();
  }

  private IOException await(Condition0 condition) {
    lock.lock();
    try {
      while (!condition.holds()) {
        IOException error = failure;
        if (error != null) {
          return error;
        }
        if (stopped) {
          return new IOException("log writer stopped");
        }
        progress.awaitNanos(IDLE_POLL_NANOS);
      }
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new java.io.InterruptedIOException("interrupted while waiting for the log writer");
    } finally {
      lock.unlock();
    }
  }

  /** Stops the thread after it has written what it can; unwritten batches are dropped. */
  void stop() {
    stopping = true;
    handoff.add(Batch.WAKE);
    try {
      thread.join(STOP_TIMEOUT_MILLIS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (thread.isAlive()) {
      LOG.warn("log writer thread did not stop within {} ms", STOP_TIMEOUT_MILLIS);
    }
  }

  // ---- segment roll, on whichever thread writes ----

  /**
   * Takes over a rolled segment. Under NEVER it is closed now and forced by path at the next sync,
   * so that rarely synced logs do not hold many files open; otherwise its channel waits for the
   * next fsync on this thread, which closes it afterwards. Either way the synced sequence stays
   * truthful: no fsync counts until every retired segment is forced.
   */
  private void retire(Segment segment, FileChannel channel) {
    if (policy == FsyncPolicy.NEVER) {
      closeQuietly(segment, channel);
      retired.add(new Retired(segment.path, null));
    } else {
      retired.add(new Retired(segment.path, channel));
    }
  }

  // ---- writer thread ----

  @Override
  public void run() {
    try {
      while (true) {
        awaitWork();
        if (stopping && (failure != null || (pending.isEmpty() && handoff.isEmpty()))) {
          break;
        }
        if (failure instanceof FsyncFailedException) {
          continue;
        }
        if (failure != null && nanoClock.getAsLong() < retryAtNanos) {
          continue;
        }
        try {
          writePending();
          forceIfDue();
          if (failure != null) {
            LOG.info("log writes to {} succeed again", directory);
            failure = null;
          }
        } catch (FsyncFailedException e) {
          // Not retried: after a failed fsync the kernel may have dropped the dirty pages and
          // marked them clean, so a later fsync would succeed without the records being on disk.
          LOG.error(
              "log fsync in {} failed; records after sequence {} may not be on disk. Appends are"
                  + " refused until the node restarts and recovers from what the disk holds: {}",
              directory,
              syncedSequence,
              e.getCause().toString());
          failure = e;
        } catch (IOException e) {
          if (failure == null) {
            LOG.warn(
                "log {} to {} failed, retrying every {} ms; appends are refused meanwhile: {}",
                callerWrites ? "fsync" : "write",
                directory,
                TimeUnit.NANOSECONDS.toMillis(retryIntervalNanos),
                e.toString());
          }
          failure = e;
          retryAtNanos = nanoClock.getAsLong() + retryIntervalNanos;
        }
        publish();
      }
    } catch (Throwable t) {
      LOG.error("log writer thread died; the log refuses further appends", t);
      failure = new IOException("log writer thread died: " + t, t);
    } finally {
      closeAll();
      stopped = true;
      publish();
    }
  }

  private void awaitWork() throws InterruptedException {
    long now = nanoClock.getAsLong();
    long timeoutNanos;
    if (failure instanceof FsyncFailedException) {
      timeoutNanos = IDLE_POLL_NANOS;
    } else if (failure != null) {
      timeoutNanos = retryAtNanos - now;
    } else if (!pending.isEmpty() || syncRequestedSequence > syncedSequence) {
      timeoutNanos = 0;
    } else if (policy == FsyncPolicy.INTERVAL) {
      // The caller does not wake this thread when it writes, so it looks once per interval.
      timeoutNanos =
          syncedSequence < writtenSequence
              ? nextIntervalFsyncNanos - now
              : Math.min(IDLE_POLL_NANOS, fsyncIntervalNanos);
    } else {
      timeoutNanos = IDLE_POLL_NANOS;
    }
    Batch first =
        timeoutNanos > 0 ? handoff.poll(timeoutNanos, TimeUnit.NANOSECONDS) : handoff.poll();
    if (first != null) {
      accept(first);
      List<Batch> more = new ArrayList<>();
      handoff.drainTo(more);
      more.forEach(this::accept);
    }
  }

  private void accept(Batch batch) {
    if (batch != Batch.WAKE) {
      pending.add(batch);
    }
  }

  private void writePending() throws IOException {
    while (!pending.isEmpty()) {
      Batch batch = pending.peek();
      Check.state(
          batch.firstSequence == writtenSequence + 1 || batch.data.position() > 0,
          "batch starts at %s after written %s",
          batch.firstSequence,
          writtenSequence);
      appender.write(batch);
      pending.remove();
      writtenSequence = batch.lastSequence;
      queuedBytes.addAndGet(-batch.sizeBytes);
    }
  }

  private void forceIfDue() throws IOException {
    long written = writtenSequence;
    boolean requested = syncRequestedSequence > syncedSequence;
    boolean due =
        switch (policy) {
          case ALWAYS -> written > syncedSequence || requested;
          case INTERVAL ->
              requested
                  || (written > syncedSequence && nanoClock.getAsLong() >= nextIntervalFsyncNanos);
          case NEVER -> requested;
        };
    if (!due) {
      return;
    }
    // Read after `written`: every record up to it is in this channel or in a retired one, since
    // the appender retires the old segment before it publishes the new one. Under INTERVAL the
    // caller may be writing this channel meanwhile; only this thread ever closes it.
    FileChannel active = appender.channel();
    if (active != null) {
      timedForce(active);
    }
    for (Retired segment = retired.peek(); segment != null; segment = retired.peek()) {
      if (segment.channel() != null) {
        timedForce(segment.channel());
        closeQuietly(null, segment.channel());
      } else {
        forcePath(segment.path());
      }
      retired.poll();
    }
    if (directoryDirty.getAndSet(false)) {
      try {
        disk.forceDirectory(directory);
      } catch (IOException e) {
        directoryDirty.set(true);
        throw e;
      }
    }
    syncedSequence = written;
    nextIntervalFsyncNanos = nanoClock.getAsLong() + fsyncIntervalNanos;
  }

  private void forcePath(Path path) throws IOException {
    FileChannel channel;
    try {
      channel = disk.openForWrite(path, false);
    } catch (NoSuchFileException deletedMeanwhile) {
      return;
    }
    try (channel) {
      timedForce(channel);
    }
  }

  private void timedForce(FileChannel channel) throws IOException {
    long start = nanoClock.getAsLong();
    try {
      disk.force(channel);
    } catch (IOException e) {
      throw new FsyncFailedException(e);
    }
    long took = nanoClock.getAsLong() - start;
    fsyncCount++;
    fsyncTotalNanos += took;
    fsyncMaxNanos = Math.max(fsyncMaxNanos, took);
  }

  /**
   * Advances the durable sequence by policy (ALWAYS only; otherwise the caller does), tells
   * listeners, then publishes the synced sequence and wakes waiters, so that {@code sync} returns
   * only after listeners have seen its records.
   */
  private void publish() {
    long synced = syncedSequence;
    Check.state(synced <= writtenSequence, "synced %s past written %s", synced, writtenSequence);
    if (!callerWrites && synced > durableSequence) {
      durableSequence = synced;
      notifyListeners(synced);
    }
    publishedSyncedSequence = synced;
    lock.lock();
    try {
      progress.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void notifyListeners(long durable) {
    for (LongConsumer listener : listeners) {
      try {
        listener.accept(durable);
      } catch (RuntimeException e) {
        LOG.error("log durability listener failed", e);
      }
    }
  }

  private void closeAll() {
    try {
      appender.close();
    } catch (IOException e) {
      LOG.warn("closing log segment {} failed: {}", appender.active(), e.toString());
    }
    for (Retired segment = retired.poll(); segment != null; segment = retired.poll()) {
      closeQuietly(null, segment.channel());
    }
  }

  private static void closeQuietly(Segment segment, FileChannel channel) {
    if (channel == null) {
      return;
    }
    try {
      channel.close();
    } catch (IOException e) {
      LOG.warn("closing log segment {} failed: {}", segment, e.toString());
    }
  }

  /**
   * A segment's fsync failed. Unlike a failed write, which keeps its bytes in memory and is
   * retried, this is final for the process: Linux may have discarded the unwritten pages and
   * reports the error once, so the only safe source of truth is what recovery finds on disk after a
   * restart.
   */
  static final class FsyncFailedException extends IOException {
    FsyncFailedException(IOException cause) {
      super(
          "log fsync failed ("
              + cause.getMessage()
              + "); writes are refused until the node restarts",
          cause);
    }
  }
}
