package io.replicakv.core.leaderless;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.causal.VersionVector;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The map and register types of {@code conflicts=crdt} keyspaces, through {@link TestCluster}. */
class CrdtKeyspaceTest {
  private static final String KEY = "user:1";

  private static TestCluster crdtCluster() {
    return new TestCluster(
        LeaderlessConfig.defaults()
            .withRepair(true, false, 0)
            .withConflicts(ConflictMode.CRDT, true));
  }

  private static KvResult write(TestCluster cluster, int coordinator, Write write, int quorum) {
    return cluster.put(coordinator, KEY, write, VersionVector.EMPTY, quorum);
  }

  @Test
  void anIncrementCreatedOnALaggingOwnerAnswersWhatTheAcknowledgingReplicasCounted() {
    TestCluster cluster = crdtCluster();
    List<Integer> owners = cluster.owners(KEY);
    int lagging = owners.get(1);
    cluster.isolated.add(lagging);
    KvResult first = write(cluster, owners.get(0), new Write.Increment(5), 2);
    assertThat(first.outcome()).isEqualTo(KvResult.Outcome.OK);
    assertThat(first.values()).containsExactly("5");
    cluster.isolated.clear();
    assertThat(cluster.node(lagging).localValues(KEY)).isEmpty();

    // The lagging owner creates this version from its own state (no +5), but each of the W
    // acknowledging owners merged the +5, so the answer counts it.
    KvResult second = write(cluster, lagging, new Write.Increment(-1), 2);

    assertThat(second.outcome()).isEqualTo(KvResult.Outcome.OK);
    assertThat(second.values()).containsExactly("4");
  }

  @Test
  void aHashIncrementOnALaggingOwnerAnswersTheFieldAsTheAcknowledgingReplicasCounted() {
    TestCluster cluster = crdtCluster();
    List<Integer> owners = cluster.owners(KEY);
    int lagging = owners.get(2);
    cluster.isolated.add(lagging);
    write(cluster, owners.get(0), new Write.HashIncrement("visits", 3), 2);
    cluster.isolated.clear();

    KvResult second = write(cluster, lagging, new Write.HashIncrement("visits", 4), 2);

    assertThat(second.values()).containsExactly("visits", "7");
  }

  @Test
  void hashFieldsWrittenOnBothSidesOfAPartitionAreAllKeptWithoutSiblings() {
    TestCluster cluster = crdtCluster();
    List<Integer> owners = cluster.owners(KEY);
    cluster.isolated.add(owners.get(0));
    write(cluster, owners.get(1), new Write.HashSet("name", "ada"), 1);
    write(cluster, owners.get(1), new Write.HashIncrement("visits", 2), 1);
    cluster.isolated.clear();
    cluster.isolated.add(owners.get(1));
    write(cluster, owners.get(0), new Write.HashSet("city", "paris"), 1);
    write(cluster, owners.get(0), new Write.HashIncrement("visits", 5), 1);
    cluster.isolated.clear();
    KvResult read = cluster.get(owners.get(2), KEY, 3);
    assertThat(read.type()).isEqualTo("hash");
    assertThat(read.values()).containsExactly("city", "paris", "name", "ada", "visits", "7");
  }

  @Test
  void concurrentHashSetsOfOneFieldConvergeOnTheLaterStamp() {
    TestCluster cluster = crdtCluster();
    List<Integer> owners = cluster.owners(KEY);
    cluster.isolated.add(owners.get(0));
    write(cluster, owners.get(1), new Write.HashSet("f", "first"), 1);
    cluster.isolated.clear();
    cluster.isolated.add(owners.get(1));
    cluster.physicalMillis += 1_000;
    write(cluster, owners.get(0), new Write.HashSet("f", "second"), 1);
    cluster.isolated.clear();
    assertThat(cluster.get(owners.get(2), KEY, 3).values()).containsExactly("f", "second");
    for (int owner : owners) {
      assertThat(cluster.node(owner).localValues(KEY)).containsExactly("f", "second");
    }
  }

