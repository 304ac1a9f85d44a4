package io.replicakv.sim;

import io.replicakv.core.causal.Dot;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.multi.ConflictMetrics;
import io.replicakv.core.multi.KeyState;
import io.replicakv.core.multi.LinkLag;
import io.replicakv.core.multi.LostWrite;
import io.replicakv.core.multi.MergeFunction;
import io.replicakv.core.multi.SiteCommand;
import io.replicakv.core.multi.SiteRecord;
import io.replicakv.core.multi.SiteReplica;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Checkers for {@link MultiSiteSimulation} runs. Each returns the violations it found, empty when
 * the run passed. They judge from outside the replicas: the records each site persisted (its apply
 * order), the acknowledged writes and the final reads, recomputing causality with their own version
 * vectors rather than trusting the site's.
 */
final class MultiSiteCheckers {
  private MultiSiteCheckers() {}

  /** Violations listed at most, per checker. */
  static final int VIOLATIONS_LISTED_MAX = 5;

  /** After heal: every site holds every acknowledged write and reads the same; no lag is left. */
  static List<String> convergence(MultiSiteSimulation.Run run) {
    List<String> problems = new ArrayList<>();
    VersionVector expected = MultiSiteSimulation.allWrites(run.writes());
    SiteReplica first = null;
    for (SiteReplica site : run.finalSites().values()) {
      if (!site.versionVector().descends(expected)) {
        problems.add(
            site.site() + " misses writes: has " + site.versionVector() + " of " + expected);
      }
      if (first != null && !site.visibleState().equals(first.visibleState())) {
        problems.add(
            site.site()
                + " reads "
                + site.visibleState()
                + " but "
                + first.site()
                + " reads "
                + first.visibleState());
      }
      for (LinkLag lag : site.lag().values()) {
        if (lag.changes() != 0) {
          problems.add(site.site() + " link to " + lag.downstream() + " still lags: " + lag);
        }
      }
      if (site.causalBufferSize() != 0) {
        problems.add(site.site() + " holds " + site.causalBufferSize() + " buffered changes");
      }
      first = first == null ? site : first;
    }
    return limit(problems);
  }

  /** No change ever came back to a site on its path, and no site applied a change twice. */
  static List<String> noLoops(MultiSiteSimulation.Run run) {
    List<String> problems = new ArrayList<>();
    if (run.loopDeliveries() != 0) {
      problems.add(run.loopDeliveries() + " change deliveries reached a site on their own path");
    }
    run.appliedOrder()
        .forEach(
            (site, applied) -> {
              Set<Dot> seen = new HashSet<>();
              for (SiteRecord.Applied record : applied) {
                if (!seen.add(record.change().dot())) {
                  problems.add(site + " applied " + record.change().dot() + " twice");
                }
              }
            });
    for (SiteReplica site : run.finalSites().values()) {
      if (site.metrics().get(ConflictMetrics.LOOPED) != 0) {
        problems.add(site.site() + " counted looped changes");
      }
    }
    return limit(problems);
  }

  /** At every site, each change was applied after every change it depends on. */
  static List<String> causalOrder(MultiSiteSimulation.Run run) {
    List<String> problems = new ArrayList<>();
    run.appliedOrder()
        .forEach(
            (site, applied) -> {
              Set<Dot> done = new HashSet<>();
              List<MultiSiteSimulation.CatchUpAt> joins = run.catchUps().get(site);
              int nextJoin = 0;
              for (int index = 0; index < applied.size(); index++) {
                // a catch-up joined before this change counts every dot of its state as applied
                while (nextJoin < joins.size() && joins.get(nextJoin).appliedIndex() <= index) {
                  joins
                      .get(nextJoin++)
                      .applied()
                      .entries()
                      .forEach(
                          (replica, counter) -> {
                            for (long c = 1; c <= counter; c++) {
                              done.add(new Dot(replica, c));
                            }
                          });
                }
                SiteRecord.Applied record = applied.get(index);
                for (Map.Entry<String, Long> dependency :
                    record.change().dependencies().entries().entrySet()) {
                  for (long counter = 1; counter <= dependency.getValue(); counter++) {
                    Dot needed = new Dot(dependency.getKey(), counter);
                    if (!done.contains(needed)) {
                      problems.add(
                          site
                              + " applied "
                              + record.change().dot()
                              + " before "
                              + needed
                              + " it depends on");
                      break;
                    }
                  }
                }
                done.add(record.change().dot());
              }
            });
    return limit(problems);
  }

  /**
   * lww: each key reads the write with the largest (timestamp, site), and every write that lost to
   * a concurrent one (no write saw it, yet it is not the survivor) is listed at every site.
   */
  static List<String> lwwLostWritesCounted(MultiSiteSimulation.Run run) {
    return lwwLostWritesCounted(run, true);
  }

