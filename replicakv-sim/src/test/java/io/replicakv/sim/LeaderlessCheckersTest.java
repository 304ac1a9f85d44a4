package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.leaderless.Placement;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The leaderless checkers on hand-made histories: each passes a good one and flags a bad one. */
class LeaderlessCheckersTest {
  private static final Placement PLACEMENT = LeaderlessSimReplica.placement(5, 4, 3);

  @Test
  void quorumReadCheckerFlagsAReadThatMissesAnEarlierAcknowledgedWrite() {
    Op write = Op.write(1, "k", "a", 1, 2);
    Op good = Op.read(2, "k", List.of("a"), 3, 4);
    Op stale = Op.read(2, "k", List.of(), 5, 6);
    Op concurrent = Op.read(3, "k", List.of(), 0, 7);
    assertThat(new QuorumReadChecker().check(Observation.of(List.of(write, good, concurrent))))
        .matches(result -> !result.failed());
    CheckResult bad = new QuorumReadChecker().check(Observation.of(List.of(write, stale)));
    assertThat(bad.failed()).isTrue();
    assertThat(bad.problems().get(0)).contains("misses earlier acknowledged");
  }

  @Test
  void siblingsPerWriterCheckerAllowsOneValuePerClientPlusItsUncertainWrites() {
    Op a1 = Op.write(1, "k", "a1", 1, 2);
    Op a2 = Op.write(1, "k", "a2", 3, 4);
    Op b1 = Op.write(2, "k", "b1", 1, 5);
    Op oneEach = Op.read(3, "k", List.of("a2", "b1"), 6, 7);
    Op twoFromOne = Op.read(3, "k", List.of("a1", "a2", "b1"), 8, 9);
    SiblingsPerWriterChecker checker = new SiblingsPerWriterChecker();
    assertThat(checker.check(Observation.of(List.of(a1, a2, b1, oneEach))).failed()).isFalse();
    assertThat(checker.check(Observation.of(List.of(a1, a2, b1, twoFromOne))).failed()).isTrue();
    // An uncertain write of client 1 may land late, so two values from client 1 are allowed.
    Op a0 = Op.writeUnknown(1, "k", "a0", 0);
    Op withUncertain = Op.read(3, "k", List.of("a0", "a2"), 8, 9);
    assertThat(checker.check(Observation.of(List.of(a0, a2, withUncertain))).failed()).isFalse();
  }

  @Test
  void crdtSetCheckerFlagsAMissingAcknowledgedAddAndAnInventedElement() {
    Op add = Op.write(1, "k", "x", 1, 2);
    CrdtSpecChecker checker = new CrdtSpecChecker(CrdtSpecChecker.Type.SET, true, PLACEMENT);
    assertThat(
            checker
                .check(Observation.of(List.of(add, Op.read(2, "k", List.of("x"), 3, 4))))
                .failed())
        .isFalse();
    assertThat(
            checker.check(Observation.of(List.of(add, Op.read(2, "k", List.of(), 3, 4)))).failed())
        .isTrue();
    assertThat(
            checker
                .check(Observation.of(List.of(add, Op.read(2, "k", List.of("x", "y"), 3, 4))))
                .failed())
        .isTrue();
  }

  @Test
  void crdtCounterCheckerBoundsReadsAndFinalValuesByAcknowledgedAndAttemptedIncrements() {
    Op one = Op.write(1, "k", "i1", 1, 2);
    Op maybe = Op.writeUnknown(2, "k", "i2", 1);
    CrdtSpecChecker checker = new CrdtSpecChecker(CrdtSpecChecker.Type.COUNTER, true, PLACEMENT);
    for (String shown : List.of("1", "2")) {
      assertThat(
              checker
                  .check(Observation.of(List.of(one, maybe, Op.read(3, "k", shown, 3, 4))))
                  .failed())
          .as(shown)
          .isFalse();
    }
    for (String shown : List.of("0", "3")) {
      assertThat(
              checker
                  .check(Observation.of(List.of(one, maybe, Op.read(3, "k", shown, 3, 4))))
                  .failed())
          .as(shown)
          .isTrue();
    }
    List<Integer> owners = PLACEMENT.owners(PLACEMENT.partitionOf("k"));
    Observation doubleCounted =
        new Observation(List.of(one), Map.of(owners.get(0), Map.of("k", List.of("2"))));
    assertThat(checker.check(doubleCounted).failed()).isTrue();
  }

