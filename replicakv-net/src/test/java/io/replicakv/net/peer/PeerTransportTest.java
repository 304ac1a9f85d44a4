package io.replicakv.net.peer;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class PeerTransportTest {
  private static final String HOST = "127.0.0.1";
  private static final Duration DEADLINE = Duration.ofSeconds(10);
  private static final int ECHO_REQUEST = 10;
  private static final int ECHO_RESPONSE = 11;

  private static EventLoopGroup group;
  private final List<AutoCloseable> resources = new ArrayList<>();

  @BeforeAll
  static void startGroup() {
    group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
  }

  @AfterAll
  static void stopGroup() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @AfterEach
  void closeResources() throws Exception {
    Collections.reverse(resources);
    for (AutoCloseable resource : resources) {
      resource.close();
    }
  }

  private <T extends AutoCloseable> T track(T resource) {
    resources.add(resource);
    return resource;
  }

  private static final FrameHandler ECHO =
      (request, responder) -> responder.reply(Frame.of(ECHO_RESPONSE, request.payload()));

  private PeerServer server(FrameHandler handler) throws Exception {
    return track(PeerServer.start(HOST, 0, handler, group));
  }

  private PeerClient client(PeerClientOptions options) {
    return track(new PeerClient(group, options));
  }

  private static PeerClientOptions options(long requestTimeoutMillis, int maxInFlight) {
    return new PeerClientOptions(
        1_000, requestTimeoutMillis, maxInFlight, FrameCodec.DEFAULT_MAX_FRAME_BYTES, 10, 100);
  }

  private static Throwable failureOf(CompletableFuture<Frame> future) {
    try {
      future.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException failed) {
      return failed.getCause();
    } catch (Exception other) {
      throw new AssertionError("future did not fail in time", other);
    }
    throw new AssertionError("future succeeded but should have failed");
  }

  private static Frame answerOf(CompletableFuture<Frame> future) throws Exception {
    return future.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
  }

  private static PeerUnavailableException.Reason reasonOf(CompletableFuture<Frame> future) {
    Throwable failure = failureOf(future);
    assertThat(failure).isInstanceOf(PeerUnavailableException.class);
    return ((PeerUnavailableException) failure).reason();
  }

  @Test
  void echoRoundTripCarriesTypePayloadAndCorrelationId() throws Exception {
    PeerServer server = server(ECHO);
    PeerClient client = client(PeerClientOptions.defaults());
    Frame response =
        answerOf(client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, "hi".getBytes(UTF_8))));
    assertThat(response.type()).isEqualTo(ECHO_RESPONSE);
    assertThat(response.payloadText()).isEqualTo("hi");
    assertThat(response.correlationId()).isEqualTo(1);
    assertThat(client.inFlight(HOST, server.port())).isZero();
  }

  @Test
  void serverAnswersPingWithPongItself() throws Exception {
    PeerServer server =
        server((request, responder) -> responder.fail("handler must not see pings"));
    PeerClient client = client(PeerClientOptions.defaults());
    Frame pong =
        answerOf(client.request(HOST, server.port(), Frame.of(Frame.TYPE_PING, new byte[] {5})));
    assertThat(pong.type()).isEqualTo(Frame.TYPE_PONG);
    assertThat(pong.payload()).containsExactly(5);
  }

  @Test
  void manyConcurrentRequestsGetTheirOwnAnswersInReverseOrder() throws Exception {
    int requests = 300;
    List<Frame> received = new CopyOnWriteArrayList<>();
    List<FrameHandler.Responder> held = new CopyOnWriteArrayList<>();
    PeerServer server =
        server(
            (request, responder) -> {
              received.add(request);
              held.add(responder);
              if (held.size() == requests) {
                for (int i = requests - 1; i >= 0; i--) {
                  held.get(i).reply(Frame.of(ECHO_RESPONSE, received.get(i).payload()));
                }
              }
            });
    PeerClient client = client(options(5_000, requests));
    List<CompletableFuture<Frame>> futures = new ArrayList<>();
    for (int i = 0; i < requests; i++) {
      futures.add(
          client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, ("r" + i).getBytes(UTF_8))));
    }
    for (int i = 0; i < requests; i++) {
      assertThat(answerOf(futures.get(i)).payloadText()).isEqualTo("r" + i);
    }
    // Written in call order: the server saw correlation ids 1..n in sequence, payloads in order.
    for (int i = 0; i < requests; i++) {
      assertThat(received.get(i).correlationId()).isEqualTo(i + 1L);
      assertThat(received.get(i).payloadText()).isEqualTo("r" + i);
    }
  }

  @Test
  void remoteFailAndHandlerExceptionBecomePeerErrors() throws Exception {
    PeerServer server =
        server(
            (request, responder) -> {
              if (request.type() == 20) {
                responder.fail("no such key");
              } else {
                throw new IllegalStateException("handler broke");
              }
            });
    PeerClient client = client(PeerClientOptions.defaults());
    Throwable failed = failureOf(client.request(HOST, server.port(), Frame.of(20, null)));
    assertThat(failed).isInstanceOf(PeerErrorException.class);
    assertThat(((PeerErrorException) failed).remoteMessage()).isEqualTo("no such key");
    Throwable threw = failureOf(client.request(HOST, server.port(), Frame.of(21, null)));
    assertThat(threw).isInstanceOf(PeerErrorException.class).hasMessageContaining("handler broke");
  }

  @Test
  void requestAboveClientBoundFailsWithoutSending() throws Exception {
    AtomicLong seen = new AtomicLong();
    PeerServer server =
        server(
            (request, responder) -> {
              seen.incrementAndGet();
              ECHO.onRequest(request, responder);
            });
    PeerClient client = client(new PeerClientOptions(1_000, 1_000, 8, 1024));
    Throwable failed =
        failureOf(client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, new byte[2000])));
    assertThat(failed)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("exceeds maxFrameBytes 1024");
    assertThat(
            answerOf(client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, new byte[10])))
                .payload())
        .hasSize(10);
    assertThat(seen.get()).isEqualTo(1);
  }

  @Test
  void frameAboveServerBoundGetsAnErrorAndTheClientReconnects() throws Exception {
    PeerServer server =
        track(PeerServer.start(HOST, 0, ECHO, group, new PeerServerOptions(1024, 16, null)));
    PeerClient client = client(options(2_000, 8));
    Throwable failed =
        failureOf(client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, new byte[2000])));
    assertThat(failed)
        .isInstanceOf(PeerErrorException.class)
        .hasMessageContaining("exceeds maxFrameBytes 1024");
    // The server closed that connection; the next request opens a new one.
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () ->
                assertThat(
                        answerOf(
                                client.request(
                                    HOST, server.port(), Frame.of(ECHO_REQUEST, new byte[3])))
                            .payload())
                    .hasSize(3));
  }

  @Test
  void responseAboveServerBoundBecomesAnError() throws Exception {
    PeerServer server =
        track(
            PeerServer.start(
                HOST,
                0,
                (request, responder) -> responder.reply(Frame.of(ECHO_RESPONSE, new byte[5000])),
                group,
                new PeerServerOptions(1024, 16, null)));
    PeerClient client = client(PeerClientOptions.defaults());
    Throwable failed = failureOf(client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, null)));
    assertThat(failed).isInstanceOf(PeerErrorException.class).hasMessageContaining("response of");
  }

  @Test
  void otherProtocolVersionGetsAnErrorFrameAndTheConnectionCloses() throws Exception {
    PeerServer server = server(ECHO);
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
      socket.setSoTimeout((int) DEADLINE.toMillis());
      // One write: the server answers the version byte at once and closes, so a frame sent in
      // pieces could meet a closed socket (broken pipe) before the rest is out.
      java.io.ByteArrayOutputStream frame = new java.io.ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(frame);
      out.writeInt(FrameCodec.HEADER_BYTES);
      out.writeByte(2);
      out.writeShort(ECHO_REQUEST);
      out.writeLong(7);
      socket.getOutputStream().write(frame.toByteArray());
      socket.getOutputStream().flush();
      DataInputStream in = new DataInputStream(socket.getInputStream());
      int length = in.readInt();
      assertThat(in.readUnsignedByte()).isEqualTo(FrameCodec.PROTOCOL_VERSION);
      assertThat(in.readUnsignedShort()).isEqualTo(Frame.TYPE_ERROR);
      assertThat(in.readLong()).isEqualTo(Frame.CONNECTION_CORRELATION_ID);
      byte[] message = new byte[length - FrameCodec.HEADER_BYTES];
      in.readFully(message);
      assertThat(new String(message, UTF_8)).contains("unsupported protocol version 2");
      assertThat(in.read()).isEqualTo(-1);
    }
  }

  @Test
  void peerRestartFailsRequestsThenWorksAfterReconnect() throws Exception {
    List<FrameHandler.Responder> held = new CopyOnWriteArrayList<>();
    PeerServer first =
        PeerServer.start(
            HOST,
            0,
            (request, responder) -> {
              if (request.type() == 30) {
                held.add(responder);
              } else {
                ECHO.onRequest(request, responder);
              }
            },
            group);
    int port = first.port();
    PeerClient client = client(options(5_000, 64));
    assertThat(answerOf(client.request(HOST, port, Frame.of(ECHO_REQUEST, null))).type())
        .isEqualTo(ECHO_RESPONSE);
    List<CompletableFuture<Frame>> stuck = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      stuck.add(client.request(HOST, port, Frame.of(30, null)));
    }
    await().atMost(DEADLINE).until(() -> held.size() == 3);
    first.close();
    for (CompletableFuture<Frame> future : stuck) {
      assertThat(reasonOf(future)).isEqualTo(PeerUnavailableException.Reason.CONNECTION_CLOSED);
    }
    assertThat(client.inFlight(HOST, port)).isZero();
    // While down: refused, or failing fast during the backoff.
    assertThat(reasonOf(client.request(HOST, port, Frame.of(ECHO_REQUEST, null))))
        .isIn(
            PeerUnavailableException.Reason.CONNECT_REFUSED,
            PeerUnavailableException.Reason.BACKOFF);
    track(PeerServer.start(HOST, port, ECHO, group));
    await()
        .atMost(DEADLINE)
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertThat(
                        answerOf(client.request(HOST, port, Frame.of(ECHO_REQUEST, null))).type())
                    .isEqualTo(ECHO_RESPONSE));
  }

  @Test
  void timeoutFailsTheRequestAndALateResponseIsDroppedAndCounted() throws Exception {
    List<FrameHandler.Responder> held = new CopyOnWriteArrayList<>();
    PeerServer server = server((request, responder) -> held.add(responder));
    PeerClient client = client(options(200, 8));
    CompletableFuture<Frame> slow =
        client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, null));
    assertThat(reasonOf(slow)).isEqualTo(PeerUnavailableException.Reason.REQUEST_TIMEOUT);
    assertThat(failureOf(slow)).hasMessageContaining("within 200 ms");
    assertThat(client.inFlight(HOST, server.port())).isZero();
    held.get(0).reply(Frame.of(ECHO_RESPONSE, null));
    await().atMost(DEADLINE).until(() -> client.lateResponses() == 1);
    // The connection survived the timeout.
    CompletableFuture<Frame> next =
        client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, null));
    await().atMost(DEADLINE).until(() -> held.size() == 2);
    held.get(1).reply(Frame.of(ECHO_RESPONSE, null));
    assertThat(answerOf(next).type()).isEqualTo(ECHO_RESPONSE);
  }

  @Test
  void inFlightBoundFailsFastAndFreesSlotsOnAnswers() throws Exception {
    List<FrameHandler.Responder> held = new CopyOnWriteArrayList<>();
    PeerServer server = server((request, responder) -> held.add(responder));
    PeerClient client = client(options(5_000, 4));
    List<CompletableFuture<Frame>> admitted = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      admitted.add(client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, null)));
    }
    CompletableFuture<Frame> refused =
        client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, null));
    assertThat(refused).isCompletedExceptionally();
    assertThat(reasonOf(refused)).isEqualTo(PeerUnavailableException.Reason.IN_FLIGHT_LIMIT);
    assertThat(failureOf(refused)).hasMessageContaining("4 requests already in flight");
    await().atMost(DEADLINE).until(() -> held.size() == 4);
    held.forEach(responder -> responder.reply(Frame.of(ECHO_RESPONSE, null)));
    for (CompletableFuture<Frame> future : admitted) {
      assertThat(answerOf(future).type()).isEqualTo(ECHO_RESPONSE);
    }
    CompletableFuture<Frame> later =
        client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, null));
    await().atMost(DEADLINE).until(() -> held.size() == 5);
    held.get(4).reply(Frame.of(ECHO_RESPONSE, null));
    assertThat(answerOf(later).type()).isEqualTo(ECHO_RESPONSE);
  }

  @Test
  void failedConnectStartsABackoffDuringWhichRequestsFailFast() throws Exception {
    int deadPort;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      deadPort = probe.getLocalPort();
    }
    AtomicLong nowNanos = new AtomicLong(1_000_000_000L);
    PeerClient client =
        track(
            new PeerClient(
                group, new PeerClientOptions(1_000, 5_000, 8, 4096, 1_000, 4_000), nowNanos::get));
    assertThat(reasonOf(client.request(HOST, deadPort, Frame.of(ECHO_REQUEST, null))))
        .isEqualTo(PeerUnavailableException.Reason.CONNECT_REFUSED);
    CompletableFuture<Frame> during = client.request(HOST, deadPort, Frame.of(ECHO_REQUEST, null));
    assertThat(during).isCompletedExceptionally();
    assertThat(failureOf(during)).hasMessageContaining("next attempt in 1000 ms");
    nowNanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(1_000));
    assertThat(reasonOf(client.request(HOST, deadPort, Frame.of(ECHO_REQUEST, null))))
        .isEqualTo(PeerUnavailableException.Reason.CONNECT_REFUSED);
    // Second failure doubles the wait.
    assertThat(failureOf(client.request(HOST, deadPort, Frame.of(ECHO_REQUEST, null))))
        .hasMessageContaining("next attempt in 2000 ms");
  }

  @Test
  void closedClientFailsInFlightAndNewRequests() throws Exception {
    List<FrameHandler.Responder> held = new CopyOnWriteArrayList<>();
    PeerServer server = server((request, responder) -> held.add(responder));
    PeerClient client = new PeerClient(group, options(5_000, 8));
    CompletableFuture<Frame> waiting =
        client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, null));
    await().atMost(DEADLINE).until(() -> held.size() == 1);
    client.close();
    assertThat(reasonOf(waiting)).isEqualTo(PeerUnavailableException.Reason.CLIENT_CLOSED);
    assertThat(reasonOf(client.request(HOST, server.port(), Frame.of(ECHO_REQUEST, null))))
        .isEqualTo(PeerUnavailableException.Reason.CLIENT_CLOSED);
  }
}
