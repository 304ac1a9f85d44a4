package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.PersistRecord;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SimDiskTest {
  private static PersistRecord record(String text) {
    return new PersistRecord(text.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void syncedRecordsSurviveEveryCrash() {
    for (long seed = 0; seed < 50; seed++) {
      SimDisk disk = new SimDisk(1.0);
      disk.append(record("one"));
      disk.append(record("two"));
      disk.sync();
      disk.append(record("three"));
      disk.crash(new Prng(seed));
      List<PersistRecord> recovered = disk.recover();
      assertThat(recovered).startsWith(record("one"), record("two"));
      assertThat(recovered.size()).isBetween(2, 3);
    }
  }

  @Test
  void crashKeepsAPrefixOfUnsyncedRecordsLosingSomeForSomeSeeds() {
    List<Integer> survivors = new ArrayList<>();
    for (long seed = 0; seed < 50; seed++) {
      SimDisk disk = new SimDisk(0.0);
      List<PersistRecord> written = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        written.add(record("r" + i));
        disk.append(written.get(i));
      }
      disk.crash(new Prng(seed));
      List<PersistRecord> recovered = disk.recover();
      assertThat(recovered).isEqualTo(written.subList(0, recovered.size()));
      survivors.add(recovered.size());
    }
    assertThat(survivors).contains(0, 5);
  }

  @Test
  void tornTailIsCutOffAndLaterAppendsAreReadable() {
    boolean sawTear = false;
    for (long seed = 0; seed < 50; seed++) {
      SimDisk disk = new SimDisk(1.0);
      disk.append(record("durable"));
      disk.sync();
      disk.append(record("a-long-unsynced-record-that-may-tear"));
      String what = disk.crash(new Prng(seed));
      sawTear |= what.contains("torn");
      List<PersistRecord> recovered = disk.recover();
      assertThat(recovered).containsExactly(record("durable"));
      disk.append(record("after"));
      disk.sync();
      disk.crash(new Prng(seed));
      assertThat(disk.recover()).containsExactly(record("durable"), record("after"));
    }
    assertThat(sawTear).isTrue();
  }
}
