package io.replicakv.core.multi;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.quorum.Topology;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The site log's retention bound, full-state catch-ups of links that fell behind it, and the
 * checkpoint a compacted log file starts with.
 */
class SiteRetentionTest {
  private static final String A = "a";
  private static final String B = "b";
  private static final String C = "c";

  /** Small bounds, so that a test crosses them with a few hundred writes. */
  private static final SiteReplica.Retention SMALL = new SiteReplica.Retention(50, 1L << 20);

  private static Sites sites(Topology topology, ConflictResolver resolver, String... names) {
    return new Sites(MultiLeaderConfig.of(List.of(names), topology, resolver), SMALL);
  }

  private static void assertConverged(Sites sites, String... names) {
    for (String name : names) {
      assertThat(sites.site(name).visibleState())
          .as("site %s", name)
          .isEqualTo(sites.site(names[0]).visibleState());
      assertThat(sites.site(name).versionVector())
          .as("site %s", name)
          .isEqualTo(sites.site(names[0]).versionVector());
    }
  }

  @Test
  void aLinkCutPastRetentionIsCaughtUpWithTheKeyspaceStateAndConvergesKeyByKey() {
    Sites sites = sites(Topology.ALL_TO_ALL, new LwwResolver(), A, B, C);
    sites.put(A, "before", "cut");
    sites.rounds(3);
    sites.cut(A, B);
    for (int i = 0; i < 600; i++) {
      sites.put(A, "k" + (i % 120), "a" + i);
      if (i % 10 == 0) {
        sites.put(B, "k" + (i % 7), "b" + i); // concurrent writes on the other side of the cut
        sites.put(C, "c" + (i % 13), "c" + i);
      }
      sites.round();
      assertThat(sites.site(A).keptLogChanges()).isLessThanOrEqualTo(50);
      assertThat(sites.site(B).keptLogChanges()).isLessThanOrEqualTo(50);
    }
    assertThat(sites.site(A).metrics().get(ConflictMetrics.LOG_DROPPED_UNACKNOWLEDGED))
        .as("the bound dropped changes B never acknowledged")
        .isPositive();
    sites.heal();
    sites.rounds(60);
    assertConverged(sites, A, B, C);
    assertThat(sites.site(B).read("k5").values()).hasSize(1);
    assertThat(sites.site(A).metrics().get(ConflictMetrics.CATCH_UPS_STARTED)).isPositive();
    assertThat(sites.site(A).metrics().get(ConflictMetrics.CATCH_UPS_SENT))
        .isGreaterThanOrEqualTo(1);
    assertThat(sites.site(B).metrics().get(ConflictMetrics.CATCH_UPS_RECEIVED))
        .isGreaterThanOrEqualTo(1);
    assertThat(sites.site(A).catchUpProgress()).isEmpty();
    // the link streams changes again after the catch-up
    sites.put(A, "after", "heal");
    sites.rounds(3);
    assertThat(sites.site(B).read("after").values()).containsExactly("heal");
    assertThat(sites.site(A).lag().get(B).changes()).isZero();
  }

  @Test
  void aCatchUpInterruptedByAnotherCutResumesFromThePagesTheReceiverHolds() {
    Sites sites = sites(Topology.ALL_TO_ALL, new SiblingsResolver(), A, B);
    sites.cut(A, B);
    for (int i = 0; i < 3_000; i++) {
      sites.put(A, "key" + i, "v" + i);
    }
    sites.rounds(2);
    assertThat(sites.site(A).keptLogChanges()).isLessThanOrEqualTo(50);
    sites.heal();
    // the pages sent into the cut time out and go again, first one, then four at a time
    for (int i = 0; i < 20 && acked(sites) < 1_000; i++) {
      sites.round();
    }
    int held = acked(sites);
    assertThat(held).isBetween(1_000, 2_999);
    sites.cut(A, B);
    sites.rounds(30);
    assertThat(acked(sites)).isEqualTo(held);
    long sentBeforeHeal = sites.site(A).metrics().get(ConflictMetrics.CATCH_UP_KEYS_SENT);
    sites.heal();
    sites.rounds(30);
    assertConverged(sites, A, B);
    assertThat(sites.site(B).visibleState()).hasSize(3_000);
    assertThat(sites.site(A).metrics().get(ConflictMetrics.CATCH_UPS_STARTED)).isEqualTo(1);
    assertThat(sites.site(A).metrics().get(ConflictMetrics.CATCH_UP_KEYS_SENT) - sentBeforeHeal)
        .as("resumed at key %s, not restarted from the first key", held)
        .isLessThanOrEqualTo(3_000 - held);
    assertThat(sites.site(B).metrics().get(ConflictMetrics.CATCH_UP_KEYS_RECEIVED))
        .isEqualTo(3_000);
  }

