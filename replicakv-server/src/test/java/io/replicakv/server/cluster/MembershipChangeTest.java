package io.replicakv.server.cluster;

import static io.replicakv.server.cluster.Members.member;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.ring.RingDiff;
import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.server.cluster.MetadataChange.AddMember;
import io.replicakv.server.cluster.MetadataChange.RemoveMember;
import io.replicakv.server.cluster.MetadataChange.ReplaceMember;
import io.replicakv.server.cluster.MetadataChange.SetMemberState;
import io.replicakv.server.cluster.MetadataChange.SourceReady;
import java.util.List;
import java.util.SortedSet;
import org.junit.jupiter.api.Test;

/**
 * Staged joins, replacement and the handover recorded in the metadata, as {@link ClusterView} folds
 * them: pure, so every node that applies the same changes agrees.
 */
class MembershipChangeTest {
  private static ClusterView threeUpAndStaged() {
    return ClusterView.empty("c1")
        .apply(new AddMember(member("a", 0, MemberState.UP)))
        .apply(new AddMember(member("b", 1, MemberState.UP)))
        .apply(new AddMember(member("c", 2, MemberState.UP)))
        .apply(new AddMember(member("d", 3, MemberState.STAGED)));
  }

  @Test
  void aStagedMemberOwnsNothingUntilItsJoinIsCommitted() {
    ClusterView staged = threeUpAndStaged();
    assertThat(staged.ring().contains("d")).isFalse();
    assertThat(staged.movingMember()).isNull();
    ClusterView joining = staged.apply(new SetMemberState("d", MemberState.JOINING));
    assertThat(joining.ring().contains("d")).isFalse();
    assertThat(joining.movingMember().id()).isEqualTo("d");
    assertThat(joining.moveSources("d")).containsExactly("a", "b", "c");
    assertThat(staged.apply(new SetMemberState("d", MemberState.LEFT)).members().get("d").state())
        .isEqualTo(MemberState.LEFT);
    assertRejected(staged, new SetMemberState("d", MemberState.UP), "cannot go from STAGED to UP");
  }

  @Test
  void theLastSourceReadyFlipsInTheSameVersion() {
    ClusterView view = threeUpAndStaged().apply(new SetMemberState("d", MemberState.JOINING));
    view = view.apply(new SourceReady("d", "a"));
    assertThat(view.handedOver("d")).containsExactly("a");
    assertRejected(view, new SourceReady("d", "a"), "already handed over");
    assertRejected(view, new SourceReady("d", "d"), "has no slots to hand over");
    view = view.apply(new SourceReady("d", "c"));
    assertThat(view.members().get("d").state()).isEqualTo(MemberState.JOINING);
    long before = view.version();
    view = view.apply(new SourceReady("d", "b"));
    assertThat(view.version()).isEqualTo(before + 1);
    assertThat(view.members().get("d").state()).isEqualTo(MemberState.UP);
    assertThat(view.ring().contains("d")).isTrue();
    assertThat(view.handedOver("d")).isEmpty();
    assertRejected(view, new SourceReady("d", "a"), "no move to hand over to");
  }

  @Test
  void handedOverSlotsPointAtTheirTargetUntilTheFlip() {
    ClusterView view = threeUpAndStaged().apply(new SetMemberState("d", MemberState.JOINING));
    List<RingDiff.SlotMove> moves = RingDiff.between(view.ring(), view.afterFlip("d").ring());
    view = view.apply(new SourceReady("d", "b"));
    int handed = 0;
    for (RingDiff.SlotMove m : moves) {
      for (int s = m.firstSlot(); s <= m.lastSlot(); s++) {
        String expected = m.fromNode().equals("b") ? "d" : null;
        assertThat(view.handoverTarget(s)).as("slot %s", s).isEqualTo(expected);
        handed += expected == null ? 0 : 1;
      }
    }
    assertThat(handed).isPositive();
    int all = 0;
    for (int s = 0; s < Slots.SLOT_COUNT; s++) {
      all += view.handoverTarget(s) == null ? 0 : 1;
    }
    assertThat(all).isEqualTo(handed);
  }

  @Test
  void aCancelIsRefusedOnceASourceHandedOver() {
    ClusterView view = threeUpAndStaged().apply(new SetMemberState("d", MemberState.JOINING));
    assertThat(view.apply(new SetMemberState("d", MemberState.LEFT)).members().get("d").state())
        .isEqualTo(MemberState.LEFT);
    ClusterView handed = view.apply(new SourceReady("d", "b"));
    assertRejected(
        handed,
        new SetMemberState("d", MemberState.LEFT),
        "past its handover point: 1 of 3 sources handed over; it will finish when a, c hand over");
    ClusterView leaving = threeUpAndStaged().apply(new SetMemberState("b", MemberState.LEAVING));
    ClusterView leaverReady = leaving.apply(new SourceReady("b", "b"));
    assertThat(leaverReady.members().get("b").state()).isEqualTo(MemberState.LEFT);
  }

