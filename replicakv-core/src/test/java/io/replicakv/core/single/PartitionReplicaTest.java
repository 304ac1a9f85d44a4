package io.replicakv.core.single;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.Envelope;
import io.replicakv.core.Ready;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.msg.SingleLeaderMessage.Append;
import io.replicakv.core.msg.SingleLeaderMessage.AppendAck;
import io.replicakv.core.msg.SingleLeaderMessage.Entry;
import io.replicakv.core.quorum.Acks;
import java.util.List;
import org.junit.jupiter.api.Test;

class PartitionReplicaTest {

  private static int other(int... taken) {
    for (int id : TestCluster.REPLICAS) {
      boolean free = true;
      for (int t : taken) {
        free &= id != t;
      }
      if (free) {
        return id;
      }
    }
    throw new AssertionError("no replica left");
  }

  private static int newLeaderOtherThan(TestCluster cluster, int old) {
    cluster.tickUntil(
        () ->
            TestCluster.REPLICAS.stream()
                .anyMatch(
                    id ->
                        id != old
                            && cluster.nodes.containsKey(id)
                            && cluster.replica(id).acceptsWrites()),
        200);
    return TestCluster.REPLICAS.stream()
        .filter(
            id -> id != old && cluster.nodes.containsKey(id) && cluster.replica(id).acceptsWrites())
        .findFirst()
        .orElseThrow();
  }

  @Test
  void followerRefusesAppendFromStaleEpoch() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int old = cluster.electedLeader();
    cluster.cut = message -> message.from() == old || message.to() == old;
    int leader = newLeaderOtherThan(cluster, old);
    int follower = other(old, leader);
    PartitionReplica replica = cluster.replica(follower);
    long epochBefore = replica.epoch();
    Lsn lastBefore = replica.lastLsn();

    replica.step(
        new Append(
            old,
            follower,
            1,
            lastBefore,
            List.of(new Entry(1, lastBefore.offset() + 1, new Operation.Put("k", "stale"))),
            0));

