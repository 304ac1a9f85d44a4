package io.replicakv.server.multi;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.multi.SiteCommand;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.FrameHandler;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.net.peer.PeerClientOptions;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.cluster.MetadataChange;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SiteKeyspaces} against metadata views built in memory: a one-node site without links (its
 * keyspaces span only itself), so no frame leaves the process.
 */
class SiteKeyspacesTest {
  @TempDir Path dir;

  private ScheduledExecutorService loop;
  private EventLoopGroup group;
  private PeerClient peers;
  private SiteKeyspaces keyspaces;

  @BeforeEach
  void setUp() {
    loop = Executors.newSingleThreadScheduledExecutor();
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    peers = new PeerClient(group, PeerClientOptions.defaults());
  }

  @AfterEach
  void tearDown() {
    if (keyspaces != null) {
      keyspaces.close();
    }
    peers.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    loop.shutdownNow();
  }

  @Test
  void droppedKeyspaceStopsDeletesItsFilesAndRefusesLinkFramesAndAnnouncements() throws Exception {
    ClusterView created =
        ClusterView.empty("c1")
            .apply(
                new MetadataChange.AddMember(
                    new Member("n1", "127.0.0.1", 1, 2, 0, 0, "site-a", "", MemberState.UP, true)))
            .apply(
                new MetadataChange.CreateKeyspace(
                    "carts", Map.of("style", "multi-leader", "conflicts", "siblings")));
    keyspaces = open();
    keyspaces.onView(created);
    SiteService service = keyspaces.service("carts");
    assertThat(service).isNotNull();
    Reply written =
        service
            .submit(r -> new SiteCommand.Assign("k", "v", Optional.of(r.read("k").context())))
            .get(30, TimeUnit.SECONDS);
    assertThat(written).isInstanceOf(Reply.Written.class);
    Path multi = dir.resolve("multi");
    assertThat(multi.resolve("carts.log")).exists();
    assertThat(multi.resolve("carts.sites")).exists();

    keyspaces.onView(created.apply(new MetadataChange.DropKeyspace("carts")));

    assertThat(keyspaces.service("carts")).isNull();
    assertThat(keyspaces.statuses()).doesNotContainKey("carts");
    assertThat(multi.resolve("carts.log")).doesNotExist();
    assertThat(multi.resolve("carts.sites")).doesNotExist();
    assertThat(multi.resolve("carts.dropped")).exists();
    assertThat(service.query(r -> 1).isCompletedExceptionally()).isTrue();

    long refusedBefore = keyspaces.itemsRefused();
    SiteMessage ack = new SiteMessage.ChangesAck(1, 0, 1, 0, 0, true);
    byte[] frame =
        SiteLinkCodec.encode(
            List.of(new SiteLinkCodec.Item("carts", List.of("site-a", "site-b"), ack)));
    keyspaces.onFrame(
        Frame.of(SiteKeyspaces.TYPE_SITE_MESSAGES, frame), responder(new CompletableFuture<>()));
    assertThat(keyspaces.itemsRefused()).isEqualTo(refusedBefore + 1);

    assertThat(announce(keyspaces)).contains("carts was dropped at site site-a");

    // the marker survives a restart: another site's announcement does not bring the keyspace back
    keyspaces.close();
    keyspaces = open();
    keyspaces.onView(created.apply(new MetadataChange.DropKeyspace("carts")));
    assertThat(announce(keyspaces)).contains("was dropped");
  }