  /** Keys of a's catch-up to b that b holds, from the progress line. */
  private static int acked(Sites sites) {
    String progress = sites.site(A).catchUpProgress().get(B);
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("keys_acked=(\\d+)").matcher(progress);
    assertThat(m.find()).as(progress).isTrue();
    return Integer.parseInt(m.group(1));
  }

  @Test
  void siblingsOnBothSidesOfACatchUpSurviveAndAWriteWithTheirContextResolvesThem() {
    Sites sites = sites(Topology.ALL_TO_ALL, new SiblingsResolver(), A, B);
    sites.put(A, "cart", "x");
    sites.rounds(3);
    sites.cut(A, B);
    sites.put(B, "cart", "from-b");
    for (int i = 0; i < 200; i++) {
      sites.put(A, "filler" + i, "f");
    }
    sites.put(A, "cart", "from-a");
    sites.rounds(20);
    sites.heal();
    sites.rounds(40);
    assertConverged(sites, A, B);
    SiteRead read = sites.site(B).read("cart");
    // both blind writes left the first value as a sibling too: none of them had read it
    assertThat(read.values()).containsExactlyInAnyOrder("x", "from-a", "from-b");
    sites.write(B, new SiteCommand.Assign("cart", "merged", Optional.of(read.context())));
    sites.rounds(3);
    assertThat(sites.site(A).read("cart").values()).containsExactly("merged");
  }

  @Test
  void crdtCountersCaughtUpByStateAddEveryIncrementOnce() {
    Sites sites = sites(Topology.ALL_TO_ALL, new CrdtResolver(), A, B);
    sites.cut(A, B);
    for (int i = 0; i < 300; i++) {
      sites.write(A, new SiteCommand.Increment("hits", 1));
    }
    for (int i = 0; i < 7; i++) {
      sites.write(B, new SiteCommand.Increment("hits", 1));
    }
    sites.rounds(20);
    sites.heal();
    sites.rounds(40);
    assertThat(sites.site(A).read("hits").values()).containsExactly("307");
    assertThat(sites.site(B).read("hits").values()).containsExactly("307");
  }

  @Test
  void aForwarderPassesACatchUpOnSoTheSitesBeyondItConverge() {
    // star: the hub a forwards; c's changes reach b only through a
    Sites sites =
        new Sites(MultiLeaderConfig.of(List.of(A, B, C), Topology.STAR, new LwwResolver()), SMALL);
    sites.cut(C, A);
    for (int i = 0; i < 400; i++) {
      sites.put(C, "leaf" + (i % 90), "c" + i);
    }
    sites.put(B, "b-key", "b");
    sites.rounds(20);
    sites.heal();
    sites.rounds(80);
    assertConverged(sites, A, B, C);
    assertThat(sites.site(B).read("leaf39").values()).containsExactly("c399");
    assertThat(sites.site(B).read("leaf89").values()).containsExactly("c359");
    assertThat(sites.site(A).metrics().get(ConflictMetrics.CATCH_UPS_RECEIVED)).isPositive();
  }