    Ready ready = replica.ready();
    assertThat(ready.messages())
        .extracting(Envelope::message)
        .containsExactly(new AppendAck(follower, old, epochBefore, 0, false));
    assertThat(epochBefore).isGreaterThan(1);
    assertThat(replica.lastLsn()).isEqualTo(lastBefore);
    replica.advance(ready);
  }

  @Test
  void leaderRefusesWritesWhenInSyncSetBelowAcks() {
    TestCluster cluster = new TestCluster(Acks.ALL, false);
    int leader = cluster.electedLeader();
    int lagging = other(leader);
    cluster.cut =
        message ->
            (message.from() == lagging && message.to() == leader)
                || (message.from() == leader && message.to() == lagging);
    cluster.tick((int) cluster.config.maxLagTicks() + 2);

    long refused = cluster.put(leader, "k", "v1");

    assertThat(cluster.replies.get(refused))
        .isInstanceOfSatisfying(
            Reply.Rejected.class, r -> assertThat(r.reason()).startsWith("NOREPLICAS 1"));
    assertThat(cluster.replica(leader).inSyncFollowerIds()).containsExactly(other(leader, lagging));

    cluster.cut = message -> false;
    cluster.tickUntil(() -> cluster.replica(leader).inSyncFollowerIds().size() == 2, 50);
    long accepted = cluster.put(leader, "k", "v2");
    cluster.tickUntil(() -> cluster.replies.containsKey(accepted), 20);
    assertThat(cluster.replies.get(accepted)).isInstanceOf(Reply.Written.class);
  }

  @Test
  void leaderStopsServingWhenItsLeaseRunsOutBeforeAnyFailover() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int leader = cluster.electedLeader();
    cluster.cut = message -> message.from() == leader && message.to() == TestCluster.CONTROLLER;
    cluster.tick((int) cluster.config.leaseTicks() + 1);

    assertThat(cluster.controller().epoch()).isEqualTo(1);
    assertThat(cluster.leaderAcceptingWrites()).isEqualTo(-1);
    long write = cluster.put(leader, "k", "v");
    assertThat(cluster.replies.get(write))
        .isInstanceOfSatisfying(
            Reply.Rejected.class, r -> assertThat(r.reason()).contains("no valid lease"));
  }

  @Test
  void newLeaderServesNoReadUntilItHasCommittedAnEntryOfItsEpoch() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    cluster.cut = message -> message instanceof AppendAck;
    int leader = cluster.electedLeader();
    assertThat(cluster.replica(leader).commitOffset()).isZero();

    long early = cluster.get(leader, "k", Lsn.ZERO);
    assertThat(cluster.replies).doesNotContainKey(early);
    cluster.tick((int) cluster.config.readWaitTicks() + 1);
    assertThat(cluster.replies.get(early))
        .isInstanceOfSatisfying(
            Reply.Rejected.class, r -> assertThat(r.reason()).startsWith("TRYAGAIN"));

    cluster.cut = message -> false;
    cluster.tickUntil(() -> cluster.replica(leader).commitOffset() >= 1, 10);
    long later = cluster.get(leader, "k", Lsn.ZERO);
    assertThat(cluster.replies.get(later)).isEqualTo(new Reply.Values(List.of(), new Lsn(1, 1)));
    assertThat(cluster.replica(leader).followerMatchOffsets()).containsValue(1L);
  }

  /**
   * Raft's "figure 8", in epochs: an entry of an old epoch that a new leader has copied to enough
   * followers must still not count as committed until an entry of the new leader's epoch is, since
   * a replica with a newer epoch can win the next election without it.
   */
  @Test
  void leaderCommitsNoOldEpochEntryBeforeAnEntryOfItsOwnEpoch() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int first = cluster.electedLeader();
    assertThat(first).isZero();
    int second = 1;
    int third = 2;
    Operation.Put oldWrite = new Operation.Put("k", "old-epoch");

    // Epoch 1: the leader holds a write nobody else received, then dies.
    cluster.cut = message -> message.from() == first && message instanceof Append;
    long write = cluster.put(first, "k", "old-epoch");
    assertThat(cluster.replica(first).lastLsn()).isEqualTo(new Lsn(1, 2));
    cluster.crash(first);

    // Epoch 2: the second replica leads and writes only its marker, which nobody receives.
    cluster.cut = message -> message.from() == second && message instanceof Append;
    cluster.tickUntil(() -> cluster.replica(second).role() == PartitionReplica.Role.LEADER, 100);
    assertThat(cluster.replica(second).lastLsn()).isEqualTo(new Lsn(2, 2));

    // Epoch 3: the first returns, the second dies; (1,2) beats (1,1), so the first leads again.
    cluster.restart(first);
    cluster.crash(second);
    cluster.cut = message -> message.from() == first && message instanceof Append;
    cluster.tickUntil(
        () ->
            cluster.replica(first).role() == PartitionReplica.Role.LEADER
                && cluster.replica(third).role() == PartitionReplica.Role.FOLLOWER
                && cluster.replica(third).epoch() == 3,
        100);
    PartitionReplica leader = cluster.replica(first);
    assertThat(leader.lastLsn()).isEqualTo(new Lsn(3, 3));

    // The old-epoch entry reaches the third replica alone (as a flow-controlled batch could).
    cluster
        .replica(third)
        .step(new Append(first, third, 3, new Lsn(1, 1), List.of(new Entry(1, 2, oldWrite)), 0));
    cluster.settle();
    assertThat(cluster.replica(third).lastLsn()).isEqualTo(new Lsn(1, 2));
    assertThat(leader.followerMatchOffsets()).containsEntry(third, 2L);
    assertThat(leader.commitOffset()).isLessThan(2);
    assertThat(cluster.committed).noneMatch(entry -> entry.operation().equals(oldWrite));
    assertThat(cluster.replies).doesNotContainKey(write);

    // The leader dies before its marker spreads; (2,2) beats (1,2): the entry was rightly not
    // committed, and the third replica now truncates it.
    cluster.crash(first);
    cluster.restart(second);
    cluster.cut = message -> false;
    cluster.tickUntil(() -> cluster.replica(second).acceptsWrites(), 100);
    cluster.tickUntil(
        () -> cluster.replica(third).lastLsn().equals(cluster.replica(second).lastLsn()), 50);
    assertThat(cluster.replica(third).divergentWrites())
        .extracting(Entry::operation)
        .containsExactly(oldWrite);
  }

  @Test
  void writeIsAnsweredOnlyOnceAcksFollowersPersistedIt() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int leader = cluster.electedLeader();
    cluster.cut = message -> message instanceof AppendAck;

    long write = cluster.put(leader, "k", "v");
    cluster.tick(3);
    assertThat(cluster.replies).doesNotContainKey(write);

    cluster.cut = message -> false;
    cluster.tickUntil(() -> cluster.replies.containsKey(write), 10);
    assertThat(cluster.replies.get(write))
        .isEqualTo(new Reply.Written(cluster.replica(leader).lastLsn()));
    assertThat(cluster.committed)
        .anyMatch(entry -> entry.operation().equals(new Operation.Put("k", "v")));
  }

  @Test
  void writeThatMissesAcksBeforeItsTimeoutIsUncertainNotFailed() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int leader = cluster.electedLeader();
    cluster.cut = message -> message instanceof AppendAck;

    long write = cluster.put(leader, "k", "v");
    cluster.tick((int) cluster.config.writeTimeoutTicks() + 1);

    assertThat(cluster.replies.get(write))
        .isInstanceOfSatisfying(
            Reply.Uncertain.class, r -> assertThat(r.reason()).contains("may or may not"));
  }

  @Test
  void returningLeaderTruncatesDivergentSuffix() {
    TestCluster cluster = new TestCluster(Acks.NONE, false);
    int old = cluster.electedLeader();
    cluster.cut = message -> message.from() == old && message instanceof Append;
    long lost = cluster.put(old, "k", "only-on-the-old-leader");
    assertThat(cluster.replies.get(lost)).isInstanceOf(Reply.Written.class);

    cluster.cut = message -> message.from() == old || message.to() == old;
    int leader = newLeaderOtherThan(cluster, old);
    long kept = cluster.put(leader, "k", "on-the-new-leader");
    assertThat(cluster.replies.get(kept)).isInstanceOf(Reply.Written.class);

    cluster.cut = message -> false;
    cluster.tickUntil(
        () -> cluster.replica(old).lastLsn().equals(cluster.replica(leader).lastLsn()), 50);

    PartitionReplica returned = cluster.replica(old);
    assertThat(returned.role()).isEqualTo(PartitionReplica.Role.FOLLOWER);
    assertThat(returned.divergentWrites())
        .extracting(Entry::operation)
        .containsExactly(new Operation.Put("k", "only-on-the-old-leader"));
    assertThat(returned.divergentWritesTotal()).isEqualTo(1);
    cluster.tickUntil(() -> "on-the-new-leader".equals(returned.appliedState().get("k")), 20);

    // The divergent record is part of the durable state: a restart rebuilds it.
    cluster.crash(old);
    cluster.restart(old);
    assertThat(cluster.replica(old).divergentWrites())
        .extracting(Entry::operation)
        .containsExactly(new Operation.Put("k", "only-on-the-old-leader"));
  }

  @Test
  void followerReadWaitsForItsSessionTokenThenSendsTheClientToTheLeader() {
    TestCluster cluster = new TestCluster(Acks.of(1), true);
    int leader = cluster.electedLeader();
    int behind = other(leader);
    cluster.cut = message -> message.to() == behind && message instanceof Append;
    long write = cluster.put(leader, "k", "v");
    cluster.tickUntil(() -> cluster.replies.containsKey(write), 20);
    Lsn token = ((Reply.Written) cluster.replies.get(write)).sessionToken();

    long stale = cluster.get(behind, "k", token);
    assertThat(cluster.replies).doesNotContainKey(stale);
    cluster.tick((int) cluster.config.readWaitTicks() + 1);
    assertThat(cluster.replies.get(stale))
        .isInstanceOfSatisfying(
            Reply.Rejected.class, r -> assertThat(r.reason()).startsWith("MOVED n" + leader));

    int caughtUp = other(leader, behind);
    long fresh = cluster.get(caughtUp, "k", token);
    cluster.tickUntil(() -> cluster.replies.containsKey(fresh), 10);
    assertThat(cluster.replies.get(fresh))
        .isInstanceOfSatisfying(
            Reply.Values.class,
            values -> {
              assertThat(values.values()).containsExactly("v");
              assertThat(values.sessionToken().offset()).isGreaterThanOrEqualTo(token.offset());
            });
  }

  @Test
  void leaderKeepsAtMostTheInFlightBoundUnacknowledgedPerFollower() {
    TestCluster cluster = new TestCluster(Acks.NONE, false);
    int leader = cluster.electedLeader();
    int follower = other(leader);
    cluster.cut = message -> message.to() == follower && message instanceof Append;
    cluster.sent.clear();
    for (int i = 0; i < PartitionReplica.IN_FLIGHT_RECORDS_MAX + 50; i++) {
      cluster.put(leader, "k", "v" + i);
    }
    long entriesSent = 0;
    for (PeerMessage message : cluster.sent) {
      if (message instanceof Append append && append.to() == follower) {
        entriesSent += append.entries().size();
      }
    }
    assertThat(entriesSent).isEqualTo(PartitionReplica.IN_FLIGHT_RECORDS_MAX);
  }

  @Test
  void restartedReplicaRecoversItsLogAndPromisedEpochFromItsRecords() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int leader = cluster.electedLeader();
    long write = cluster.put(leader, "k", "v");
    cluster.tickUntil(() -> cluster.replies.containsKey(write), 20);
    int follower = other(leader);
    cluster.tickUntil(
        () -> cluster.replica(follower).lastLsn().equals(cluster.replica(leader).lastLsn()), 20);
    Lsn last = cluster.replica(follower).lastLsn();
    long promised = cluster.replica(follower).promisedEpoch();

    cluster.crash(follower);
    cluster.restart(follower);

    PartitionReplica restarted = cluster.replica(follower);
    assertThat(restarted.lastLsn()).isEqualTo(last);
    assertThat(restarted.promisedEpoch()).isEqualTo(promised);
    assertThat(restarted.role()).isEqualTo(PartitionReplica.Role.FENCED);
    cluster.tickUntil(() -> "v".equals(restarted.appliedState().get("k")), 20);
  }

  @Test
  void fencedReplicaAnswersTheControllerOnlyAfterPromisingTheNewEpoch() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    cluster.electedLeader();
    PartitionReplica replica = cluster.replica(0);
    long next = replica.promisedEpoch() + 1;
    replica.step(new SingleLeaderMessage.Fence(TestCluster.CONTROLLER, 0, next));
    Ready ready = replica.ready();
    assertThat(ready.syncBeforeSend()).isTrue();
    assertThat(ready.records()).isNotEmpty();
    assertThat(ready.messages())
        .extracting(Envelope::message)
        .containsExactly(
            new SingleLeaderMessage.FenceAck(0, TestCluster.CONTROLLER, next, replica.lastLsn()));
    assertThat(replica.role()).isEqualTo(PartitionReplica.Role.FENCED);
    replica.advance(ready);
  }
}
