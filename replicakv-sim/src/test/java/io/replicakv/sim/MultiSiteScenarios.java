package io.replicakv.sim;

import io.replicakv.core.multi.ConflictResolver;
import io.replicakv.core.multi.CrdtResolver;
import io.replicakv.core.multi.HomeSiteResolver;
import io.replicakv.core.multi.LockResolver;
import io.replicakv.core.multi.LwwResolver;
import io.replicakv.core.multi.MergeFunction;
import io.replicakv.core.multi.MergeFunctions;
import io.replicakv.core.multi.MergeResolver;
import io.replicakv.core.multi.MultiLeaderConfig;
import io.replicakv.core.multi.SiblingsResolver;
import io.replicakv.core.multi.SiteReplica;
import io.replicakv.core.quorum.Topology;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The multi-leader scenarios known by name to {@code MultiLeaderSimulationTest} and to {@link
 * SimRunner} ({@code run-sim.sh --scenario multi-...}), and the checkers each one runs.
 */
final class MultiSiteScenarios {
  private MultiSiteScenarios() {}

  /** Three simulated seconds of writes under faults, then two of quiet. */
  static final long WORKLOAD_MILLIS = 3_000;

  static final long QUIET_MILLIS = 2_000;

  /** A checker's verdict on one run. */
  record Verdict(String checker, List<String> violations) {
    boolean failed() {
      return !violations.isEmpty();
    }
  }

  /** One run's verdicts and everything needed to report it. */
  record Outcome(MultiSiteSimulation.Run run, List<Verdict> verdicts) {
    boolean failed() {
      return verdicts.stream().anyMatch(Verdict::failed);
    }

    List<String> failedCheckers() {
      return verdicts.stream().filter(Verdict::failed).map(Verdict::checker).toList();
    }

    String report(String replayCommand) {
      StringBuilder text = new StringBuilder();
      text.append("scenario ")
          .append(run.config().name())
          .append(" seed ")
          .append(run.seed())
          .append(failed() ? " FAILED" : " passed")
          .append(" (")
          .append(run.writes().size())
          .append(" writes, ")
          .append(run.counters())
          .append(")\nreplay: ")
          .append(replayCommand)
          .append('\n');
      for (Verdict verdict : verdicts) {
        text.append(verdict.failed() ? "  FAIL " : "  ok   ")
            .append(verdict.checker())
            .append('\n');
        verdict.violations().forEach(v -> text.append("       ").append(v).append('\n'));
      }
      if (failed()) {
        text.append("last trace lines:\n");
        run.traceTail().forEach(line -> text.append("  ").append(line).append('\n'));
      }
      return text.toString();
    }
  }

