package io.replicakv.storage.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link LogDisk} over the real one that can refuse writes like a full disk (after first writing
 * half of one buffer, to exercise resumption), hold writes at a gate, and record which sequences
 * each fsync covered.
 */
final class TestDisk implements LogDisk {
  volatile boolean failing;

  /** Fails fsync (not write) of segment files, as a disk that loses written-back pages does. */
  volatile boolean failingFsync;

  /** Skips fsync: for tests about bytes in files, where real fsyncs only cost time. */
  volatile boolean skipFsync;

  volatile CountDownLatch gate;
  volatile SegmentedLog log;

  /** The thread of the last write(2), to show which thread writes under each policy. */
  volatile Thread lastWriter;

  final AtomicInteger forces = new AtomicInteger();
  final AtomicInteger failedCalls = new AtomicInteger();

  /** Highest sequence that had been written when a completed fsync of a segment began. */
  final AtomicLong coveredByFsync = new AtomicLong();

  private volatile boolean halfWritten;

  @Override
  public FileChannel openForWrite(Path path, boolean create) throws IOException {
    failIfFailing("open");
    return LogDisk.REAL.openForWrite(path, create);
  }

  @Override
  public int write(FileChannel channel, ByteBuffer source, long position) throws IOException {
    lastWriter = Thread.currentThread();
    CountDownLatch g = gate;
    if (g != null) {
      try {
        g.await();
      } catch (InterruptedException e) {
        throw new java.io.InterruptedIOException();
      }
    }
    if (failing && !halfWritten && source.remaining() > 1) {
      halfWritten = true;
      ByteBuffer half = source.duplicate();
      half.limit(source.position() + source.remaining() / 2);
      int written = LogDisk.REAL.write(channel, half, position);
      source.position(source.position() + written);
      return written;
    }
    failIfFailing("write");
    return LogDisk.REAL.write(channel, source, position);
  }

  @Override
  public void force(FileChannel channel) throws IOException {
    failIfFailing("fsync");
    if (failingFsync) {
      failedCalls.incrementAndGet();
      throw new IOException("Input/output error (injected, fsync)");
    }
    SegmentedLog l = log;
    long before = l == null ? 0 : l.writtenSequence();
    if (!skipFsync) {
      LogDisk.REAL.force(channel);
    }
    forces.incrementAndGet();
    coveredByFsync.accumulateAndGet(before, Math::max);
  }

  @Override
  public void forceDirectory(Path directory) throws IOException {
    failIfFailing("directory fsync");
    if (!skipFsync) {
      LogDisk.REAL.forceDirectory(directory);
    }
  }

  static TestDisk withoutFsync() {
    TestDisk disk = new TestDisk();
    disk.skipFsync = true;
    return disk;
  }

  void clearFault() {
    failing = false;
    halfWritten = false;
  }

  private void failIfFailing(String what) throws IOException {
    if (failing) {
      failedCalls.incrementAndGet();
      throw new IOException("No space left on device (injected, " + what + ")");
    }
  }
}
