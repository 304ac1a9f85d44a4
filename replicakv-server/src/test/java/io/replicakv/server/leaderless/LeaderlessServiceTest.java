package io.replicakv.server.leaderless;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.leaderless.KvRequest;
import io.replicakv.core.leaderless.KvResult;
import io.replicakv.core.leaderless.LeaderlessConfig;
import io.replicakv.core.leaderless.Write;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three {@link LeaderlessService}s in one JVM, each on its own loop thread, connected by a
 * transport that passes every frame through {@link LeaderlessFrameCodec} and drops frames to or
 * from a node marked down. Keyspace N=3, R=2, W=2, strict quorums, siblings.
 */
class LeaderlessServiceTest {
  private static final int KEYSPACE = 4;
  private static final List<String> MEMBERS = List.of("node-a", "node-b", "node-c");
  private static final Duration DEADLINE = Duration.ofSeconds(20);
  private static final LeaderlessConfig CONFIG =
      LeaderlessConfig.defaults().withRepair(true, false, 10);

  @TempDir Path dataDir;

  private final AtomicReferenceArray<LeaderlessService> services = new AtomicReferenceArray<>(3);
  private final List<ScheduledExecutorService> loops = new ArrayList<>();
  private final Set<Integer> down = ConcurrentHashMap.newKeySet();
  private long physicalMillis = 1_000_000;

  @BeforeEach
  void start() {
    for (int i = 0; i < MEMBERS.size(); i++) {
      loops.add(Executors.newSingleThreadScheduledExecutor());
      services.set(i, startService(i));
    }
  }

