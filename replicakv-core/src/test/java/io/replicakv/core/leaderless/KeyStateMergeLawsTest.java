package io.replicakv.core.leaderless;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.causal.Hlc;
import io.replicakv.core.causal.VersionVector;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Replicas may receive states in any order and any number of times, so {@link KeyState#merge} must
 * be a join: commutative, associative, idempotent, for siblings and for LWW with its tie-break.
 * States are built the way replicas build them: by replaying a generated history of client writes
 * (with the context of a previous state, or blind) and merges at three replicas.
 */
class KeyStateMergeLawsTest {
  private static final int REPLICAS = 3;

  @Provide
  Arbitrary<List<Integer>> histories() {
    return Arbitraries.integers().between(0, 1_000_000).list().ofMaxSize(30);
  }

  /** Three replicas' states after the history; step kinds: write, blind write, delete, merge. */
  static List<KeyState> replay(ConflictMode mode, List<Integer> steps) {
    List<KeyState> states = new ArrayList<>(List.of(empty(mode), empty(mode), empty(mode)));
    int written = 0;
    int[] stampsIssued = new int[REPLICAS];
    for (int step : steps) {
      int replica = step % REPLICAS;
      int kind = (step / REPLICAS) % 4;
      KeyState current = states.get(replica);
      if (kind == 3) {
        KeyState other = states.get((replica + 1 + step / 12 % 2) % REPLICAS);
        states.set(replica, current.merge(other, true).state());
        continue;
      }
      Write write = kind == 2 ? new Write.Delete() : new Write.Value("v" + written++);
      VersionVector context = kind == 1 ? VersionVector.EMPTY : current.context();
      // Each replica's stamps increase (as its HLC's do), but replicas share the same few stamps,
      // so LWW ties between replicas are common.
      Hlc stamp = new Hlc(0, ++stampsIssued[replica]);
      states.set(replica, write.apply(mode, current, context, "r" + replica, stamp));
    }
    return states;
  }

  /**
   * Three replicas' CRDT hash states after the history; step kinds: HSET of a string field, HINCRBY
   * of a counter field, HDEL of either, merge. Strings and counters use separate field names (an
   * HINCRBY of a non-integer string is refused before it is applied).
   */
  static List<KeyState> replayMap(List<Integer> steps) {
    KeyState empty = new KeyState.Map(io.replicakv.core.crdt.OrMap.EMPTY);
    List<KeyState> states = new ArrayList<>(List.of(empty, empty, empty));
    int[] stampsIssued = new int[REPLICAS];
    for (int step : steps) {
      int replica = step % REPLICAS;
      int kind = (step / REPLICAS) % 4;
      int field = (step / 12) % 3;
      KeyState current = states.get(replica);
      if (kind == 3) {
        KeyState other = states.get((replica + 1 + step / 36 % 2) % REPLICAS);
        states.set(replica, current.merge(other, true).state());
        continue;
      }
      Write write =
          switch (kind) {
            case 0 -> new Write.HashSet("s" + field, "v" + step);
            case 1 -> new Write.HashIncrement("c" + field, step % 7 - 3);
            default -> new Write.HashDelete((step % 2 == 0 ? "s" : "c") + field);
          };
      Hlc stamp = new Hlc(0, ++stampsIssued[replica]);
      states.set(
          replica,
          write.apply(ConflictMode.CRDT, current, VersionVector.EMPTY, "r" + replica, stamp));
    }
    return states;
  }

  /** Three replicas' CRDT register states after SETs, DELs and merges. */
  static List<KeyState> replayRegister(List<Integer> steps) {
    KeyState empty = new KeyState.Register(io.replicakv.core.crdt.LwwRegister.EMPTY);
    List<KeyState> states = new ArrayList<>(List.of(empty, empty, empty));
    int[] stampsIssued = new int[REPLICAS];
    for (int step : steps) {
      int replica = step % REPLICAS;
      int kind = (step / REPLICAS) % 3;
      KeyState current = states.get(replica);
      if (kind == 2) {
        states.set(replica, current.merge(states.get((replica + 1) % REPLICAS), true).state());
        continue;
      }
      Write write = kind == 0 ? new Write.Value("v" + step) : new Write.Delete();
      Hlc stamp = new Hlc(0, ++stampsIssued[replica]);
      states.set(
          replica,
          write.apply(ConflictMode.CRDT, current, VersionVector.EMPTY, "r" + replica, stamp));
    }
    return states;
  }

  @Property(tries = 300)
  void crdtMapMergeIsAJoin(@ForAll("histories") List<Integer> steps) {
    List<KeyState> states = replayMap(steps);
    checkJoinLaws(states);
    for (KeyState state : states) {
      assertThat(KeyState.fromBytes(state.toBytes())).isEqualTo(state);
    }
  }

  @Property(tries = 300)
  void crdtRegisterMergeIsAJoin(@ForAll("histories") List<Integer> steps) {
    List<KeyState> states = replayRegister(steps);
    checkJoinLaws(states);
    for (KeyState state : states) {
      assertThat(KeyState.fromBytes(state.toBytes())).isEqualTo(state);
    }
  }

  private static KeyState empty(ConflictMode mode) {
    return mode == ConflictMode.LWW
        ? new KeyState.Lww(Hlc.ZERO, "", null)
        : new KeyState.Siblings(io.replicakv.core.causal.DvvSet.EMPTY);
  }

  private static KeyState join(KeyState a, KeyState b) {
    return a.merge(b, true).state();
  }

  @Property(tries = 300)
  void siblingMergeIsAJoin(@ForAll("histories") List<Integer> steps) {
    checkJoinLaws(replay(ConflictMode.SIBLINGS, steps));
  }

  @Property(tries = 300)
  void lastWriteWinsMergeWithTieBreakIsAJoin(@ForAll("histories") List<Integer> steps) {
    checkJoinLaws(replay(ConflictMode.LWW, steps));
  }

  @Property(tries = 200)
  void encodingRoundTripsAndDigestsFollowEquality(@ForAll("histories") List<Integer> steps) {
    for (ConflictMode mode : List.of(ConflictMode.SIBLINGS, ConflictMode.LWW)) {
      List<KeyState> states = replay(mode, steps);
      for (KeyState state : states) {
        KeyState decoded = KeyState.fromBytes(state.toBytes());
        assertThat(decoded).isEqualTo(state);
        assertThat(decoded.digest()).isEqualTo(state.digest());
      }
      if (!states.get(0).equals(states.get(1))) {
        assertThat(states.get(0).digest()).isNotEqualTo(states.get(1).digest());
      }
    }
  }

  @org.junit.jupiter.api.Test
  void lastWriteWinsWithoutTieBreakIsNotCommutativeOnTies() {
    KeyState a = new KeyState.Lww(new Hlc(5, 0), "1", "from-1");
    KeyState b = new KeyState.Lww(new Hlc(5, 0), "2", "from-2");
    assertThat(a.merge(b, false).state()).isNotEqualTo(b.merge(a, false).state());
    assertThat(a.merge(b, true).state()).isEqualTo(b.merge(a, true).state()).isEqualTo(b);
    assertThat(a.merge(b, true).discardedWrites()).isEqualTo(1);
  }

  private static void checkJoinLaws(List<KeyState> states) {
    KeyState a = states.get(0);
    KeyState b = states.get(1);
    KeyState c = states.get(2);
    assertThat(join(a, b)).isEqualTo(join(b, a));
    assertThat(join(join(a, b), c)).isEqualTo(join(a, join(b, c)));
    assertThat(join(a, a)).isEqualTo(a);
    assertThat(join(join(a, b), b)).isEqualTo(join(a, b));
  }
}
