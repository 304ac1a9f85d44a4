package io.replicakv.core.causal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.util.CorruptEncodingException;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class HybridLogicalClockTest {

  @Test
  void timestampsIncreaseWhenPhysicalClockStepsBackwards() {
    HybridLogicalClock clock = new HybridLogicalClock();
    Hlc first = clock.now(1_000);
    Hlc second = clock.now(400);
    Hlc third = clock.now(1_000);
    assertThat(second).isGreaterThan(first);
    assertThat(third).isGreaterThan(second);
    assertThat(third).isEqualTo(new Hlc(1_000, 2));
    assertThat(clock.now(1_001)).isEqualTo(new Hlc(1_001, 0));
  }

  @Test
  void receiveEventOrdersAfterRemoteAndLocal() {
    HybridLogicalClock clock = new HybridLogicalClock();
    clock.now(5_000);
    Hlc remote = new Hlc(5_030, 7);
    Hlc received = clock.update(remote, 5_010);
    assertThat(received).isEqualTo(new Hlc(5_030, 8));
    assertThat(clock.now(5_020)).isEqualTo(new Hlc(5_030, 9));
  }

  @Test
  void remoteTooFarAheadIsRefusedAndClockUnchanged() {
    HybridLogicalClock clock = new HybridLogicalClock(Hlc.ZERO, 500);
    Hlc before = clock.now(10_000);
    assertThatThrownBy(() -> clock.update(new Hlc(10_501, 0), 10_000))
        .isInstanceOf(ClockDriftException.class)
        .hasMessageContaining("501 ms ahead");
    assertThat(clock.last()).isEqualTo(before);
    assertThat(clock.update(new Hlc(10_500, 0), 10_000)).isEqualTo(new Hlc(10_500, 1));
  }

  @Test
  void logicalOverflowAdvancesPhysicalPart() {
    HybridLogicalClock clock =
        new HybridLogicalClock(
            new Hlc(7, Integer.MAX_VALUE), HybridLogicalClock.DEFAULT_MAX_REMOTE_AHEAD_MILLIS);
    assertThat(clock.now(7)).isEqualTo(new Hlc(8, 0));
  }

  @Test
  void binaryFormsRoundTripAndRejectUnknownVersion() {
    HybridLogicalClock clock = new HybridLogicalClock(new Hlc(123_456, 9), 777);
    HybridLogicalClock copy = HybridLogicalClock.fromBytes(clock.toBytes());
    assertThat(copy.last()).isEqualTo(clock.last());
    assertThat(copy.maxRemoteAheadMillis()).isEqualTo(777);
    Hlc hlc = new Hlc(1_700_000_000_000L, 42);
    byte[] bytes = hlc.toBytes();
    assertThat(bytes).hasSize(13);
    assertThat(Hlc.fromBytes(bytes)).isEqualTo(hlc);
    bytes[0] = 9;
    assertThatThrownBy(() -> Hlc.fromBytes(bytes)).isInstanceOf(CorruptEncodingException.class);
  }

  /**
   * Three nodes with skewed clocks exchange messages; every receive orders after its send and each
   * node's timestamps strictly increase, whatever the skew (within the bound).
   */
  @Property(seed = "4417", tries = 300)
  void causalityIsNeverOverruledBySkew(
      @ForAll @Size(max = 80) List<@IntRange(min = 0, max = 9_999) Integer> steps) {
    long[] skewMillis = {0, -3_000, 2_500};
    HybridLogicalClock[] clocks = {
      new HybridLogicalClock(), new HybridLogicalClock(), new HybridLogicalClock()
    };
    List<List<Hlc>> issued = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
    long trueMillis = 10_000;
    for (int step : steps) {
      trueMillis += step % 7;
      int from = step % 3;
      int to = (step / 3) % 3;
      Hlc sent = clocks[from].now(trueMillis + skewMillis[from]);
      issued.get(from).add(sent);
      Hlc received = clocks[to].update(sent, trueMillis + skewMillis[to]);
      issued.get(to).add(received);
      assertThat(received).isGreaterThan(sent);
    }
    for (List<Hlc> perNode : issued) {
      for (int i = 1; i < perNode.size(); i++) {
        assertThat(perNode.get(i)).isGreaterThan(perNode.get(i - 1));
      }
    }
  }
}
