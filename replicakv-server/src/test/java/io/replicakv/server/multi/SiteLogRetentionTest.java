package io.replicakv.server.multi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.multi.ConflictMetrics;
import io.replicakv.core.multi.LwwResolver;
import io.replicakv.core.multi.MultiLeaderConfig;
import io.replicakv.core.multi.SiteCommand;
import io.replicakv.core.multi.SiteReplica;
import io.replicakv.core.quorum.Topology;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two {@link SiteService}s with a small site-log retention and compaction threshold, linked in
 * memory through {@link SiteLinkCodec} frames: memory and the site log file stay bounded over many
 * writes, and a link cut for longer than retention converges key by key after heal by a full-state
 * catch-up.
 */
class SiteLogRetentionTest {
  static final Duration DEADLINE = Duration.ofMinutes(2);

  /** Changes kept in memory for the other site. */
  static final long RETAINED_CHANGES = 200;

  /** File growth (records) between compactions. */
  static final long COMPACTION_RECORDS = 500;

  static final int KEYS = 400;

  @TempDir Path dir;

  private final Map<String, SiteService> services = new ConcurrentHashMap<>();
  private final Map<String, ScheduledExecutorService> loops = new ConcurrentHashMap<>();
  private volatile boolean cut;

  @AfterEach
  void stop() {
    services.values().forEach(SiteService::close);
    loops.values().forEach(ScheduledExecutorService::shutdownNow);
  }

  @Test
  void memoryAndFileStayBoundedAndALinkCutPastRetentionConvergesKeyByKeyAfterHeal()
      throws Exception {
    MultiLeaderConfig config =
        MultiLeaderConfig.of(List.of("a", "b"), Topology.ALL_TO_ALL, new LwwResolver());
    start("a", config);
    start("b", config);
    assertThat(set("a", "first", "1")).isInstanceOf(Reply.Written.class);
    await().atMost(DEADLINE).until(() -> state("b").containsKey("first"));

    cut = true;
    int writes = 6_000;
    long maxRetained = 0;
    long maxFileRecords = 0;
    for (int round = 0; round < writes / 500; round++) {
      List<CompletableFuture<Reply>> replies = new ArrayList<>();
      for (int i = round * 500; i < (round + 1) * 500; i++) {
        replies.add(submit("a", "k" + (i % KEYS), "a" + i));
        if (i % 20 == 0) {
          replies.add(submit("b", "k" + (i % 37), "b" + i)); // concurrent writes at b
        }
      }
      for (CompletableFuture<Reply> reply : replies) {
        assertThat(reply.get(60, TimeUnit.SECONDS)).isInstanceOf(Reply.Written.class);
      }
      for (String site : List.of("a", "b")) {
        SiteService service = services.get(site);
        long retained = service.query(SiteReplica::keptLogChanges).get(30, TimeUnit.SECONDS);
        long retainedBytes = service.query(SiteReplica::retainedBytes).get(30, TimeUnit.SECONDS);
        assertThat(retained).as("%s retained changes", site).isLessThanOrEqualTo(RETAINED_CHANGES);
        assertThat(retainedBytes).isLessThanOrEqualTo(1L << 20);
        maxRetained = Math.max(maxRetained, retained);
      }
      long fileRecords = fileRecords("a");
      maxFileRecords = Math.max(maxFileRecords, fileRecords);
    }
    // about 6,300 records were written to a's site log; compactions kept it near
    // keys + retained + one compaction interval
    assertThat(maxRetained).isEqualTo(RETAINED_CHANGES);
    assertThat(maxFileRecords).isLessThan(3 * (RETAINED_CHANGES + COMPACTION_RECORDS) + 100);
    assertThat(compactions("a")).isGreaterThanOrEqualTo(3);
    long fileBytes = Files.size(dir.resolve("a.log"));
    assertThat(fileBytes).isLessThan(400_000);

    System.out.printf(
        "site log retention: %d writes at a while cut; retained at most %d changes; file at most"
            + " %d records, %d bytes at the end, %d compactions%n",
        writes, maxRetained, maxFileRecords, fileBytes, compactions("a"));
    long healStarted = System.nanoTime();
    cut = false;
    await()
        .atMost(DEADLINE)
        .untilAsserted(() -> assertThat(state("b")).isEqualTo(state("a")).hasSize(KEYS + 1));
    SortedMap<String, List<String>> a = state("a");
    for (int i = writes - KEYS; i < writes; i++) {
      String key = "k" + (i % KEYS);
      // lww: a's last write of each key is the newest, except where b wrote later
      assertThat(a.get(key)).hasSize(1);
    }
    System.out.printf(
        "catch-up: converged %d ms after heal; %d keys sent, %d catch-ups started%n",
        (System.nanoTime() - healStarted) / 1_000_000,
        counter("a", ConflictMetrics.CATCH_UP_KEYS_SENT),
        counter("a", ConflictMetrics.CATCH_UPS_STARTED));
    assertThat(counter("a", ConflictMetrics.CATCH_UPS_SENT)).isGreaterThanOrEqualTo(1);
    assertThat(counter("b", ConflictMetrics.CATCH_UPS_RECEIVED)).isGreaterThanOrEqualTo(1);
    assertThat(counter("a", ConflictMetrics.LOG_DROPPED_UNACKNOWLEDGED)).isPositive();
    // and the link streams again
    set("a", "after-heal", "x");
    await().atMost(DEADLINE).until(() -> state("b").containsKey("after-heal"));

    // both sites restart from their compacted logs and still agree key by key
    SortedMap<String, List<String>> before = state("a");
    restart("a", config);
    restart("b", config);
    assertThat(state("a")).isEqualTo(before);
    assertThat(state("b")).isEqualTo(before);
    set("b", "after-restart", "y");
    await().atMost(DEADLINE).until(() -> state("a").containsKey("after-restart"));
  }

