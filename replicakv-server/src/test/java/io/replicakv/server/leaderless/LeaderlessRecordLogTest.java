package io.replicakv.server.leaderless;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.PersistRecord;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LeaderlessRecordLogTest {
  @TempDir Path dir;

  private static PersistRecord record(String text) {
    return new PersistRecord(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  @Test
  void recordsComeBackInOrderAfterReopening() {
    Path file = dir.resolve("a/keyspace-1.log");
    try (LeaderlessRecordLog log = new LeaderlessRecordLog(file)) {
      assertThat(log.recovered()).isEmpty();
      log.append(List.of(record("one"), record("two")), true);
      log.append(List.of(record("three")), false);
    }
    try (LeaderlessRecordLog log = new LeaderlessRecordLog(file)) {
      assertThat(log.recovered()).containsExactly(record("one"), record("two"), record("three"));
      log.append(List.of(record("four")), true);
    }
    try (LeaderlessRecordLog log = new LeaderlessRecordLog(file)) {
      assertThat(log.recovered()).hasSize(4).last().isEqualTo(record("four"));
    }
  }

  @Test
  void aTornOrCorruptTailIsCutAndLaterAppendsSurvive() throws IOException {
    Path file = dir.resolve("keyspace-2.log");
    try (LeaderlessRecordLog log = new LeaderlessRecordLog(file)) {
      log.append(List.of(record("kept"), record("corrupted")), true);
    }
    long size = Files.size(file);
    try (RandomAccessFile raw = new RandomAccessFile(file.toFile(), "rw")) {
      raw.seek(size - 1);
      raw.write('X'); // flips the last payload byte: its checksum no longer matches
      raw.seek(size);
      raw.write(new byte[] {0, 0, 0}); // and a torn header after it
    }
    try (LeaderlessRecordLog log = new LeaderlessRecordLog(file)) {
      assertThat(log.recovered()).containsExactly(record("kept"));
      log.append(List.of(record("after")), true);
    }
    try (LeaderlessRecordLog log = new LeaderlessRecordLog(file)) {
      assertThat(log.recovered()).containsExactly(record("kept"), record("after"));
    }
  }
}
