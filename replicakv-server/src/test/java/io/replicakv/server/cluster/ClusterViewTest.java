package io.replicakv.server.cluster;

import static io.replicakv.server.cluster.Members.member;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.quorum.Acks;
import io.replicakv.core.quorum.KeyspaceConfig;
import io.replicakv.core.quorum.Style;
import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.server.cluster.MetadataChange.AddMember;
import io.replicakv.server.cluster.MetadataChange.AlterKeyspace;
import io.replicakv.server.cluster.MetadataChange.CreateKeyspace;
import io.replicakv.server.cluster.MetadataChange.DropKeyspace;
import io.replicakv.server.cluster.MetadataChange.RemoveMember;
import io.replicakv.server.cluster.MetadataChange.SetMemberState;
import io.replicakv.server.cluster.MetadataChange.SetPartitionLeader;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ClusterViewTest {
  private static ClusterView threeUp() {
    return ClusterView.empty("c1")
        .apply(new AddMember(member("a", 0, MemberState.UP)))
        .apply(new AddMember(member("b", 1, MemberState.UP)))
        .apply(new AddMember(member("c", 2, MemberState.UP)));
  }

  @Test
  void everyAcceptedChangeAddsExactlyOneVersion() {
    ClusterView view = ClusterView.empty("c1");
    assertThat(view.version()).isZero();
    List<MetadataChange> changes =
        List.of(
            new AddMember(member("a", 0, MemberState.UP)),
            new AddMember(member("b", 1, MemberState.JOINING)),
            new SetMemberState("b", MemberState.UP),
            new CreateKeyspace("carts", Map.of("style", "leaderless")),
            new AlterKeyspace("carts", Map.of("r", "1", "w", "2")),
            new DropKeyspace("carts"));
    long expected = 0;
    for (MetadataChange change : changes) {
      view = view.apply(change);
      assertThat(view.version()).isEqualTo(++expected);
    }
  }

  @Test
  void firstMemberBringsKeyspacesZeroToFifteenWithDefaultConfig() {
    assertThat(ClusterView.empty("c1").keyspaces()).isEmpty();
    ClusterView one = ClusterView.empty("c1").apply(new AddMember(member("a", 0, MemberState.UP)));
    assertThat(one.keyspaces()).hasSize(16);
    assertThat(one.keyspaces().get(0).name()).isEqualTo("default");
    assertThat(one.keyspaces().get(0).config()).isEqualTo(KeyspaceConfig.defaultKeyspace(1));
    assertThat(one.keyspaces().get(0).config().acks()).isEqualTo(Acks.NONE);
    assertThat(one.keyspaces().get(15).name()).isEqualTo("db15");
    // The default keyspace follows the cluster size: N = min(3, nodes).
    ClusterView three = threeUp();
    assertThat(three.keyspaces().get(0).config()).isEqualTo(KeyspaceConfig.defaultKeyspace(3));
    assertThat(three.keyspaces().get(0).config().replicas()).isEqualTo(3);
  }

  @Test
  void joiningMembersOwnNoSlotsUntilUp() {
    ClusterView view = threeUp().apply(new AddMember(member("d", 3, MemberState.JOINING)));
    assertThat(view.members()).containsKey("d");
    assertThat(view.ring().contains("d")).isFalse();
    assertThat(view.ring().nodes()).hasSize(3);
    ClusterView up = view.apply(new SetMemberState("d", MemberState.UP));
    assertThat(up.ring().contains("d")).isTrue();
    int ownedByD = up.ring().slotCounts().get("d");
    assertThat(ownedByD).isBetween(Slots.SLOT_COUNT / 4 * 8 / 10, Slots.SLOT_COUNT / 4 * 12 / 10);
    // DOWN keeps slots; LEFT gives them back.
    ClusterView down = up.apply(new SetMemberState("d", MemberState.DOWN));
    assertThat(down.ring()).isEqualTo(up.ring());
    ClusterView left = down.apply(new SetMemberState("d", MemberState.LEFT));
    assertThat(left.ring().contains("d")).isFalse();
  }

  @Test
  void partitionsCoverTheRingAndFollowThePreferenceList() {
    ClusterView view = threeUp();
    List<PartitionAssignment> partitions = view.partitions(0);
    assertThat(partitions).isNotEmpty();
    assertThat(partitions.get(0).firstSlot()).isZero();
    assertThat(partitions.get(partitions.size() - 1).lastSlot()).isEqualTo(Slots.SLOT_COUNT - 1);
    for (int i = 1; i < partitions.size(); i++) {
      assertThat(partitions.get(i).firstSlot()).isEqualTo(partitions.get(i - 1).lastSlot() + 1);
    }
    Random random = new Random(42);
    for (int i = 0; i < 200; i++) {
      int slot = random.nextInt(Slots.SLOT_COUNT);
      PartitionAssignment p = view.partition(0, slot);
      assertThat(p.contains(slot)).isTrue();
      assertThat(p.replicas()).isEqualTo(view.ring().preferenceList(slot, 3));
      assertThat(p.leader()).isEqualTo(p.replicas().get(0));
      assertThat(view.ownerOf(slot).id()).isEqualTo(view.ring().owner(slot));
      assertThat(partitions).contains(p);
    }
    assertThat(view.partitions(99)).isEmpty();
    assertThat(ClusterView.empty("c1").ownerOf(5)).isNull();
  }

  @Test
  void createKeyspaceTakesLowestFreeNumberFromSixteen() {
    ClusterView view =
        threeUp()
            .apply(new CreateKeyspace("a1", Map.of()))
            .apply(new CreateKeyspace("a2", Map.of("style", "leaderless", "conflicts", "lww")))
            .apply(new CreateKeyspace("a3", Map.of()));
    assertThat(view.keyspace("a1").number()).isEqualTo(16);
    assertThat(view.keyspace("a2").number()).isEqualTo(17);
    assertThat(view.keyspace("a2").config().style()).isEqualTo(Style.LEADERLESS);
    view = view.apply(new DropKeyspace("a2")).apply(new CreateKeyspace("a4", Map.of()));
    assertThat(view.keyspace("a4").number()).isEqualTo(17);
  }

  @Test
  void refusedChangesSayWhy() {
    ClusterView view = threeUp().apply(new CreateKeyspace("carts", Map.of()));
    assertRejected(view, new CreateKeyspace("carts", Map.of()), "keyspace carts already exists");
    assertRejected(view, new CreateKeyspace("db3", Map.of()), "already exists");
    assertRejected(
        view,
        new CreateKeyspace(
            "bad", Map.of("style", "leaderless", "r", "1", "w", "1", "read-your-writes", "on")),
        "R+W > N");
    assertRejected(view, new CreateKeyspace("big", Map.of("replicas", "4")), "> 3 nodes");
    assertRejected(view, new CreateKeyspace("x", Map.of("acks", "many")), "acks must be");
    assertRejected(view, new CreateKeyspace("x", Map.of("style", "chaos")), "unknown style");
    assertRejected(view, new CreateKeyspace("has space", Map.of()), "must be 1 to 64");
    assertRejected(view, new AlterKeyspace("nope", Map.of()), "no keyspace nope");
    assertRejected(
        view, new AlterKeyspace("carts", Map.of("style", "leaderless")), "style cannot change");
    assertRejected(view, new DropKeyspace("default"), "built in");
    assertRejected(view, new AddMember(member("a", 9, MemberState.UP)), "already exists");
    assertRejected(view, new AddMember(member("z", 0, MemberState.UP)), "uses an address");
    assertRejected(
        view, new AddMember(member("z", 9, MemberState.DOWN)), "starts STAGED, JOINING or UP");
    assertRejected(view, new SetMemberState("a", MemberState.UP), "already UP");
    assertRejected(view, new SetMemberState("a", MemberState.LEFT), "cannot go from UP to LEFT");
    assertRejected(view, new SetMemberState("q", MemberState.UP), "no member q");
    assertRejected(view, new RemoveMember("a"), "owns slots");
    assertRejected(
        ClusterView.empty("c1"), new CreateKeyspace("early", Map.of()), "no members yet");
  }

  @Test
  void leaderRecordsNeedAReplicaAndAHigherEpoch() {
    ClusterView view = threeUp();
    PartitionAssignment p = view.partitions(0).get(3);
    String other = p.replicas().get(1);
    assertRejected(view, new SetPartitionLeader(0, p.firstSlot(), other, p.epoch()), "not above");
    assertRejected(
        view, new SetPartitionLeader(0, p.firstSlot(), "zz", p.epoch() + 1), "not a replica");
    assertRejected(view, new SetPartitionLeader(42, p.firstSlot(), other, 99), "no keyspace");
    if (p.lastSlot() > p.firstSlot()) {
      assertRejected(
          view, new SetPartitionLeader(0, p.firstSlot() + 1, other, 99), "starts at slot");
    }
    ClusterView led = view.apply(new SetPartitionLeader(0, p.firstSlot(), other, p.epoch() + 5));
    PartitionAssignment after = led.partition(0, p.firstSlot());
    assertThat(after.leader()).isEqualTo(other);
    assertThat(after.epoch()).isEqualTo(p.epoch() + 5);
    // A ring change moves every changed range past all recorded epochs; epochs never go back.
    ClusterView grown = led.apply(new AddMember(member("d", 3, MemberState.UP)));
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot += 97) {
      PartitionAssignment before = led.partition(0, slot);
      PartitionAssignment now = grown.partition(0, slot);
      assertThat(now.epoch()).isGreaterThanOrEqualTo(before.epoch());
      if (!now.replicas().equals(before.replicas())) {
        assertThat(now.epoch()).isGreaterThan(p.epoch() + 5);
      }
    }
  }

  @Test
  void bytesRoundTrip() {
    ClusterView view =
        threeUp()
            .apply(new AddMember(member("d", 3, MemberState.JOINING, "r2")))
            .apply(new CreateKeyspace("carts", Map.of("style", "leaderless", "conflicts", "crdt")))
            .apply(new AlterKeyspace("default", Map.of("acks", "all")));
    PartitionAssignment p = view.partitions(0).get(0);
    view = view.apply(new SetPartitionLeader(0, p.firstSlot(), p.replicas().get(2), p.epoch() + 1));
    ClusterView decoded = ClusterView.fromBytes(view.toBytes());
    assertThat(decoded).isEqualTo(view);
    assertThat(decoded.version()).isEqualTo(view.version());
    assertThat(decoded.keyspaces()).isEqualTo(view.keyspaces());
    assertThat(decoded.partitions(0)).isEqualTo(view.partitions(0));
    assertThat(decoded.keyspace("default").config().acks()).isEqualTo(Acks.ALL);
    assertThat(ClusterView.fromBytes(ClusterView.empty("c9").toBytes()))
        .isEqualTo(ClusterView.empty("c9"));
  }

  @Test
  void changesRoundTripAndCorruptBytesAreRefused() {
    List<MetadataChange> changes =
        List.of(
            new AddMember(member("a", 0, MemberState.UP, "r1")),
            new SetMemberState("a", MemberState.DOWN),
            new RemoveMember("a"),
            new CreateKeyspace("k", Map.of("style", "leaderless", "r", "1")),
            new AlterKeyspace("k", Map.of("w", "3")),
            new DropKeyspace("k"),
            new SetPartitionLeader(3, 100, "a", 77));
    for (MetadataChange change : changes) {
      byte[] bytes = change.toBytes();
      assertThat(MetadataChange.fromBytes(bytes)).isEqualTo(change);
      assertThatThrownBy(() -> MetadataChange.fromBytes(Arrays.copyOf(bytes, bytes.length - 1)))
          .isInstanceOf(CorruptEncodingException.class);
    }
    byte[] view = threeUp().toBytes();
    assertThatThrownBy(() -> ClusterView.fromBytes(Arrays.copyOf(view, view.length + 1)))
        .isInstanceOf(CorruptEncodingException.class);
    view[0] = 9;
    assertThatThrownBy(() -> ClusterView.fromBytes(view))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("format version 9");
  }

  @Test
  void alterOfMultiLeaderKeyspaceRefusesConflictsTopologyAndHubButTakesOtherOptions() {
    ClusterView view =
        ClusterView.empty("c1")
            .apply(new AddMember(member("a", 0, MemberState.UP)))
            .apply(
                new CreateKeyspace(
                    "carts",
                    Map.of(
                        "style",
                        "multi-leader",
                        "conflicts",
                        "siblings",
                        "topology",
                        "star",
                        "hub",
                        "site-1")));
    assertRejected(
        view,
        new AlterKeyspace("carts", Map.of("conflicts", "lww")),
        "its conflicts cannot change (siblings -> lww)");
    assertRejected(
        view, new AlterKeyspace("carts", Map.of("topology", "circular")), "its topology cannot");
    assertRejected(view, new AlterKeyspace("carts", Map.of("hub", "site-2")), "its hub cannot");
    // repeating the options it has is not a change
    ClusterView same =
        view.apply(new AlterKeyspace("carts", Map.of("conflicts", "siblings", "hub", "site-1")));
    assertThat(same.keyspace("carts").config().conflicts().get(0).toString()).isEqualTo("siblings");
  }

  private static void assertRejected(ClusterView view, MetadataChange change, String reason) {
    assertThatThrownBy(() -> view.apply(change))
        .isInstanceOf(MetadataRejectedException.class)
        .hasMessageContaining(reason);
  }
}