  @Test
  void keylessCommandsSeeLiveKeysFlushdbDeletesThemAllAndExpiryIsRefusedWithTheReason()
      throws Exception {
    ClusterView view = created();
    keyspaces = open();
    keyspaces.onView(view);
    int number = view.keyspace("carts").number();
    for (int i = 0; i < 25; i++) {
      assertThat(run(number, "SET", "k" + i, "v" + i)).isEqualTo("+OK\r\n");
    }
    assertThat(run(number, "SET", "other", "x")).isEqualTo("+OK\r\n");
    assertThat(run(number, "DEL", "k0")).isEqualTo(":1\r\n");
    assertThat(run(number, "DBSIZE")).isEqualTo(":25\r\n");
    assertThat(run(number, "EXISTS", "k1", "k0", "k2", "nope")).isEqualTo(":2\r\n");
    assertThat(run(number, "KEYS", "k1*")).contains("k1\r\n").contains("k19\r\n");
    assertThat(run(number, "KEYS", "k1*").split("\\$").length - 1).isEqualTo(11);

    // SCAN in pages of 7 returns every live key exactly once when nothing changes meanwhile
    java.util.Set<String> seen = new java.util.TreeSet<>();
    String cursor = "0";
    int calls = 0;
    do {
      String reply = run(number, "SCAN", cursor, "COUNT", "7");
      String[] lines = reply.split("\r\n");
      cursor = lines[2];
      for (int i = 5; i < lines.length; i += 2) {
        assertThat(seen.add(lines[i])).as("returned twice: " + lines[i]).isTrue();
      }
      calls++;
    } while (!cursor.equals("0") && calls < 100);
    assertThat(seen).hasSize(25).doesNotContain("k0").contains("k24", "other");

    assertThat(run(number, "TTL", "k1")).startsWith("-ERR TTL is refused").contains("expiry");
    assertThat(run(number, "EXPIRE", "k1", "10")).contains("not replicated between sites");

    assertThat(run(number, "FLUSHDB")).isEqualTo("+OK\r\n");
    assertThat(run(number, "DBSIZE")).isEqualTo(":0\r\n");
    assertThat(run(number, "GET", "k5")).isEqualTo("$-1\r\n");
    // a FLUSHDB is tombstones in the site log: they come back after a restart
    keyspaces.close();
    keyspaces = open();
    keyspaces.onView(view);
    assertThat(run(number, "DBSIZE")).isEqualTo(":0\r\n");
  }

  private String run(int number, String... args) throws Exception {
    io.replicakv.server.command.Command command =
        io.replicakv.server.command.Dispatcher.allCommands().find(args[0].toLowerCase());
    assertThat(SiteCommands.applies(command)).as(args[0]).isTrue();
    byte[] reply =
        SiteCommands.run(
                keyspaces, number, command, io.replicakv.net.resp.RespRequest.ofStrings(args), 2)
            .get(60, TimeUnit.SECONDS);
    return new String(reply, StandardCharsets.UTF_8);
  }

  private static ClusterView created() {
    return ClusterView.empty("c1")
        .apply(
            new MetadataChange.AddMember(
                new Member("n1", "127.0.0.1", 1, 2, 0, 0, "site-a", "", MemberState.UP, true)))
        .apply(
            new MetadataChange.CreateKeyspace(
                "carts", Map.of("style", "multi-leader", "conflicts", "siblings")));
  }

  private SiteKeyspaces open() {
    SiteLinks links = new SiteLinks("site-a", "", SiteKeyspaces.linksFile(dir));
    return new SiteKeyspaces(
        links,
        dir,
        peers,
        loop,
        System::currentTimeMillis,
        change -> CompletableFuture.failedFuture(new IllegalStateException("no proposals here")));
  }

  private static String announce(SiteKeyspaces keyspaces) throws Exception {
    TreeMap<String, String> options = new TreeMap<>();
    options.put("conflicts", "siblings");
    options.put("topology", "all-to-all");
    byte[] payload =
        SiteLinkCodec.encodeAnnounce(
            new SiteLinkCodec.Announce("carts", List.of("site-a", "site-b"), options));
    CompletableFuture<Frame> reply = new CompletableFuture<>();
    keyspaces.onFrame(Frame.of(SiteKeyspaces.TYPE_SITE_ANNOUNCE, payload), responder(reply));
    return new String(reply.get(30, TimeUnit.SECONDS).payload(), StandardCharsets.UTF_8);
  }

  private static FrameHandler.Responder responder(CompletableFuture<Frame> reply) {
    return new FrameHandler.Responder() {
      @Override
      public void reply(Frame response) {
        reply.complete(response);
      }

      @Override
      public void fail(String message) {
        reply.completeExceptionally(new IllegalStateException(message));
      }
    };
  }
}
