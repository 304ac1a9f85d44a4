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
 * Five services, N=3, W=2, R=2 with a sloppy quorum and anti-entropy off, so that only hinted
 * handoff can bring a restarted owner up to date: writes made while one owner is down go to a
 * substitute, and the owner sees them at R=1 (its own state answers first) after it returns.
 */
class LeaderlessHandoffTest {
  private static final int MEMBERS = 5;

  /** Keys written while the owner is down; at N=3 of 5 it owns about three in five of them. */
  private static final int KEYS = 20;

  private static final Duration DEADLINE = Duration.ofSeconds(20);
  private static final LeaderlessConfig CONFIG =
      LeaderlessConfig.defaults().withSloppyQuorum(true).withRepair(false, false, 0);

  @TempDir Path dataDir;

  private final AtomicReferenceArray<LeaderlessService> services =
      new AtomicReferenceArray<>(MEMBERS);
  private final List<ScheduledExecutorService> loops = new ArrayList<>();
  private final Set<Integer> down = ConcurrentHashMap.newKeySet();
  private final List<String> ids = List.of("a", "b", "c", "d", "e");

  private LeaderlessService startService(int index) {
    return new LeaderlessService(
        7,
        ids,
        ids.get(index),
        CONFIG,
        System::currentTimeMillis,
        dataDir.resolve(ids.get(index) + ".log"),
        loops.get(index),
        (to, frame) -> {
          LeaderlessService target = services.get(to);
          if (target != null && !down.contains(index) && !down.contains(to)) {
            target.onFrame(frame);
          }
        });
  }

  @AfterEach
  void stop() throws InterruptedException {
    for (int i = 0; i < MEMBERS; i++) {
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

  private KvResult submit(int node, KvRequest request) throws Exception {
    return services.get(node).submit(request).get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
  }

  @Test
  void aSubstituteHandsTheWritesOfADownOwnerBackWhenItReturns() throws Exception {
    for (int i = 0; i < MEMBERS; i++) {
      loops.add(Executors.newSingleThreadScheduledExecutor());
      services.set(i, startService(i));
    }
    String key = "handoff-key";
    await()
        .atMost(DEADLINE)
        .until(() -> submit(0, new KvRequest.Get(0, 0, key, 3)).outcome() == KvResult.Outcome.OK);
    int owner = 1;
    down.add(owner);
    services.getAndSet(owner, null).close();
    int coordinator = owner == 1 ? 2 : 1;
    // An R=3 read of a key the down node owns succeeds only once the coordinator suspects it and
    // asks a substitute instead; a write before that would reach W on the two live owners and
    // leave no hint. So every key is read at R=3 first.
    for (int i = 0; i < KEYS; i++) {
      String probe = key + "-" + i;
      await()
          .atMost(DEADLINE)
          .until(
              () ->
                  submit(coordinator, new KvRequest.Get(0, 0, probe, 3)).outcome()
                      == KvResult.Outcome.OK);
    }
    List<String> acknowledged = new ArrayList<>();
    VersionVector context = VersionVector.EMPTY;
    for (int i = 0; i < KEYS; i++) {
      String key2 = key + "-" + i;
      KvResult written =
          submit(
              coordinator,
              new KvRequest.Put(
                  0, 0, key2, new Write.Value("v" + i), context, KvRequest.DEFAULT_QUORUM));
      assertThat(written.outcome()).as(written.detail()).isEqualTo(KvResult.Outcome.OK);
      assertThat(written.answered()).isGreaterThanOrEqualTo(2);
      acknowledged.add(key2);
    }
    services.set(owner, startService(owner));
    down.remove(owner);
    int restarted = owner;
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () -> {
              long handedOff = 0;
              for (int i = 0; i < MEMBERS; i++) {
                handedOff += services.get(i).counters().get("hints_handed_off");
              }
              assertThat(handedOff).isPositive();
            });
    for (int i = 0; i < acknowledged.size(); i++) {
      String key2 = acknowledged.get(i);
      String value = "v" + i;
      await()
          .atMost(DEADLINE)
          .untilAsserted(
              () -> {
                KvResult read = submit(restarted, new KvRequest.Get(0, 0, key2, 1));
                assertThat(read.outcome()).isEqualTo(KvResult.Outcome.OK);
                assertThat(read.values()).containsExactly(value);
              });
    }
  }
}
