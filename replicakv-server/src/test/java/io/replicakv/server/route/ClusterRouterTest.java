package io.replicakv.server.route;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.replicakv.core.ring.Slots;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.net.peer.PeerClientOptions;
import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.InMemoryMetadataStore;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.cluster.MetadataChange;
import io.replicakv.server.command.Command;
import io.replicakv.server.command.Dispatcher;
import io.replicakv.server.command.Session;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Routing of forwarded commands (hop limit) and the write fence of a move. */
class ClusterRouterTest {
  /**
   * Ports nothing listens on (n1 gets 1, n2 gets 2): forwarded requests fail, which these tests do
   * not wait for.
   */
  static final int UNUSED_PORT_BASE = 1;

  EventLoopGroup group;
  PeerClient peers;
  ClusterView view;

  @BeforeEach
  void setUp() throws Exception {
    InMemoryMetadataStore store = new InMemoryMetadataStore("test");
    for (int i = 0; i < 2; i++) {
      String id = "n" + (i + 1);
      store
          .propose(
              new MetadataChange.AddMember(
                  new Member(
                      id,
                      "127.0.0.1",
                      UNUSED_PORT_BASE + i,
                      UNUSED_PORT_BASE + i,
                      0,
                      0,
                      "site-1",
                      "",
                      MemberState.UP,
                      false)))
          .get(5, TimeUnit.SECONDS);
    }
    view = store.current();
    store.close();
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    peers = new PeerClient(group, PeerClientOptions.defaults());
  }

  @AfterEach
  void tearDown() {
    if (peers != null) {
      peers.close();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }

  private String keyOwnedBy(String id) {
    for (int i = 0; ; i++) {
      String k = "k" + i;
      if (view.ownerOf(Slots.slot(k)).id().equals(id)) {
        return k;
      }
    }
  }

  private static RespRequest request(String... args) {
    byte[][] bytes = new byte[args.length][];
    for (int i = 0; i < args.length; i++) {
      bytes[i] = args[i].getBytes(StandardCharsets.UTF_8);
    }
    return RespRequest.of(bytes);
  }

  private static Session forwardedSession(int hops) {
    Session s = new Session(-1, null, 0);
    s.remoteReply = bytes -> {};
    s.forwardHops = hops;
    return s;
  }

  @Test
  void aForwardedCommandForAnotherOwnerGoesOnOnceThenAnswersTryAgain() {
    ClusterRouter router = new ClusterRouter("n1", peers, true, view);
    Command set = Dispatcher.allCommands().find("set");
    RespRequest write = request("SET", keyOwnedBy("n2"), "v");
    // even in redirect mode a forwarded command is forwarded, not answered with MOVED
    assertThat(router.route(forwardedSession(1), set, write))
        .isInstanceOf(Router.Decision.Forwarded.class);
    Router.Decision refused = router.route(forwardedSession(ForwardCodec.HOPS_MAX), set, write);
    assertThat(refused).isInstanceOf(Router.Decision.Answer.class);
    assertThat(((Reply.ErrorReply) ((Router.Decision.Answer) refused).reply()).text())
        .startsWith("TRYAGAIN");
    assertThat(
            router.route(
                forwardedSession(ForwardCodec.HOPS_MAX),
                set,
                request("SET", keyOwnedBy("n1"), "v")))
        .as("the owner runs it whatever the hop count")
        .isNull();
  }

  @Test
  void fencedSlotsRefuseWritesButNotReads() {
    ClusterRouter router = new ClusterRouter("n1", peers, false, view);
    String local = keyOwnedBy("n1");
    int fencedSlot = Slots.slot(local);
    router.setWriteFence(slot -> slot == fencedSlot);
    Session client = new Session(1, null, 0);
    Router.Decision write =
        router.route(client, Dispatcher.allCommands().find("set"), request("SET", local, "v"));
    assertThat(write).isInstanceOf(Router.Decision.Answer.class);
    assertThat(((Reply.ErrorReply) ((Router.Decision.Answer) write).reply()).text())
        .startsWith("TRYAGAIN");
    assertThat(router.route(client, Dispatcher.allCommands().find("get"), request("GET", local)))
        .isNull();
    router.setWriteFence(slot -> false);
    assertThat(
            router.route(client, Dispatcher.allCommands().find("set"), request("SET", local, "v")))
        .isNull();
  }
}
