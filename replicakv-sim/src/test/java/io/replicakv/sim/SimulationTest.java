package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.Ready;
import io.replicakv.core.Replica;
import io.replicakv.core.msg.Message;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The event loop itself: scripted faults, failure reports, replica exceptions. */
class SimulationTest {
  private static final Scenario SYNC = Scenarios.synchronousPrimaryBackup();

  private static SimConfig quietNetwork() {
    return SimConfig.defaults()
        .withNetwork(SimNetwork.Config.reliable(new LatencyModel.Uniform(1, 5)));
  }

  @Test
  void scriptedPartitionStallsSynchronousWritesWhichCompleteAfterHeal() {
    Simulation simulation =
        new Simulation(5, quietNetwork(), SYNC.factory(), List.of(new CommittedAgreement()), true);
    simulation.schedule(500, new SimEvent.Partition(List.of(0), List.of(1, 2)));
    simulation.schedule(1_200, new SimEvent.Heal());
    SimResult result = simulation.run();
    assertThat(result.violation()).isEmpty();
    assertThat(result.counters().get("client timeouts")).isPositive();
    assertThat(result.fullTrace()).contains("Partition[sideA=[0], sideB=[1, 2]]", "delays []");
    for (Checker checker : SYNC.checkers()) {
      assertThat(checker.check(result.observation()).verdict()).isEqualTo(CheckResult.Verdict.PASS);
    }
  }

  @Test
  void oneWayLinkFromPrimaryStillLetsAcksThroughButStallsReplication() {
    Simulation simulation = new Simulation(6, quietNetwork(), SYNC.factory(), List.of(), true);
    simulation.schedule(300, new SimEvent.BlockLink(0, 2));
    SimResult result = simulation.run();
    // Block stays until the workload ends, then heals: node 2 catches up and everyone converges.
    assertThat(result.counters().get("client timeouts")).isPositive();
    assertThat(new ConvergenceChecker().check(result.observation()).verdict())
        .isEqualTo(CheckResult.Verdict.PASS);
    assertThat(new LostWriteChecker().check(result.observation()).verdict())
        .isEqualTo(CheckResult.Verdict.PASS);
  }

  @Test
  void crashedPrimaryRestartsFromItsDiskAndLosesNothingAcknowledged() {
    Simulation simulation =
        new Simulation(8, quietNetwork(), SYNC.factory(), List.of(new CommittedAgreement()), true);
    simulation.schedule(700, new SimEvent.Crash(0));
    simulation.schedule(900, new SimEvent.Restart(0));
    SimResult result = simulation.run();
    assertThat(result.violation()).isEmpty();
    assertThat(result.fullTrace()).contains("n0 crashed", "n0 recovered");
    assertThat(LinearizabilityChecker.withDefaults().check(result.observation()).verdict())
        .isEqualTo(CheckResult.Verdict.PASS);
    assertThat(new LostWriteChecker().check(result.observation()).verdict())
        .isEqualTo(CheckResult.Verdict.PASS);
  }

  @Test
  void failureReportNamesTheSeedAndTheCommandThatReplaysIt() {
    Scenario.Outcome outcome = Scenarios.asynchronousCrashes().run(1);
    assertThat(outcome.failed()).isTrue();
    String report = outcome.report(SimSeeds.replayScenarioCommand("async-crashes", 1));
    assertThat(report)
        .contains("seed 1 FAILED")
        .contains("-Dtest=ScenarioReplayTest -Dsim.scenario=async-crashes -Dsim.seed=1")
        .contains("CommittedAgreement")
        .contains("last trace lines");
  }

  @Test
  void replicaThatThrowsEndsTheRunWithTheExceptionAsViolation() {
    ReplicaFactory exploding =
        context ->
            new Replica() {
              @Override
              public void step(Message message) {}

              @Override
              public void tick() {
                throw new IllegalStateException("boom at node " + context.nodeId());
              }

              @Override
              public Ready ready() {
                return Ready.EMPTY;
              }

              @Override
              public void advance(Ready done) {}
            };
    SimResult result = new Simulation(1, SimConfig.defaults(), exploding, List.of(), false).run();
    assertThat(result.violation())
        .hasValueSatisfying(v -> assertThat(v).contains("exception at event", "boom at node"));
    assertThat(result.traceTail().get(result.traceTail().size() - 1)).contains("VIOLATION");
  }
}
