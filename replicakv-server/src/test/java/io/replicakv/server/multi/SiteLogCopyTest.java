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

  /**
   * An append of {@code records} at {@code from} by a gateway whose log before {@code from} is
   * {@code prefix} (its hash goes in the frame).
   */
  private static SiteLogFrames.Request append(
      long epoch, List<PersistRecord> prefix, List<PersistRecord> records) {
    long hash = SiteLogFrames.EMPTY_HASH;
    for (PersistRecord record : prefix) {
      hash = SiteLogFrames.chain(hash, record);
    }
    return SiteLogFrames.decodeRequest(
        SiteLogFrames.append("ks", epoch, prefix.size(), hash, "a,b", records));
  }

  /** An append by a gateway whose log is {@code prefix}-then-0,1,2... of one epoch. */
  private static SiteLogFrames.Request append(long epoch, long from, List<PersistRecord> records) {
    return append(epoch, records("e1-", 0, (int) from), records);
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
  void aPromiseGivenToAProbeSurvivesARestartBeforeTheElectionCommits() throws Exception {
    try (SiteLogCopy copy = open()) {
      copy.onRequest(append(1, 0, records("e1-", 0, 2)));
      SiteLogFrames.Reply probed =
          answer(copy.onRequest(SiteLogFrames.decodeRequest(SiteLogFrames.probe("ks", 2))));
      assertThat(probed.status()).isEqualTo(SiteLogFrames.Status.OK);
      // epoch 1's first append and epoch 2's probe each raised the durable promise
      assertThat(copy.promisesWritten()).isEqualTo(2);
      // a repeated probe of the same epoch does not write again
      copy.onRequest(SiteLogFrames.decodeRequest(SiteLogFrames.probe("ks", 2)));
      assertThat(copy.promisesWritten()).isEqualTo(2);
    }
    assertThat(Files.readString(dir.resolve("ks.promise")).trim()).isEqualTo("2");
    // the node restarts before the election's record is committed: no view tells it epoch 2,
    // yet epoch 1's gateway, still running, must not get an acknowledgement from it
    try (SiteLogCopy restarted = open()) {
      assertThat(restarted.promisedEpoch()).isEqualTo(2);
      SiteLogFrames.Reply stale = answer(restarted.onRequest(append(1, 2, records("e1-", 2, 1))));
      assertThat(stale).isEqualTo(new SiteLogFrames.Reply(SiteLogFrames.Status.STALE, 2, 2));
      SiteLogFrames.Reply olderProbe =
          answer(restarted.onRequest(SiteLogFrames.decodeRequest(SiteLogFrames.probe("ks", 1))));
      assertThat(olderProbe.status()).isEqualTo(SiteLogFrames.Status.STALE);
      // the epoch it promised still gets through
      SiteLogFrames.Reply next = answer(restarted.onRequest(append(2, 2, records("e1-", 2, 1))));
      assertThat(next).isEqualTo(new SiteLogFrames.Reply(SiteLogFrames.Status.OK, 2, 3));
    }
    assertThat(onDisk()).containsExactly("e1-0", "e1-1", "e1-2");
  }

  @Test
  void anUnreadablePromiseFileStopsTheCopyInsteadOfForgettingThePromise() throws Exception {
    Files.writeString(dir.resolve("ks.promise"), "not a number\n");
    org.assertj.core.api.Assertions.assertThatThrownBy(this::open)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("ks.promise");
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
  void aPrefixThatDiffersFromTheGatewaysIsFoundByItsHashAndReplacedFromTheStart() {
    try (SiteLogCopy copy = open()) {
      // this node holds an old gateway's tail (x3, x4) that the next election never heard of
      List<PersistRecord> mine = new ArrayList<>(records("e1-", 0, 3));
      mine.addAll(records("x", 3, 2));
      copy.onRequest(append(1, List.of(), mine));
      // epoch 3's gateway: e1-0..2 then its own records 3..5; it sends from 5
      List<PersistRecord> gateway = new ArrayList<>(records("e1-", 0, 3));
      gateway.addAll(records("e3-", 3, 3));
      SiteLogFrames.Reply reply =
          answer(copy.onRequest(append(3, gateway.subList(0, 5), gateway.subList(5, 6))));
      assertThat(reply).isEqualTo(new SiteLogFrames.Reply(SiteLogFrames.Status.GAP, 3, 0));
      assertThat(copy.mismatches()).isEqualTo(1);
      reply = answer(copy.onRequest(append(3, List.of(), gateway)));
      assertThat(reply).isEqualTo(new SiteLogFrames.Reply(SiteLogFrames.Status.OK, 3, 6));
    }
    assertThat(onDisk()).containsExactly("e1-0", "e1-1", "e1-2", "e3-3", "e3-4", "e3-5");
  }

  @Test
  void framesRoundTripAndCorruptOnesAreRefused() {
    SiteLogFrames.Request request = append(7, 9, records("r", 0, 2));
    assertThat(request.kind()).isEqualTo(SiteLogFrames.KIND_APPEND);
    assertThat(request.epoch()).isEqualTo(7);
    assertThat(request.from()).isEqualTo(9);
    assertThat(request.sites()).isEqualTo("a,b");
    assertThat(request.records()).hasSize(2);
    byte[] encoded = SiteLogFrames.append("ks", 7, 9, 42L, "a,b", records("r", 0, 2));
    assertThat(SiteLogFrames.decodeRequest(encoded).prefixHash()).isEqualTo(42L);
    byte[] truncated = java.util.Arrays.copyOf(encoded, encoded.length - 1);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> SiteLogFrames.decodeRequest(truncated))
        .isInstanceOf(io.replicakv.core.util.CorruptEncodingException.class);
    byte[] badKind = encoded.clone();
    badKind[1] = 9;
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> SiteLogFrames.decodeRequest(badKind))
        .isInstanceOf(io.replicakv.core.util.CorruptEncodingException.class);
  }
}
