package io.replicakv.core.leaderless;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.msg.LeaderlessMessage;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The leaderless node's behaviours, one per test, driven by {@link TestCluster}. */
class LeaderlessNodeTest {
  private static final String KEY = "user:1";

  private static LeaderlessConfig config() {
    return LeaderlessConfig.defaults().withRepair(true, false, 0);
  }

  @Test
  void writeSucceedsWithWriteQuorumAndEveryOwnerHoldsIt() {
    TestCluster cluster = new TestCluster(config());
    KvResult put = cluster.put(cluster.nonOwner(KEY), KEY, "v1");
    assertThat(put.outcome()).isEqualTo(KvResult.Outcome.OK);
    assertThat(put.answered()).isGreaterThanOrEqualTo(2);
    for (int owner : cluster.owners(KEY)) {
      assertThat(cluster.node(owner).localValues(KEY)).containsExactly("v1");
    }
    assertThat(cluster.node(cluster.nonOwner(KEY)).localValues(KEY)).isEmpty();
  }

  @Test
  void readReturnsValueAndContextThatReplacesItOnTheNextWrite() {
    TestCluster cluster = new TestCluster(config());
    int coordinator = cluster.nonOwner(KEY);
    cluster.put(coordinator, KEY, "v1");
    KvResult read = cluster.get(coordinator, KEY);
    assertThat(read.values()).containsExactly("v1");
    assertThat(read.context().isEmpty()).isFalse();
    cluster.put(coordinator, KEY, new Write.Value("v2"), read.context(), 0);
    assertThat(cluster.get(coordinator, KEY).values()).containsExactly("v2");
  }