  @AfterEach
  void stop() throws InterruptedException {
    for (int i = 0; i < MEMBERS.size(); i++) {
      LeaderlessService service = services.getAndSet(i, null);
      if (service != null) {
        service.close();
      }
    }
    for (ScheduledExecutorService loop : loops) {
      loop.shutdownNow();
      assertThat(loop.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
  }

  private LeaderlessService startService(int index) {
    return new LeaderlessService(
        KEYSPACE,
        MEMBERS,
        MEMBERS.get(index),
        CONFIG,
        this::now,
        dataDir.resolve(MEMBERS.get(index)).resolve("leaderless-" + KEYSPACE + ".log"),
        loops.get(index),
        (to, frame) -> deliver(index, to, frame));
  }

  private synchronized long now() {
    return physicalMillis++;
  }

  private void deliver(int from, int to, byte[] frame) {
    LeaderlessService target = services.get(to);
    if (target != null && !down.contains(from) && !down.contains(to)) {
      target.onFrame(frame);
    }
  }

  private KvResult get(int node, String key, int readQuorum) throws Exception {
    return services
        .get(node)
        .submit(new KvRequest.Get(0, 0, key, readQuorum))
        .get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
  }

  private KvResult put(int node, String key, String value, VersionVector context) throws Exception {
    return services
        .get(node)
        .submit(
            new KvRequest.Put(0, 0, key, new Write.Value(value), context, KvRequest.DEFAULT_QUORUM))
        .get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
  }

  private void awaitAllAlive() {
    // Nodes start suspecting nobody only after pings flow; a request before that may see
    // NOT_ENOUGH_REPLICAS, so wait until a quorum read succeeds on every node.
    await()
        .atMost(DEADLINE)
        .until(
            () -> {
              for (int node = 0; node < 3; node++) {
                if (get(node, "warm-up", 3).outcome() != KvResult.Outcome.OK) {
                  return false;
                }
              }
              return true;
            });
  }

  /** Writes in the burst below, and how many are in flight at once. */
  private static final int BURST_WRITES = 3_000;

  private static final int BURST_IN_FLIGHT = 64;

  @Test
  void aBurstOfConcurrentWritesIsAcknowledgedAndReadBack() throws Exception {
    awaitAllAlive();
    java.util.concurrent.Semaphore window = new java.util.concurrent.Semaphore(BURST_IN_FLIGHT);
    List<java.util.concurrent.CompletableFuture<KvResult>> writes = new ArrayList<>();
    long started = System.nanoTime();
    for (int i = 0; i < BURST_WRITES; i++) {
      window.acquire();
      java.util.concurrent.CompletableFuture<KvResult> write =
          services
              .get(i % 3)
              .submit(
                  new KvRequest.Put(
                      0,
                      0,
                      "burst-" + i,
                      new Write.Value("v" + i),
                      VersionVector.EMPTY,
                      KvRequest.DEFAULT_QUORUM));
      write.whenComplete((r, e) -> window.release());
      writes.add(write);
    }
    for (java.util.concurrent.CompletableFuture<KvResult> write : writes) {
      KvResult result = write.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      assertThat(result.outcome()).as(result.detail()).isEqualTo(KvResult.Outcome.OK);
    }
    long elapsedMillis = Math.max(1, (System.nanoTime() - started) / 1_000_000);
    System.out.printf(
        "leaderless burst: %d writes (W=2, %d in flight) in %d ms = %d writes/s%n",
        BURST_WRITES, BURST_IN_FLIGHT, elapsedMillis, BURST_WRITES * 1000L / elapsedMillis);
    long forces = 0;
    for (int node = 0; node < 3; node++) {
      forces += services.get(node).forces().get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    }
    System.out.printf("leaderless burst: %d log forces on the three nodes%n", forces);
    // each write syncs a record on at least two nodes; without group commit that is one force each
    assertThat(forces).isLessThan(BURST_WRITES);
    for (int i = 0; i < BURST_WRITES; i += 97) {
      assertThat(get((i + 1) % 3, "burst-" + i, KvRequest.DEFAULT_QUORUM).values())
          .containsExactly("v" + i);
    }
  }

  @Test
  void writesAcknowledgedBeforeEveryNodeCrashesMidStreamSurviveTheRestart() throws Exception {
    awaitAllAlive();
    java.util.concurrent.Semaphore window = new java.util.concurrent.Semaphore(BURST_IN_FLIGHT);
    Set<Integer> acknowledged = ConcurrentHashMap.newKeySet();
    java.util.concurrent.CountDownLatch halfway = new java.util.concurrent.CountDownLatch(500);
    java.util.concurrent.atomic.AtomicBoolean crashing =
        new java.util.concurrent.atomic.AtomicBoolean();
    for (int i = 0; i < BURST_WRITES && !crashing.get(); i++) {
      window.acquire();
      int index = i;
      services
          .get(i % 3)
          .submit(
              new KvRequest.Put(
                  0,
                  0,
                  "crash-" + i,
                  new Write.Value("v" + i),
                  VersionVector.EMPTY,
                  KvRequest.DEFAULT_QUORUM))
          .whenComplete(
              (result, error) -> {
                if (error == null && result.outcome() == KvResult.Outcome.OK) {
                  acknowledged.add(index);
                  halfway.countDown();
                }
                window.release();
              });
      if (halfway.getCount() == 0 && crashing.compareAndSet(false, true)) {
        // writes are still in flight on every node: crash them all, each losing its unforced tail
        long lost = 0;
        for (int node = 0; node < 3; node++) {
          lost += services.getAndSet(node, null).crashLosingUnforced();
        }
        System.out.printf(
            "crash: %d writes acknowledged, %d bytes of unforced records lost%n",
            acknowledged.size(), lost);
      }
    }
    assertThat(crashing.get()).as("the crash happened mid-stream").isTrue();
    Set<Integer> acknowledgedAtCrash = Set.copyOf(acknowledged);
    assertThat(acknowledgedAtCrash).hasSizeGreaterThanOrEqualTo(500);
    for (int node = 0; node < 3; node++) {
      services.set(node, startService(node));
    }
    awaitAllAlive();
    for (int i : acknowledgedAtCrash) {
      KvResult read = get(i % 3, "crash-" + i, KvRequest.DEFAULT_QUORUM);
      assertThat(read.outcome()).isEqualTo(KvResult.Outcome.OK);
      assertThat(read.values()).as("acknowledged write %s", i).containsExactly("v" + i);
    }
  }

  @Test
  void aWriteThroughEveryNodeIsReadThroughEveryNode() throws Exception {
    awaitAllAlive();
    for (int writer = 0; writer < 3; writer++) {
      String key = "cart-" + writer;
      KvResult written = put(writer, key, "value-" + writer, VersionVector.EMPTY);
      assertThat(written.outcome()).as(written.detail()).isEqualTo(KvResult.Outcome.OK);
      assertThat(written.answered()).isGreaterThanOrEqualTo(2);
      for (int reader = 0; reader < 3; reader++) {
        KvResult read = get(reader, key, KvRequest.DEFAULT_QUORUM);
        assertThat(read.outcome()).isEqualTo(KvResult.Outcome.OK);
        assertThat(read.values()).containsExactly("value-" + writer);
      }
    }
  }

  @Test
  void writesSucceedWithOneNodeDownAndTheRestartedNodeIsRepaired() throws Exception {
    awaitAllAlive();
    assertThat(put(0, "k", "before", VersionVector.EMPTY).outcome()).isEqualTo(KvResult.Outcome.OK);
    down.add(2);
    services.getAndSet(2, null).close();
    List<String> acknowledged = new ArrayList<>();
    VersionVector context = get(0, "k", KvRequest.DEFAULT_QUORUM).context();
    for (int i = 0; i < 5; i++) {
      KvResult written = put(i % 2, "k", "during-" + i, context);
      assertThat(written.outcome()).as(written.detail()).isEqualTo(KvResult.Outcome.OK);
      acknowledged.add("during-" + i);
      KvResult read = get((i + 1) % 2, "k", KvRequest.DEFAULT_QUORUM);
      assertThat(read.outcome()).isEqualTo(KvResult.Outcome.OK);
      assertThat(read.values()).containsExactly("during-" + i);
      context = read.context();
    }
    KvResult threeNeeded = get(0, "k", 3);
    assertThat(threeNeeded.outcome())
        .isIn(KvResult.Outcome.NOT_ENOUGH_REPLICAS, KvResult.Outcome.TIMEOUT);

    services.set(2, startService(2));
    down.remove(2);
    String latest = acknowledged.get(acknowledged.size() - 1);
    await()
        .atMost(DEADLINE)
        .untilAsserted(() -> assertThat(get(2, "k", 1).values()).containsExactly(latest));
    assertThat(
            services.get(0).counters().get("anti_entropy_exchanges")
                + services.get(1).counters().get("anti_entropy_exchanges")
                + services.get(2).counters().get("anti_entropy_exchanges"))
        .isPositive();
  }

  @Test
  void blindConcurrentWritesBecomeSiblingsResolvedByAWriteWithTheirContext() throws Exception {
    awaitAllAlive();
    assertThat(put(0, "s", "left", VersionVector.EMPTY).outcome()).isEqualTo(KvResult.Outcome.OK);
    assertThat(put(1, "s", "right", VersionVector.EMPTY).outcome()).isEqualTo(KvResult.Outcome.OK);
    KvResult siblings = get(2, "s", KvRequest.DEFAULT_QUORUM);
    assertThat(siblings.values()).containsExactlyInAnyOrder("left", "right");
    assertThat(put(2, "s", "merged", siblings.context()).outcome()).isEqualTo(KvResult.Outcome.OK);
    for (int node = 0; node < 3; node++) {
      assertThat(get(node, "s", KvRequest.DEFAULT_QUORUM).values()).containsExactly("merged");
    }
  }

  @Test
  void everyNodeRecoversItsDataFromItsLogAfterAFullRestart() throws Exception {
    awaitAllAlive();
    assertThat(put(1, "durable", "kept", VersionVector.EMPTY).outcome())
        .isEqualTo(KvResult.Outcome.OK);
    for (int i = 0; i < 3; i++) {
      services.getAndSet(i, null).close();
    }
    for (int i = 0; i < 3; i++) {
      services.set(i, startService(i));
    }
    awaitAllAlive();
    for (int node = 0; node < 3; node++) {
      int n = node;
      // a read can time out on a loaded machine right after the restart; it is retried, and only
      // an answered read (R=3: every replica, so the value must have survived on disk) counts
      KvResult read =
          await("R=3 read through node " + node + " after the restart")
              .atMost(DEADLINE)
              .until(() -> get(n, "durable", 3), r -> r.outcome() == KvResult.Outcome.OK);
      assertThat(read.values()).containsExactly("kept");
    }
  }
}
