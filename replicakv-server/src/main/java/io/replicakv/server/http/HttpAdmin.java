package io.replicakv.server.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.replicakv.server.command.Info;
import io.replicakv.server.command.Node;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP front end: {@code /health}, {@code /metrics} (Prometheus text) and {@code /admin/info}
 * (JSON). It runs on its own thread and reads node state by running the rendering on the node loop,
 * so it never races the commands.
 */
public final class HttpAdmin implements AutoCloseable {
  /** Largest HTTP request body accepted; admin requests are small. */
  static final int MAX_REQUEST_BYTES = 64 * 1024;

  /** The dashboard page: static, it reads /admin/cluster and /metrics from the browser. */
  private static final String DASHBOARD = loadDashboard();

  private static String loadDashboard() {
    try (java.io.InputStream in = HttpAdmin.class.getResourceAsStream("/dashboard/index.html")) {
      return in == null
          ? "<p>dashboard missing from the build</p>"
          : new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "<p>dashboard unreadable: " + e.getMessage() + "</p>";
    }
  }

  private final Node node;
  private final EventLoop nodeLoop;
  private final EventLoopGroup group;
  private Channel channel;
  private static final ObjectMapper JSON = new ObjectMapper();

  public HttpAdmin(Node node, EventLoop nodeLoop) {
    this.node = node;
    this.nodeLoop = nodeLoop;
    this.group =
        new MultiThreadIoEventLoopGroup(
            1,
            r -> {
              Thread t = new Thread(r, "replicakv-http");
              t.setDaemon(true);
              return t;
            },
            NioIoHandler.newFactory());
  }

