package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The progress line, its byte pairs and durations, and the parsing of the replies it reads. */
class MoveWatchTest {
  static final long MIB = 1024 * 1024;

  @Test
  void theLineShowsBarPercentBytesRateAndEta() {
    // 3.1 of 6.0 MiB at 1.2 MiB/s: 2.9 MiB left, 2.4 s, rounded up to 3 s
    long done = (long) (3.1 * MIB);
    long total = 6 * MIB;
    assertThat(MoveWatch.render(done, total, 1.2 * MIB, 10))
        .isEqualTo("[#####.....] 51% 3.1/6.0 MiB 1.2 MiB/s ETA 3s");
    assertThat(MoveWatch.render(0, total, Double.NaN, 10))
        .isEqualTo("[..........] 0% 0.0/6.0 MiB ? B/s ETA ?");
    assertThat(MoveWatch.render(total, total, Double.NaN, 10))
        .isEqualTo("[##########] 100% 6.0/6.0 MiB ? B/s ETA 0s");
    assertThat(MoveWatch.render(total + 5, total, 0, 4))
        .as("copied past the plan (writes during the copy) is clamped")
        .isEqualTo("[####] 100% 6.0/6.0 MiB 0 B/s ETA 0s");
    assertThat(MoveWatch.render(0, 0, Double.NaN, 4)).isEqualTo("[####] 100% 0/0 B ? B/s ETA 0s");
    assertThat(MoveWatch.render(300, 812, 0, 4))
        .as("no progress in the window: unknown ETA")
        .isEqualTo("[#...] 36% 300/812 B 0 B/s ETA ?");
    assertThat(MoveWatch.render(999, 1000, 1, 20)).startsWith("[###################.] 99% ");
  }

  @Test
  void pairsAndDurationsAreInOneUnit() {
    assertThat(MoveWatch.pair(512, 2048)).isEqualTo("0.5/2.0 KiB");
    assertThat(MoveWatch.pair(5L << 30, 10L << 30)).isEqualTo("5.0/10.0 GiB");
    assertThat(MoveWatch.duration(-1)).isEqualTo("?");
    assertThat(MoveWatch.duration(0)).isEqualTo("0s");
    assertThat(MoveWatch.duration(59)).isEqualTo("59s");
    assertThat(MoveWatch.duration(185)).isEqualTo("3m05s");
    assertThat(MoveWatch.duration(7_620)).isEqualTo("2h07m");
  }

  @Test
  void repliesAreParsed() {
    Map<String, String> f =
        MoveWatch.fields(
            "node:n1\r\nmember:n4\r\nphase:copy\r\ntargets:\r\nwatched_sources:n1,n2\r\n");
    assertThat(f)
        .containsEntry("node", "n1")
        .containsEntry("phase", "copy")
        .containsEntry("targets", "")
        .containsEntry("watched_sources", "n1,n2");
    Map<String, String> addresses =
        MoveWatch.addresses(
            "n1 127.0.0.1:7001@7101 myself,master - 0 0 5 connected 0-100 200\n"
                + "n2 10.0.0.2:7002@7102 master - 0 0 5 connected\n");
    assertThat(addresses)
        .containsEntry("n1", "127.0.0.1:7001")
        .containsEntry("n2", "10.0.0.2:7002");
  }

  @Test
  void aSourcePastItsCopyCountsAsComplete() {
    assertThat(new MoveWatch.SourceReport("copy", 100, 40, 3).doneBytes()).isEqualTo(40);
    assertThat(new MoveWatch.SourceReport("copy", 100, 140, 3).doneBytes()).isEqualTo(100);
    assertThat(new MoveWatch.SourceReport("delta", 100, 90, 3).doneBytes()).isEqualTo(100);
    assertThat(new MoveWatch.SourceReport("done", 100, 100, 3).doneBytes()).isEqualTo(100);
  }

  @Test
  void aSeedThatNeverAnswersEndsTheWatchAtOnce() throws Exception {
    int port = ServerProcess.freePorts(1)[0]; // nothing listens there
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    MoveWatch.Watcher watcher =
        new MoveWatch.Watcher(
            "127.0.0.1:" + port,
            "n2",
            new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8),
            false,
            System::nanoTime);
    int[] pauses = {0};
    assertThat(watcher.run(() -> pauses[0]++)).isEqualTo(MoveWatch.EXIT_FAILED);
    assertThat(pauses[0]).isZero();
    assertThat(captured.toString(java.nio.charset.StandardCharsets.UTF_8))
        .contains("seed node unreachable");
  }
}