  @Test
  void perReplicaSetCheckerComparesOnlyTheKeysOwners() {
    List<Integer> owners = PLACEMENT.owners(PLACEMENT.partitionOf("k"));
    int outsider = 0;
    while (owners.contains(outsider)) {
      outsider++;
    }
    Op write = Op.write(1, "k", "v", 1, 2);
    Map<Integer, Map<String, List<String>>> agreeing = new java.util.TreeMap<>();
    owners.forEach(owner -> agreeing.put(owner, Map.of("k", List.of("v"))));
    agreeing.put(outsider, Map.of());
    Checker convergence = new PerReplicaSetChecker(new ConvergenceChecker(), PLACEMENT);
    Checker lost = new PerReplicaSetChecker(new LostWriteChecker(), PLACEMENT);
    assertThat(convergence.check(new Observation(List.of(write), agreeing)).failed()).isFalse();
    assertThat(lost.check(new Observation(List.of(write), agreeing)).failed()).isFalse();
    Map<Integer, Map<String, List<String>>> oneBehind = new java.util.TreeMap<>(agreeing);
    oneBehind.put(owners.get(2), Map.of());
    CheckResult diverged = convergence.check(new Observation(List.of(write), oneBehind));
    assertThat(diverged.failed()).isTrue();
    assertThat(diverged.checker()).isEqualTo("convergence");
    assertThat(lost.check(new Observation(List.of(write), oneBehind)).failed()).isTrue();
  }

  @Test
  void crdtMapCheckerBoundsCounterFieldsAndFlagsMissingOrInventedStringFields() {
    // Request ids are the invoke times: even ones increment a counter field, odd ones write the
    // client's string field (LeaderlessSimReplica.mapField).
    Op increment = Op.write(1, "k", "i", 2, 3);
    Op string = Op.write(2, "k", "hello", 5, 6);
    String counterField = LeaderlessSimReplica.mapField(1, 2);
    String stringField = LeaderlessSimReplica.mapField(2, 5);
    CrdtSpecChecker checker = new CrdtSpecChecker(CrdtSpecChecker.Type.MAP, true, PLACEMENT);
    List<Op> writes = List.of(increment, string);
    java.util.function.Function<List<String>, Boolean> flags =
        shown -> {
          List<Op> ops = new java.util.ArrayList<>(writes);
          ops.add(Op.read(3, "k", shown, 10, 11));
          return checker.check(Observation.of(ops)).failed();
        };
    assertThat(flags.apply(List.of(counterField, "1", stringField, "hello"))).isFalse();
    assertThat(flags.apply(List.of(counterField, "2", stringField, "hello"))).as("twice").isTrue();
    assertThat(flags.apply(List.of(stringField, "hello"))).as("increment lost").isTrue();
    assertThat(flags.apply(List.of(counterField, "1"))).as("string field lost").isTrue();
    assertThat(flags.apply(List.of(counterField, "1", stringField, "bye"))).as("invented").isTrue();
    assertThat(flags.apply(List.of(counterField, "1", stringField, "hello", "zz", "1")))
        .as("unknown field")
        .isTrue();
  }

  @Test
  void monotonicCausalReadsFlagsAReadWhoseContextDoesNotDescendAnEarlierOne() {
    LeaderlessSimReplica.RunState run = new LeaderlessSimReplica.RunState();
    MonotonicCausalReadsChecker checker =
        new MonotonicCausalReadsChecker(run::monotonicReadViolations);
    io.replicakv.core.causal.VersionVector a1 =
        io.replicakv.core.causal.VersionVector.of(Map.of("1", 1L));
    io.replicakv.core.causal.VersionVector a2b1 =
        io.replicakv.core.causal.VersionVector.of(Map.of("1", 2L, "2", 1L));
    run.observeRead(7, 1, "k", a1);
    run.observeRead(7, 2, "k", a2b1);
    run.observeRead(8, 3, "k", a1); // another client may be behind
    assertThat(checker.check(Observation.of(List.of())).failed()).isFalse();
    run.observeRead(7, 4, "k", a1);
    CheckResult flagged = checker.check(Observation.of(List.of()));
    assertThat(flagged.failed()).isTrue();
    assertThat(flagged.problems().get(0)).contains("client 7 request 4");
  }
}
