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