  private static List<String> lwwLostWritesCounted(MultiSiteSimulation.Run run, boolean everySite) {
    List<String> problems = new ArrayList<>();
    byKey(run)
        .forEach(
            (key, writes) -> {
              MultiSiteSimulation.Write survivor =
                  writes.stream()
                      .max(
                          Comparator.comparing(
                                  (MultiSiteSimulation.Write w) -> w.change().timestamp())
                              .thenComparing(w -> w.site()))
                      .orElseThrow();
              Set<Dot> listedSomewhere = new HashSet<>();
              for (SiteReplica site : run.finalSites().values()) {
                List<String> read = site.read(key).values();
                List<String> expected =
                    survivor.command() instanceof SiteCommand.Delete
                        ? List.of()
                        : List.of(value(survivor));
                if (!read.equals(expected)) {
                  problems.add(
                      site.site() + " reads " + key + "=" + read + ", expected " + expected);
                }
                Set<Dot> listed =
                    site.metrics().lostWrites().stream()
                        .map(LostWrite::lost)
                        .collect(Collectors.toSet());
                listedSomewhere.addAll(listed);
                for (MultiSiteSimulation.Write write : writes) {
                  boolean lost = write != survivor && !MultiSiteSimulation.covered(write, writes);
                  if (lost && everySite && !listed.contains(write.change().dot())) {
                    problems.add(
                        site.site()
                            + " lost "
                            + write.change().dot()
                            + " of "
                            + key
                            + " without counting it");
                  }
                }
              }
              for (MultiSiteSimulation.Write write : writes) {
                boolean lost = write != survivor && !MultiSiteSimulation.covered(write, writes);
                if (lost && !listedSomewhere.contains(write.change().dot())) {
                  problems.add(
                      "no site counted " + write.change().dot() + " of " + key + " as lost");
                }
              }
            });
    return limit(problems);
  }

  /**
   * As {@link #lwwLostWritesCounted}, for runs whose sites catch up by state: a site that received
   * the survivor in a catch-up never saw the loser, so the loser must be listed at some site (the
   * one that held it when the survivor met it), not at every site.
   */
  static List<String> lwwLostWritesCountedSomewhere(MultiSiteSimulation.Run run) {
    return lwwLostWritesCounted(run, false);
  }

  /** siblings: each key's live values are exactly the writes no write's context covered. */
  static List<String> siblingsKeepUncoveredWrites(MultiSiteSimulation.Run run) {
    List<String> problems = new ArrayList<>();
    byKey(run)
        .forEach(
            (key, writes) -> {
              Set<Dot> expected = new TreeSet<>();
              for (MultiSiteSimulation.Write write : writes) {
                if (!MultiSiteSimulation.covered(write, writes)) {
                  expected.add(write.change().dot());
                }
              }
              for (SiteReplica site : run.finalSites().values()) {
                Set<Dot> live =
                    site.keyState(key).live().stream()
                        .map(KeyState.Version::dot)
                        .collect(Collectors.toCollection(TreeSet::new));
                if (!live.equals(expected)) {
                  problems.add(
                      site.site() + " keeps " + live + " of " + key + ", expected " + expected);
                }
              }
            });
    return limit(problems);
  }

  /**
   * merge: with blind writes every write is concurrent, so each key must read the merge of all its
   * writes, computed here in three shuffled orders.
   */
  static List<String> mergeOfAllWrites(
      MultiSiteSimulation.Run run, MergeFunction function, Prng prng) {
    List<String> problems = new ArrayList<>();
    byKey(run)
        .forEach(
            (key, writes) -> {
              for (int order = 0; order < 3; order++) {
                List<String> values =
                    new ArrayList<>(writes.stream().map(MultiSiteCheckers::value).toList());
                for (int i = values.size() - 1; i > 0; i--) {
                  int j = prng.nextInt(i + 1);
                  String swap = values.get(i);
                  values.set(i, values.get(j));
                  values.set(j, swap);
                }
                String merged = values.get(0);
                for (String value : values.subList(1, values.size())) {
                  merged = function.merge(merged, value);
                }
                for (SiteReplica site : run.finalSites().values()) {
                  if (!site.read(key).values().equals(List.of(merged))) {
                    problems.add(
                        site.site()
                            + " reads "
                            + key
                            + "="
                            + site.read(key).values()
                            + ", merge of all writes is "
                            + merged);
                  }
                }
              }
            });
    return limit(problems);
  }

