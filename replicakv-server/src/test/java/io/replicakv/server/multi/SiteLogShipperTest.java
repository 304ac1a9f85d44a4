package io.replicakv.server.multi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.replicakv.core.PersistRecord;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.net.peer.PeerClientOptions;
import io.replicakv.net.peer.PeerServer;
import io.replicakv.server.leaderless.LeaderlessRecordLog;
import io.replicakv.server.route.PeerRoutes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway's shipper against two copies behind real peer servers on loopback: records reach both
 * at the same positions, the replicated position follows {@code site-acks}, a copy that was away
 * catches up from its own end, and a copy that promised a newer epoch fences the shipper.
 */
class SiteLogShipperTest {
  static final Duration DEADLINE = Duration.ofSeconds(60);

  @TempDir Path dir;

  private final EventLoopGroup group =
      new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  private final ExecutorService loop = Executors.newSingleThreadExecutor();
  private final ExecutorService copiesThread = Executors.newSingleThreadExecutor();
  private final Map<String, SiteLogCopy> copies = new ConcurrentHashMap<>();
  private final Map<String, PeerServer> servers = new ConcurrentHashMap<>();
  private final Map<String, AtomicBoolean> silent = new ConcurrentHashMap<>();
  private PeerClient client;

  @AfterEach
  void close() throws Exception {
    servers.values().forEach(PeerServer::close);
    if (client != null) {
      client.close();
    }
    copiesThread.submit(() -> copies.values().forEach(SiteLogCopy::close)).get();
    copiesThread.shutdown();
    loop.shutdown();
    group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
  }

  private void startCopy(String id) throws Exception {
    silent.put(id, new AtomicBoolean());
    copiesThread
        .submit(
            () ->
                copies.put(
                    id,
                    new SiteLogCopy(
                        "ks",
                        dir.resolve(id).resolve("ks.log"),
                        dir.resolve(id).resolve("ks.sites"),
                        0)))
        .get();
    servers.put(
        id,
        PeerServer.start(
            "127.0.0.1",
            0,
            (request, responder) -> {
              if (silent.get(id).get()) {
                responder.fail("away");
                return;
              }
              SiteLogFrames.Request decoded = SiteLogFrames.decodeRequest(request.payload());
              copiesThread.execute(
                  () ->
                      responder.reply(
                          new Frame(
                              SiteLogFrames.TYPE_SITE_LOG,
                              request.correlationId(),
                              copies.get(id).onRequest(decoded))));
            },
            group));
  }

  private SiteLogShipper shipper(long epoch, int siteAcks) {
    client = new PeerClient(group, PeerClientOptions.defaults());
    return new SiteLogShipper(
        "ks",
        epoch,
        List.of("a", "b"),
        List.of("n2", "n3"),
        siteAcks,
        60_000,
        client,
        id -> new PeerRoutes.Address("127.0.0.1", servers.get(id).port()),
        loop,
        System::currentTimeMillis,
        List.of());
  }

  private SiteLogShipper shipperOf(List<String> followers, int siteAcks) {
    client = new PeerClient(group, PeerClientOptions.defaults());
    return new SiteLogShipper(
        "ks",
        1,
        List.of("a", "b"),
        followers,
        siteAcks,
        60_000,
        client,
        id -> {
          PeerServer server = servers.get(id);
          return server == null ? null : new PeerRoutes.Address("127.0.0.1", server.port());
        },
        loop,
        System::currentTimeMillis,
        List.of());
  }

