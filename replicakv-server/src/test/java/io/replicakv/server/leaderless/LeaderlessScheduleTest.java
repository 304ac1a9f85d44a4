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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scheduled anti-entropy on the server's schedule, throttled: three services (core schedule and
 * read repair off, one exchange started per node every tick) repair a node that missed writes, and
 * no node ships state bytes faster than its budget allows (plus one second's burst and one
 * exchange's overshoot), while exchanges are counted as throttled or refused.
 */
class LeaderlessScheduleTest {
  private static final int KEYSPACE = 5;
  private static final List<String> MEMBERS = List.of("node-a", "node-b", "node-c");
  private static final Duration DEADLINE = Duration.ofSeconds(120);
  private static final LeaderlessConfig CONFIG =
      LeaderlessConfig.defaults().withRepair(false, false, 0);
  private static final int KEYS = 400;
  private static final long BYTES_PER_SECOND = 500;

  /** What one exchange of this test ships at most (a partition holds a handful of its keys). */
  private static final long EXCHANGE_OVERSHOOT_BYTES = 2_000;

  @TempDir Path dataDir;

  private final AtomicReferenceArray<LeaderlessService> services = new AtomicReferenceArray<>(3);
  private final List<ScheduledExecutorService> loops = new ArrayList<>();
  private final Set<Integer> down = ConcurrentHashMap.newKeySet();

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

  private void deliver(int from, int to, byte[] frame) {
    LeaderlessService target = services.get(to);
    if (target != null && !down.contains(from) && !down.contains(to)) {
      target.onFrame(frame);
    }
  }

  private KvResult call(int node, KvRequest request) throws Exception {
    return services.get(node).submit(request).get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
  }

  private long shipped(int node) {
    return services.get(node).counters().get("anti_entropy_bytes_shipped");
  }

  @Test
  void scheduledExchangesRepairAMissedNodeWithinTheByteBudget() throws Exception {
    for (int i = 0; i < MEMBERS.size(); i++) {
      loops.add(Executors.newSingleThreadScheduledExecutor());
      int index = i;
      services.set(
          i,
          new LeaderlessService(
              KEYSPACE,
              LeaderlessService.indexIds(MEMBERS),
              MEMBERS.get(i),
              CONFIG,
              System::currentTimeMillis,
              dataDir.resolve(MEMBERS.get(i)).resolve("leaderless-" + KEYSPACE + ".log"),
              loops.get(i),
              (to, frame) -> deliver(index, to, frame),
              new LeaderlessService.AntiEntropySchedule(
                  LeaderlessService.TICK_PERIOD_MILLIS, BYTES_PER_SECOND)));
    }
    down.add(2);
    for (int i = 0; i < KEYS; i++) {
      KvRequest put =
          new KvRequest.Put(
              0,
              0,
              "k" + i,
              new Write.Value("value-" + i),
              VersionVector.EMPTY,
              KvRequest.DEFAULT_QUORUM);
      await().atMost(DEADLINE).until(() -> call(0, put).outcome() == KvResult.Outcome.OK);
    }
    assertThat(services.get(2).keysHeld().get()).isZero();

    long[] before = new long[3];
    for (int node = 0; node < 3; node++) {
      before[node] = shipped(node);
    }
    long startMillis = System.currentTimeMillis();
    down.clear();
    await("node-c repaired by scheduled anti-entropy")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(100))
        .until(() -> services.get(2).keysHeld().get() == KEYS);
    double seconds = (System.currentTimeMillis() - startMillis) / 1000.0;

    long throttledOrRefused = 0;
    for (int node = 0; node < 3; node++) {
      long sent = shipped(node) - before[node];
      long allowed = (long) (BYTES_PER_SECOND * (seconds + 1)) + EXCHANGE_OVERSHOOT_BYTES;
      System.out.printf(
          "%s shipped %d bytes in %.1f s (allowed %d), counters %s%n",
          MEMBERS.get(node), sent, seconds, allowed, services.get(node).counters());
      assertThat(sent).as("bytes shipped by %s", MEMBERS.get(node)).isLessThanOrEqualTo(allowed);
      throttledOrRefused +=
          services.get(node).counters().get("anti_entropy_exchanges_throttled")
              + services.get(node).counters().get("anti_entropy_exchanges_refused");
    }
    assertThat(throttledOrRefused).as("exchanges held back by the budget").isPositive();
  }
}