  @Test
  void concurrentWritesWithoutContextBecomeSiblingsAndAContextResolvesThem() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    cluster.put(owners.get(0), KEY, "a");
    cluster.put(owners.get(1), KEY, "b");
    KvResult read = cluster.get(owners.get(2), KEY);
    assertThat(read.values()).containsExactly("a", "b");
    cluster.put(owners.get(2), KEY, new Write.Value("c"), read.context(), 0);
    KvResult after = cluster.get(owners.get(0), KEY);
    assertThat(after.values()).containsExactly("c");
    assertThat(cluster.node(owners.get(1)).valueCount(KEY)).isEqualTo(1);
  }

  @Test
  void writeFailsAtOnceWhenFewerThanWriteQuorumOwnersAreReachable() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    cluster.isolated.add(owners.get(0));
    cluster.isolated.add(owners.get(1));
    cluster.tickUntilSuspected();
    int messagesBefore = cluster.delivered.size();
    KvResult put = cluster.put(owners.get(2), KEY, "v");
    assertThat(put.outcome()).isEqualTo(KvResult.Outcome.NOT_ENOUGH_REPLICAS);
    assertThat(put.detail()).contains("1 of 3 reachable, 2 needed");
    assertThat(put.toReply(true)).isInstanceOf(io.replicakv.core.msg.Reply.Rejected.class);
    assertThat(cluster.node(owners.get(2)).localValues(KEY)).isEmpty();
    assertThat(cluster.delivered.size()).isEqualTo(messagesBefore);
  }

  @Test
  void writeTimesOutAsUncertainWhenAcknowledgementsStopShortOfQuorum() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    // The owners are not yet suspected, so the write is sent, but only the creator answers.
    cluster.isolated.add(owners.get(1));
    cluster.isolated.add(owners.get(2));
    KvResult put = cluster.put(owners.get(0), KEY, "maybe");
    assertThat(put.outcome()).isEqualTo(KvResult.Outcome.TIMEOUT);
    assertThat(put.detail()).contains("after 1 of 2").contains("may have been applied");
    assertThat(put.toReply(true)).isInstanceOf(io.replicakv.core.msg.Reply.Uncertain.class);
    assertThat(cluster.node(owners.get(0)).localValues(KEY)).containsExactly("maybe");
  }

  @Test
  void perRequestQuorumOverridesTheKeyspaceDefault() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    cluster.isolated.add(owners.get(1));
    cluster.isolated.add(owners.get(2));
    cluster.tickUntilSuspected();
    KvResult one = cluster.put(owners.get(0), KEY, new Write.Value("w1"), VersionVector.EMPTY, 1);
    assertThat(one.outcome()).isEqualTo(KvResult.Outcome.OK);
    assertThat(cluster.get(owners.get(0), KEY, 1).values()).containsExactly("w1");
    assertThat(cluster.get(owners.get(0), KEY, 2).outcome())
        .isEqualTo(KvResult.Outcome.NOT_ENOUGH_REPLICAS);
    assertThat(
            cluster.put(owners.get(0), KEY, new Write.Value("x"), VersionVector.EMPTY, 4).outcome())
        .isEqualTo(KvResult.Outcome.REFUSED);
  }

  @Test
  void readRepairSendsTheMergedStateToAStaleReplica() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    int stale = owners.get(2);
    cluster.isolated.add(stale);
    assertThat(cluster.put(owners.get(0), KEY, "fresh").outcome()).isEqualTo(KvResult.Outcome.OK);
    cluster.isolated.clear();
    assertThat(cluster.node(stale).localValues(KEY)).isEmpty();
    // R = 3 makes the stale owner answer before the read completes.
    assertThat(cluster.get(stale, KEY, 3).values()).containsExactly("fresh");
    assertThat(cluster.node(stale).localValues(KEY)).containsExactly("fresh");
    assertThat(cluster.node(stale).counters().get("read_repairs_sent")).isEqualTo(1);
  }

  @Test
  void withoutReadRepairAStaleReplicaStaysStale() {
    TestCluster cluster = new TestCluster(LeaderlessConfig.defaults().withRepair(false, false, 0));
    List<Integer> owners = cluster.owners(KEY);
    int stale = owners.get(2);
    cluster.isolated.add(stale);
    cluster.put(owners.get(0), KEY, "fresh");
    cluster.isolated.clear();
    assertThat(cluster.get(stale, KEY, 3).values()).containsExactly("fresh");
    assertThat(cluster.node(stale).localValues(KEY)).isEmpty();
  }

  @Test
  void blockingReadRepairAnswersOnlyAfterTheStaleReplicaAcknowledged() {
    TestCluster cluster = new TestCluster(LeaderlessConfig.defaults().withRepair(true, true, 0));
    List<Integer> owners = cluster.owners(KEY);
    int stale = owners.get(2);
    cluster.isolated.add(stale);
    cluster.put(owners.get(0), KEY, "fresh");
    cluster.isolated.clear();
    cluster.node(stale).submit(new KvRequest.Get(9, 9, KEY, 3));
    cluster.settle();
    List<KvResult> results = cluster.node(stale).takeResults();
    assertThat(results).hasSize(1);
    assertThat(results.get(0).values()).containsExactly("fresh");
    assertThat(cluster.node(stale).localValues(KEY)).containsExactly("fresh");
    // A remote stale replica: its repair must be acknowledged (a Replicate with a request id).
    int remoteStale = owners.get(1);
    cluster.isolated.add(remoteStale);
    cluster.put(owners.get(0), KEY, new Write.Value("newer"), results.get(0).context(), 0);
    cluster.isolated.clear();
    cluster.delivered.clear();
    assertThat(cluster.get(owners.get(0), KEY, 3).values()).containsExactly("newer");
    assertThat(cluster.delivered)
        .anyMatch(
            e ->
                e.message() instanceof LeaderlessMessage.Replicate r
                    && r.to() == remoteStale
                    && r.requestId() != LeaderlessMessage.NO_ACK);
    assertThat(cluster.node(remoteStale).localValues(KEY)).containsExactly("newer");
  }

  @Test
  void sloppyWriteGoesToASubstituteWithAHintThatIsHandedOffWhenTheOwnerReturns() {
    TestCluster cluster = new TestCluster(config().withSloppyQuorum(true));
    List<Integer> owners = cluster.owners(KEY);
    int down = owners.get(1);
    cluster.isolated.add(down);
    cluster.tickUntilSuspected();
    KvResult put =
        cluster.put(owners.get(0), KEY, new Write.Value("hinted"), VersionVector.EMPTY, 3);
    assertThat(put.outcome()).isEqualTo(KvResult.Outcome.OK);
    int substitute = -1;
    for (int id = 0; id < TestCluster.NODES; id++) {
      if (cluster.node(id).hintCount() > 0) {
        substitute = id;
      }
    }
    assertThat(substitute).isNotIn(owners);
    assertThat(cluster.node(substitute).localValues(KEY)).isEmpty();
    cluster.isolated.clear();
    cluster.tick(cluster.config.handoffIntervalTicks() + cluster.config.pingIntervalTicks() + 1);
    assertThat(cluster.node(down).localValues(KEY)).containsExactly("hinted");
    assertThat(cluster.node(substitute).hintCount()).isZero();
    assertThat(cluster.node(substitute).counters().get("hints_handed_off")).isEqualTo(1);
    // The dropped hint stays dropped after a restart (the drop is persisted).
    cluster.restart(substitute);
    assertThat(cluster.node(substitute).hintCount()).isZero();
  }

  @Test
  void hintsPastTheLimitAreRefusedSoTheSloppyWriteFallsShort() {
    TestCluster cluster = new TestCluster(config().withSloppyQuorum(true).withHintsPerPeerMax(0));
    List<Integer> owners = cluster.owners(KEY);
    cluster.isolated.add(owners.get(1));
    cluster.isolated.add(owners.get(2));
    cluster.tickUntilSuspected();
    KvResult put = cluster.put(owners.get(0), KEY, "v");
    assertThat(put.outcome()).isEqualTo(KvResult.Outcome.TIMEOUT);
    assertThat(put.detail()).contains("refused (hint store full)");
    long refused = 0;
    for (int id = 0; id < TestCluster.NODES; id++) {
      refused += cluster.node(id).counters().get("hints_refused");
    }
    assertThat(refused).isEqualTo(2);
  }

  @Test
  void antiEntropyShipsExactlyTheKeysAReplicaMissed() {
    TestCluster cluster = new TestCluster(LeaderlessConfig.defaults().withRepair(false, false, 0));
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      keys.add("key" + i);
    }
    int lagging = 0;
    List<String> missed = new ArrayList<>();
    for (String key : keys) {
      boolean miss = keys.indexOf(key) % 10 == 0 && cluster.owners(key).contains(lagging);
      if (miss) {
        cluster.isolated.add(lagging);
        missed.add(key);
      }
      int coordinator =
          cluster.owners(key).get(0) == lagging
              ? cluster.owners(key).get(1)
              : cluster.owners(key).get(0);
      assertThat(cluster.put(coordinator, key, "v-" + key).outcome())
          .isEqualTo(KvResult.Outcome.OK);
      cluster.isolated.clear();
    }
    assertThat(missed).isNotEmpty();
    for (String key : missed) {
      assertThat(cluster.node(lagging).localValues(key)).isEmpty();
    }
    // Run anti-entropy by hand on a node with interval 1 built from the lagging node's records.
    LeaderlessConfig withAntiEntropy = LeaderlessConfig.defaults().withRepair(false, false, 1);
    TestCluster.replaceConfig(cluster, withAntiEntropy);
    cluster.tick(3 * cluster.placement.partitionCount());
    for (String key : missed) {
      assertThat(cluster.node(lagging).localValues(key)).containsExactly("v-" + key);
    }
    long repaired = 0;
    long divergent = 0;
    long bytes = 0;
    for (int id = 0; id < TestCluster.NODES; id++) {
      repaired += cluster.node(id).counters().get("anti_entropy_keys_repaired");
      divergent += cluster.node(id).counters().get("anti_entropy_divergent_keys");
      bytes += cluster.node(id).counters().get("anti_entropy_bytes_shipped");
    }
    // Each missed key is repaired once per peer that shipped it, and nothing else is shipped.
    assertThat(repaired).isEqualTo(missed.size());
    assertThat(divergent)
        .isGreaterThanOrEqualTo(missed.size())
        .isLessThanOrEqualTo(2L * missed.size());
    assertThat(bytes).isPositive();
    for (int id = 0; id < TestCluster.NODES; id++) {
      for (int partition : cluster.placement.partitionsOf(id)) {
        for (int other : cluster.placement.owners(partition)) {
          assertThat(cluster.node(other).merkleRoot(partition))
              .isEqualTo(cluster.node(id).merkleRoot(partition));
        }
      }
    }
  }

  @Test
  void aDeleteIsATombstoneThatHidesTheValueAndIsNotUndoneByAStaleReplica() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    cluster.put(owners.get(0), KEY, "doomed");
    KvResult read = cluster.get(owners.get(0), KEY);
    int stale = owners.get(2);
    cluster.isolated.add(stale);
    KvResult delete = cluster.put(owners.get(0), KEY, new Write.Delete(), read.context(), 0);
    assertThat(delete.outcome()).isEqualTo(KvResult.Outcome.OK);
    cluster.isolated.clear();
    assertThat(cluster.node(stale).localValues(KEY)).containsExactly("doomed");
    // A read through the stale replica merges its old value with the tombstone: still deleted.
    assertThat(cluster.get(stale, KEY, 3).values()).isEmpty();
    assertThat(cluster.node(stale).localValues(KEY)).isEmpty();
    assertThat(cluster.node(stale).visibleState()).doesNotContainKey(KEY);
  }

  @Test
  void lastWriteWinsKeepsTheLaterTimestampAndCountsTheLoser() {
    TestCluster cluster = new TestCluster(config().withConflicts(ConflictMode.LWW, true));
    List<Integer> owners = cluster.owners(KEY);
    cluster.isolated.add(owners.get(1));
    cluster.put(owners.get(0), KEY, new Write.Value("first"), VersionVector.EMPTY, 1);
    cluster.isolated.clear();
    cluster.isolated.add(owners.get(0));
    cluster.physicalMillis += 1_000;
    cluster.put(owners.get(1), KEY, new Write.Value("second"), VersionVector.EMPTY, 1);
    cluster.isolated.clear();
    assertThat(cluster.get(owners.get(2), KEY, 3).values()).containsExactly("second");
    long discarded = 0;
    for (int id = 0; id < TestCluster.NODES; id++) {
      discarded += cluster.node(id).counters().get("lww_writes_discarded");
    }
    assertThat(discarded).isPositive();
  }

  @Test
  void crdtCounterIncrementsThroughDifferentOwnersAddUpAcrossAPartition() {
    TestCluster cluster = new TestCluster(config().withConflicts(ConflictMode.CRDT, true));
    List<Integer> owners = cluster.owners(KEY);
    cluster.isolated.add(owners.get(0));
    cluster.put(owners.get(1), KEY, new Write.Increment(5), VersionVector.EMPTY, 1);
    cluster.isolated.clear();
    cluster.isolated.add(owners.get(1));
    cluster.put(owners.get(0), KEY, new Write.Increment(-2), VersionVector.EMPTY, 1);
    cluster.put(owners.get(0), KEY, new Write.Increment(10), VersionVector.EMPTY, 1);
    cluster.isolated.clear();
    assertThat(cluster.get(owners.get(2), KEY, 3).values()).containsExactly("13");
    // SET on a counter key is a register write of another type: refused, as Redis refuses it.
    assertThat(
            cluster.put(owners.get(0), KEY, new Write.Value("x"), VersionVector.EMPTY, 0).detail())
        .startsWith("WRONGTYPE");
    assertThat(
            cluster.put(owners.get(0), KEY, new Write.SetAdd("e"), VersionVector.EMPTY, 0).detail())
        .contains("WRONGTYPE");
  }

  @Test
  void crdtSetKeepsConcurrentAddsAndAnObservedRemove() {
    TestCluster cluster = new TestCluster(config().withConflicts(ConflictMode.CRDT, true));
    List<Integer> owners = cluster.owners(KEY);
    cluster.isolated.add(owners.get(0));
    cluster.put(owners.get(1), KEY, new Write.SetAdd("a"), VersionVector.EMPTY, 1);
    cluster.isolated.clear();
    cluster.isolated.add(owners.get(1));
    cluster.put(owners.get(0), KEY, new Write.SetAdd("b"), VersionVector.EMPTY, 1);
    cluster.isolated.clear();
    assertThat(cluster.get(owners.get(2), KEY, 3).values()).containsExactly("a", "b");
    cluster.put(owners.get(2), KEY, new Write.SetRemove("a"), VersionVector.EMPTY, 0);
    assertThat(cluster.get(owners.get(0), KEY, 3).values()).containsExactly("b");
  }

  @Test
  void aRestartedReplicaRecoversItsKeysAndDoesNotReuseRequestIds() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    cluster.put(owners.get(0), KEY, "kept");
    cluster.restart(owners.get(0));
    assertThat(cluster.node(owners.get(0)).localValues(KEY)).containsExactly("kept");
    cluster.delivered.clear();
    cluster.put(owners.get(0), KEY, new Write.Value("later"), VersionVector.EMPTY, 0);
    long requestId =
        cluster.delivered.stream()
            .map(e -> e.message())
            .filter(m -> m instanceof LeaderlessMessage.Replicate)
            .map(m -> ((LeaderlessMessage.Replicate) m).requestId())
            .findFirst()
            .orElseThrow();
    assertThat(requestId >>> 32).isEqualTo(2);
  }

  @Test
  void aDuplicatedCreateRequestDoesNotCreateASecondSibling() {
    TestCluster cluster = new TestCluster(config());
    List<Integer> owners = cluster.owners(KEY);
    int coordinator = cluster.nonOwner(KEY);
    cluster.put(coordinator, KEY, "once");
    LeaderlessMessage.CoordinatePut create =
        cluster.delivered.stream()
            .map(e -> e.message())
            .filter(m -> m instanceof LeaderlessMessage.CoordinatePut)
            .map(m -> (LeaderlessMessage.CoordinatePut) m)
            .findFirst()
            .orElseThrow();
    cluster.node(create.to()).step(create);
    cluster.settle();
    cluster.restart(create.to());
    cluster.node(create.to()).step(create);
    cluster.settle();
    assertThat(cluster.node(create.to()).valueCount(KEY)).isEqualTo(1);
    assertThat(cluster.get(owners.get(0), KEY, 3).values()).containsExactly("once");
  }

  @Test
  void siblingsPastTheLimitAreRefusedWithTheReason() {
    LeaderlessConfig base = config();
    LeaderlessConfig limited =
        new LeaderlessConfig(
            base.replicas(),
            base.readQuorum(),
            base.writeQuorum(),
            false,
            true,
            false,
            ConflictMode.SIBLINGS,
            true,
            0,
            base.requestTimeoutTicks(),
            base.pingIntervalTicks(),
            base.suspectAfterTicks(),
            base.handoffIntervalTicks(),
            base.hintsPerPeerMax(),
            2,
            base.merkleFanOut(),
            base.merkleDepth());
    TestCluster cluster = new TestCluster(limited);
    int owner = cluster.owners(KEY).get(0);
    assertThat(cluster.put(owner, KEY, "a").outcome()).isEqualTo(KvResult.Outcome.OK);
    assertThat(cluster.put(owner, KEY, "b").outcome()).isEqualTo(KvResult.Outcome.OK);
    KvResult third = cluster.put(owner, KEY, "c");
    assertThat(third.outcome()).isEqualTo(KvResult.Outcome.REFUSED);
    assertThat(third.detail()).contains("too many siblings: 3 over 2");
    assertThat(cluster.node(owner).counters().get("sibling_limit_refusals")).isEqualTo(1);
  }
}
