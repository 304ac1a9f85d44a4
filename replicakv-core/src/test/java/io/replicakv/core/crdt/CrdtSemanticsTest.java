package io.replicakv.core.crdt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.causal.Hlc;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.util.CorruptEncodingException;
import java.util.List;
import org.junit.jupiter.api.Test;

class CrdtSemanticsTest {
  private static final Bytes A = Bytes.utf8("a");
  private static final Bytes B = Bytes.utf8("b");

  @Test
  void countersNeverLoseAConcurrentIncrement() {
    PNCounter east = PNCounter.EMPTY.add("east", 5).add("east", -2);
    PNCounter west = PNCounter.EMPTY.add("west", 10);
    PNCounter merged = east.merge(west).merge(east);
    assertThat(merged.value()).isEqualTo(13);
    assertThat(GCounter.EMPTY.increment("x", 4).merge(GCounter.EMPTY.increment("y", 3)).value())
        .isEqualTo(7);
    assertThatThrownBy(() -> GCounter.EMPTY.increment("x", -1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void lwwKeepsLaterTimestampThenHigherReplicaId() {
    LwwRegister early = LwwRegister.EMPTY.assign(new Hlc(100, 0), "z", A);
    LwwRegister late = LwwRegister.EMPTY.assign(new Hlc(100, 1), "a", B);
    assertThat(early.merge(late).value()).contains(B);
    assertThat(late.merge(early).value()).contains(B);
    LwwRegister tieLow = LwwRegister.EMPTY.assign(new Hlc(7, 0), "n1", A);
    LwwRegister tieHigh = LwwRegister.EMPTY.assign(new Hlc(7, 0), "n2", B);
    assertThat(tieLow.merge(tieHigh).value()).contains(B);
    LwwRegister deleted = late.delete(new Hlc(101, 0), "a");
    assertThat(deleted.value()).isEmpty();
    assertThat(deleted.merge(early).value()).isEmpty();
  }

  @Test
  void mvRegisterKeepsConcurrentAssignmentsUntilOneSeesThem() {
    MvRegister base = MvRegister.EMPTY.assign("r1", A);
    MvRegister left = base.assign("r1", Bytes.utf8("left"));
    MvRegister right = base.assign("r2", Bytes.utf8("right"));
    MvRegister merged = left.merge(right);
    assertThat(merged.values()).containsExactly(Bytes.utf8("left"), Bytes.utf8("right"));
    MvRegister resolved = merged.assign("r3", B);
    assertThat(resolved.merge(left).merge(right).values()).containsExactly(B);
  }

  @Test
  void orSetAddWinsOverConcurrentRemove() {
    AwOrSet base = AwOrSet.EMPTY.add("r1", A).add("r1", B);
    AwOrSet removed = base.remove(A);
    AwOrSet readded = base.add("r2", A);
    assertThat(removed.merge(readded).elements()).containsExactly(A, B);
    assertThat(removed.merge(base).elements()).containsExactly(B);
    assertThat(removed.merge(base).contains(A)).isFalse();
  }

  @Test
  void orMapFieldsMergeAsTheirCrdtsAndUpdatesWinOverRemoves() {
    Bytes hits = Bytes.utf8("hits");
    OrMap base = OrMap.EMPTY.put("r1", hits, PNCounter.EMPTY.add("r1", 5));
    OrMap east = base.put("r1", hits, counter(base, hits).add("r1", 1));
    OrMap west = base.put("r2", hits, counter(base, hits).add("r2", 2));
    assertThat(counter(east.merge(west), hits).value()).isEqualTo(8);

    OrMap removed = base.remove(hits);
    assertThat(removed.fields()).isEmpty();
    OrMap concurrent = removed.merge(west);
    assertThat(counter(concurrent, hits).value()).isEqualTo(7);
    OrMap afterward = removed.merge(base);
    assertThat(afterward.fields()).isEmpty();
    OrMap fresh = afterward.put("r1", hits, PNCounter.EMPTY.add("r1", 1));
    assertThat(counter(fresh.merge(base), hits).value()).isEqualTo(1);
  }

  @Test
  void orMapTypeClashResolvesTheSameWayEverywhere() {
    Bytes field = Bytes.utf8("f");
    OrMap left = OrMap.EMPTY.put("r1", field, PNCounter.EMPTY.add("r1", 3));
    OrMap right = OrMap.EMPTY.put("r2", field, LwwRegister.EMPTY.assign(new Hlc(1, 0), "r2", A));
    assertThat(left.merge(right).get(field)).isEqualTo(right.merge(left).get(field));
    assertThat(left.merge(right).get(field).orElseThrow().type()).isEqualTo(CrdtType.LWW_REGISTER);
  }

  @Test
  void decodersRefuseCorruptInput() {
    byte[] bytes = AwOrSet.EMPTY.add("r1", A).toBytes();
    for (byte[] bad :
        List.of(new byte[0], new byte[] {2}, java.util.Arrays.copyOf(bytes, bytes.length - 1))) {
      assertThatThrownBy(() -> AwOrSet.fromBytes(bad)).isInstanceOf(CorruptEncodingException.class);
    }
    byte[] trailing = java.util.Arrays.copyOf(bytes, bytes.length + 1);
    assertThatThrownBy(() -> AwOrSet.fromBytes(trailing))
        .isInstanceOf(CorruptEncodingException.class);
  }

  private static PNCounter counter(OrMap map, Bytes field) {
    return map.get(field, PNCounter.class).orElse(PNCounter.EMPTY);
  }
}