  @Test
  void hashDeleteRemovesWhatItSawButAConcurrentHashSetWins() {
    TestCluster cluster = crdtCluster();
    List<Integer> owners = cluster.owners(KEY);
    write(cluster, owners.get(0), new Write.HashSet("a", "1"), 3);
    write(cluster, owners.get(0), new Write.HashSet("b", "2"), 3);
    cluster.isolated.add(owners.get(0));
    write(cluster, owners.get(1), new Write.HashDelete("a"), 1);
    write(cluster, owners.get(1), new Write.HashDelete("b"), 1);
    cluster.isolated.clear();
    cluster.isolated.add(owners.get(1));
    write(cluster, owners.get(0), new Write.HashSet("b", "3"), 1);
    cluster.isolated.clear();
    assertThat(cluster.get(owners.get(2), KEY, 3).values()).containsExactly("b", "3");
  }

  @Test
  void hashIncrementOnAnIntegerStringStartsFromItAndOnOtherTextIsRefused() {
    TestCluster cluster = crdtCluster();
    List<Integer> owners = cluster.owners(KEY);
    write(cluster, owners.get(0), new Write.HashSet("n", "40"), 0);
    write(cluster, owners.get(0), new Write.HashSet("s", "text"), 0);
    KvResult incremented = write(cluster, owners.get(1), new Write.HashIncrement("n", 2), 0);
    assertThat(incremented.values()).containsSubsequence("n", "42");
    KvResult refused = write(cluster, owners.get(1), new Write.HashIncrement("s", 1), 0);
    assertThat(refused.outcome()).isEqualTo(KvResult.Outcome.REFUSED);
    assertThat(refused.detail()).isEqualTo("ERR hash value is not an integer");
  }

  @Test
  void aCommandOfAnotherTypeIsRefusedWithWrongType() {
    TestCluster cluster = crdtCluster();
    List<Integer> owners = cluster.owners(KEY);
    write(cluster, owners.get(0), new Write.Increment(1), 0);
    for (Write other :
        List.of(
            new Write.HashSet("f", "v"),
            new Write.HashIncrement("f", 1),
            new Write.Value("v"),
            new Write.SetAdd("e"))) {
      KvResult refused = write(cluster, owners.get(1), other, 0);
      assertThat(refused.outcome()).as("%s", other).isEqualTo(KvResult.Outcome.REFUSED);
      assertThat(refused.detail()).as("%s", other).startsWith("WRONGTYPE");
    }
    assertThat(cluster.get(owners.get(2), KEY, 3).values()).containsExactly("1");
  }

  @Test
  void registerWritesMergeWithoutSiblingsAndALaterWriteAndDeleteWin() {
    TestCluster cluster = crdtCluster();
    List<Integer> owners = cluster.owners(KEY);
    cluster.isolated.add(owners.get(0));
    write(cluster, owners.get(1), new Write.Value("left"), 1);
    cluster.isolated.clear();
    cluster.isolated.add(owners.get(1));
    write(cluster, owners.get(0), new Write.Value("right"), 1);
    cluster.isolated.clear();
    KvResult read = cluster.get(owners.get(2), KEY, 3);
    assertThat(read.values()).hasSize(1);
    assertThat(read.type()).isEqualTo("string");
    for (int owner : owners) {
      assertThat(cluster.node(owner).localValues(KEY)).isEqualTo(read.values());
    }
    write(cluster, owners.get(2), new Write.Value("last"), 0);
    assertThat(cluster.get(owners.get(0), KEY, 3).values()).containsExactly("last");
    write(cluster, owners.get(1), new Write.Delete(), 0);
    assertThat(cluster.get(owners.get(0), KEY, 3).values()).isEmpty();
    write(cluster, owners.get(0), new Write.Value("again"), 0);
    assertThat(cluster.get(owners.get(2), KEY, 3).values()).containsExactly("again");
  }

  @Test
  void aHashWithMoreFieldsThanTheSiblingLimitIsNotRefused() {
    TestCluster cluster = crdtCluster();
    int owner = cluster.owners(KEY).get(0);
    for (int i = 0; i <= LeaderlessConfig.SIBLINGS_MAX + 5; i++) {
      assertThat(write(cluster, owner, new Write.HashSet("f" + i, "v"), 0).outcome())
          .isEqualTo(KvResult.Outcome.OK);
    }
  }
}
