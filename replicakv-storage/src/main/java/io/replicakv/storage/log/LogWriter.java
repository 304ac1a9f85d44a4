package io.replicakv.storage.log;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The log's single writer thread: takes {@link Batch}es from the hand-off queue, writes them to the
 * active segment, rolls segments, fsyncs by policy and publishes the written, synced and durable
 * sequences. See {@link SegmentedLog} for the model; this class holds the thread's side of it.
 *
 * <p>Every field marked "writer thread" is touched only by that thread. The three published
 * sequences are volatile and only grow; waiters block on {@link #progress} and are signalled after
 * every loop turn.
 */
final class LogWriter implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(LogWriter.class);

  static final String THREAD_NAME = "replicakv-log-writer";

  /** Poll period of an idle writer; only bounds how long a lost wake-up could go unnoticed. */
  private static final long IDLE_POLL_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** How long close waits for the writer thread to finish before giving up on it. */
  private static final long STOP_TIMEOUT_MILLIS = 30_000;

  private final Path directory;
  private final FsyncPolicy policy;
  private final long fsyncIntervalNanos;
  private final long retryIntervalNanos;
  private final LogDisk disk;
  private final LongSupplier nanoClock;
  private final SegmentSet segments;

  private final LinkedBlockingQueue<Batch> handoff = new LinkedBlockingQueue<>();
  private final AtomicLong queuedBytes = new AtomicLong();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition progress = lock.newCondition();
  private final List<LongConsumer> listeners = new CopyOnWriteArrayList<>();
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

  private volatile long bytesWritten;
  private volatile long fsyncCount;
  private volatile long fsyncTotalNanos;
  private volatile long fsyncMaxNanos;

  // writer thread
  private final ArrayDeque<Batch> pending = new ArrayDeque<>();
  private final List<Path> rolledUnsynced = new ArrayList<>();
  private Segment active;
  private FileChannel activeChannel;
  private long activeOffset;
  private boolean directoryDirty;
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
    this.fsyncIntervalNanos = TimeUnit.MILLISECONDS.toNanos(options.fsyncIntervalMillis());
    this.retryIntervalNanos = TimeUnit.MILLISECONDS.toNanos(retryIntervalMillis);
    this.disk = disk;
    this.nanoClock = nanoClock;
    this.segments = segments;
    this.writtenSequence = lastSequence;
    this.syncedSequence = lastSequence;
    this.durableSequence = lastSequence;
    this.publishedSyncedSequence = lastSequence;
    List<Segment> recovered = segments.snapshot();
    if (!recovered.isEmpty()) {
      active = recovered.getLast();
      activeChannel = disk.openForWrite(active.path, false);
      activeOffset = active.sizeBytes();
      // What a crashed predecessor left in the page cache is made durable before we build on it.
      disk.force(activeChannel);
    }
    this.nextIntervalFsyncNanos = nanoClock.getAsLong() + fsyncIntervalNanos;
    this.thread = new Thread(this, THREAD_NAME);
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  // ---- caller side ----

  void handOff(Batch batch) {
    queuedBytes.addAndGet(batch.sizeBytes);
    handoff.add(batch);
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
        bytesWritten,
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

  // ---- writer thread ----

  @Override
  public void run() {
    try {
      while (true) {
        awaitWork();
        if (stopping && (failure != null || (pending.isEmpty() && handoff.isEmpty()))) {
          break;
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
        } catch (IOException e) {
          if (failure == null) {
            LOG.warn(
                "log write to {} failed, retrying every {} ms; appends are refused meanwhile: {}",
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
      closeActive();
      stopped = true;
      publish();
    }
  }

  private void awaitWork() throws InterruptedException {
    long now = nanoClock.getAsLong();
    long timeoutNanos;
    if (failure != null) {
      timeoutNanos = retryAtNanos - now;
    } else if (!pending.isEmpty() || syncRequestedSequence > syncedSequence) {
      timeoutNanos = 0;
    } else if (policy == FsyncPolicy.INTERVAL && syncedSequence < writtenSequence) {
      timeoutNanos = nextIntervalFsyncNanos - now;
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
      if (batch.startsSegment && (active == null || active.firstSequence != batch.firstSequence)) {
        roll(batch.firstSequence);
      }
      Check.state(active != null, "no active segment for batch at %s", batch.firstSequence);
      while (batch.data.hasRemaining()) {
        int written = disk.write(activeChannel, batch.data, activeOffset);
        activeOffset += written;
        bytesWritten += written;
        active.setSizeBytes(activeOffset);
      }
      pending.remove();
      writtenSequence = batch.lastSequence;
      queuedBytes.addAndGet(-batch.sizeBytes);
    }
  }

  /**
   * Closes the active segment and creates the next. Under ALWAYS and INTERVAL the old segment is
   * forced first, so the single synced sequence stays truthful; under NEVER it is remembered and
   * forced at the next {@code sync}. If creation fails, the retry starts again from here.
   */
  private void roll(long firstSequence) throws IOException {
    if (active != null) {
      if (policy == FsyncPolicy.NEVER) {
        rolledUnsynced.add(active.path);
      } else {
        timedForce(activeChannel);
      }
      closeActive();
      active = null;
    }
    Path path = directory.resolve(LogFormat.fileName(firstSequence));
    FileChannel channel = disk.openForWrite(path, true);
    try {
      var header = LogFormat.header(firstSequence);
      long offset = 0;
      while (header.hasRemaining()) {
        offset += disk.write(channel, header, offset);
      }
      bytesWritten += LogFormat.HEADER_BYTES;
    } catch (IOException e) {
      channel.close();
      throw e;
    }
    activeChannel = channel;
    activeOffset = LogFormat.HEADER_BYTES;
    active = new Segment(firstSequence, path, activeOffset);
    segments.add(active);
    directoryDirty = true;
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
    for (Path rolled : rolledUnsynced) {
      forcePath(rolled);
    }
    rolledUnsynced.clear();
    if (directoryDirty) {
      disk.forceDirectory(directory);
      directoryDirty = false;
    }
    if (activeChannel != null) {
      timedForce(activeChannel);
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
    disk.force(channel);
    long took = nanoClock.getAsLong() - start;
    fsyncCount++;
    fsyncTotalNanos += took;
    fsyncMaxNanos = Math.max(fsyncMaxNanos, took);
  }

  /**
   * Advances the durable sequence by policy, tells listeners, then publishes the synced sequence
   * and wakes waiters, so that {@code sync} returns only after listeners have seen its records.
   */
  private void publish() {
    long synced = syncedSequence;
    long durable = policy == FsyncPolicy.ALWAYS ? synced : writtenSequence;
    Check.state(synced <= writtenSequence, "synced %s past written %s", synced, writtenSequence);
    if (durable > durableSequence) {
      durableSequence = durable;
      for (LongConsumer listener : listeners) {
        try {
          listener.accept(durable);
        } catch (RuntimeException e) {
          LOG.error("log durability listener failed", e);
        }
      }
    }
    publishedSyncedSequence = synced;
    lock.lock();
    try {
      progress.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void closeActive() {
    if (activeChannel != null) {
      try {
        activeChannel.close();
      } catch (IOException e) {
        LOG.warn("closing log segment {} failed: {}", active, e.toString());
      }
      activeChannel = null;
    }
  }
}
