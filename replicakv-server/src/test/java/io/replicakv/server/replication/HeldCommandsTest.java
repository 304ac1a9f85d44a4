package io.replicakv.server.replication;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Order, head blocking, expiry and bounds of commands waiting out a leader change. */
class HeldCommandsTest {
  private final AtomicLong nanos = new AtomicLong();
  private final HeldCommands held = new HeldCommands(nanos::get);
  private final List<String> ran = new ArrayList<>();
  private final Set<Long> servable = new HashSet<>();

  private void hold(long group, String name) {
    held.hold(
        group,
        100,
        last -> {
          boolean refused = !servable.contains(group);
          if (!last && refused) {
            return HeldCommands.Outcome.WAITS;
          }
          ran.add(name + (refused ? " refused" : ""));
          return refused ? HeldCommands.Outcome.REFUSED : HeldCommands.Outcome.RAN;
        });
  }

  @Test
  void aGroupsCommandsRunInArrivalOrderOnceItCanServe() {
    long a = HeldCommands.key(0, 5);
    hold(a, "a1");
    hold(a, "a2");
    held.release();
    assertThat(ran).isEmpty();
    assertThat(held.waiting(a)).isTrue();
    servable.add(a);
    held.release();
    assertThat(ran).containsExactly("a1", "a2");
    assertThat(held.waiting(a)).isFalse();
    assertThat(held.size()).isZero();
    assertThat(held.heldTotal()).isEqualTo(2);
    assertThat(held.expiredTotal()).isZero();
  }

  @Test
  void aRefusedHeadKeepsItsGroupWaitingButNotOtherGroups() {
    long a = HeldCommands.key(0, 5);
    long b = HeldCommands.key(0, 6);
    hold(a, "a1");
    hold(b, "b1");
    servable.add(b);
    held.release();
    assertThat(ran).containsExactly("b1");
    assertThat(held.waiting(a)).isTrue();
    assertThat(held.waiting(b)).isFalse();
  }

  @Test
  void pastItsWaitACommandGetsItsRefusal() {
    long a = HeldCommands.key(1, 5);
    hold(a, "a1");
    nanos.addAndGet(50_000_000L);
    hold(a, "a2");
    nanos.addAndGet(60_000_000L); // a1 waited 110 ms, a2 60 ms
    held.release();
    assertThat(ran).containsExactly("a1 refused");
    assertThat(held.waiting(a)).isTrue();
    nanos.addAndGet(50_000_000L);
    held.release();
    assertThat(ran).containsExactly("a1 refused", "a2 refused");
    assertThat(held.expiredTotal()).isEqualTo(2);
  }

  @Test
  void keysOfKeyspacesAndGroupsDoNotCollide() {
    assertThat(HeldCommands.key(0, 1)).isNotEqualTo(HeldCommands.key(1, 0));
    assertThat(HeldCommands.key(0, -1)).isNotEqualTo(HeldCommands.key(1, 0));
    assertThat(HeldCommands.key(2, -1)).isNotEqualTo(HeldCommands.key(1, -1));
  }

  @Test
  void atMostHeldMaxCommandsWait() {
    long a = HeldCommands.key(0, 1);
    for (int i = 0; i < HeldCommands.HELD_MAX; i++) {
      assertThat(held.hasRoom()).isTrue();
      hold(a, "c" + i);
    }
    assertThat(held.hasRoom()).isFalse();
  }
}
