package io.replicakv.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class SequenceFileNamesTest {
  @Test
  void namesSortInSequenceOrderAndParseBack() {
    assertThat(SequenceFileNames.format(42, ".log")).isEqualTo("00000000000000000042.log");
    assertThat(SequenceFileNames.format(9, ".log"))
        .isLessThan(SequenceFileNames.format(10, ".log"));
    for (long sequence : new long[] {0, 1, 123_456_789, Long.MAX_VALUE}) {
      String name = SequenceFileNames.format(sequence, ".snapshot");
      assertThat(SequenceFileNames.parse(Path.of("dir", name), ".snapshot")).hasValue(sequence);
    }
  }

  @Test
  void foreignNamesAreNotOurs() {
    for (String name :
        new String[] {
          "00000000000000000042.snapshot.tmp",
          "0000000000000000042.log",
          "000000000000000000042.log",
          "0000000000000000004x.log",
          "99999999999999999999.log", // past Long.MAX_VALUE
          "00000000000000000042.LOG",
          ".log"
        }) {
      assertThat(SequenceFileNames.parse(Path.of(name), ".log"))
          .as(name)
          .isEqualTo(OptionalLong.empty());
    }
    assertThatThrownBy(() -> SequenceFileNames.format(-1, ".log"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
