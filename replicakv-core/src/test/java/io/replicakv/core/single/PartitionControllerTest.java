package io.replicakv.core.single;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.Envelope;
import io.replicakv.core.Ready;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.quorum.Acks;
import java.util.List;
import org.junit.jupiter.api.Test;

class PartitionControllerTest {

  @Test
  void electionWaitsForEnoughFenceAnswersAndPicksTheHighestLsn() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int old = cluster.electedLeader();
    int ahead = old == 0 ? 1 : 0;
    int behind = 3 - old - ahead;
    cluster.cut =
        message -> message.to() == behind && message instanceof SingleLeaderMessage.Append;
    long write = cluster.put(old, "k", "acknowledged");
    cluster.tickUntil(() -> cluster.replies.containsKey(write), 20);
    assertThat(cluster.replies.get(write)).isInstanceOf(Reply.Written.class);

    // The old leader dies; only the replica that lacks the write answers at first.
    cluster.crash(old);
    cluster.cut = message -> message.from() == ahead || message.to() == ahead;
    cluster.tickUntil(() -> cluster.controller().phase() == PartitionController.Phase.ELECTING, 40);
    cluster.tick(20);
    assertThat(cluster.controller().phase()).isEqualTo(PartitionController.Phase.ELECTING);
    assertThat(cluster.controller().leader()).isEqualTo(-1);

    cluster.cut = message -> false;
    cluster.tickUntil(() -> cluster.leaderAcceptingWrites() >= 0, 40);
    assertThat(cluster.leaderAcceptingWrites()).isEqualTo(ahead);
    cluster.tickUntil(
        () -> "acknowledged".equals(cluster.replica(behind).appliedState().get("k")), 20);
  }

  @Test
  void controllerFailsOverOnlyAfterTheLeaderIsSilentForTheFailoverTimeout() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int leader = cluster.electedLeader();
    cluster.cut = message -> message.from() == leader && message.to() == TestCluster.CONTROLLER;
    // Heartbeats leave every other tick, so the last one arrived at most two ticks ago.
    cluster.tick((int) cluster.config.failoverTimeoutTicks() - 2);
    assertThat(cluster.controller().epoch()).isEqualTo(1);
    cluster.tick(3);
    assertThat(cluster.controller().epoch()).isEqualTo(2);
  }

  @Test
  void leaseIsGrantedOnlyToTheHeartbeatOfTheCurrentLeader() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int leader = cluster.electedLeader();
    int follower = leader == 0 ? 1 : 0;
    PartitionController controller = cluster.controller();

    controller.step(
        new SingleLeaderMessage.Heartbeat(follower, 3, controller.epoch(), Lsn.ZERO, true, 1, 42));
    controller.step(
        new SingleLeaderMessage.Heartbeat(leader, 3, controller.epoch(), Lsn.ZERO, true, 1, 43));
    controller.step(
        new SingleLeaderMessage.Heartbeat(
            leader, 3, controller.epoch() - 1, Lsn.ZERO, true, 1, 44));

    Ready ready = controller.ready();
    assertThat(ready.messages())
        .extracting(Envelope::message)
        .containsExactly(
            new SingleLeaderMessage.Leadership(3, follower, controller.epoch(), leader, 1, -1),
            new SingleLeaderMessage.Leadership(3, leader, controller.epoch(), leader, 1, 43),
            new SingleLeaderMessage.Leadership(3, leader, controller.epoch(), leader, 1, -1));
    controller.advance(ready);
  }

  @Test
  void plannedSwitchoverDrainsTheLeaderBeforeHandingOverAndLosesNothingWithAcksNone() {
    TestCluster cluster = new TestCluster(Acks.NONE, false);
    int old = cluster.electedLeader();
    int target = old == 0 ? 1 : 0;
    cluster.cut =
        message -> message.to() == target && message instanceof SingleLeaderMessage.Append;
    long write = cluster.put(old, "k", "acknowledged-before-switchover");
    assertThat(cluster.replies.get(write)).isInstanceOf(Reply.Written.class);

    assertThat(cluster.controller().switchover(target)).isTrue();
    cluster.tick(10);
    assertThat(cluster.controller().phase()).isEqualTo(PartitionController.Phase.SWITCHING_OVER);
    assertThat(cluster.controller().epoch()).isEqualTo(1);
    long refused = cluster.put(old, "k", "during-drain");
    assertThat(cluster.replies.get(refused))
        .isInstanceOfSatisfying(
            Reply.Rejected.class, r -> assertThat(r.reason()).startsWith("TRYAGAIN"));

    cluster.cut = message -> false;
    cluster.tickUntil(() -> cluster.leaderAcceptingWrites() == target, 40);
    assertThat(cluster.controller().epoch()).isEqualTo(2);
    assertThat(cluster.controller().switchovers()).isEqualTo(1);
    cluster.tickUntil(
        () ->
            "acknowledged-before-switchover"
                .equals(cluster.replica(target).appliedState().get("k")),
        20);
    for (int id : TestCluster.REPLICAS) {
      assertThat(cluster.replica(id).divergentWritesTotal()).isZero();
    }
  }

  @Test
  void restartedControllerKeepsItsEpochAndLeader() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int leader = cluster.electedLeader();
    cluster.crash(TestCluster.CONTROLLER);
    cluster.restart(TestCluster.CONTROLLER);
    assertThat(cluster.controller().epoch()).isEqualTo(1);
    assertThat(cluster.controller().leader()).isEqualTo(leader);
    cluster.tick(30);
    assertThat(cluster.controller().epoch()).isEqualTo(1);
    long write = cluster.put(leader, "k", "v");
    cluster.tickUntil(() -> cluster.replies.containsKey(write), 20);
    assertThat(cluster.replies.get(write)).isInstanceOf(Reply.Written.class);
  }

  @Test
  void configRefusesALeaseThatCouldOutliveTheFailoverTimeout() {
    assertThatThrownBy(
            () ->
                new SingleLeaderConfig(
                    List.of(0, 1, 2), 3, Acks.of(1), 12, 12, 10_000, 2, 15, 50, 6, 10))
        .hasMessageContaining("must end before failover");
    assertThatThrownBy(
            () ->
                new SingleLeaderConfig(
                    List.of(0, 1, 2), 3, Acks.of(3), 8, 12, 10_000, 2, 15, 50, 6, 10))
        .hasMessageContaining("needs more followers");
  }

  @Test
  void fenceAnswersCoverEveryAcknowledgedWrite() {
    List<Integer> three = List.of(0, 1, 2);
    assertThat(SingleLeaderConfig.forSimulation(three, 3, Acks.ALL).fenceAnswersNeeded())
        .isEqualTo(1);
    assertThat(SingleLeaderConfig.forSimulation(three, 3, Acks.of(1)).fenceAnswersNeeded())
        .isEqualTo(2);
    assertThat(SingleLeaderConfig.forSimulation(three, 3, Acks.NONE).fenceAnswersNeeded())
        .isEqualTo(2);
    assertThat(SingleLeaderConfig.forSimulation(three, 3, Acks.NONE).commitFollowers())
        .isEqualTo(1);
    assertThat(SingleLeaderConfig.forSimulation(List.of(0), 3, Acks.NONE).fenceAnswersNeeded())
        .isEqualTo(1);
    assertThat(new Operation.Get("k").key()).isEqualTo("k");
  }
}