  @Test
  void oneMoveAtATime() {
    ClusterView view = threeUpAndStaged().apply(new SetMemberState("d", MemberState.JOINING));
    assertRejected(view, new SetMemberState("a", MemberState.LEAVING), "one move at a time");
    ClusterView withDown = view.apply(new SetMemberState("c", MemberState.DOWN));
    assertRejected(withDown, new SetMemberState("c", MemberState.LEFT), "one move at a time");
  }

  @Test
  void aReplacementOwnsExactlyTheSlotsOfTheReplacedMember() {
    ClusterView view = threeUpAndStaged();
    ClusterView replacing = view.apply(new ReplaceMember("b", "d"));
    assertThat(replacing.members().get("d").state()).isEqualTo(MemberState.JOINING);
    assertThat(replacing.members().get("d").tokenOwner()).isEqualTo("b");
    assertThat(replacing.moveSources("d")).containsExactly("b");
    List<RingDiff.SlotMove> moves =
        RingDiff.between(replacing.ring(), replacing.afterFlip("d").ring());
    assertThat(moves).allMatch(m -> m.fromNode().equals("b") && m.toNode().equals("d"));
    ClusterView done = replacing.apply(new SourceReady("d", "b"));
    assertThat(done.members().get("d").state()).isEqualTo(MemberState.UP);
    assertThat(done.members().get("b").state()).isEqualTo(MemberState.LEFT);
    for (int s = 0; s < Slots.SLOT_COUNT; s++) {
      String before = view.ring().owner(s);
      String after = done.ring().owner(s);
      assertThat(after).as("slot %s", s).isEqualTo(before.equals("b") ? "d" : before);
    }
    // a replacement can itself be replaced: the tokens stay b's
    ClusterView again =
        done.apply(new AddMember(member("e", 4, MemberState.STAGED)))
            .apply(new ReplaceMember("d", "e"))
            .apply(new SourceReady("e", "d"));
    assertThat(again.members().get("e").tokenOwner()).isEqualTo("b");
    for (int s = 0; s < Slots.SLOT_COUNT; s++) {
      String before = view.ring().owner(s);
      assertThat(again.ring().owner(s)).isEqualTo(before.equals("b") ? "e" : before);
    }
    assertRejected(
        done.apply(new RemoveMember("b")),
        new AddMember(member("b", 5, MemberState.STAGED)),
        "names the ring tokens of member d");
  }

  @Test
  void replacingADownMemberIsRefusedUntilReplicationExists() {
    ClusterView view = threeUpAndStaged().apply(new SetMemberState("b", MemberState.DOWN));
    assertRejected(
        view,
        new ReplaceMember("b", "d"),
        "no replica holds its data yet; bring it back or remove it");
    assertRejected(
        threeUpAndStaged().apply(new SetMemberState("d", MemberState.JOINING)),
        new ReplaceMember("a", "d"),
        "the replacement must be STAGED");
  }

  @Test
  void viewsAndChangesRoundTripAndVersionOneStillDecodes() {
    ClusterView view =
        threeUpAndStaged()
            .apply(new ReplaceMember("b", "d"))
            .apply(new SetMemberState("a", MemberState.DOWN));
    ClusterView handed =
        threeUpAndStaged()
            .apply(new SetMemberState("d", MemberState.JOINING))
            .apply(new SourceReady("d", "a"));
    for (ClusterView v : List.of(view, handed)) {
      ClusterView back = ClusterView.fromBytes(v.toBytes());
      assertThat(back).isEqualTo(v);
      assertThat(back.ring()).isEqualTo(v.ring());
    }
    SortedSet<String> ready = ClusterView.fromBytes(handed.toBytes()).handedOver("d");
    assertThat(ready).containsExactly("a");
    for (MetadataChange c :
        List.<MetadataChange>of(
            new SourceReady("d", "a"),
            new ReplaceMember("b", "d"),
            new AddMember(member("x", 7, MemberState.STAGED).withTokenOwner("y")))) {
      assertThat(MetadataChange.fromBytes(c.toBytes())).isEqualTo(c);
    }
    // an AddMember entry written before token owners existed (format version 1)
    Member m = member("old", 8, MemberState.UP);
    byte[] v1 =
        new ByteWriter()
            .writeByte(1)
            .writeByte(MetadataCodec.TAG_ADD_MEMBER)
            .writeString(m.id())
            .writeString(m.host())
            .writeVarInt(m.clientPort())
            .writeVarInt(m.peerPort())
            .writeVarInt(m.httpPort())
            .writeVarInt(m.metadataPort())
            .writeString(m.site())
            .writeString(m.rack())
            .writeString(m.state().name())
            .writeBoolean(m.voter())
            .toByteArray();
    assertThat(MetadataChange.fromBytes(v1)).isEqualTo(new AddMember(m));
    assertThat(((AddMember) MetadataChange.fromBytes(v1)).member().tokenOwner()).isEqualTo("old");
  }

  private static void assertRejected(ClusterView view, MetadataChange change, String reason) {
    assertThatThrownBy(() -> view.apply(change))
        .isInstanceOf(MetadataRejectedException.class)
        .hasMessageContaining(reason);
  }
}
