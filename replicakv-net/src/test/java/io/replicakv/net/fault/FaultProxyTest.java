package io.replicakv.net.fault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.FrameCodec;
import io.replicakv.net.peer.FrameHandler;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.net.peer.PeerClientOptions;
import io.replicakv.net.peer.PeerServer;
import io.replicakv.net.peer.PeerUnavailableException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The proxy's faults as a {@link PeerClient} sees them through it. */
class FaultProxyTest {
  private static final String HOST = "127.0.0.1";
  private static final Duration DEADLINE = Duration.ofSeconds(10);
  private static final long REQUEST_TIMEOUT_MILLIS = 300;
  private static final int ECHO = 10;
  private static final int HOLD = 11;

  private static EventLoopGroup group;
  private final List<FrameHandler.Responder> held = new CopyOnWriteArrayList<>();
  private PeerServer server;
  private FaultProxy proxy;
  private PeerClient client;

  @BeforeAll
  static void startGroup() {
    group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
  }

  @AfterAll
  static void stopGroup() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @BeforeEach
  void start() throws Exception {
    server =
        PeerServer.start(
            HOST,
            0,
            (request, responder) -> {
              if (request.type() == HOLD) {
                held.add(responder);
              } else {
                responder.reply(Frame.of(ECHO, request.payload()));
              }
            },
            group);
    proxy = FaultProxy.start(server.port());
    client =
        new PeerClient(
            group,
            new PeerClientOptions(
                1_000, REQUEST_TIMEOUT_MILLIS, 64, FrameCodec.DEFAULT_MAX_FRAME_BYTES, 10, 100));
  }

  @AfterEach
  void stop() {
    client.close();
    proxy.close();
    server.close();
  }

  private CompletableFuture<Frame> send(int type) {
    return client.request(HOST, proxy.port(), Frame.of(type, new byte[] {1, 2, 3}));
  }

  private static Frame answerOf(CompletableFuture<Frame> future) throws Exception {
    return future.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
  }

  private static PeerUnavailableException unavailableOf(CompletableFuture<Frame> future) {
    try {
      future.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException failed) {
      assertThat(failed.getCause()).isInstanceOf(PeerUnavailableException.class);
      return (PeerUnavailableException) failed.getCause();
    } catch (Exception other) {
      throw new AssertionError("future did not fail in time", other);
    }
    throw new AssertionError("future succeeded but should have failed");
  }

  private void awaitWorking() {
    await()
        .atMost(DEADLINE)
        .ignoreExceptions()
        .untilAsserted(() -> assertThat(answerOf(send(ECHO)).payload()).containsExactly(1, 2, 3));
  }

  @Test
  void forwardsTrafficBothWays() throws Exception {
    assertThat(answerOf(send(ECHO)).payload()).containsExactly(1, 2, 3);
    assertThat(proxy.connectionCount()).isEqualTo(1);
  }

  @Test
  void blackholeTimesRequestsOutAndHealingDeliversHeldBytes() throws Exception {
    awaitWorking();
    proxy.blackhole(true);
    PeerUnavailableException lost = unavailableOf(send(ECHO));
    assertThat(lost.reason()).isEqualTo(PeerUnavailableException.Reason.REQUEST_TIMEOUT);
    // The connection stayed open through the partition.
    assertThat(proxy.connectionCount()).isEqualTo(1);
    proxy.blackhole(false);
    // The held request reaches the server; its answer comes back late and is dropped.
    await().atMost(DEADLINE).until(() -> client.lateResponses() == 1);
    assertThat(answerOf(send(ECHO)).payload()).containsExactly(1, 2, 3);
  }

  @Test
  void refuseMakesThePeerUnavailableAndHealingRestoresIt() throws Exception {
    awaitWorking();
    CompletableFuture<Frame> inFlight = send(HOLD);
    await().atMost(DEADLINE).until(() -> held.size() == 1);
    proxy.refuse(true);
    assertThat(unavailableOf(inFlight).reason())
        .isEqualTo(PeerUnavailableException.Reason.CONNECTION_CLOSED);
    assertThat(unavailableOf(send(ECHO)).reason())
        .isIn(
            PeerUnavailableException.Reason.CONNECT_REFUSED,
            PeerUnavailableException.Reason.BACKOFF);
    proxy.refuse(false);
    awaitWorking();
  }