  /** Every named scenario. */
  static Map<String, MultiSiteSimulation.Config> all() {
    Map<String, MultiSiteSimulation.Config> all = new LinkedHashMap<>();
    for (Topology topology : Topology.values()) {
      add(
          all,
          correct(
              "multi-lww-" + topology.text(),
              topology,
              LwwResolver::new,
              MultiSiteSimulation.Workload.REGISTER));
      add(
          all,
          correct(
              "multi-siblings-" + topology.text(),
              topology,
              SiblingsResolver::new,
              MultiSiteSimulation.Workload.READ_MODIFY_WRITE));
    }
    add(
        all,
        correct(
            "multi-lww-deletes-all-to-all",
            Topology.ALL_TO_ALL,
            LwwResolver::new,
            MultiSiteSimulation.Workload.REGISTER_WITH_DELETES));
    add(
        all,
        correct(
            "multi-siblings-deletes-circular",
            Topology.CIRCULAR,
            SiblingsResolver::new,
            MultiSiteSimulation.Workload.REGISTER_WITH_DELETES));
    add(
        all,
        correct(
            "multi-merge-max-all-to-all",
            Topology.ALL_TO_ALL,
            merge("max"),
            MultiSiteSimulation.Workload.INTEGERS));
    add(
        all,
        correct(
            "multi-merge-sum-star",
            Topology.STAR,
            merge("sum"),
            MultiSiteSimulation.Workload.INTEGERS));
    add(
        all,
        correct(
            "multi-merge-union-circular",
            Topology.CIRCULAR,
            merge("union"),
            MultiSiteSimulation.Workload.SET_ELEMENTS));
    for (Topology topology : Topology.values()) {
      add(
          all,
          correct(
              "multi-lock-" + topology.text(),
              topology,
              LockResolver::new,
              MultiSiteSimulation.Workload.REGISTER));
    }
    for (Topology topology : Topology.values()) {
      add(
          all,
          correct(
              "multi-home-site-" + topology.text(),
              topology,
              () -> new HomeSiteResolver(new LwwResolver(), Map.of("k0", "s1")),
              MultiSiteSimulation.Workload.REGISTER));
    }
    // Site logs that keep 8 changes for linked sites: link cuts and crashes leave sites behind
    // the retained log, so links are caught up by full-state catch-ups (and forwarders pass them
    // on). For lww a lost write must be listed at some site, not every one: a site caught up by
    // state never sees the loser.
    SiteReplica.Retention small = new SiteReplica.Retention(8, 1L << 20);
    add(
        all,
        correct(
                "multi-retention-lww-all-to-all",
                Topology.ALL_TO_ALL,
                LwwResolver::new,
                MultiSiteSimulation.Workload.REGISTER)
            .withRetention("multi-retention-lww-all-to-all", small));
    for (Topology topology : Topology.values()) {
      add(
          all,
          correct(
                  "multi-retention-siblings-" + topology.text(),
                  topology,
                  SiblingsResolver::new,
                  MultiSiteSimulation.Workload.READ_MODIFY_WRITE)
              .withRetention("multi-retention-siblings-" + topology.text(), small));
    }
    add(
        all,
        correct(
                "multi-retention-crdt-all-to-all",
                Topology.ALL_TO_ALL,
                CrdtResolver::new,
                MultiSiteSimulation.Workload.CRDT_COMMANDS)
            .withRetention("multi-retention-crdt-all-to-all", small));
    add(
        all,
        correct(
            "multi-crdt-all-to-all",
            Topology.ALL_TO_ALL,
            CrdtResolver::new,
            MultiSiteSimulation.Workload.CRDT_COMMANDS));
    add(
        all,
        new MultiSiteSimulation.Config(
            "multi-broken-lock-without-earlier-writes-all-to-all",
            Topology.ALL_TO_ALL,
            LockResolver::new,
            new MultiLeaderConfig.Defects(false, false, true),
            MultiSiteSimulation.Workload.REGISTER,
            3,
            WORKLOAD_MILLIS,
            QUIET_MILLIS,
            30,
            true,
            500));
    add(
        all,
        broken(
            "multi-broken-no-path-circular",
            Topology.CIRCULAR,
            new MultiLeaderConfig.Defects(true, false, false)));
    add(
        all,
        broken(
            "multi-broken-no-path-star",
            Topology.STAR,
            new MultiLeaderConfig.Defects(true, false, false)));
    add(
        all,
        new MultiSiteSimulation.Config(
            "multi-broken-remote-deletes-ignored-all-to-all",
            Topology.ALL_TO_ALL,
            LwwResolver::new,
            new MultiLeaderConfig.Defects(false, false, false, true),
            MultiSiteSimulation.Workload.REGISTER_WITH_DELETES,
            3,
            WORKLOAD_MILLIS,
            QUIET_MILLIS,
            30,
            true,
            500));
    add(
        all,
        broken(
            "multi-broken-no-causal-buffer-all-to-all",
            Topology.ALL_TO_ALL,
            new MultiLeaderConfig.Defects(false, true, false)));
    return all;
  }

  /** The scenario called {@code name}. */
  static MultiSiteSimulation.Config named(String name) {
    MultiSiteSimulation.Config config = all().get(name);
    if (config == null) {
      throw new IllegalArgumentException("unknown scenario " + name + "; known: " + all().keySet());
    }
    return config;
  }

