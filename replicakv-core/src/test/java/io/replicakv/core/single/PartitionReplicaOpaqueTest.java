package io.replicakv.core.single;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.CommittedEntry;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SingleLeaderMessage.AppendAck;
import io.replicakv.core.quorum.Acks;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The server's path: opaque {@link Operation.Write} bytes replicated without interpretation. */
class PartitionReplicaOpaqueTest {
  private static final byte[] PAYLOAD = {0, 1, (byte) 0xFF, (byte) 0x80, 0x7F, 0, 42};

  @Test
  void opaqueWriteIsCommittedOnEveryReplicaWithItsBytesUnchanged() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int leader = cluster.electedLeader();

    long write = cluster.request(leader, new Operation.Write("k", PAYLOAD), Lsn.ZERO);
    cluster.tickUntil(() -> cluster.replies.containsKey(write), 20);
    Lsn lsn = ((Reply.Written) cluster.replies.get(write)).sessionToken();
    cluster.tickUntil(
        () ->
            TestCluster.REPLICAS.stream()
                .allMatch(id -> cluster.replica(id).commitOffset() >= lsn.offset()),
        50);

    for (int id : TestCluster.REPLICAS) {
      List<CommittedEntry> writes =
          cluster.committedByNode.get(id).stream()
              .filter(entry -> entry.operation() instanceof Operation.Write)
              .toList();
      assertThat(writes).hasSize(1);
      assertThat(writes.getFirst().offset()).isEqualTo(lsn.offset());
      assertThat(((Operation.Write) writes.getFirst().operation()).payload()).isEqualTo(PAYLOAD);
      // The replica keeps no register state for bytes it does not interpret.
      assertThat(cluster.replica(id).appliedState()).doesNotContainKey("k");
    }
  }

  @Test
  void opaqueWriteIsAnsweredOnlyOnceAcksFollowersPersistedIt() {
    TestCluster cluster = new TestCluster(Acks.of(2), false);
    int leader = cluster.electedLeader();
    cluster.cut = message -> message instanceof AppendAck;

    long write = cluster.request(leader, new Operation.Write("k", PAYLOAD), Lsn.ZERO);
    cluster.tick(3);
    assertThat(cluster.replies).doesNotContainKey(write);

    cluster.cut = message -> false;
    cluster.tickUntil(() -> cluster.replies.containsKey(write), 10);
    assertThat(cluster.replies.get(write))
        .isEqualTo(new Reply.Written(cluster.replica(leader).lastLsn()));
  }

  @Test
  void readIndexAnswerComesAfterTheCommitsItCovers() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int leader = cluster.electedLeader();
    long write = cluster.request(leader, new Operation.Write("k", PAYLOAD), Lsn.ZERO);
    cluster.tickUntil(() -> cluster.replies.containsKey(write), 20);
    Lsn written = ((Reply.Written) cluster.replies.get(write)).sessionToken();

    long read = cluster.get(leader, "k", written);
    cluster.tickUntil(() -> cluster.replies.containsKey(read), 20);

    // No register value for an opaque key, but the commit point the caller reads its own state at.
    Reply.Values values = (Reply.Values) cluster.replies.get(read);
    assertThat(values.values()).isEmpty();
    Lsn commitPoint = values.sessionToken();
    assertThat(commitPoint).isGreaterThanOrEqualTo(written);
    List<String> order = cluster.outputOrder.get(leader);
    assertThat(order.indexOf("c" + written.offset()))
        .isNotNegative()
        .isLessThan(order.indexOf("r" + read));
  }

  @Test
  void restartedFollowerRebuildsOpaqueEntriesFromItsRecords() {
    TestCluster cluster = new TestCluster(Acks.of(2), false);
    int leader = cluster.electedLeader();
    long write = cluster.request(leader, new Operation.Write("k", PAYLOAD), Lsn.ZERO);
    cluster.tickUntil(() -> cluster.replies.containsKey(write), 20);
    Lsn lsn = ((Reply.Written) cluster.replies.get(write)).sessionToken();
    int follower = TestCluster.REPLICAS.stream().filter(id -> id != leader).findFirst().get();

    cluster.crash(follower);
    cluster.restart(follower);

    assertThat(cluster.replica(follower).lastLsn()).isGreaterThanOrEqualTo(lsn);
    assertThat(cluster.replica(follower).entryAt(lsn.offset()).operation())
        .isEqualTo(new Operation.Write("k", PAYLOAD));
  }

  @Test
  void registerPutsAndOpaqueWritesShareOneLog() {
    TestCluster cluster = new TestCluster(Acks.of(1), false);
    int leader = cluster.electedLeader();
    long put = cluster.put(leader, "a", "v");
    long write = cluster.request(leader, new Operation.Write("b", PAYLOAD), Lsn.ZERO);
    cluster.tickUntil(
        () -> cluster.replies.containsKey(put) && cluster.replies.containsKey(write), 20);
    long putOffset = ((Reply.Written) cluster.replies.get(put)).sessionToken().offset();
    long writeOffset = ((Reply.Written) cluster.replies.get(write)).sessionToken().offset();

    assertThat(writeOffset).isEqualTo(putOffset + 1);
    assertThat(cluster.replica(leader).appliedState()).containsEntry("a", "v");
    assertThat(cluster.replica(leader).entryAt(writeOffset).sizeBytes())
        .isEqualTo(24 + 2 + PAYLOAD.length);
  }
}
