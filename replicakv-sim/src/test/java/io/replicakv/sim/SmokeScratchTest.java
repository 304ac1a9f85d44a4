package io.replicakv.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SmokeScratchTest {
  @Test
  void smoke() {
    for (var mode : PrimaryBackupRegister.Mode.values()) {
      long start = System.nanoTime();
      SimResult r =
          new Simulation(
                  1,
                  SimConfig.defaults().withFaults(Faults.moderate()),
                  PrimaryBackupRegister.factory(mode),
                  List.of(new CommittedAgreement()),
                  false)
              .run();
      System.out.println(
          mode
              + " "
              + (System.nanoTime() - start) / 1_000_000
              + "ms events="
              + r.events()
              + " "
              + r.counters()
              + " ops="
              + r.observation().ops().size());
      System.out.println(r.violation());
      System.out.println(r.observation().finalStates());
      r.traceTail().forEach(System.out::println);
    }
    assertThat(1).isEqualTo(1);
  }
}
