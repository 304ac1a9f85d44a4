package io.replicakv.storage.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiskFailureTest {
  private static final Duration DEADLINE = Duration.ofSeconds(10);

  @TempDir Path dir;

  @Test
  void appendsAreRefusedWhileTheDiskIsFullAndNothingIsLostAfterItClears() throws IOException {
    TestDisk disk = new TestDisk();
    LogOptions options = LogOptions.defaults(dir).withFsync(FsyncPolicy.ALWAYS);
    List<Records> appended = new ArrayList<>();
    try (SegmentedLog log = SegmentedLog.open(options, disk, System::nanoTime, 20)) {
      for (int i = 0; i < 100; i++) {
        byte[] payload = {(byte) i, 1, 2, 3, 4, 5, 6, 7};
        appended.add(new Records(log.append(i, payload), i, payload));
      }
      log.sync();
      assertThat(log.durableSequence()).isEqualTo(100);

      disk.failing = true;
      for (int i = 100; i < 150; i++) {
        byte[] payload = {(byte) i, 9, 9, 9};
        appended.add(new Records(log.append(i, payload), i, payload));
      }
      log.flush();
      await().atMost(DEADLINE).until(() -> log.failure() != null);
      assertThatThrownBy(() -> log.append(1, new byte[1]))
          .isInstanceOf(LogWriteException.class)
          .hasCauseInstanceOf(IOException.class);
      assertThatThrownBy(log::sync).isInstanceOf(IOException.class);
      // The writer keeps retrying, and nothing it could not fsync is called durable.
      await().atMost(DEADLINE).until(() -> disk.failedCalls.get() >= 3);
      assertThat(log.durableSequence()).isEqualTo(100);
      assertThat(log.lastSequence()).isEqualTo(150);

      disk.clearFault();
      await().atMost(DEADLINE).until(() -> log.failure() == null && log.durableSequence() == 150);
      byte[] after = {42};
      appended.add(new Records(log.append(3, after), 3, after));
      assertThat(appended.getLast().sequence()).isEqualTo(151);
      log.sync();
      assertThat(Records.replayAll(log, 0)).containsExactlyElementsOf(appended);
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(log.recovery().truncationReason()).isNull();
      assertThat(Records.replayAll(log, 0)).containsExactlyElementsOf(appended);
    }
  }

  @Test
  void aFailedSegmentRollIsRetried() throws IOException {
    TestDisk disk = new TestDisk();
    LogOptions options =
        LogOptions.defaults(dir).withFsync(FsyncPolicy.INTERVAL).withSegmentSizeBytes(1024);
    List<Records> appended = new ArrayList<>();
    try (SegmentedLog log = SegmentedLog.open(options, disk, System::nanoTime, 20)) {
      disk.failing = true; // the very first segment cannot even be created
      for (int i = 0; i < 30; i++) {
        byte[] payload = new byte[100];
        payload[0] = (byte) i;
        appended.add(new Records(log.append(0, payload), 0, payload));
      }
      log.flush();
      await().atMost(DEADLINE).until(() -> log.failure() != null);
      assertThat(log.durableSequence()).isZero();
      disk.clearFault();
      // Under INTERVAL the caller writes, so retries happen in flush calls (the server's timer).
      await()
          .atMost(DEADLINE)
          .pollInSameThread()
          .until(
              () -> {
                log.flush();
                return log.durableSequence() == 30;
              });
      assertThat(log.failure()).isNull();
      assertThat(log.metrics().segmentCount()).isEqualTo(4);
    }
    try (SegmentedLog log = SegmentedLog.open(options)) {
      assertThat(Records.replayAll(log, 0)).containsExactlyElementsOf(appended);
    }
  }

  @Test
  void aFailedFsyncIsNotRetriedAndAppendsStayRefusedUntilRestart() throws IOException {
    for (FsyncPolicy policy : List.of(FsyncPolicy.ALWAYS, FsyncPolicy.INTERVAL)) {
      Path logDir = dir.resolve(policy.name());
      TestDisk disk = new TestDisk();
      LogOptions options = LogOptions.defaults(logDir).withFsync(policy);
      List<Records> synced = new ArrayList<>();
      SegmentedLog log = SegmentedLog.open(options, disk, System::nanoTime, 20);
      {
        for (int i = 0; i < 50; i++) {
          byte[] payload = {(byte) i, 7};
          synced.add(new Records(log.append(i, payload), i, payload));
        }
        log.sync();
        disk.failingFsync = true;
        log.append(1, new byte[] {1, 2, 3});
        assertThatThrownBy(log::sync)
            .isInstanceOf(IOException.class)
            .hasMessageContaining("fsync failed");
        await().atMost(DEADLINE).until(() -> log.failure() != null);
        int failedBefore = disk.failedCalls.get();
        disk.failingFsync = false;
        // A retried fsync could succeed without the records being on disk, so none is made.
        assertThatThrownBy(log::sync).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> log.append(1, new byte[1]))
            .isInstanceOf(LogWriteException.class)
            .hasMessageContaining("restart");
        assertThat(log.failure()).hasMessageContaining("until the node restarts");
        assertThat(disk.failedCalls.get()).isEqualTo(failedBefore);
        assertThat(disk.forces.get()).isPositive();
      }
      // Closing reports the failure too: the last records were never made durable.
      assertThatThrownBy(log::close).isInstanceOf(IOException.class);
      try (SegmentedLog reopened = SegmentedLog.open(options)) {
        List<Records> recovered = Records.replayAll(reopened, 0);
        assertThat(recovered).startsWith(synced.toArray(Records[]::new));
        assertThat(recovered.size()).isBetween(synced.size(), synced.size() + 1);
        reopened.append(2, new byte[] {9});
        reopened.sync();
      }
    }
  }
}