  @Test
  void aHubThatCrashesAfterJoiningACatchUpStillPassesItOnAfterItsRestart() {
    Sites sites =
        new Sites(
            MultiLeaderConfig.of(List.of(A, B, C), Topology.STAR, new SiblingsResolver()), SMALL);
    sites.cut(A, B); // the hub cannot pass anything on to b yet
    sites.cut(C, A);
    for (int i = 0; i < 200; i++) {
      sites.put(C, "leaf" + i, "c" + i);
    }
    sites.rounds(5);
    sites.heal();
    sites.cut(A, B);
    sites.rounds(30); // the hub joins c's catch-up and owes b one
    assertThat(sites.site(A).visibleState()).hasSize(200);
    assertThat(sites.site(B).visibleState()).isEmpty();
    sites.crash(A);
    sites.start(A);
    sites.heal();
    sites.rounds(60);
    assertConverged(sites, A, B, C);
    assertThat(sites.site(B).metrics().get(ConflictMetrics.CATCH_UPS_RECEIVED)).isPositive();
  }

  @Test
  void aCaughtUpSiteRebuildsTheJoinedStateFromItsDiskAfterARestart() {
    Sites sites = sites(Topology.ALL_TO_ALL, new LwwResolver(), A, B);
    sites.cut(A, B);
    for (int i = 0; i < 300; i++) {
      sites.put(A, "k" + (i % 40), "v" + i);
    }
    sites.rounds(15);
    sites.heal();
    sites.rounds(30);
    assertConverged(sites, A, B);
    sites.crash(B);
    sites.start(B);
    assertConverged(sites, A, B);
    sites.put(A, "next", "1");
    sites.rounds(5);
    assertThat(sites.site(B).read("next").values()).containsExactly("1");
    assertThat(sites.site(B).metrics().get(ConflictMetrics.DUPLICATES)).isZero();
  }

  @Test
  void aCompactedLogRecoversTheSameStateRetainedLogAndPositions() {
    Sites sites = sites(Topology.ALL_TO_ALL, new SiblingsResolver(), A, B, C);
    for (int i = 0; i < 100; i++) {
      sites.put(A, "k" + (i % 30), "a" + i);
      sites.put(B, "k" + (i % 11), "b" + i);
      sites.round();
    }
    sites.cut(A, C); // C falls behind A's log, within retention
    for (int i = 0; i < 20; i++) {
      sites.put(A, "late" + i, "x");
    }
    sites.rounds(2);
    int diskBefore = sites.disks.get(A).size();
    SiteReplica before = sites.site(A);
    sites.compact(A);
    assertThat(sites.disks.get(A).size()).isLessThan(diskBefore / 2);
    sites.crash(A);
    sites.start(A);
    SiteReplica after = sites.site(A);
    assertThat(after.visibleState()).isEqualTo(before.visibleState());
    assertThat(after.versionVector()).isEqualTo(before.versionVector());
    assertThat(after.logSize()).isEqualTo(before.logSize());
    assertThat(after.keptLogChanges()).isEqualTo(before.keptLogChanges());
    sites.heal();
    sites.rounds(20);
    assertConverged(sites, A, B, C);
    // C got A's late writes from the retained log, not by a catch-up
    assertThat(sites.site(C).metrics().get(ConflictMetrics.CATCH_UPS_RECEIVED)).isZero();
    sites.put(A, "k1", "after-compaction");
    sites.rounds(3);
    assertThat(sites.site(C).read("k1").values()).contains("after-compaction");
  }

  @Test
  void memoryStaysWithinTheByteBoundWithLargeValues() {
    Sites sites =
        new Sites(
            MultiLeaderConfig.of(List.of(A, B), Topology.ALL_TO_ALL, new LwwResolver()),
            new SiteReplica.Retention(1_000_000, 200_000));
    sites.cut(A, B);
    String value = "x".repeat(10_000);
    for (int i = 0; i < 200; i++) {
      sites.put(A, "big" + (i % 5), value + i);
      sites.round();
      assertThat(sites.site(A).retainedBytes()).isLessThanOrEqualTo(200_000);
    }
    sites.heal();
    sites.rounds(30);
    assertConverged(sites, A, B);
    assertThat(sites.site(B).read("big4").values()).containsExactly(value + 199);
  }
}
