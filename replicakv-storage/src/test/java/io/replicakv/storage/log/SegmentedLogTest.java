package io.replicakv.storage.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SegmentedLogTest {
  private static final Duration DEADLINE = Duration.ofSeconds(10);

  @TempDir Path dir;

  private LogOptions options(FsyncPolicy policy) {
    return LogOptions.defaults(dir).withFsync(policy);
  }

  private static List<Records> appendRandom(SegmentedLog log, Random random, int count, int large) {
    List<Records> appended = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      byte[] payload = Records.randomPayload(random, large);
      int partition = random.nextInt(1000);
      long sequence = log.append(partition, payload);
      appended.add(new Records(sequence, partition, payload));
      if (random.nextInt(8) == 0) {
        log.flush();
      }
    }
    return appended;
  }

  @Test
  void appendedRecordsReplayInOrderAndSurviveReopen() throws IOException {
    List<Records> appended;
    try (SegmentedLog log = SegmentedLog.open(options(FsyncPolicy.NEVER))) {
      assertThat(log.recovery().lastSequence()).isZero();
      assertThat(log.lastSequence()).isZero();
      appended = appendRandom(log, new Random(1), 500, 10_000);
      assertThat(appended.getFirst().sequence()).isEqualTo(1);
      assertThat(log.lastSequence()).isEqualTo(500);
      assertThat(Records.replayAll(log, 0)).containsExactlyElementsOf(appended);
      assertThat(log.metrics().appendedRecords()).isEqualTo(500);
    }
    try (SegmentedLog log = SegmentedLog.open(options(FsyncPolicy.NEVER))) {
      RecoveryReport report = log.recovery();
      assertThat(report.firstSequence()).isEqualTo(1);
      assertThat(report.lastSequence()).isEqualTo(500);
      assertThat(report.recordCount()).isEqualTo(500);
      assertThat(report.truncatedBytes()).isZero();
      assertThat(report.truncationReason()).isNull();
      assertThat(Records.replayAll(log, 0)).containsExactlyElementsOf(appended);
      assertThat(log.append(7, new byte[] {1, 2, 3})).isEqualTo(501);
    }
  }

  @Test
  void segmentsRollAtTheConfiguredSizeAndReplayFromTheMiddle() throws IOException {
    LogOptions options = options(FsyncPolicy.NEVER).withSegmentSizeBytes(1024);
    List<Records> appended = new ArrayList<>();
    try (SegmentedLog log = SegmentedLog.open(options)) {
      for (int i = 0; i < 100; i++) {
        byte[] payload = new byte[100];
        payload[0] = (byte) i;
        appended.add(new Records(log.append(i % 3, payload), i % 3, payload));
      }
      log.sync();
      // 120-byte records: 8 fit after the 20-byte header in 1024 bytes, so 13 segments.
      assertThat(log.metrics().segmentCount()).isEqualTo(13);
      try (Stream<Path> files = Files.list(dir)) {
        List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
        assertThat(names)
            .hasSize(13)
            .contains("00000000000000000001.log", "00000000000000000009.log");
        for (String name : names) {
          assertThat(Files.size(dir.resolve(name))).isLessThanOrEqualTo(1024);
        }
      }
      assertThat(Records.replayAll(log, 57)).containsExactlyElementsOf(appended.subList(57, 100));
      assertThat(Records.replayAll(log, 100)).isEmpty();
    }
  }

  @Test
  void aRecordLargerThanASegmentGetsASegmentOfItsOwn() throws IOException {
    LogOptions options = options(FsyncPolicy.NEVER).withSegmentSizeBytes(1024);
    try (SegmentedLog log = SegmentedLog.open(options)) {
      log.append(0, new byte[10]);
      log.append(0, new byte[5000]);
      log.append(0, new byte[10]);
      log.sync();
      assertThat(log.metrics().segmentCount()).isEqualTo(3);
      assertThat(Records.replayAll(log, 0))
          .extracting(r -> r.payload().length)
          .containsExactly(10, 5000, 10);
    }
  }

  @Test
  void deleteSegmentsBeforeDropsOnlyWholeOlderSegments() throws IOException {
    LogOptions options = options(FsyncPolicy.NEVER).withSegmentSizeBytes(1024);
    List<Records> appended = new ArrayList<>();
    try (SegmentedLog log = SegmentedLog.open(options)) {
      for (int i = 0; i < 100; i++) {
        byte[] payload = new byte[100];
        appended.add(new Records(log.append(1, payload), 1, payload));
      }
      log.sync();
      // Segments start at 1, 9, 17, ..., 57, 65: all records below 60 live in segments up to 57.
      log.deleteSegmentsBefore(60);
      assertThat(log.firstSequence()).isEqualTo(57);
      assertThat(Files.exists(dir.resolve(LogFormat.fileName(49)))).isFalse();
      assertThat(Files.exists(dir.resolve(LogFormat.fileName(57)))).isTrue();
      assertThat(Records.replayAll(log, 59)).containsExactlyElementsOf(appended.subList(59, 100));
      assertThatThrownBy(() -> Records.replayAll(log, 0)).isInstanceOf(IOException.class);

      log.deleteSegmentsBefore(Long.MAX_VALUE);
      assertThat(log.metrics().segmentCount()).isEqualTo(1);
      assertThat(log.firstSequence()).isEqualTo(97);
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.recovery().firstSequence()).isEqualTo(97);
      assertThat(log.recovery().truncationReason()).isNull();
      assertThat(log.append(1, new byte[1])).isEqualTo(101);
      log.sync();
      assertThat(Records.replayAll(log, 96)).hasSize(5);
    }
  }

  @Test
  void intervalPolicyFsyncsWithoutBeingAsked() throws IOException {
    TestDisk disk = new TestDisk();
    LogOptions options = options(FsyncPolicy.INTERVAL).withFsyncIntervalMillis(20);
    try (SegmentedLog log = SegmentedLog.open(options, disk, System::nanoTime, 50)) {
      disk.log = log;
      log.append(1, new byte[] {42});
      log.flush();
      // Durable once written: the page cache counts under INTERVAL.
      await().atMost(DEADLINE).until(() -> log.durableSequence() == 1);
      await().atMost(DEADLINE).until(() -> log.metrics().fsyncCount() >= 1);
      assertThat(disk.coveredByFsync.get()).isEqualTo(1);
    }
  }

  @Test
  void neverPolicyFsyncsOnlyWhenAsked() throws IOException {
    TestDisk disk = new TestDisk();
    try (SegmentedLog log =
        SegmentedLog.open(options(FsyncPolicy.NEVER), disk, System::nanoTime, 50)) {
      for (int i = 0; i < 100; i++) {
        log.append(1, new byte[100]);
      }
      log.flush();
      await().atMost(DEADLINE).until(() -> log.durableSequence() == 100);
      assertThat(log.metrics().fsyncCount()).isZero();
      log.sync();
      assertThat(log.metrics().fsyncCount()).isEqualTo(1);
    }
  }

  /** Under ALWAYS the appender waits for the writer thread; otherwise it is blocked in write. */
  @ParameterizedTest
  @EnumSource(FsyncPolicy.class)
  void appendBlocksWhileTooManyBytesWaitForTheWriter(FsyncPolicy policy) throws Exception {
    TestDisk disk = TestDisk.withoutFsync();
    LogOptions options = options(policy).withMaxBufferedBytes(10_000);
    try (SegmentedLog log = SegmentedLog.open(options, disk, System::nanoTime, 50)) {
      CountDownLatch gate = new CountDownLatch(1);
      disk.gate = gate;
      int records = 1000; // 120 bytes each: 120 kB, twelve times the bound
      Thread appender =
          new Thread(
              () -> {
                for (int i = 0; i < records; i++) {
                  log.append(1, new byte[100]);
                }
                log.flush();
              });
      appender.start();
      await()
          .atMost(DEADLINE)
          .until(
              () ->
                  appender.getState() == Thread.State.TIMED_WAITING
                      || appender.getState() == Thread.State.WAITING);
      long appendedWhileBlocked = log.metrics().appendedRecords();
      assertThat(appendedWhileBlocked).isBetween(1L, 10_000L / 120 + 1);
      gate.countDown();
      appender.join(DEADLINE.toMillis());
      assertThat(appender.isAlive()).isFalse();
      disk.gate = null;
      assertThat(log.lastSequence()).isEqualTo(records);
      log.sync();
      assertThat(Records.replayAll(log, 0)).hasSize(records);
    }
  }

  /**
   * The kill -9 guarantee of INTERVAL and NEVER: flush performs write(2) on the calling thread, so
   * the record is in the file, readable through another channel, the moment flush returns.
   */
  @ParameterizedTest
  @EnumSource(
      value = FsyncPolicy.class,
      names = {"INTERVAL", "NEVER"})
  void flushWritesTheRecordToTheFileBeforeItReturns(FsyncPolicy policy) throws IOException {
    TestDisk disk = TestDisk.withoutFsync();
    LogOptions options = options(policy).withFsyncIntervalMillis(60_000);
    try (SegmentedLog log = SegmentedLog.open(options, disk, System::nanoTime, 50)) {
      for (int round = 1; round <= 3; round++) {
        byte[] payload = {(byte) round, 7, 7};
        long sequence = log.append(round, payload);
        log.flush();
        assertThat(disk.lastWriter).isSameAs(Thread.currentThread());
        assertThat(log.durableSequence()).isEqualTo(sequence);
        Path file = dir.resolve(LogFormat.fileName(1));
        try (SegmentReader reader = SegmentReader.open(file)) {
          assertThat(reader.readHeader(1)).isTrue();
          LogRecord last = null;
          for (LogRecord record = reader.next(); record != null; record = reader.next()) {
            last = record;
          }
          assertThat(reader.problem()).isNull();
          assertThat(last).isNotNull();
          assertThat(last.sequence()).isEqualTo(sequence);
          assertThat(last.partition()).isEqualTo(round);
          assertThat(last.payload()).containsExactly(payload);
        }
      }
      assertThat(log.metrics().fsyncCount()).isZero();
    }
  }
}