  /** crdt: the counter reads the sum of every acknowledged increment. */
  static List<String> counterSumsIncrements(MultiSiteSimulation.Run run) {
    long sum = 0;
    for (MultiSiteSimulation.Write write : run.writes()) {
      if (write.command() instanceof SiteCommand.Increment increment) {
        sum += increment.delta();
      }
    }
    List<String> problems = new ArrayList<>();
    for (SiteReplica site : run.finalSites().values()) {
      List<String> read = site.read("counter").values();
      boolean agrees = read.equals(List.of(Long.toString(sum))) || (sum == 0 && read.isEmpty());
      if (!agrees) {
        problems.add(site.site() + " reads counter " + read + ", increments sum to " + sum);
      }
    }
    return limit(problems);
  }

  /** lock: no site ever saw two concurrent writes, and locked writes were acknowledged. */
  static List<String> lockNoConflicts(MultiSiteSimulation.Run run) {
    List<String> problems = new ArrayList<>();
    for (SiteReplica site : run.finalSites().values()) {
      long concurrent = site.metrics().get(ConflictMetrics.CONCURRENT_WRITES);
      if (concurrent != 0 || !site.metrics().lostWrites().isEmpty()) {
        problems.add(site.site() + " saw " + concurrent + " concurrent writes under locks");
      }
      if (site.metrics().get(ConflictMetrics.FENCING_REFUSALS) != 0) {
        problems.add(site.site() + " refused writes of stale lock holders");
      }
      if (!site.heldLocks().isEmpty()) {
        problems.add(site.site() + " still holds locks after heal: " + site.heldLocks());
      }
    }
    if (run.counters().getOrDefault("Written", 0L) == 0) {
      problems.add("no locked write succeeded");
    }
    return limit(problems);
  }

  /** home-site: conflicts only in runs where some home site was declared down. */
  static List<String> homeSiteConflictsOnlyAfterAHomeChange(MultiSiteSimulation.Run run) {
    List<String> problems = new ArrayList<>();
    if (run.counters().getOrDefault("declared down", 0L) == 0) {
      for (SiteReplica site : run.finalSites().values()) {
        long concurrent = site.metrics().get(ConflictMetrics.CONCURRENT_WRITES);
        if (concurrent != 0) {
          problems.add(site.site() + " saw " + concurrent + " conflicts though no home site moved");
        }
      }
    }
    return limit(problems);
  }

  /**
   * Deletes: a value a delete had seen (its key context covers the value's write) is never visible
   * again at any site after heal, whatever order links delivered the changes in (no resurrection);
   * and a key whose every write is covered by a delete reads as nothing.
   */
  static List<String> deletedValuesStayDeleted(MultiSiteSimulation.Run run) {
    List<String> problems = new ArrayList<>();
    int deletes = 0;
    for (Map.Entry<String, List<MultiSiteSimulation.Write>> entry : byKey(run).entrySet()) {
      String key = entry.getKey();
      List<MultiSiteSimulation.Write> writes = entry.getValue();
      Set<String> deletedValues = new HashSet<>();
      for (MultiSiteSimulation.Write delete : writes) {
        if (!(delete.command() instanceof SiteCommand.Delete)) {
          continue;
        }
        deletes++;
        for (MultiSiteSimulation.Write write : writes) {
          if (write.command() instanceof SiteCommand.Assign
              && delete.change().keyContext().contains(write.change().dot())) {
            deletedValues.add(value(write));
          }
        }
      }
      for (SiteReplica site : run.finalSites().values()) {
        for (String value : site.read(key).values()) {
          if (deletedValues.contains(value)) {
            problems.add(site.site() + " resurrected " + key + "=" + value + " after its delete");
          }
        }
        boolean everyValueDeleted =
            writes.stream()
                .filter(w -> w.command() instanceof SiteCommand.Assign)
                .allMatch(w -> deletedValues.contains(value(w)));
        if (everyValueDeleted && !site.read(key).values().isEmpty()) {
          problems.add(
              site.site() + " reads " + key + "=" + site.read(key).values() + " after deletes");
        }
      }
    }
    if (deletes == 0) {
      problems.add("the workload acknowledged no delete");
    }
    return limit(problems);
  }

  private static Map<String, List<MultiSiteSimulation.Write>> byKey(MultiSiteSimulation.Run run) {
    Map<String, List<MultiSiteSimulation.Write>> keys = new TreeMap<>();
    for (MultiSiteSimulation.Write write : run.writes()) {
      keys.computeIfAbsent(write.change().key(), k -> new ArrayList<>()).add(write);
    }
    return keys;
  }

  private static String value(MultiSiteSimulation.Write write) {
    return ((SiteCommand.Assign) write.command()).value();
  }

  private static List<String> limit(List<String> problems) {
    if (problems.size() <= VIOLATIONS_LISTED_MAX) {
      return problems;
    }
    List<String> shown = new ArrayList<>(problems.subList(0, VIOLATIONS_LISTED_MAX));
    shown.add("... and " + (problems.size() - VIOLATIONS_LISTED_MAX) + " more");
    return shown;
  }
}
