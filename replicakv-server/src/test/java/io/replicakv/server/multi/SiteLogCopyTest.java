package io.replicakv.server.multi;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.PersistRecord;
import io.replicakv.server.leaderless.LeaderlessRecordLog;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A non-gateway node's copy of a site log: epochs, gaps, resends and the cut of a stale tail. */
class SiteLogCopyTest {
  @TempDir Path dir;

  private static List<PersistRecord> records(String prefix, int from, int count) {
    List<PersistRecord> out = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      out.add(new PersistRecord((prefix + i).getBytes(StandardCharsets.UTF_8)));
    }
    return out;
  }

  private static SiteLogFrames.Request append(long epoch, long from, List<PersistRecord> records) {
    return SiteLogFrames.decodeRequest(SiteLogFrames.append("ks", epoch, from, "a,b", records));
  }

  private static SiteLogFrames.Reply answer(byte[] reply) {
    return SiteLogFrames.decodeReply(reply);
  }

  private SiteLogCopy open() {
    return new SiteLogCopy("ks", dir.resolve("ks.log"), dir.resolve("ks.sites"), 0);
  }

  private List<String> onDisk() {
    try (LeaderlessRecordLog log = new LeaderlessRecordLog(dir.resolve("ks.log"))) {
      return log.recovered().stream()
          .map(r -> new String(r.payload(), StandardCharsets.UTF_8))
          .toList();
    }
  }

  @Test
  void appendsAtTheirPositionsAndAnswersAGapWithItsEnd() throws Exception {
    try (SiteLogCopy copy = open()) {
      assertThat(answer(copy.onRequest(append(1, 0, records("e1-", 0, 3)))))
          .isEqualTo(new SiteLogFrames.Reply(SiteLogFrames.Status.OK, 1, 3));
      assertThat(answer(copy.onRequest(append(1, 5, records("e1-", 5, 1)))))
          .isEqualTo(new SiteLogFrames.Reply(SiteLogFrames.Status.GAP, 1, 3));
      // a resend of the same epoch overlapping what it holds: the overlap is skipped
      assertThat(answer(copy.onRequest(append(1, 1, records("e1-", 1, 4)))))
          .extracting(SiteLogFrames.Reply::position)
          .isEqualTo(5L);
    }
    assertThat(onDisk()).containsExactly("e1-0", "e1-1", "e1-2", "e1-3", "e1-4");
    assertThat(Files.readString(dir.resolve("ks.sites")).trim()).isEqualTo("a,b");
  }

  @Test
  void followerRefusesAppendFromStaleEpochAfterAProbe() {
    try (SiteLogCopy copy = open()) {
      copy.onRequest(append(1, 0, records("e1-", 0, 2)));
      SiteLogFrames.Reply probed =
          answer(copy.onRequest(SiteLogFrames.decodeRequest(SiteLogFrames.probe("ks", 2))));
      assertThat(probed).isEqualTo(new SiteLogFrames.Reply(SiteLogFrames.Status.OK, 2, 2));
      SiteLogFrames.Reply stale = answer(copy.onRequest(append(1, 2, records("e1-", 2, 1))));
      assertThat(stale).isEqualTo(new SiteLogFrames.Reply(SiteLogFrames.Status.STALE, 2, 2));
      assertThat(copy.position()).isEqualTo(2);
    }
  }

  @Test
  void aNewerGatewayCutsTheTailItNeverHadAndTheCutSurvivesReopening() {
    try (SiteLogCopy copy = open()) {
      copy.onRequest(append(1, 0, records("e1-", 0, 5)));
      // epoch 2's gateway holds only 3 records: positions 3 and 4 were never acknowledged
      SiteLogFrames.Reply reply = answer(copy.onRequest(append(2, 3, records("e2-", 3, 1))));
      assertThat(reply).isEqualTo(new SiteLogFrames.Reply(SiteLogFrames.Status.OK, 2, 4));
      assertThat(copy.truncations()).isEqualTo(1);
    }
    assertThat(onDisk()).containsExactly("e1-0", "e1-1", "e1-2", "e2-3");
    try (SiteLogCopy reopened = open()) {
      assertThat(reopened.position()).isEqualTo(4);
      assertThat(reopened.promisedEpoch()).as("the writer's epoch is kept").isEqualTo(2);
      // the same epoch resending from an earlier position is a resend, not a cut
      reopened.onRequest(append(2, 2, records("e1-", 2, 1)));
      assertThat(reopened.truncations()).isZero();
      assertThat(reopened.onRequest(append(1, 4, records("x", 4, 1))))
          .satisfies(r -> assertThat(answer(r).status()).isEqualTo(SiteLogFrames.Status.STALE));
    }
    assertThat(onDisk()).containsExactly("e1-0", "e1-1", "e1-2", "e2-3");
  }

  @Test
  void framesRoundTripAndCorruptOnesAreRefused() {
    SiteLogFrames.Request request = append(7, 9, records("r", 0, 2));
    assertThat(request.kind()).isEqualTo(SiteLogFrames.KIND_APPEND);
    assertThat(request.epoch()).isEqualTo(7);
    assertThat(request.from()).isEqualTo(9);
    assertThat(request.sites()).isEqualTo("a,b");
    assertThat(request.records()).hasSize(2);
    byte[] encoded = SiteLogFrames.append("ks", 7, 9, "a,b", records("r", 0, 2));
    byte[] truncated = java.util.Arrays.copyOf(encoded, encoded.length - 1);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> SiteLogFrames.decodeRequest(truncated))
        .isInstanceOf(io.replicakv.core.util.CorruptEncodingException.class);
    byte[] badKind = encoded.clone();
    badKind[1] = 9;
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> SiteLogFrames.decodeRequest(badKind))
        .isInstanceOf(io.replicakv.core.util.CorruptEncodingException.class);
  }
}
