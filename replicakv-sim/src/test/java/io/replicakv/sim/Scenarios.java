package io.replicakv.sim;

import io.replicakv.core.util.Check;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The scenarios known by name to tests and to {@link SimRunner}. */
public final class Scenarios {
  private Scenarios() {}

  /** Correct synchronous primary/backup under crashes, partitions, loss and clock jumps. */
  public static Scenario synchronousPrimaryBackup() {
    SimConfig config = SimConfig.defaults().withFaults(Faults.moderate());
    return new Scenario(
        "sync-primary-backup",
        config,
        PrimaryBackupRegister.factory(PrimaryBackupRegister.Mode.SYNCHRONOUS),
        () -> List.of(new CommittedAgreement()),
        Scenario.allRegisterCheckers(config.clientCount()));
  }

  /**
   * Broken asynchronous primary/backup with backup reads, no crashes or partitions: stale reads
   * only. Client links are fast (1-3 ms) while replication suffers loss and reordering delays of up
   * to 300 ms, so backups lag each other and the primary visibly, as an overloaded replication link
   * would.
   */
  public static Scenario asynchronousStaleReads() {
    SimConfig config =
        SimConfig.defaults()
            .withNetwork(new SimNetwork.Config(new LatencyModel.Uniform(1, 3), 0.2, 0, 0.3, 300));
    return new Scenario(
        "async-stale-reads",
        config,
        PrimaryBackupRegister.factory(PrimaryBackupRegister.Mode.ASYNCHRONOUS_WITH_BACKUP_READS),
        () -> List.of(new CommittedAgreement()),
        Scenario.allRegisterCheckers(config.clientCount()));
  }

  /**
   * Broken asynchronous primary/backup under crashes: unsynced acknowledged writes vanish and
   * offsets are reused.
   */
  public static Scenario asynchronousCrashes() {
    SimConfig config =
        SimConfig.defaults()
            .withRouting(SimConfig.Routing.PRIMARY_ONLY)
            .withFaults(Faults.moderate());
    return new Scenario(
        "async-crashes",
        config,
        PrimaryBackupRegister.factory(PrimaryBackupRegister.Mode.ASYNCHRONOUS_WITH_BACKUP_READS),
        () -> List.of(new CommittedAgreement()),
        Scenario.allRegisterCheckers(config.clientCount()));
  }

  /** Every scenario by name. */
  public static Map<String, Scenario> all() {
    Map<String, Scenario> all = new TreeMap<>();
    for (Scenario scenario :
        List.of(synchronousPrimaryBackup(), asynchronousStaleReads(), asynchronousCrashes())) {
      all.put(scenario.name(), scenario);
    }
    for (Scenario scenario : LeaderlessScenarios.all()) {
      all.put(scenario.name(), scenario);
    }
    return all;
  }

  /** The scenario called {@code name}; fails listing the known names. */
  public static Scenario named(String name) {
    Scenario scenario = all().get(name);
    Check.argument(scenario != null, "no scenario %s; known: %s", name, all().keySet());
    return scenario;
  }
}
