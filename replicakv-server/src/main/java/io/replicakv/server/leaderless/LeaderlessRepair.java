package io.replicakv.server.leaderless;

import io.replicakv.core.PhysicalClock;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One operator-requested anti-entropy pass over a leaderless keyspace (the on-demand counterpart of
 * the scheduled exchanges, like Cassandra's {@code nodetool repair} or Riak's manual AAE run),
 * coordinated by the node that received the command.
 *
 * <p><b>Rounds.</b> A round asks every member to start, at once, one Merkle exchange with every
 * other owner of each partition it owns that has a higher member id (so each pair of owners is
 * compared once per round), then waits until the cluster's anti-entropy counters have stopped
 * moving for {@link #SETTLE_MILLIS}, then compares every partition's Merkle roots across its
 * owners. The pass ends when all roots agree (converged), or after {@link #ROUNDS_MAX} rounds or
 * {@link #PASS_DEADLINE_MILLIS}. More than one round is needed when a partition has more differing
 * keys than one exchange ships ({@code ENTRIES_PER_MESSAGE_MAX}), or when a key missing on two
 * owners travels through a third.
 *
 * <p><b>What it reports</b> is the sum over all members of what their cores counted during the
 * pass: keys compared (keys of the ranges listed by digest, on the side that compared them),
 * differing keys (one per key and pair of owners that disagreed on it, so a key missing on one of
 * three owners counts twice), keys repaired (merges that changed a replica) and state bytes
 * shipped; and the partitions whose owners' roots still differ at the end. Scheduled exchanges
 * running meanwhile are counted too: they are repairs that happened during the pass.
 *
 * <p><b>Failure cases.</b> A member that does not answer in the last round is listed as unreachable
 * and its pairs are not compared; the pass then cannot converge. Writes during the pass keep roots
 * moving, so a pass under load may end unconverged although nothing is lost. The settle wait is a
 * heuristic for "the exchanges are over" (an exchange keeps no state to ask about); the closing
 * root comparison is exact, so a pass never reports convergence that does not hold when it reads
 * the roots.
 */
public final class LeaderlessRepair {
  /** Rounds one pass runs at most. */
  static final int ROUNDS_MAX = 20;

  /** A round is over once the counters have not moved for this long. */
  static final long SETTLE_MILLIS = 1_500;

  /** How often the counters are read while waiting for a round to settle. */
  static final long POLL_MILLIS = 250;

  /** A pass gives up (unconverged) after this long. */
  static final long PASS_DEADLINE_MILLIS = 300_000;

  /** Counters whose movement means exchanges are still running. */
  private static final List<String> PROGRESS =
      List.of(
          "anti_entropy_keys_compared",
          "anti_entropy_divergent_keys",
          "anti_entropy_keys_repaired",
          "anti_entropy_bytes_shipped");

  /** How the pass reaches members (itself included). */
  interface Members {
    /** Member ids by the core's integer ids. */
    Map<Integer, String> ids();

    /** The member's counters; null when it does not serve the keyspace. */
    CompletableFuture<Map<String, Long>> counters(String member);

    CompletableFuture<LeaderlessService.ExchangeStart> start(String member);

    CompletableFuture<Map<Integer, Long>> roots(String member);
  }

  /** What one pass did. */
  public record Report(
      int keyspace,
      int rounds,
      long exchangesStarted,
      long pairsSkipped,
      long keysCompared,
      long differingKeys,
      long keysRepaired,
      long bytesShipped,
      int partitionsDiffering,
      boolean converged,
      List<String> unreachable,
      long millis) {

    /** Field names and values, in a fixed order, for a RESP array or a JSON object. */
    public Map<String, Object> fields() {
      Map<String, Object> fields = new java.util.LinkedHashMap<>();
      fields.put("keyspace", (long) keyspace);
      fields.put("rounds", (long) rounds);
      fields.put("exchanges_started", exchangesStarted);
      fields.put("pairs_skipped", pairsSkipped);
      fields.put("keys_compared", keysCompared);
      fields.put("differing_keys", differingKeys);
      fields.put("keys_repaired", keysRepaired);
      fields.put("bytes_shipped", bytesShipped);
      fields.put("partitions_differing", (long) partitionsDiffering);
      fields.put("converged", converged ? 1L : 0L);
      fields.put("unreachable", String.join(",", unreachable));
      fields.put("millis", millis);
      return fields;
    }
  }

  private final int keyspace;
  private final Members members;
  private final List<List<Integer>> ownersByPartition;
  private final Map<Integer, String> memberIds;
  private final ScheduledExecutorService timer;
  private final PhysicalClock clock;
  private final long startMillis;
  private final CompletableFuture<Report> result = new CompletableFuture<>();
  private final TreeSet<String> unreachable = new TreeSet<>();
  private Map<String, Long> baseline;
  private long exchangesStarted;
  private long pairsSkipped;

  private LeaderlessRepair(
      int keyspace,
      Members members,
      List<List<Integer>> ownersByPartition,
      ScheduledExecutorService timer,
      PhysicalClock clock) {
    this.keyspace = keyspace;
    this.members = members;
    this.memberIds = Map.copyOf(members.ids());
    this.ownersByPartition = ownersByPartition;
    this.timer = timer;
    this.clock = clock;
    this.startMillis = clock.physicalMillis();
  }

  /**
   * Runs one pass over {@code keyspace}, whose placement is {@code ownersByPartition} (the core's
   * integer member ids, keys of {@code members.ids()}).
   */
  static CompletableFuture<Report> run(
      int keyspace,
      Members members,
      List<List<Integer>> ownersByPartition,
      ScheduledExecutorService timer,
      PhysicalClock clock) {
    LeaderlessRepair pass =
        new LeaderlessRepair(keyspace, members, ownersByPartition, timer, clock);
    pass.sum()
        .thenAccept(
            sums -> {
              pass.baseline = sums;
              pass.round(1);
            })
        .exceptionally(pass::fail);
    return pass.result;
  }

  private Void fail(Throwable error) {
    result.completeExceptionally(error);
    return null;
  }

  private void round(int number) {
    synchronized (this) {
      // the report names the members the last round could not reach; an earlier round's
      // unreachable member (a node still starting) that answered since does not spoil it
      unreachable.clear();
    }
    List<CompletableFuture<Void>> starts = new ArrayList<>();
    for (String member : memberIds.values()) {
      starts.add(
          members
              .start(member)
              .handle(
                  (start, error) -> {
                    synchronized (this) {
                      if (error != null || start == null) {
                        unreachable.add(member);
                      } else {
                        exchangesStarted += start.started();
                        pairsSkipped += start.skippedSuspected();
                      }
                    }
                    return null;
                  }));
    }
    CompletableFuture.allOf(starts.toArray(CompletableFuture[]::new))
        .thenCompose(ignored -> settle(null, clock.physicalMillis()))
        .thenCompose(
            sums ->
                differingPartitions().thenApply(differing -> finishRound(number, sums, differing)))
        .exceptionally(this::fail);
  }

  private Void finishRound(int number, Map<String, Long> sums, int differing) {
    boolean deadline = clock.physicalMillis() - startMillis >= PASS_DEADLINE_MILLIS;
    if (differing == 0 || number >= ROUNDS_MAX || deadline) {
      result.complete(report(number, sums, differing));
    } else {
      round(number + 1);
    }
    return null;
  }

  private synchronized Report report(int rounds, Map<String, Long> sums, int differing) {
    return new Report(
        keyspace,
        rounds,
        exchangesStarted,
        pairsSkipped,
        delta(sums, "anti_entropy_keys_compared"),
        delta(sums, "anti_entropy_divergent_keys"),
        delta(sums, "anti_entropy_keys_repaired"),
        delta(sums, "anti_entropy_bytes_shipped"),
        differing,
        differing == 0 && unreachable.isEmpty(),
        List.copyOf(unreachable),
        clock.physicalMillis() - startMillis);
  }

  private long delta(Map<String, Long> sums, String name) {
    return sums.getOrDefault(name, 0L) - baseline.getOrDefault(name, 0L);
  }

  /** Completes with the sums once they have not moved for {@link #SETTLE_MILLIS}. */
  private CompletableFuture<Map<String, Long>> settle(Map<String, Long> last, long sinceMillis) {
    CompletableFuture<Map<String, Long>> settled = new CompletableFuture<>();
    timer.schedule(
        () ->
            sum()
                .thenAccept(
                    sums -> {
                      long now = clock.physicalMillis();
                      if (!sums.equals(last)) {
                        settle(sums, now).whenComplete(complete(settled));
                      } else if (now - sinceMillis >= SETTLE_MILLIS
                          || now - startMillis >= PASS_DEADLINE_MILLIS) {
                        settled.complete(sums);
                      } else {
                        settle(sums, sinceMillis).whenComplete(complete(settled));
                      }
                    })
                .exceptionally(
                    error -> {
                      settled.completeExceptionally(error);
                      return null;
                    }),
        POLL_MILLIS,
        TimeUnit.MILLISECONDS);
    return settled;
  }

  private static <T> java.util.function.BiConsumer<T, Throwable> complete(
      CompletableFuture<T> target) {
    return (value, error) -> {
      if (error != null) {
        target.completeExceptionally(error);
      } else {
        target.complete(value);
      }
    };
  }

  /** The progress counters summed over the members that answer. */
  private CompletableFuture<Map<String, Long>> sum() {
    Map<String, CompletableFuture<Map<String, Long>>> asked = new TreeMap<>();
    for (String member : memberIds.values()) {
      asked.put(member, members.counters(member));
    }
    return CompletableFuture.allOf(
            asked.values().stream()
                .map(f -> f.handle((v, e) -> null))
                .toArray(CompletableFuture[]::new))
        .thenApply(
            ignored -> {
              Map<String, Long> sums = new TreeMap<>();
              PROGRESS.forEach(name -> sums.put(name, 0L));
              asked.forEach(
                  (member, future) -> {
                    Map<String, Long> counters =
                        future.isCompletedExceptionally() ? null : future.join();
                    if (counters == null) {
                      synchronized (this) {
                        unreachable.add(member);
                      }
                      return;
                    }
                    for (String name : PROGRESS) {
                      sums.merge(name, counters.getOrDefault(name, 0L), Long::sum);
                    }
                  });
              return sums;
            });
  }

  /** Partitions whose owners' Merkle roots differ (or whose owner did not answer). */
  private CompletableFuture<Integer> differingPartitions() {
    Map<String, CompletableFuture<Map<Integer, Long>>> asked = new TreeMap<>();
    for (String member : memberIds.values()) {
      asked.put(member, members.roots(member));
    }
    return CompletableFuture.allOf(
            asked.values().stream()
                .map(f -> f.handle((v, e) -> null))
                .toArray(CompletableFuture[]::new))
        .thenApply(
            ignored -> {
              Map<Integer, Map<Integer, Long>> rootsById = new TreeMap<>();
              memberIds.forEach(
                  (id, member) -> {
                    CompletableFuture<Map<Integer, Long>> future = asked.get(member);
                    Map<Integer, Long> roots =
                        future.isCompletedExceptionally() ? null : future.join();
                    if (roots == null) {
                      synchronized (this) {
                        unreachable.add(member);
                      }
                    } else {
                      rootsById.put(id, roots);
                    }
                  });
              int differing = 0;
              for (int partition = 0; partition < ownersByPartition.size(); partition++) {
                if (!ownersAgree(partition, rootsById)) {
                  differing++;
                }
              }
              return differing;
            });
  }

  private boolean ownersAgree(int partition, Map<Integer, Map<Integer, Long>> rootsById) {
    Long first = null;
    for (int owner : ownersByPartition.get(partition)) {
      Check.state(memberIds.containsKey(owner), "owner %s not in %s", owner, memberIds);
      Map<Integer, Long> roots = rootsById.get(owner);
      Long root = roots == null ? null : roots.get(partition);
      if (root == null) {
        return false;
      }
      if (first == null) {
        first = root;
      } else if (!first.equals(root)) {
        return false;
      }
    }
    return true;
  }
}