  private void start(String site, MultiLeaderConfig config) {
    ScheduledExecutorService loop =
        loops.computeIfAbsent(site, s -> Executors.newSingleThreadScheduledExecutor());
    services.put(
        site,
        new SiteService(
            "carts",
            config,
            site,
            System::currentTimeMillis,
            dir.resolve(site + ".log"),
            loop,
            this::deliver,
            null,
            new SiteReplica.Retention(RETAINED_CHANGES, 1L << 20),
            COMPACTION_RECORDS));
  }

  private void restart(String site, MultiLeaderConfig config) {
    services.remove(site).close();
    start(site, config);
  }

  private void deliver(String to, byte[] frame) {
    SiteService target = services.get(to);
    if (cut || target == null) {
      return;
    }
    List<SiteMessage> messages = new ArrayList<>();
    for (SiteLinkCodec.Item item : SiteLinkCodec.decode(frame)) {
      messages.add(item.message());
    }
    target.onMessages(messages);
  }

  private CompletableFuture<Reply> submit(String site, String key, String value) {
    return services
        .get(site)
        .submit(r -> new SiteCommand.Assign(key, value, Optional.of(r.read(key).context())));
  }

  private Reply set(String site, String key, String value) throws Exception {
    return submit(site, key, value).get(30, TimeUnit.SECONDS);
  }

  private SortedMap<String, List<String>> state(String site) throws Exception {
    return services.get(site).query(SiteReplica::visibleState).get(30, TimeUnit.SECONDS);
  }

  private long counter(String site, String name) throws Exception {
    return services.get(site).query(r -> r.metrics().get(name)).get(30, TimeUnit.SECONDS);
  }

  private long fileRecords(String site) throws Exception {
    SiteService service = services.get(site);
    return service.query(r -> service.fileRecords()).get(30, TimeUnit.SECONDS);
  }

  private long compactions(String site) throws Exception {
    SiteService service = services.get(site);
    return service.query(r -> service.compactions()).get(30, TimeUnit.SECONDS);
  }
}
