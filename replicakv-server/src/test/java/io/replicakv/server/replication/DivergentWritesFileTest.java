package io.replicakv.server.replication;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.SingleLeaderMessage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node's divergent-writes record survives a reopen and skips epoch markers. */
class DivergentWritesFileTest {
  @TempDir Path dir;

  private static SingleLeaderMessage.Entry write(long epoch, long offset, String key) {
    return new SingleLeaderMessage.Entry(
        epoch,
        offset,
        new Operation.Write(key, ("payload-" + key).getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void rowsSurviveAReopenInOrder() {
    Path file = dir.resolve("replication").resolve("divergent-writes.log");
    try (DivergentWritesFile divergent = new DivergentWritesFile(file)) {
      divergent.record(
          3,
          17,
          List.of(write(4, 10, "a"), new SingleLeaderMessage.Entry(5, 11, null), write(4, 12, "b")),
          1_000);
      divergent.record(0, 2, List.of(write(7, 99, "c")), 2_000);
      assertThat(divergent.rows()).hasSize(3);
    }
    try (DivergentWritesFile reopened = new DivergentWritesFile(file)) {
      List<DivergentWritesFile.Row> rows = reopened.rows();
      assertThat(rows).extracting(DivergentWritesFile.Row::key).containsExactly("a", "b", "c");
      DivergentWritesFile.Row first = rows.get(0);
      assertThat(first.keyspace()).isEqualTo(3);
      assertThat(first.group()).isEqualTo(17);
      assertThat(first.epoch()).isEqualTo(4);
      assertThat(first.offset()).isEqualTo(10);
      assertThat(first.foundMillis()).isEqualTo(1_000);
      assertThat(new String(first.payload(), StandardCharsets.UTF_8)).isEqualTo("payload-a");
      assertThat(rows.get(2).keyspace()).isZero();
    }
  }
}
