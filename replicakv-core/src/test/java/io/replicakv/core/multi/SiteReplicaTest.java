package io.replicakv.core.multi;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.causal.Dot;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.quorum.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SiteReplicaTest {
  private static final String A = "a";
  private static final String B = "b";
  private static final String C = "c";

  /** Rounds that cover a retransmit timeout and the resend after it. */
  private static final int RETRANSMIT_ROUNDS = 3 * SiteReplica.RETRANSMIT_TICKS;

  @Test
  void localWriteGetsNextDotOfItsSiteAndTheSiteVersionVectorAsDependencies() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new SiblingsResolver(), A, B, C);
    sites.put(A, "k", "1");
    sites.put(A, "j", "2");
    SiteRecord.Applied second =
        (SiteRecord.Applied) SiteRecord.fromRecord(sites.disks.get(A).get(1));
    assertThat(second.change().dot()).isEqualTo(new Dot(A, 2));
    assertThat(second.change().dependencies()).isEqualTo(VersionVector.of(Map.of(A, 1L)));
    assertThat(second.path()).containsExactly(A);
    assertThat(sites.site(A).versionVector()).isEqualTo(VersionVector.of(Map.of(A, 2L)));
    assertThat(sites.replies).extracting(r -> r.reply()).allMatch(r -> r instanceof Reply.Written);
  }

  @Test
  void allToAllSitesConvergeWithoutForwarding() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new SiblingsResolver(), A, B, C);
    sites.put(A, "x", "from-a");
    sites.put(B, "y", "from-b");
    sites.rounds(3);
    for (String site : List.of(A, B, C)) {
      assertThat(sites.site(site).visibleState())
          .isEqualTo(Map.of("x", List.of("from-a"), "y", List.of("from-b")));
      assertThat(sites.site(site).metrics().get(ConflictMetrics.LOOPED)).isZero();
    }
    // C received a's change from a only: nobody forwards in all-to-all.
    assertThat(sites.site(C).metrics().get(ConflictMetrics.DUPLICATES)).isZero();
  }

  @Test
  void inboundLagCountsWhatAProbeAnnouncedUntilTheChangesAreApplied() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new SiblingsResolver(), A, B);
    sites.cut(A, B);
    sites.put(A, "k1", "1");
    sites.put(A, "k2", "2");
    sites.put(A, "k3", "3");
    sites.rounds(3);
    // nothing arrived: b cannot know what a holds
    assertThat(sites.site(B).inboundLag()).containsExactly(Map.entry(A, 0L));
    assertThat(sites.site(A).lag().get(B).changes()).isEqualTo(3);
    // a probe at a's sent position reaches b (the link returns): b learns it is 3 behind, refuses
    int a = sites.config.nodeOf(A);
    int b = sites.config.nodeOf(B);
    sites.site(B).step(new SiteMessage.Changes(a, b, 0, 3, 3, List.of()));
    assertThat(sites.site(B).inboundLag()).containsExactly(Map.entry(A, 3L));
    sites.heal();
    sites.rounds(RETRANSMIT_ROUNDS);
    assertThat(sites.site(B).visibleState()).containsOnlyKeys("k1", "k2", "k3");
    assertThat(sites.site(B).inboundLag()).containsExactly(Map.entry(A, 0L));
    assertThat(sites.site(A).lag().get(B).changes()).isZero();
  }

  @Test
  void starHubForwardsLeafWritesToTheOtherLeavesAndNeverBackToTheOrigin() {
    Sites sites = Sites.of(Topology.STAR, new SiblingsResolver(), A, B, C);
    sites.put(B, "k", "from-b");
    sites.rounds(4);
    assertThat(sites.site(C).read("k").values()).containsExactly("from-b");
    for (String site : List.of(A, B, C)) {
      assertThat(sites.site(site).metrics().get(ConflictMetrics.LOOPED)).isZero();
      assertThat(sites.site(site).logSize()).isEqualTo(1);
    }
  }

  @Test
  void starFlowStopsBeyondADownHubShowsAsLagAndResumesWhenItReturns() {
    Sites sites = Sites.of(Topology.STAR, new SiblingsResolver(), A, B, C);
    sites.crash(A);
    sites.put(B, "k", "from-b");
    sites.rounds(30);
    assertThat(sites.site(C).read("k").values()).isEmpty();
    LinkLag lag = sites.site(B).lag().get(A);
    assertThat(lag.changes()).isEqualTo(1);
    assertThat(lag.ticks()).isGreaterThanOrEqualTo(29);
    assertThat(lag.bytes()).isPositive();
    sites.start(A);
    sites.rounds(30);
    assertThat(sites.site(C).read("k").values()).containsExactly("from-b");
    assertThat(sites.site(B).lag().get(A).changes()).isZero();
    assertThat(sites.site(A).lag().get(C).changes()).isZero();
  }

  @Test
  void circularTopologyPassesChangesAroundTheRingExactlyOnce() {
    Sites sites = Sites.of(Topology.CIRCULAR, new SiblingsResolver(), A, B, C);
    sites.put(A, "k", "from-a");
    sites.put(C, "j", "from-c");
    sites.rounds(6);
    for (String site : List.of(A, B, C)) {
      SiteReplica replica = sites.site(site);
      assertThat(replica.logSize()).isEqualTo(2);
      assertThat(replica.metrics().get(ConflictMetrics.LOOPED)).isZero();
      assertThat(replica.metrics().get(ConflictMetrics.DUPLICATES)).isZero();
    }
    SiteRecord.Applied atC =
        sites.disks.get(C).stream()
            .map(SiteRecord::fromRecord)
            .filter(r -> r instanceof SiteRecord.Applied a && a.change().origin().equals(A))
            .map(r -> (SiteRecord.Applied) r)
            .findFirst()
            .orElseThrow();
    assertThat(atC.path()).containsExactly(A, B, C);
  }

  @Test
  void forwardingWithoutThePathSendsChangesBackToTheirOrigin() {
    MultiLeaderConfig broken =
        MultiLeaderConfig.of(List.of(A, B, C), Topology.CIRCULAR, new SiblingsResolver())
            .withDefects(new MultiLeaderConfig.Defects(true, false, false));
    Sites sites = new Sites(broken);
    sites.put(A, "k", "from-a");
    sites.rounds(6);
    assertThat(sites.site(A).metrics().get(ConflictMetrics.LOOPED)).isPositive();
  }

  @Test
  void causalBufferHoldsAChangeUntilTheChangeItDependsOnArrives() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new SiblingsResolver(), A, B, C);
    sites.put(A, "k", "insert");
    sites.site(A).tick();
    sites.drain(A);
    // Hold a's batch to c; deliver a's batch to b, then b's dependent update to c first.
    List<PeerMessage> toC = new ArrayList<>();
    while (!sites.inFlight.isEmpty()) {
      PeerMessage message = sites.inFlight.removeFirst();
      if (message.to() == 2) {
        toC.add(message);
      } else {
        sites.deliver(message);
      }
    }
    sites.deliverAll();
    SiteRead atB = sites.site(B).read("k");
    sites.write(B, new SiteCommand.Assign("k", "update", Optional.of(atB.context())));
    sites.site(B).tick();
    sites.drain(B);
    sites.deliverAll();
    assertThat(sites.site(C).causalBufferSize()).isEqualTo(1);
    assertThat(sites.site(C).read("k").values()).isEmpty();
    toC.forEach(sites::deliver);
    sites.deliverAll();
    assertThat(sites.site(C).causalBufferSize()).isZero();
    assertThat(sites.site(C).read("k").values()).containsExactly("update");
    assertThat(sites.site(C).metrics().get(ConflictMetrics.CAUSAL_BUFFERED)).isEqualTo(1);
    List<Dot> order =
        sites.disks.get(C).stream()
            .map(SiteRecord::fromRecord)
            .filter(r -> r instanceof SiteRecord.Applied)
            .map(r -> ((SiteRecord.Applied) r).change().dot())
            .toList();
    assertThat(order).containsExactly(new Dot(A, 1), new Dot(B, 1));
  }

  @Test
  void linkResumesFromItsAcknowledgedPositionAfterABreak() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new LwwResolver(), A, B);
    sites.put(A, "k1", "v1");
    sites.rounds(2);
    assertThat(sites.site(A).lag().get(B).changes()).isZero();
    sites.cut(A, B);
    sites.put(A, "k2", "v2");
    sites.put(A, "k3", "v3");
    sites.rounds(25);
    assertThat(sites.site(A).lag().get(B).changes()).isEqualTo(2);
    sites.heal();
    sites.rounds(25);
    assertThat(sites.site(B).visibleState()).isEqualTo(sites.site(A).visibleState());
    assertThat(sites.site(B).metrics().get(ConflictMetrics.DUPLICATES)).isZero();
    assertThat(sites.site(A).lag().get(B).changes()).isZero();
  }

  @Test
  void restartedSiteRebuildsItsLogAndPositionsFromDiskAndResumes() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new SiblingsResolver(), A, B);
    sites.put(A, "k", "v1");
    sites.rounds(3);
    sites.crash(B);
    sites.put(A, "k2", "v2");
    sites.rounds(3);
    sites.start(B);
    assertThat(sites.site(B).read("k").values()).containsExactly("v1");
    sites.rounds(30);
    assertThat(sites.site(B).visibleState()).isEqualTo(sites.site(A).visibleState());
    // Resumed from the durable position: the change before the crash was not sent again.
    assertThat(sites.site(B).metrics().get(ConflictMetrics.DUPLICATES)).isZero();
    sites.put(B, "k3", "v3");
    sites.rounds(3);
    assertThat(sites.site(A).read("k3").values()).containsExactly("v3");
  }

  @Test
  void lwwKeepsTheLaterTimestampAndCountsAndListsTheConcurrentLoser() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new LwwResolver(), A, B);
    sites.clocks.get(A)[0] = 5_000;
    sites.clocks.get(B)[0] = 9_000;
    sites.put(A, "k", "early");
    sites.put(B, "k", "late");
    sites.rounds(3);
    for (String site : List.of(A, B)) {
      SiteReplica replica = sites.site(site);
      assertThat(replica.read("k").values()).containsExactly("late");
      assertThat(replica.metrics().get(ConflictMetrics.LWW_OVERWRITES)).isEqualTo(1);
      assertThat(replica.metrics().lostWrites())
          .singleElement()
          .satisfies(
              lost -> {
                assertThat(lost.lost()).isEqualTo(new Dot(A, 1));
                assertThat(lost.lostValue()).isEqualTo("early");
                assertThat(lost.winner()).isEqualTo(new Dot(B, 1));
              });
    }
    assertThat(sites.site(A).metrics().counters())
        .containsEntry("multi_lww_overwrites_total{strategy=\"lww\"}", 1L);
  }

  @Test
  void lwwCausalOverwriteIsNotAConflictEvenWhenTheWritersClockIsBehind() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new LwwResolver(), A, B);
    sites.clocks.get(A)[0] = 9_000;
    sites.clocks.get(B)[0] = 1_000;
    sites.put(A, "k", "first");
    sites.rounds(3);
    sites.put(B, "k", "second");
    sites.rounds(3);
    assertThat(sites.site(A).read("k").values()).containsExactly("second");
    assertThat(sites.site(A).metrics().get(ConflictMetrics.LWW_OVERWRITES)).isZero();
  }

  @Test
  void siblingsKeepConcurrentValuesAndAWriteWithTheirContextResolvesThem() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new SiblingsResolver(), A, B);
    sites.put(A, "k", "a");
    sites.put(B, "k", "b");
    sites.rounds(3);
    SiteRead read = sites.site(B).read("k");
    assertThat(read.values()).containsExactlyInAnyOrder("a", "b");
    assertThat(read.conflicted()).isTrue();
    assertThat(sites.site(A).metrics().get(ConflictMetrics.SIBLINGS_CREATED)).isEqualTo(1);
    sites.write(B, new SiteCommand.Assign("k", "ab", Optional.of(read.context())));
    sites.rounds(3);
    assertThat(sites.site(A).read("k").values()).containsExactly("ab");
    assertThat(sites.site(A).read("k").conflicted()).isFalse();
  }

  @Test
  void siblingsRefuseAWriteThatWouldPassTheSiblingLimit() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new SiblingsResolver(), A);
    for (int i = 0; i < SiteReplica.SIBLINGS_PER_KEY_MAX; i++) {
      sites.put(A, "k", "v" + i);
    }
    sites.put(A, "k", "one-too-many");
    assertThat(sites.replies.getLast().reply())
        .isInstanceOfSatisfying(
            Reply.Rejected.class, r -> assertThat(r.reason()).contains("siblings (max 64)"));
    assertThat(sites.site(A).metrics().get(ConflictMetrics.WRITES_REFUSED)).isEqualTo(1);
  }

  @Test
  void mergeFunctionFoldsConcurrentValuesAndRefusesValuesOutsideItsDomain() {
    MergeFunctions functions = new MergeFunctions();
    Sites sites =
        Sites.of(
            Topology.ALL_TO_ALL, new MergeResolver(functions.find("max").orElseThrow()), A, B, C);
    sites.put(A, "k", "7");
    sites.put(B, "k", "42");
    sites.put(C, "k", "-3");
    sites.put(C, "k", "not-a-number");
    assertThat(sites.replies.getLast().reply()).isInstanceOf(Reply.Rejected.class);
    sites.rounds(3);
    for (String site : List.of(A, B, C)) {
      assertThat(sites.site(site).read("k").values()).containsExactly("42");
      assertThat(sites.site(site).read("k").conflicted()).isTrue();
    }
  }

  @Test
  void crdtCountersAddConcurrentIncrementsAndSetsLetAddWin() {
    Sites sites = Sites.of(Topology.STAR, new CrdtResolver(), A, B, C);
    sites.write(A, new SiteCommand.Increment("hits", 5));
    sites.write(B, new SiteCommand.Increment("hits", 3));
    sites.write(C, new SiteCommand.Increment("hits", -1));
    sites.write(A, new SiteCommand.SetMember("tags", "x", true));
    sites.rounds(4);
    sites.write(B, new SiteCommand.SetMember("tags", "x", false));
    sites.write(C, new SiteCommand.SetMember("tags", "x", true));
    sites.rounds(4);
    for (String site : List.of(A, B, C)) {
      assertThat(sites.site(site).read("hits").values()).containsExactly("7");
      assertThat(sites.site(site).read("tags").values()).containsExactly("x");
    }
    sites.write(A, new SiteCommand.Increment("tags", 1));
    assertThat(sites.replies.getLast().reply())
        .isInstanceOfSatisfying(
            Reply.Rejected.class, r -> assertThat(r.reason()).startsWith("WRONGTYPE key tags"));
  }

  @Test
  void batchesThatStartPastTheReceiversPositionAreRefusedWithThatPosition() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new SiblingsResolver(), A, B);
    sites.site(B).step(new SiteMessage.Changes(0, 1, 0, 5, 5, List.of()));
    sites.drain(B);
    SiteMessage.ChangesAck ack = (SiteMessage.ChangesAck) sites.inFlight.removeFirst();
    assertThat(ack.accepted()).isFalse();
    assertThat(ack.receivedThrough()).isZero();
  }

  @Test
  void lockedWritesFromTwoSitesToOneKeyFollowEachOtherWithoutConflict() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new LockResolver(), A, B, C);
    String key = keyLockedAt(sites.config, C);
    sites.put(A, key, "from-a");
    sites.put(B, key, "from-b");
    sites.rounds(SiteLocks.LOCK_WAIT_TICKS - 5);
    assertThat(sites.replies).hasSize(2).allMatch(r -> r.reply() instanceof Reply.Written);
    for (String site : List.of(A, B, C)) {
      SiteReplica replica = sites.site(site);
      assertThat(replica.metrics().get(ConflictMetrics.CONCURRENT_WRITES)).isZero();
      assertThat(replica.keyState(key).live()).hasSize(1);
    }
    assertThat(sites.site(A).read(key).values())
        .isEqualTo(sites.site(C).read(key).values())
        .hasSize(1);
    assertThat(sites.site(C).heldLocks()).isEmpty();
  }

  @Test
  void lockedWriteFailsWithTheLockSiteNamedWhileItIsUnreachable() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new LockResolver(), A, B, C);
    String key = keyLockedAt(sites.config, C);
    sites.cut(A, C);
    sites.put(A, key, "v");
    sites.rounds(SiteLocks.LOCK_WAIT_TICKS + 1);
    assertThat(sites.replies.getLast().reply())
        .isInstanceOfSatisfying(
            Reply.Rejected.class,
            r -> assertThat(r.reason()).isEqualTo("lock site c of " + key + " is unreachable"));
    assertThat(sites.site(A).read(key).values()).isEmpty();
    // A grant that arrives after the client gave up is released, so the key does not stay locked.
    sites.heal();
    sites.rounds(5);
    assertThat(sites.site(C).heldLocks()).isEmpty();
    sites.put(B, key, "w");
    sites.rounds(5);
    assertThat(sites.replies.getLast().reply()).isInstanceOf(Reply.Written.class);
  }

  @Test
  void lockSiteRestartKeepsItsGrantsAndTokens() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new LockResolver(), A, B, C);
    String key = keyLockedAt(sites.config, C);
    sites.cut(A, B);
    sites.put(A, key, "first");
    sites.rounds(3);
    sites.crash(C);
    sites.start(C);
    sites.rounds(3);
    sites.put(B, key, "second");
    sites.rounds(20);
    sites.heal();
    sites.rounds(20);
    assertThat(sites.replies).allMatch(r -> r.reply() instanceof Reply.Written);
    for (String site : List.of(A, B, C)) {
      assertThat(sites.site(site).read(key).values()).containsExactly("second");
      assertThat(sites.site(site).metrics().get(ConflictMetrics.CONCURRENT_WRITES)).isZero();
    }
  }

  private static String keyLockedAt(MultiLeaderConfig config, String site) {
    for (int i = 0; ; i++) {
      if (SiteLocks.lockSite(config, "key" + i).equals(site)) {
        return "key" + i;
      }
    }
  }

  @Test
  void anOfflineClientSiteWritesAloneAndSyncsBothWaysWhenItsLinkReturns() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new SiblingsResolver(), "dc1", "dc2", "laptop");
    sites.put("dc1", "doc", "v1");
    sites.rounds(3);
    sites.cut("laptop", "dc1");
    sites.cut("laptop", "dc2");
    SiteRead offline = sites.site("laptop").read("doc");
    sites.write(
        "laptop", new SiteCommand.Assign("doc", "edited-offline", Optional.of(offline.context())));
    sites.put("dc2", "other", "x");
    sites.rounds(50);
    assertThat(sites.site("dc1").read("doc").values()).containsExactly("v1");
    assertThat(sites.site("laptop").lag().get("dc1").changes()).isEqualTo(1);
    sites.heal();
    sites.rounds(20);
    for (String site : List.of("dc1", "dc2", "laptop")) {
      assertThat(sites.site(site).read("doc").values()).containsExactly("edited-offline");
      assertThat(sites.site(site).read("other").values()).containsExactly("x");
    }
  }

  @Test
  void homeSiteWritesAreForwardedToTheKeysHomeAndAnsweredThroughTheOrigin() {
    Sites sites =
        Sites.of(
            Topology.ALL_TO_ALL,
            new HomeSiteResolver(new LwwResolver(), Map.of("eu:", B)),
            A,
            B,
            C);
    sites.put(A, "eu:1", "x");
    sites.put(C, "eu:1", "y");
    sites.rounds(4);
    assertThat(sites.replies).hasSize(2).allMatch(r -> r.reply() instanceof Reply.Written);
    List<SiteRecord.Applied> writtenAtB =
        sites.disks.get(B).stream()
            .map(SiteRecord::fromRecord)
            .filter(r -> r instanceof SiteRecord.Applied a && a.path().size() == 1)
            .map(r -> (SiteRecord.Applied) r)
            .toList();
    assertThat(writtenAtB).extracting(a -> a.change().origin()).containsExactly(B, B);
    for (String site : List.of(A, B, C)) {
      assertThat(sites.site(site).read("eu:1").values()).containsExactly("y");
      assertThat(sites.site(site).metrics().get(ConflictMetrics.CONCURRENT_WRITES)).isZero();
    }
  }

  @Test
  void declaredDownHomeSiteMovesItsKeysAndTheConflictThatFollowsIsResolvedByFallbackAndCounted() {
    Sites sites =
        Sites.of(
            Topology.ALL_TO_ALL,
            new HomeSiteResolver(new LwwResolver(), Map.of("eu:", B)),
            A,
            B,
            C);
    sites.cut(B, A);
    sites.cut(B, C);
    sites.put(B, "eu:1", "unshipped-at-old-home");
    sites.site(A).declareDown(B, true);
    sites.site(C).declareDown(B, true);
    sites.put(A, "eu:1", "at-new-home");
    sites.rounds(3);
    assertThat(sites.site(C).read("eu:1").values()).containsExactly("at-new-home");
    sites.heal();
    sites.rounds(SiteReplica.RETRANSMIT_TICKS * 3);
    List<String> value = sites.site(A).read("eu:1").values();
    for (String site : List.of(A, B, C)) {
      assertThat(sites.site(site).read("eu:1").values()).isEqualTo(value);
      assertThat(sites.site(site).metrics().get(ConflictMetrics.CONCURRENT_WRITES)).isEqualTo(1);
      assertThat(sites.site(site).metrics().lostWrites()).hasSize(1);
    }
  }

  @Test
  void forwardedWriteWhoseHomeSiteNeverAnswersEndsUncertain() {
    Sites sites =
        Sites.of(
            Topology.ALL_TO_ALL,
            new HomeSiteResolver(new LwwResolver(), Map.of("eu:", B)),
            A,
            B,
            C);
    sites.cut(A, B);
    sites.put(A, "eu:1", "x");
    sites.rounds(SiteReplica.HOME_WRITE_TIMEOUT_TICKS + 1);
    assertThat(sites.replies.getLast().reply())
        .isInstanceOfSatisfying(
            Reply.Uncertain.class, r -> assertThat(r.reason()).contains("home site b"));
  }

  @Test
  void acknowledgedChangesLeaveTheInMemoryLogAndARestartedReceiverStillResumes() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new LwwResolver(), A, B);
    int writes = SiteReplica.LOG_TRUNCATE_BATCH + 100;
    for (int i = 0; i < writes; i++) {
      sites.put(A, "k" + (i % 7), "v" + i);
      if (i % 50 == 0) {
        sites.round();
      }
    }
    sites.rounds(20);
    assertThat(sites.site(A).logSize()).isEqualTo(writes);
    assertThat(sites.site(A).keptLogChanges()).isLessThan(SiteReplica.LOG_TRUNCATE_BATCH);
    sites.crash(B);
    sites.put(A, "late", "x");
    sites.start(B);
    sites.rounds(30);
    assertThat(sites.site(B).visibleState()).isEqualTo(sites.site(A).visibleState());
    assertThat(sites.site(A).lag().get(B).changes()).isZero();
  }

  @Test
  void aFullCausalBufferPausesTheLinkWhichResendsAfterTheMissingChangeArrives() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new LwwResolver(), A, B, C);
    // The test plays b's stream to c itself; the real b must not see c's answers to it.
    sites.cut(B, C);
    int count = SiteReplica.CAUSAL_BUFFER_CHANGES_MAX + 10;
    List<SiteMessage.Entry> entries = new ArrayList<>();
    VersionVector dependencies = VersionVector.of(Map.of(A, 1L));
    for (int i = 1; i <= count; i++) {
      Dot dot = new Dot(B, i);
      entries.add(
          new SiteMessage.Entry(
              i,
              new Change(
                  dot,
                  dependencies,
                  VersionVector.EMPTY,
                  new io.replicakv.core.causal.Hlc(1, i),
                  "k" + (i % 5),
                  new Mutation.Assign("b" + i)),
              List.of(B)));
      dependencies = dependencies.with(dot);
    }
    deliverFromB(sites, entries, 0);
    SiteReplica c = sites.site(C);
    assertThat(c.causalBufferSize()).isEqualTo(SiteReplica.CAUSAL_BUFFER_CHANGES_MAX);
    assertThat(c.metrics().get(ConflictMetrics.CAUSAL_BUFFER_FULL)).isPositive();
    SiteMessage.ChangesAck lastAck = lastAckFromC(sites);
    assertThat(lastAck.appliedThrough()).isZero();
    assertThat(lastAck.receivedThrough()).isEqualTo(SiteReplica.CAUSAL_BUFFER_CHANGES_MAX);
    sites.inFlight.clear();
    sites.put(A, "insert", "a1");
    sites.rounds(2);
    assertThat(c.causalBufferSize()).isZero();
    assertThat(c.versionVector().get(B)).isEqualTo(SiteReplica.CAUSAL_BUFFER_CHANGES_MAX);
    // The sender resumes from the position the receiver reported.
    deliverFromB(sites, entries, lastAck.receivedThrough());
    assertThat(c.versionVector().get(B)).isEqualTo(count);
  }

  private static void deliverFromB(Sites sites, List<SiteMessage.Entry> entries, long after) {
    for (long from = after; from < entries.size(); ) {
      long through = Math.min(entries.size(), from + SiteMessage.ENTRIES_PER_BATCH_MAX);
      sites
          .site(C)
          .step(
              new SiteMessage.Changes(
                  1, 2, 0, from, through, entries.subList((int) from, (int) through)));
      from = through;
    }
    sites.drain(C);
  }

  private static SiteMessage.ChangesAck lastAckFromC(Sites sites) {
    return sites.inFlight.stream()
        .filter(m -> m instanceof SiteMessage.ChangesAck ack && ack.to() == 1)
        .map(m -> (SiteMessage.ChangesAck) m)
        .reduce((first, second) -> second)
        .orElseThrow();
  }

  @Test
  void crdtMapFieldsMergeConcurrentHsetAndHincrbyFromDifferentSites() {
    Sites sites = Sites.of(Topology.CIRCULAR, new CrdtResolver(), A, B, C);
    sites.write(A, new SiteCommand.MapField("user", "name", Optional.of("ada")));
    sites.write(B, new SiteCommand.MapIncrement("user", "visits", 2));
    sites.write(C, new SiteCommand.MapIncrement("user", "visits", 3));
    sites.rounds(6);
    sites.write(B, new SiteCommand.MapField("user", "name", Optional.empty()));
    sites.rounds(6);
    for (String site : List.of(A, B, C)) {
      assertThat(sites.site(site).read("user").values()).containsExactly("visits=5");
    }
  }

  @Test
  void lockWritesCarryTheirFencingTokenAndAStaleHoldersWriteIsRefusedAndListed() {
    LockResolver resolver = new LockResolver();
    ConflictMetrics metrics = new ConflictMetrics("lock");
    Change current =
        new Change(
            new Dot(A, 1),
            VersionVector.EMPTY,
            VersionVector.EMPTY,
            new io.replicakv.core.causal.Hlc(1, 0),
            "k",
            new Mutation.Assign("new-holder"),
            5);
    KeyState state = resolver.apply("k", KeyState.EMPTY, current, metrics);
    VersionVector seen = VersionVector.of(Map.of(A, 1L));
    Change stale =
        new Change(
            new Dot(B, 1),
            seen,
            seen,
            new io.replicakv.core.causal.Hlc(2, 0),
            "k",
            new Mutation.Assign("stale"),
            4);
    state = resolver.apply("k", state, stale, metrics);
    assertThat(resolver.read(state).values()).containsExactly("new-holder");
    assertThat(metrics.get(ConflictMetrics.FENCING_REFUSALS)).isEqualTo(1);
    assertThat(metrics.lostWrites()).extracting(LostWrite::lost).containsExactly(new Dot(B, 1));
    assertThat(state.context().contains(new Dot(B, 1))).isTrue();
    SiteRecord.Applied record = new SiteRecord.Applied(stale, List.of(B));
    assertThat(SiteRecord.fromRecord(record.toRecord())).isEqualTo(record);
  }

  @Test
  void writesUnderALockCarryTheGrantsFencingToken() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new LockResolver(), A, B, C);
    String key = keyLockedAt(sites.config, C);
    sites.put(A, key, "one");
    sites.rounds(3);
    sites.put(B, key, "two");
    sites.rounds(5);
    List<Long> tokens =
        sites.disks.get(C).stream()
            .map(SiteRecord::fromRecord)
            .filter(r -> r instanceof SiteRecord.Applied)
            .map(r -> ((SiteRecord.Applied) r).change().fencingToken())
            .toList();
    assertThat(tokens).containsExactly(1L, 2L);
  }

  @Test
  void aDeleteSeenBeforeTheValueItCoveredArrivesStillWinsAfterTheLinkHeals() {
    for (ConflictResolver resolver :
        List.<ConflictResolver>of(new LwwResolver(), new SiblingsResolver())) {
      Sites sites = Sites.of(Topology.ALL_TO_ALL, resolver, A, B, C);
      sites.put(A, "k", "v1");
      sites.rounds(3);
      // C is cut off from A and B while B deletes what it has seen (v1).
      sites.cut(A, C);
      sites.cut(B, C);
      sites.write(B, new SiteCommand.Delete("k", Optional.empty()));
      sites.rounds(5);
      assertThat(sites.site(A).read("k").values()).as(resolver.strategy().toString()).isEmpty();
      assertThat(sites.site(C).read("k").values()).containsExactly("v1");
      sites.heal();
      sites.rounds(30);
      for (String site : List.of(A, B, C)) {
        assertThat(sites.site(site).read("k").values())
            .as(site + " " + resolver.strategy())
            .isEmpty();
        // the tombstone stays, so a late copy of v1 has nothing to come back to
        assertThat(sites.site(site).keyState("k").live())
            .extracting(version -> version.value().isTombstone())
            .containsExactly(true);
      }
    }
  }

  @Test
  void siblingsKeepAValueWrittenConcurrentlyWithADeleteAndFlagTheRead() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new SiblingsResolver(), A, B, C);
    sites.put(A, "k", "v1");
    sites.rounds(3);
    sites.cut(A, B);
    sites.write(A, new SiteCommand.Delete("k", Optional.empty()));
    sites.write(
        B, new SiteCommand.Assign("k", "v2", Optional.of(sites.site(B).read("k").context())));
    sites.heal();
    sites.rounds(30);
    for (String site : List.of(A, B, C)) {
      SiteRead read = sites.site(site).read("k");
      assertThat(read.values()).as(site).containsExactly("v2");
      assertThat(read.conflicted()).isTrue();
    }
  }

  @Test
  void crdtDeleteClearsASetButRefusesACounter() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new CrdtResolver(), A, B, C);
    sites.write(A, new SiteCommand.SetMember("s", "x", true));
    sites.write(A, new SiteCommand.Increment("n", 3));
    sites.rounds(3);
    sites.write(B, new SiteCommand.Delete("s", Optional.empty()));
    sites.write(B, new SiteCommand.Delete("n", Optional.empty()));
    sites.rounds(5);
    assertThat(sites.site(C).read("s").values()).isEmpty();
    assertThat(sites.site(C).read("n").values()).containsExactly("3");
    assertThat(sites.replies.get(sites.replies.size() - 1).reply())
        .isInstanceOf(Reply.Rejected.class);
  }

  @Test
  void largeValuesTravelInSeveralBatchesAndOversizedOnesAreRefused() {
    Sites sites = Sites.of(Topology.ALL_TO_ALL, new LwwResolver(), A, B, C);
    String large = "x".repeat(1_500_000);
    for (int i = 0; i < 6; i++) {
      sites.put(A, "k" + i, large + i);
    }
    sites.rounds(40);
    for (int i = 0; i < 6; i++) {
      assertThat(sites.site(C).read("k" + i).values()).containsExactly(large + i);
    }
    sites.put(A, "huge", "y".repeat(SiteReplica.VALUE_BYTES_MAX + 1));
    assertThat(sites.replies.get(sites.replies.size() - 1).reply())
        .isInstanceOfSatisfying(
            Reply.Rejected.class,
            r -> assertThat(r.reason()).contains("a multi-leader change may carry"));
  }
}