  private static List<PersistRecord> records(int from, int count) {
    List<PersistRecord> out = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      out.add(new PersistRecord(("r" + i).getBytes(StandardCharsets.UTF_8)));
    }
    return out;
  }

  private <T> T onLoop(java.util.concurrent.Callable<T> task) throws Exception {
    return loop.submit(task).get();
  }

  private List<String> onDisk(String id) throws Exception {
    return copiesThread
        .submit(
            () -> {
              copies.get(id).close();
              List<String> out;
              try (LeaderlessRecordLog log =
                  new LeaderlessRecordLog(dir.resolve(id).resolve("ks.log"))) {
                out =
                    log.recovered().stream()
                        .map(r -> new String(r.payload(), StandardCharsets.UTF_8))
                        .toList();
              }
              copies.put(
                  id,
                  new SiteLogCopy(
                      "ks",
                      dir.resolve(id).resolve("ks.log"),
                      dir.resolve(id).resolve("ks.sites"),
                      0));
              return out;
            })
        .get();
  }

  @Test
  void recordsReachEveryCopyAndTheReplicatedPositionFollowsSiteAcks() throws Exception {
    startCopy("n2");
    startCopy("n3");
    silent.get("n3").set(true);
    SiteLogShipper shipper = shipper(1, 1);
    onLoop(
        () -> {
          shipper.onWritten(records(0, 1500)); // more than one frame
          return null;
        });
    await("one copy holds all 1500")
        .atMost(DEADLINE)
        .until(() -> onLoop(shipper::replicatedPosition) == 1500L);
    assertThat(onLoop(shipper::inSyncFollowers)).isEqualTo(1);
    assertThat(onLoop(() -> shipper.followerLag().get("n3"))).isEqualTo(1500L);

    // n3 comes back: the heartbeat finds its end (0) and the shipper sends it everything
    silent.get("n3").set(false);
    await("n3 caught up")
        .atMost(DEADLINE)
        .until(
            () ->
                onLoop(
                        () -> {
                          shipper.ship();
                          return shipper.followerLag().get("n3");
                        })
                    == 0L);
    assertThat(onDisk("n2")).isEqualTo(onDisk("n3")).hasSize(1500).startsWith("r0", "r1");
    assertThat(onLoop(shipper::fenced)).isFalse();
  }

  @Test
  void aCopyThatPromisedANewerEpochFencesTheShipper() throws Exception {
    startCopy("n2");
    startCopy("n3");
    SiteLogShipper shipper = shipper(1, 2);
    onLoop(
        () -> {
          shipper.onWritten(records(0, 3));
          return null;
        });
    await("both copies hold 3")
        .atMost(DEADLINE)
        .until(() -> onLoop(shipper::replicatedPosition) == 3L);
    // an election for epoch 2 probes n2: it promises to refuse epoch 1 from now on
    copiesThread
        .submit(
            () ->
                copies
                    .get("n2")
                    .onRequest(SiteLogFrames.decodeRequest(SiteLogFrames.probe("ks", 2))))
        .get();
    onLoop(
        () -> {
          shipper.onWritten(records(3, 1));
          return null;
        });
    await("the shipper learns it is deposed").atMost(DEADLINE).until(() -> onLoop(shipper::fenced));
    assertThat(onLoop(shipper::replicatedPosition))
        .as("site-acks 2: the record n2 refused is not replicated")
        .isEqualTo(3L);
  }

  @Test
  void aNodeAddedToTheSiteGetsTheWholeLogAndARemovedOneStopsCounting() throws Exception {
    startCopy("n2");
    startCopy("n3");
    SiteLogShipper shipper = shipperOf(List.of("n2"), 1);
    onLoop(
        () -> {
          shipper.onWritten(records(0, 1200)); // more than one frame
          return null;
        });
    await("n2 holds all 1200")
        .atMost(DEADLINE)
        .until(() -> onLoop(shipper::replicatedPosition) == 1200L);
    assertThat(copies.get("n3").position()).as("n3 is not a member yet").isZero();

    // n3 joins the site: the gateway follows it without a restart and sends it the whole log
    onLoop(
        () -> {
          shipper.followers(List.of("n2", "n3"));
          shipper.onWritten(records(1200, 10));
          return null;
        });
    assertThat(onLoop(shipper::followerIds)).containsExactly("n2", "n3");
    await("n3 caught up from position 0")
        .atMost(DEADLINE)
        .until(
            () ->
                onLoop(
                        () -> {
                          shipper.ship();
                          return shipper.followerLag().get("n3");
                        })
                    == 0L);
    assertThat(onDisk("n3")).isEqualTo(onDisk("n2")).hasSize(1210).startsWith("r0", "r1");
    assertThat(onLoop(shipper::followersAdded)).isEqualTo(1);

    // n2 leaves the site: n3 alone carries site-acks 1, and n2 gets nothing more
    onLoop(
        () -> {
          shipper.followers(List.of("n3"));
          shipper.onWritten(records(1210, 5));
          return null;
        });
    await("n3 holds the writes made after n2 left")
        .atMost(DEADLINE)
        .until(() -> onLoop(shipper::replicatedPosition) == 1215L);
    assertThat(onLoop(shipper::followerLag)).containsOnlyKeys("n3");
    assertThat(onLoop(shipper::followersRemoved)).isEqualTo(1);
    assertThat(copies.get("n2").position()).isEqualTo(1210L);

    // the last follower leaves: below site-acks nothing new counts as replicated
    onLoop(
        () -> {
          shipper.followers(List.of());
          shipper.onWritten(records(1215, 1));
          return null;
        });
    assertThat(onLoop(shipper::replicatedPosition)).isEqualTo(-1L);
    assertThat(onLoop(shipper::inSyncFollowers)).isZero();
  }
}