  /** Runs {@code config} for {@code seed} and every checker that applies to it. */
  static Outcome run(MultiSiteSimulation.Config config, long seed) {
    MultiSiteSimulation.Run run = new MultiSiteSimulation(seed, config).run();
    List<Verdict> verdicts = new ArrayList<>();
    verdicts.add(new Verdict("no exception", run.exception().stream().toList()));
    if (run.exception().isPresent()) {
      return new Outcome(run, verdicts);
    }
    verdicts.add(new Verdict("convergence", MultiSiteCheckers.convergence(run)));
    verdicts.add(new Verdict("no loops", MultiSiteCheckers.noLoops(run)));
    verdicts.add(new Verdict("causal order", MultiSiteCheckers.causalOrder(run)));
    ConflictResolver resolver = config.resolver().get();
    switch (resolver) {
      case LwwResolver lww ->
          verdicts.add(
              config.retention().equals(SiteReplica.Retention.DEFAULT)
                  ? new Verdict(
                      "lww lost writes counted", MultiSiteCheckers.lwwLostWritesCounted(run))
                  : new Verdict(
                      "lww lost writes counted at some site",
                      MultiSiteCheckers.lwwLostWritesCountedSomewhere(run)));
      case SiblingsResolver siblings ->
          verdicts.add(
              new Verdict(
                  "siblings keep uncovered writes",
                  MultiSiteCheckers.siblingsKeepUncoveredWrites(run)));
      case MergeResolver merge -> {
        MergeFunction function =
            new MergeFunctions().find(merge.strategy().mergeFunction()).orElseThrow().function();
        verdicts.add(
            new Verdict(
                "merge of all writes",
                MultiSiteCheckers.mergeOfAllWrites(run, function, new Prng(seed))));
      }
      case LockResolver lock -> {
        verdicts.add(new Verdict("lock: no conflicts", MultiSiteCheckers.lockNoConflicts(run)));
        verdicts.add(
            new Verdict("lww lost writes counted", MultiSiteCheckers.lwwLostWritesCounted(run)));
      }
      case HomeSiteResolver home -> {
        verdicts.add(
            new Verdict(
                "home-site: conflicts only after a home change",
                MultiSiteCheckers.homeSiteConflictsOnlyAfterAHomeChange(run)));
        verdicts.add(
            new Verdict("lww lost writes counted", MultiSiteCheckers.lwwLostWritesCounted(run)));
      }
      case CrdtResolver crdt ->
          verdicts.add(
              new Verdict("counter sums increments", MultiSiteCheckers.counterSumsIncrements(run)));
      default -> {}
    }
    if (config.workload() == MultiSiteSimulation.Workload.REGISTER_WITH_DELETES) {
      verdicts.add(
          new Verdict(
              "deleted values stay deleted", MultiSiteCheckers.deletedValuesStayDeleted(run)));
    }
    if (run.writes().isEmpty()) {
      verdicts.add(new Verdict("workload ran", List.of("no write was acknowledged")));
    }
    return new Outcome(run, verdicts);
  }

  /** The command that replays {@code scenario} for {@code seed} alone. */
  static String replayCommand(String scenario, long seed) {
    return "replicakv-sim/run-sim.sh --scenario "
        + scenario
        + " --first-seed "
        + seed
        + " --max-seeds 1";
  }

  private static void add(
      Map<String, MultiSiteSimulation.Config> all, MultiSiteSimulation.Config config) {
    all.put(config.name(), config);
  }

  private static Supplier<ConflictResolver> merge(String name) {
    return () -> new MergeResolver(new MergeFunctions().find(name).orElseThrow());
  }

  private static MultiSiteSimulation.Config correct(
      String name,
      Topology topology,
      Supplier<ConflictResolver> resolver,
      MultiSiteSimulation.Workload workload) {
    return new MultiSiteSimulation.Config(
        name,
        topology,
        resolver,
        MultiLeaderConfig.Defects.NONE,
        workload,
        3,
        WORKLOAD_MILLIS,
        QUIET_MILLIS,
        30,
        true,
        500);
  }

  private static MultiSiteSimulation.Config broken(
      String name, Topology topology, MultiLeaderConfig.Defects defects) {
    return new MultiSiteSimulation.Config(
        name,
        topology,
        SiblingsResolver::new,
        defects,
        MultiSiteSimulation.Workload.READ_MODIFY_WRITE,
        3,
        WORKLOAD_MILLIS,
        QUIET_MILLIS,
        30,
        true,
        500);
  }
}