  @Test
  void delayAddsLatencyInEachDirection() throws Exception {
    awaitWorking();
    long delayMillis = 100;
    proxy.delayMillis(delayMillis);
    long startNanos = System.nanoTime();
    CompletableFuture<Frame> slow =
        client.request(HOST, proxy.port(), Frame.of(ECHO, new byte[] {4}));
    assertThat(answerOf(slow).payload()).containsExactly(4);
    long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    assertThat(elapsedMillis).isGreaterThanOrEqualTo(2 * delayMillis);
    proxy.delayMillis(0);
  }

  @Test
  void oneWayBlackholeDeliversRequestsButHoldsAnswers() throws Exception {
    awaitWorking();
    proxy.blackhole(FaultProxy.Direction.DOWNSTREAM, true);
    CompletableFuture<Frame> inFlight = send(HOLD);
    // The request crossed upstream and reached the server...
    await().atMost(DEADLINE).until(() -> held.size() == 1);
    held.get(0).reply(Frame.of(ECHO, new byte[] {9}));
    // ...but its answer is held downstream until the request times out.
    assertThat(unavailableOf(inFlight).reason())
        .isEqualTo(PeerUnavailableException.Reason.REQUEST_TIMEOUT);
    proxy.blackhole(FaultProxy.Direction.DOWNSTREAM, false);
    awaitWorking();

    proxy.blackhole(FaultProxy.Direction.UPSTREAM, true);
    CompletableFuture<Frame> notDelivered = send(HOLD);
    assertThat(unavailableOf(notDelivered).reason())
        .isEqualTo(PeerUnavailableException.Reason.REQUEST_TIMEOUT);
    assertThat(held).hasSize(1); // the second request never reached the server
    proxy.heal();
    await().atMost(DEADLINE).until(() -> held.size() == 2); // healing delivered the held bytes
  }

  @Test
  void certainLossBreaksEveryConnectionThatCarriesARequest() throws Exception {
    awaitWorking();
    proxy.dropProbability(FaultProxy.Direction.UPSTREAM, 1.0);
    assertThat(unavailableOf(send(ECHO)).reason())
        .isIn(
            PeerUnavailableException.Reason.CONNECTION_CLOSED,
            PeerUnavailableException.Reason.REQUEST_TIMEOUT);
    assertThat(proxy.lostChunks()).isGreaterThanOrEqualTo(1);
    proxy.heal();
    assertThat(proxy.dropProbability(FaultProxy.Direction.UPSTREAM)).isZero();
    awaitWorking();
  }

  @Test
  void jitterAddsAtMostItsBoundToTheDelay() throws Exception {
    awaitWorking();
    proxy.delay(FaultProxy.Direction.UPSTREAM, 50, 100);
    long startNanos = System.nanoTime();
    assertThat(answerOf(send(ECHO)).payload()).containsExactly(1, 2, 3);
    long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    assertThat(elapsedMillis).isGreaterThanOrEqualTo(50);
    assertThat(proxy.delayMillis(FaultProxy.Direction.UPSTREAM)).isEqualTo(50);
    assertThat(proxy.jitterMillis(FaultProxy.Direction.UPSTREAM)).isEqualTo(100);
    assertThat(proxy.delayMillis(FaultProxy.Direction.DOWNSTREAM)).isZero();
  }

  @Test
  void dropConnectionsFailsInFlightRequestsAndTheClientReconnects() throws Exception {
    awaitWorking();
    CompletableFuture<Frame> inFlight = send(HOLD);
    await().atMost(DEADLINE).until(() -> held.size() == 1);
    proxy.dropConnections();
    assertThat(unavailableOf(inFlight).reason())
        .isEqualTo(PeerUnavailableException.Reason.CONNECTION_CLOSED);
    awaitWorking();
  }
}
