package io.replicakv.core.crdt;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.causal.Hlc;
import io.replicakv.core.model.Bytes;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Semilattice laws for every CRDT. States are not generated field by field (that would produce
 * states no replica could reach, such as one dot naming two values) but by replaying a generated
 * history of local operations and merges at three replicas.
 */
class CrdtLawsTest {
  private static final int REPLICAS = 3;

  /** A local operation: the replica's current state, its id and a generated number. */
  @FunctionalInterface
  interface Operation<T> {
    T apply(T state, String replicaId, int argument);
  }

  @Provide
  Arbitrary<List<Integer>> histories() {
    return Arbitraries.integers().between(0, 1_000_000).list().ofMaxSize(40);
  }

  /** Replays the history; every fourth kind of step merges another replica's state in. */
  static <T extends Crdt<T>> List<T> replay(T empty, List<Integer> steps, Operation<T> operation) {
    List<T> states = new ArrayList<>(List.of(empty, empty, empty));
    for (int step : steps) {
      int replica = step % REPLICAS;
      int argument = step / 12;
      if ((step / 3) % 4 == 0) {
        states.set(replica, states.get(replica).merge(states.get(argument % REPLICAS)));
      } else {
        states.set(replica, operation.apply(states.get(replica), "r" + replica, argument));
      }
    }
    return states;
  }

  static <T extends Crdt<T>> void checkLaws(List<T> states, Function<byte[], T> decoder) {
    T a = states.get(0);
    T b = states.get(1);
    T c = states.get(2);
    assertThat(a.merge(b)).isEqualTo(b.merge(a));
    assertThat(a.merge(b).merge(c)).isEqualTo(a.merge(b.merge(c)));
    assertThat(a.merge(a)).isEqualTo(a);
    assertThat(a.merge(b).merge(b)).isEqualTo(a.merge(b));
    for (T state : states) {
      byte[] bytes = state.toBytes();
      assertThat(bytes[0]).isEqualTo((byte) 1);
      assertThat(decoder.apply(bytes)).isEqualTo(state);
      assertThat(state.type().decode(bytes)).isEqualTo(state);
    }
  }

  private static Bytes element(int argument) {
    return Bytes.utf8("e" + (argument % 4));
  }

  @Property(seed = "11")
  void gCounter(@ForAll("histories") List<Integer> steps) {
    checkLaws(
        replay(GCounter.EMPTY, steps, (s, r, x) -> s.increment(r, x % 5)), GCounter::fromBytes);
  }

  @Property(seed = "12")
  void pnCounter(@ForAll("histories") List<Integer> steps) {
    checkLaws(
        replay(PNCounter.EMPTY, steps, (s, r, x) -> s.add(r, x % 11 - 5)), PNCounter::fromBytes);
  }

  @Property(seed = "13")
  void lwwRegister(@ForAll("histories") List<Integer> steps) {
    Operation<LwwRegister> operation =
        (s, r, x) ->
            x % 5 == 0
                ? s.delete(new Hlc(x % 7, x % 2), r)
                : s.assign(new Hlc(x % 7, x % 2), r, element(x));
    checkLaws(replay(LwwRegister.EMPTY, steps, operation), LwwRegister::fromBytes);
  }

  @Property(seed = "14")
  void mvRegister(@ForAll("histories") List<Integer> steps) {
    checkLaws(
        replay(MvRegister.EMPTY, steps, (s, r, x) -> s.assign(r, element(x))),
        MvRegister::fromBytes);
  }

  @Property(seed = "15")
  void awOrSet(@ForAll("histories") List<Integer> steps) {
    Operation<AwOrSet> operation =
        (s, r, x) -> x % 3 == 0 ? s.remove(element(x / 3)) : s.add(r, element(x / 3));
    checkLaws(replay(AwOrSet.EMPTY, steps, operation), AwOrSet::fromBytes);
  }

  @Property(seed = "16")
  void orMap(@ForAll("histories") List<Integer> steps) {
    checkLaws(replay(OrMap.EMPTY, steps, CrdtLawsTest::hashCommand), OrMap::fromBytes);
  }

  /** HINCRBY, HSET or HDEL on one of three fields, decoded from the argument. */
  static OrMap hashCommand(OrMap map, String replicaId, int argument) {
    Bytes field = Bytes.utf8("f" + (argument % 3));
    return switch ((argument / 3) % 4) {
      case 0, 1 -> {
        PNCounter counter = map.get(field, PNCounter.class).orElse(PNCounter.EMPTY);
        yield map.put(replicaId, field, counter.add(replicaId, argument % 7 - 3));
      }
      case 2 -> {
        LwwRegister register = map.get(field, LwwRegister.class).orElse(LwwRegister.EMPTY);
        yield map.put(
            replicaId, field, register.assign(new Hlc(argument, 0), replicaId, element(argument)));
      }
      default -> map.remove(field);
    };
  }

  /** Every replica that has merged everything holds the same state, whatever the order. */
  @Property(seed = "17")
  void mergingEverythingConvergesInAnyOrder(@ForAll("histories") List<Integer> steps) {
    List<OrMap> maps = replay(OrMap.EMPTY, steps, CrdtLawsTest::hashCommand);
    OrMap forward = maps.get(0).merge(maps.get(1)).merge(maps.get(2));
    OrMap backward = maps.get(2).merge(maps.get(1)).merge(maps.get(0));
    assertThat(forward).isEqualTo(backward);
    assertThat(forward.entries()).isEqualTo(backward.entries());
  }
}
