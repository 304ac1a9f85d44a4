package io.replicakv.storage.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AlwaysPolicyTest {
  @TempDir Path dir;

  @Test
  void durableSequenceNeverRunsAheadOfAnFsyncAndFsyncsAreShared() throws IOException {
    TestDisk disk = new TestDisk();
    LogOptions options = LogOptions.defaults(dir).withFsync(FsyncPolicy.ALWAYS);
    int records = 20_000;
    int recordsPerFlush = 10;
    AtomicLong violations = new AtomicLong();
    AtomicLong lastSeen = new AtomicLong();
    AtomicLong notifications = new AtomicLong();
    try (SegmentedLog log = SegmentedLog.open(options, disk, System::nanoTime, 50)) {
      disk.log = log;
      log.addDurabilityListener(
          durable -> {
            notifications.incrementAndGet();
            if (durable > disk.coveredByFsync.get() || durable <= lastSeen.get()) {
              violations.incrementAndGet();
            }
            lastSeen.set(durable);
          });
      byte[] payload = new byte[64];
      for (int i = 0; i < records; i++) {
        log.append(i % 16, payload);
        if (i % recordsPerFlush == recordsPerFlush - 1) {
          log.flush();
        }
        // Sampled from the caller thread too: durability never outruns the fsyncs.
        if (i % 997 == 0) {
          long durable = log.durableSequence();
          if (durable > disk.coveredByFsync.get()) {
            violations.incrementAndGet();
          }
        }
      }
      log.sync();
      LogMetrics metrics = log.metrics();
      System.out.printf(
          "ALWAYS group commit: %d records, %d flushes, %d fsyncs, %.1f records per fsync,"
              + " mean fsync %.3f ms, max %.3f ms%n",
          records,
          records / recordsPerFlush,
          metrics.fsyncCount(),
          (double) records / metrics.fsyncCount(),
          metrics.fsyncTotalNanos() / 1e6 / metrics.fsyncCount(),
          metrics.fsyncMaxNanos() / 1e6);
      assertThat(violations.get()).isZero();
      assertThat(notifications.get()).isPositive();
      assertThat(log.durableSequence()).isEqualTo(records);
      assertThat(lastSeen.get()).isEqualTo(records);
      assertThat(metrics.fsyncCount()).isPositive().isLessThanOrEqualTo(records / recordsPerFlush);
      assertThat(metrics.fsyncCount()).isEqualTo(disk.forces.get());
    }
  }
}