  public void start(String bind, int port) throws IOException {
    ServerBootstrap b =
        new ServerBootstrap()
            .group(group)
            .channel(NioServerSocketChannel.class)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    ch.pipeline()
                        .addLast(new HttpServerCodec())
                        .addLast(new HttpObjectAggregator(MAX_REQUEST_BYTES))
                        .addLast(new Handler());
                  }
                });
    try {
      channel = b.bind(new InetSocketAddress(bind, port)).sync().channel();
    } catch (Exception e) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw new IOException(
          "cannot listen for HTTP on " + bind + ":" + port + ": " + e.getMessage(), e);
    }
  }

  public int port() {
    return ((InetSocketAddress) channel.localAddress()).getPort();
  }

  @Override
  public void close() {
    if (channel != null) {
      channel.close().syncUninterruptibly();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      String path = new QueryStringDecoder(request.uri()).path();
      switch (path) {
        case "/health" ->
            nodeLoop.execute(
                () ->
                    respond(
                        ctx,
                        HttpResponseStatus.OK,
                        "application/json",
                        node.engine.failure() == null
                            ? "{\"status\":\"ok\"}\n"
                            : "{\"status\":\"degraded\",\"reason\":"
                                + quote(node.misconf())
                                + "}\n"));
        case "/metrics" ->
            nodeLoop.execute(
                () ->
                    respond(
                        ctx,
                        HttpResponseStatus.OK,
                        "text/plain; version=0.0.4; charset=utf-8",
                        Prometheus.render(node)));
        case "/admin/info" ->
            nodeLoop.execute(
                () -> respond(ctx, HttpResponseStatus.OK, "application/json", infoJson()));
        case "/", "/dashboard" ->
            respond(ctx, HttpResponseStatus.OK, "text/html; charset=utf-8", DASHBOARD);
        case "/admin/cluster" ->
            nodeLoop.execute(
                () -> respond(ctx, HttpResponseStatus.OK, "application/json", clusterJson()));
        case "/admin/leaderless" ->
            respond(ctx, HttpResponseStatus.OK, "application/json", leaderlessJson());
        case "/admin/leaderless/repair" -> leaderlessRepair(ctx, request);
        case "/admin/replication" ->
            respond(ctx, HttpResponseStatus.OK, "application/json", replicationJson());
        case "/admin/replication/switchover" ->
            nodeLoop.execute(() -> ReplicationHttp.switchover(node, ctx, request));
        case "/admin/replication/divergent" ->
            nodeLoop.execute(() -> ReplicationHttp.divergent(node, ctx, request));
        default ->
            respond(
                ctx,
                HttpResponseStatus.NOT_FOUND,
                "application/json",
                "{\"error\":\"not found\",\"paths\":[\"/health\",\"/metrics\",\"/admin/info\",\"/admin/cluster\",\"/admin/leaderless\",\"/admin/leaderless/repair\",\"/admin/replication\",\"/admin/replication/switchover\",\"/admin/replication/divergent\"]}\n");
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  /**
   * Single-leader replication on this node: its counters and every replica group it hosts (role,
   * epoch, leader, last LSN, commit offset, divergent writes), with, where it leads, each
   * follower's match offset and lag in records, bytes and milliseconds.
   */
  private String replicationJson() {
    io.replicakv.server.replication.ReplicationLoop replication = node.replication;
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("enabled", replication != null);
    if (replication != null) {
      out.put("counters", replication.counters());
      out.put("groups", replication.status());
    }
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(out) + "\n";
    } catch (IOException e) {
      return "{}";
    }
  }

  /** Per leaderless keyspace: hints held per owner and the node's counters. */
  private String leaderlessJson() {
    io.replicakv.server.leaderless.LeaderlessKeyspaces keyspaces = node.leaderless;
    Map<String, Object> out = new LinkedHashMap<>();
    if (keyspaces != null) {
      Map<Integer, Map<String, Integer>> hints = keyspaces.hintsByKeyspace();
      Map<String, Object> byKeyspace = new LinkedHashMap<>();
      keyspaces
          .countersByKeyspace()
          .forEach(
              (keyspace, counters) -> {
                Map<String, Object> one = new LinkedHashMap<>();
                one.put("hints_pending_by_owner", hints.getOrDefault(keyspace, Map.of()));
                one.put("counters", counters);
                byKeyspace.put(Integer.toString(keyspace), one);
              });
      out.put("keyspaces", byKeyspace);
      out.put("repairs_running", keyspaces.repairsRunning());
      out.put("repairs_completed", keyspaces.repairsCompleted());
    }
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(out) + "\n";
    } catch (IOException e) {
      return "{}";
    }
  }

  /**
   * {@code POST /admin/leaderless/repair?keyspace=N}: runs a KV.REPAIR pass and answers its report
   * when it is over (seconds to minutes).
   */
  private void leaderlessRepair(ChannelHandlerContext ctx, FullHttpRequest request) {
    io.replicakv.server.leaderless.LeaderlessKeyspaces keyspaces = node.leaderless;
    java.util.List<String> asked =
        new QueryStringDecoder(request.uri()).parameters().getOrDefault("keyspace", List.of());
    if (!request.method().equals(io.netty.handler.codec.http.HttpMethod.POST)
        || keyspaces == null
        || asked.size() != 1) {
      respond(
          ctx,
          HttpResponseStatus.BAD_REQUEST,
          "application/json",
          "{\"error\":\"use POST /admin/leaderless/repair?keyspace=N on a cluster node\"}\n");
      return;
    }
    int keyspace;
    try {
      keyspace = Integer.parseInt(asked.get(0));
    } catch (NumberFormatException e) {
      respond(
          ctx,
          HttpResponseStatus.BAD_REQUEST,
          "application/json",
          "{\"error\":\"keyspace must be a number\"}\n");
      return;
    }
    keyspaces
        .repair(keyspace)
        .whenComplete(
            (report, error) -> {
              if (error != null) {
                respond(
                    ctx,
                    HttpResponseStatus.CONFLICT,
                    "application/json",
                    "{\"error\":" + quote(String.valueOf(error.getMessage())) + "}\n");
                return;
              }
              String body;
              try {
                body = JSON.writeValueAsString(report.fields()) + "\n";
              } catch (IOException e) {
                body = "{}";
              }
              respond(ctx, HttpResponseStatus.OK, "application/json", body);
            });
  }

  private static String quote(String s) {
    try {
      return JSON.writeValueAsString(s);
    } catch (IOException e) {
      return "\"\"";
    }
  }

  /** The cluster as this node sees it: metadata version, members with state and addresses. */
  private String clusterJson() {
    io.replicakv.server.cluster.ClusterView v = node.clusterView.get();
    Map<String, Object> out = new LinkedHashMap<>();
    if (v == null) {
      out.put("mode", "single-node");
    } else {
      out.put("mode", "cluster");
      out.put("self", node.selfId);
      out.putAll(v.summary());
      java.util.List<Map<String, Object>> members = new java.util.ArrayList<>();
      int[] slots = new int[1];
      for (io.replicakv.server.cluster.Member m : v.members().values()) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("id", m.id());
        e.put("state", m.state().name());
        e.put("host", m.host());
        e.put("port", m.clientPort());
        e.put("peerPort", m.peerPort());
        e.put("httpPort", m.httpPort());
        e.put("voter", m.voter());
        slots[0] = 0;
        for (int slot = 0; slot < io.replicakv.core.ring.Slots.SLOT_COUNT; slot++) {
          io.replicakv.server.cluster.Member owner = v.ownerOf(slot);
          if (owner != null && owner.id().equals(m.id())) {
            slots[0]++;
          }
        }
        e.put("slots", slots[0]);
        members.add(e);
      }
      out.put("memberList", members);
      java.util.List<Object[]> ranges = new java.util.ArrayList<>();
      int start = 0;
      String current = null;
      for (int slot = 0; slot <= io.replicakv.core.ring.Slots.SLOT_COUNT; slot++) {
        io.replicakv.server.cluster.Member owner =
            slot < io.replicakv.core.ring.Slots.SLOT_COUNT ? v.ownerOf(slot) : null;
        String id = owner == null ? null : owner.id();
        if (slot == io.replicakv.core.ring.Slots.SLOT_COUNT
            || !java.util.Objects.equals(id, current)) {
          if (current != null) {
            ranges.add(new Object[] {start, slot - 1, current});
          }
          start = slot;
          current = id;
        }
      }
      out.put("ranges", ranges);
      io.replicakv.server.move.KeyMover mover = node.mover;
      if (mover != null) {
        Map<String, Object> move = new LinkedHashMap<>();
        move.put("status", mover.status());
        move.put("keysSent", mover.keysSent());
        move.put("bytesSent", mover.bytesSent());
        move.put("keysRemainingEstimate", mover.keysRemainingEstimate());
        move.put("keysReceived", mover.keysReceived());
        move.put("keysDeleted", mover.keysDeleted());
        move.put("movesCompleted", mover.movesCompleted());
        out.put("move", move);
        out.put("moveProgress", moveProgressJson(mover.progress().snapshot()));
      }
      java.util.List<Map<String, Object>> keyspaces = new java.util.ArrayList<>();
      v.keyspaces()
          .values()
          .forEach(
              k ->
                  keyspaces.add(
                      Map.of(
                          "number",
                          k.number(),
                          "name",
                          k.name(),
                          "config",
                          String.valueOf(k.config()))));
      out.put("keyspaceList", keyspaces);
    }
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(out) + "\n";
    } catch (IOException e) {
      return "{}";
    }
  }

  /** The outgoing move's progress: planned and copied keys and data bytes, phase, rate, ETA. */
  private static Map<String, Object> moveProgressJson(
      io.replicakv.server.move.MoveProgress.Snapshot p) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("member", p.member());
    out.put("phase", p.phase().text());
    out.put("targets", p.targets());
    out.put("plannedKeys", p.plannedKeys());
    out.put("plannedBytes", p.plannedBytes());
    out.put("copiedKeys", p.copiedKeys());
    out.put("copiedBytes", p.copiedBytes());
    out.put("deltaKeys", p.deltaKeys());
    out.put("wireBytes", p.wireBytes());
    out.put("copyRestarts", Math.max(0, p.copyRestarts()));
    out.put("throttleBytesPerSecond", p.throttleBytesPerSecond());
    double rate = p.copyBytesPerSecond();
    out.put("copyBytesPerSecond", Double.isNaN(rate) ? -1 : Math.round(rate));
    out.put("etaSeconds", p.etaSeconds());
    out.put("lastMember", p.lastMember());
    out.put("lastResult", p.lastResult());
    return out;
  }

  /** INFO's sections as JSON objects: {"server": {"tcp_port": "6379", ...}, ...}. */
  private String infoJson() {
    String text = Info.render(node, List.of("everything"));
    Map<String, Map<String, String>> out = new LinkedHashMap<>();
    Map<String, String> section = null;
    for (String line : text.split("\r\n")) {
      if (line.startsWith("# ")) {
        section = new LinkedHashMap<>();
        out.put(line.substring(2).toLowerCase(java.util.Locale.ROOT), section);
      } else if (!line.isEmpty() && section != null) {
        int colon = line.indexOf(':');
        if (colon > 0) {
          section.put(line.substring(0, colon), line.substring(colon + 1));
        }
      }
    }
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(out) + "\n";
    } catch (IOException e) {
      return "{}";
    }
  }

  static void respond(
      ChannelHandlerContext ctx, HttpResponseStatus status, String type, String body) {
    FullHttpResponse response =
        new DefaultFullHttpResponse(
            HttpVersion.HTTP_1_1, status, Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
    response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
    // We close after every response; without saying so, an HTTP/1.1 client keeps the connection
    // in its pool and its next request fails on the closed socket.
    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
  }
}
