package io.replicakv.net.fault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.FrameCodec;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.net.peer.PeerClientOptions;
import io.replicakv.net.peer.PeerServer;
import io.replicakv.net.peer.PeerUnavailableException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Three "nodes" (a peer server and a peer client each) that reach each other only through a {@link
 * FaultNetwork}: cuts act per direction, heal restores, and the control port drives the same.
 */
class FaultNetworkTest {
  private static final Duration DEADLINE = Duration.ofSeconds(10);
  private static final long REQUEST_TIMEOUT_MILLIS = 300;
  private static final int ECHO = 10;
  private static final List<String> IDS = List.of("n1", "n2", "n3");

  private EventLoopGroup group;
  private final Map<String, PeerServer> servers = new LinkedHashMap<>();
  private final Map<String, PeerClient> clients = new LinkedHashMap<>();
  private final Map<String, AtomicInteger> served = new ConcurrentHashMap<>();
  private FaultNetwork network;
  private FaultControl control;

  @BeforeEach
  void start() throws Exception {
    group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    Map<String, Integer> peerPorts = new LinkedHashMap<>();
    for (String id : IDS) {
      served.put(id, new AtomicInteger());
      PeerServer server =
          PeerServer.start(
              "127.0.0.1",
              0,
              (request, responder) -> {
                served.get(id).incrementAndGet();
                responder.reply(Frame.of(ECHO, id.getBytes()));
              },
              group);
      servers.put(id, server);
      peerPorts.put(id, server.port());
      clients.put(
          id,
          new PeerClient(
              group,
              new PeerClientOptions(
                  1_000, REQUEST_TIMEOUT_MILLIS, 64, FrameCodec.DEFAULT_MAX_FRAME_BYTES, 10, 100)));
    }
    network = FaultNetwork.start(peerPorts, 42);
    control = FaultControl.start(network, 0);
  }

  @AfterEach
  void stop() {
    control.close();
    network.close();
    clients.values().forEach(PeerClient::close);
    servers.values().forEach(PeerServer::close);
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /** A request from node {@code from} to node {@code to}, sent where from's routes point. */
  private CompletableFuture<Frame> send(String from, String to) {
    return clients
        .get(from)
        .request("127.0.0.1", network.proxy(from, to).port(), Frame.of(ECHO, new byte[0]));
  }

  private boolean answers(String from, String to) {
    try {
      return new String(send(from, to).get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS).payload())
          .equals(to);
    } catch (ExecutionException failed) {
      assertThat(failed.getCause()).isInstanceOf(PeerUnavailableException.class);
      return false;
    } catch (Exception other) {
      throw new AssertionError(other);
    }
  }

  private void awaitAllAnswer() {
    for (String from : IDS) {
      for (String to : IDS) {
        if (!from.equals(to)) {
          await().atMost(DEADLINE).until(() -> answers(from, to));
        }
      }
    }
  }

  @Test
  void routesNameEveryOtherNodeThroughItsOwnProxy() {
    String routes = network.peerRoutes("n1");
    assertThat(routes)
        .isEqualTo(
            "n2=127.0.0.1:"
                + network.proxy("n1", "n2").port()
                + ",n3=127.0.0.1:"
                + network.proxy("n1", "n3").port());
    assertThat(network.proxy("n1", "n2").targetPort()).isEqualTo(servers.get("n2").port());
    assertThat(network.resolve("node-2")).isEqualTo("n2");
    assertThat(network.resolve("2")).isEqualTo("n2");
    assertThatThrownBy(() -> network.resolve("n9")).hasMessageContaining("nodes: n1 n2 n3");
    assertThatThrownBy(() -> network.cut("n1", "n1", false))
        .hasMessageContaining("two different nodes");
  }

  @Test
  void cutBothWaysIsolatesThePairOnly() {
    awaitAllAnswer();
    network.cut("n1", "n2", false);
    assertThat(answers("n1", "n2")).isFalse();
    assertThat(answers("n2", "n1")).isFalse();
    assertThat(answers("n1", "n3")).isTrue();
    assertThat(answers("n3", "n2")).isTrue();
    assertThat(network.status()).contains("n1 -> n2  127.0.0.1:").contains("n1 -> n3  ");
    assertThat(network.link("n2", "n1").cut()).isTrue();
    assertThat(network.link("n1", "n3").cut()).isFalse();
    network.heal("n2", "n1");
    awaitAllAnswer();
    assertThat(network.status()).doesNotContain("cut");
  }

  @Test
  void oneWayCutLetsRequestsRunButLosesTheAnswers() {
    awaitAllAnswer();
    network.cut("n1", "n2", true);
    assertThat(answers("n1", "n2")).as("n1's requests to n2 are held").isFalse();
    int servedByOne = served.get("n1").get();
    assertThat(answers("n2", "n1")).as("n1's answers to n2 are held").isFalse();
    assertThat(served.get("n1").get())
        .as("n2's request reached n1 and ran there")
        .isEqualTo(servedByOne + 1);
    assertThat(network.link("n2", "n1").cut()).isFalse();
    network.heal();
    awaitAllAnswer();
  }

  @Test
  void controlPortDrivesTheSameOperations() throws Exception {
    awaitAllAnswer();
    String cut = FaultControl.send(control.port(), "cut node-1 node-2 one-way");
    assertThat(cut).isEqualTo("OK\nn1 -> n2: cut\n");
    assertThat(answers("n1", "n2")).isFalse();
    assertThat(FaultControl.send(control.port(), "DELAY n2 n3 20 5"))
        .isEqualTo("OK\nn2 -> n3: delay 20ms±5\nn3 -> n2: delay 20ms±5\n");
    assertThat(FaultControl.send(control.port(), "DROP n3 n1 0.25 ONE-WAY"))
        .isEqualTo("OK\nn3 -> n1: drop 0.25\n");
    String status = FaultControl.send(control.port(), "STATUS");
    assertThat(status)
        .startsWith("OK\n")
        .containsPattern("n1 -> n2  127.0.0.1:\\d+ -> \\d+  cut  connections")
        .containsPattern("n2 -> n1  127.0.0.1:\\d+ -> \\d+  ok  connections");
    assertThat(FaultControl.send(control.port(), "ROUTES"))
        .contains("n1 " + network.peerRoutes("n1") + "\n");
    assertThat(FaultControl.send(control.port(), "CUT n1"))
        .isEqualTo("ERR usage: CUT a b [ONE-WAY]\n");
    assertThat(FaultControl.send(control.port(), "DROP n1 n2 2"))
        .isEqualTo("ERR drop probability 2.0 outside 0..1\n");
    assertThat(FaultControl.send(control.port(), "SPLIT n1")).startsWith("ERR unknown command");
    assertThat(FaultControl.send(control.port(), "HEAL")).isEqualTo("OK\n");
    assertThat(FaultControl.send(control.port(), "STATUS"))
        .doesNotContain("cut")
        .doesNotContain("drop");
    awaitAllAnswer();
  }
}
