package io.replicakv.server.multi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.multi.ConflictResolver;
import io.replicakv.core.multi.HomeSiteResolver;
import io.replicakv.core.multi.LwwResolver;
import io.replicakv.core.multi.MultiLeaderConfig;
import io.replicakv.core.multi.SiblingsResolver;
import io.replicakv.core.multi.SiteCommand;
import io.replicakv.core.quorum.Topology;
import io.replicakv.core.ring.Slots;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two {@link SiteService}s of one keyspace wired through {@link SiteLinkCodec} frames in memory (a
 * link that can be cut), each on its own loop with its own site log: the server side of a site
 * without sockets or metadata.
 */
class SiteServiceTest {
  static final Duration DEADLINE = Duration.ofSeconds(60);

  @TempDir Path dir;

  private final Map<String, SiteService> services = new ConcurrentHashMap<>();
  private final Map<String, ScheduledExecutorService> loops = new ConcurrentHashMap<>();
  private volatile boolean cut;
  private String logPrefix = "";

  @AfterEach
  void stop() {
    services.values().forEach(SiteService::close);
    loops.values().forEach(ScheduledExecutorService::shutdownNow);
  }

  @Test
  void writesAtBothSitesWhileCutConvergeAfterHealAndARestartedSiteResumesFromItsLog()
      throws Exception {
    MultiLeaderConfig config = config(new SiblingsResolver());
    start("a", config);
    start("b", config);
    assertThat(set("a", "k", "1")).isInstanceOf(Reply.Written.class);
    await().atMost(DEADLINE).until(() -> values("b", "k").equals(List.of("1")));

    cut = true;
    set("a", "k", "from-a");
    set("b", "k", "from-b");
    for (int i = 0; i < 300; i++) {
      set("a", "backlog" + i, "v" + i);
    }
    await()
        .atMost(DEADLINE)
        .until(() -> services.get("a").status().lag().get("b").changes() >= 300);

    // b restarts while cut: its state comes back from its site log
    restart("b", config);
    assertThat(values("b", "k")).containsExactly("from-b");

    cut = false;
    await()
        .atMost(DEADLINE)
        .until(
            () ->
                values("b", "k").equals(List.of("from-a", "from-b"))
                    && values("a", "k").equals(List.of("from-a", "from-b"))
                    && values("b", "backlog299").equals(List.of("v299")));
    await().atMost(DEADLINE).until(() -> services.get("a").status().lag().get("b").changes() == 0);
    // the status snapshot refreshes every STATUS_REFRESH_TICKS
    await()
        .atMost(DEADLINE)
        .until(
            () ->
                Long.valueOf(1)
                    .equals(
                        services
                            .get("b")
                            .status()
                            .counters()
                            .get("multi_concurrent_writes_total{strategy=\"siblings\"}")));
  }

  @Test
  void aBurstOfWritesSharesFewForcesOfTheSiteLogAndEveryAcknowledgedWriteSurvivesRestart()
      throws Exception {
    MultiLeaderConfig config = config(new SiblingsResolver());
    start("a", config);
    SiteService a = services.get("a");
    int writes = 2_000;
    List<java.util.concurrent.CompletableFuture<Reply>> replies = new ArrayList<>();
    for (int i = 0; i < writes; i++) {
      String key = "burst" + i;
      String value = "v" + i;
      replies.add(
          a.submit(r -> new SiteCommand.Assign(key, value, Optional.of(r.read(key).context()))));
    }
    for (java.util.concurrent.CompletableFuture<Reply> reply : replies) {
      assertThat(reply.get(60, TimeUnit.SECONDS)).isInstanceOf(Reply.Written.class);
    }
    long forces = a.query(r -> a.forces()).get(30, TimeUnit.SECONDS);
    // one force per write before group commit; a burst queued on the loop shares a handful
    assertThat(forces).isPositive().isLessThan(writes / 10);

    restart("a", config);
    for (int i = 0; i < writes; i += 97) {
      assertThat(values("a", "burst" + i)).containsExactly("v" + i);
    }
    assertThat(values("a", "burst" + (writes - 1))).containsExactly("v" + (writes - 1));
  }

  @Test
  void aHomeSiteDeclaredDownHandsItsKeysToTheNextSite() throws Exception {
    MultiLeaderConfig config = config(new HomeSiteResolver(new LwwResolver(), Map.of()));
    start("a", config);
    start("b", config);
    int index = 0;
    while (Slots.slot("k" + index) % 2 != 1) {
      index++;
    }
    String homedAtB = "k" + index;
    assertThat(set("a", homedAtB, "forwarded")).isInstanceOf(Reply.Written.class);
    await().atMost(DEADLINE).until(() -> values("a", homedAtB).equals(List.of("forwarded")));

    cut = true;
    assertThat(set("a", homedAtB, "lost in transit")).isInstanceOf(Reply.Uncertain.class);
    services.get("a").declareDown("b", true).get(10, TimeUnit.SECONDS);
    assertThat(set("a", homedAtB, "written at a")).isInstanceOf(Reply.Written.class);
    assertThat(values("a", homedAtB)).containsExactly("written at a");
  }

  @Test
  void circularAndStarSitesForwardEveryWriteToEverySiteWithoutLoops() throws Exception {
    for (Topology topology : List.of(Topology.CIRCULAR, Topology.STAR)) {
      stop();
      services.clear();
      loops.clear();
      logPrefix = topology.text() + "-";
      MultiLeaderConfig config =
          new MultiLeaderConfig(
              List.of("a", "b", "c"),
              topology,
              "b",
              new SiblingsResolver(),
              MultiLeaderConfig.Defects.NONE);
      for (String site : config.sites()) {
        start(site, config);
      }
      for (String site : config.sites()) {
        set(site, topology + "-" + site, "from-" + site);
      }
      for (String reader : config.sites()) {
        for (String writer : config.sites()) {
          await()
              .atMost(DEADLINE)
              .until(
                  () -> values(reader, topology + "-" + writer).equals(List.of("from-" + writer)));
        }
      }
      for (String site : config.sites()) {
        await()
            .atMost(DEADLINE)
            .until(
                () ->
                    services.get(site).status().logChanges() == 3
                        && services.get(site).status().lag().values().stream()
                            .allMatch(lag -> lag.changes() == 0));
        assertThat(services.get(site).status().counters())
            .doesNotContainKey("multi_looped_changes_total{strategy=\"siblings\"}");
      }
    }
  }

  private static MultiLeaderConfig config(ConflictResolver resolver) {
    return MultiLeaderConfig.of(List.of("a", "b"), Topology.ALL_TO_ALL, resolver);
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
            dir.resolve(logPrefix + site + ".log"),
            loop,
            (to, frame) -> deliver(to, frame)));
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
      assertThat(item.sites()).isEqualTo(target.sites());
      messages.add(item.message());
    }
    target.onMessages(messages);
  }

  private Reply set(String site, String key, String value) throws Exception {
    return services
        .get(site)
        .submit(r -> new SiteCommand.Assign(key, value, Optional.of(r.read(key).context())))
        .get(30, TimeUnit.SECONDS);
  }

  private List<String> values(String site, String key) throws Exception {
    return services
        .get(site)
        .query(r -> r.read(key).values().stream().sorted().toList())
        .get(30, TimeUnit.SECONDS);
  }
}
