package io.replicakv.server;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.replicakv.net.resp.RespDecoder;
import io.replicakv.net.resp.RespLimits;
import io.replicakv.server.command.Dispatcher;
import io.replicakv.server.command.Node;
import io.replicakv.server.command.Session;
import io.replicakv.server.config.ServerConfig;
import io.replicakv.server.http.HttpAdmin;
import io.replicakv.server.metrics.Metrics;
import io.replicakv.server.resp.ClientHandler;
import io.replicakv.storage.StorageEngine;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.log.FsyncPolicy;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One ReplicaKV node: the node loop, the RESP listener, the HTTP listener and the storage engine.
 *
 * <p>The node loop is a single Netty event loop that owns every client connection and all data, as
 * Redis's main thread does: commands run to completion one at a time, so no data structure needs a
 * lock, and the loop is the one place that orders clock, disk and network. Work off the loop: the
 * log writer (write and fsync), the snapshot writer, and the HTTP listener, which hops onto the
 * loop to read anything.
 */
public final class ReplicaKvServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReplicaKvServer.class);

  /** Active expiry stops sampling a keyspace after this many keys per cycle. */
  static final int EXPIRY_SAMPLE_KEYS = 20;

  /** Share of a cycle period the active expiry may spend, in percent. */
  static final int EXPIRY_TIME_PERCENT = 25;

  /** Period of the node loop's housekeeping timer. */
  static final long HOUSEKEEPING_PERIOD_MILLIS = 5;

  /** Outbound bytes queued on a connection before its reads pause. */
  static final int WRITE_HIGH_WATER_BYTES = 1 << 20;

  private final ServerConfig config;
  private final EventLoopGroup loopGroup;
  private final EventLoop loop;
  private final Class<? extends ServerChannel> channelClass;
  private StorageEngine engine;
  private Node node;
  private ClientHandler handler;
  private Dispatcher dispatcher;
  private ClusterNode cluster;
  private io.replicakv.server.cluster.MetadataStore metadataOverride;

  /**
   * Makes a clustered node use this metadata store instead of starting its Raft voter: the seam
   * through which tests and the simulator stand in a linearizable store. Call before {@link
   * #start}.
   */
  public ReplicaKvServer withMetadataStore(io.replicakv.server.cluster.MetadataStore store) {
    this.metadataOverride = store;
    return this;
  }

  private Channel listener;
  private HttpAdmin http;
  private volatile boolean stopped;
  private long lastExpiryCycleMillis;
  private final SplittableRandom expiryRandom = new SplittableRandom(0x5eed);
  private final List<RespDecoder> decoders = new ArrayList<>();

  public ReplicaKvServer(ServerConfig config) {
    this.config = config;
    IoHandlerFactory factory;
    if (Epoll.isAvailable()) {
      factory = EpollIoHandler.newFactory();
      channelClass = EpollServerSocketChannel.class;
    } else {
      factory = NioIoHandler.newFactory();
      channelClass = NioServerSocketChannel.class;
    }
    loopGroup =
        new MultiThreadIoEventLoopGroup(
            1,
            runnable -> {
              Thread t = new Thread(runnable, "replicakv-node-loop");
              t.setDaemon(false);
              return t;
            },
            factory);
    loop = loopGroup.next();
  }

  /** Recovers the data and opens the listeners. */
  public ReplicaKvServer start() throws IOException {
    long started = System.currentTimeMillis();
    engine = StorageEngine.open(config.storageOptions(), started);
    node =
        new Node(
            engine,
            config,
            Dispatcher.allCommands(),
            new Metrics(),
            new SplittableRandom(started),
            System::currentTimeMillis,
            UUID.randomUUID().toString().replace("-", ""));
    node.loopExecutor = loop::execute;
    node.configListener = this::onConfigChanged;
    FsyncPolicy fsync = config.storageOptions().fsync();
    dispatcher = new Dispatcher(node, fsync);
    handler = new ClientHandler(node, dispatcher);
    if (fsync == FsyncPolicy.ALWAYS) {
      engine.addDurabilityListener(handler::onDurable);
    }
    ServerBootstrap b =
        new ServerBootstrap()
            .group(loopGroup)
            .channel(channelClass)
            .option(ChannelOption.SO_BACKLOG, 1024)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childOption(
                ChannelOption.WRITE_BUFFER_WATER_MARK,
                new WriteBufferWaterMark(WRITE_HIGH_WATER_BYTES / 2, WRITE_HIGH_WATER_BYTES))
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    RespDecoder decoder = new RespDecoder(limits());
                    ch.pipeline().addLast("resp", decoder).addLast("client", handler);
                  }
                });
    http = new HttpAdmin(node, loop);
    try {
      http.start(config.bind(), config.httpPort());
    } catch (IOException e) {
      engine.close();
      loopGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw e;
    }
    try {
      listener = b.bind(new InetSocketAddress(config.bind(), config.port())).sync().channel();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while binding", e);
    } catch (Exception e) {
      http.close();
      engine.close();
      loopGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw new IOException(
          "cannot listen on " + config.bind() + ":" + config.port() + ": " + e.getMessage(), e);
    }
    if (config.clustered()) {
      try {
        cluster = new ClusterNode(config, node, loop);
        if (metadataOverride != null) {
          cluster.useMetadataStore(metadataOverride);
        }
        // the RESP port is open already: until the node is registered and knows its replica
        // groups, keyed commands are refused rather than run on this node's copy alone
        node.clusterStarting = true;
        dispatcher.setRouter(io.replicakv.server.route.Router.STARTING);
        dispatcher.setRouter(cluster.start(handler, port(), httpPort()));
        node.clusterStarting = false;
        dispatcher.setLeaderless(node.leaderless);
        dispatcher.setMulti(node.multi);
      } catch (IOException | RuntimeException e) {
        if (cluster != null) {
          cluster.close();
        }
        listener.close();
        http.close();
        engine.close();
        loopGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
      }
    }
    loop.scheduleAtFixedRate(
        this::housekeeping,
        HOUSEKEEPING_PERIOD_MILLIS,
        HOUSEKEEPING_PERIOD_MILLIS,
        TimeUnit.MILLISECONDS);
    log.info(
        "ReplicaKV {} ready: RESP on {}:{}, HTTP on {}:{}, data in {}, fsync={}",
        Version.VERSION,
        config.bind(),
        port(),
        config.bind(),
        httpPort(),
        config.dataDirectory().toAbsolutePath(),
        config.get("fsync"));
    return this;
  }

  private RespLimits limits() {
    return new RespLimits(
        config.getLong("proto-max-bulk-len"),
        config.getInt("proto-max-multibulk-len"),
        config.getInt("proto-max-inline-len"));
  }

  private void onConfigChanged(String name) {
    if (name.startsWith("proto-")) {
      RespLimits l = limits();
      for (Channel ch : allClientChannels()) {
        if (ch.pipeline().get("resp") instanceof RespDecoder d) {
          d.setLimits(l);
        }
      }
    } else if (name.equals("routing") && cluster != null) {
      cluster.setRedirect(config.get("routing").equals("redirect"));
    } else if (name.equals("loglevel")) {
      Logging.setLevel(config.get("loglevel"));
    }
  }

  private List<Channel> allClientChannels() {
    List<Channel> out = new ArrayList<>();
    for (Session s : node.sessions.values()) {
      out.add(s.channel);
    }
    return out;
  }

  public int port() {
    return ((InetSocketAddress) listener.localAddress()).getPort();
  }

  public int httpPort() {
    return http.port();
  }

  /**
   * Lets {@code SHUTDOWN} stop this server by running {@code stop} (the process's orderly exit);
   * without it the command is refused. Call after {@link #start}.
   */
  public void onShutdownCommand(Runnable stop) {
    node.shutdownRequest = stop;
  }

  public Node node() {
    return node;
  }

  /** Runs on the node loop every few ms: active expiry at `hz`, snapshot progress, log hand-off. */
  private void housekeeping() {
    try {
      housekeepingStep();
    } catch (RuntimeException e) {
      // a periodic task that throws is never run again: keep expiry and snapshots alive
      log.error("housekeeping failed; it runs again at the next tick", e);
    }
  }

  private void housekeepingStep() {
    if (stopped) {
      return;
    }
    long now = node.tickClock();
    long period = 1000 / Math.max(1, config.getLong("hz"));
    if (now - lastExpiryCycleMillis >= period) {
      lastExpiryCycleMillis = now;
      activeExpiry(now, period * EXPIRY_TIME_PERCENT / 100);
    }
    engine.onTimer(now);
    handler.releaseAll(); // log write, then replies, then any that waited on the disk
  }

  /**
   * Redis's adaptive sweep: sample keys with an expiry, delete the expired, repeat while many were.
   */
  private void activeExpiry(long now, long budgetMillis) {
    MemoryState state = engine.state();
    long deadlineNanos = System.nanoTime() + budgetMillis * 1_000_000;
    for (int ks = 0; ks < state.keyspaceCount(); ks++) {
      if (state.expiresSize(ks) == 0) {
        continue;
      }
      while (true) {
        List<Bytes> expired = state.sampleExpired(ks, now, EXPIRY_SAMPLE_KEYS, expiryRandom);
        for (Bytes key : expired) {
          node.expire(ks, key);
        }
        if (expired.size() * 4 <= EXPIRY_SAMPLE_KEYS
            || System.nanoTime() > deadlineNanos
            || engine.failure() != null) {
          break;
        }
      }
    }
  }

  /**
   * Stops accepting, lets the commands already read finish, syncs the log and closes. Safe to call
   * more than once and from any thread.
   */
  @Override
  public synchronized void close() {
    if (stopped) {
      return;
    }
    stopped = true;
    log.info("shutting down");
    try {
      if (listener != null) {
        listener.close().syncUninterruptibly();
      }
      if (http != null) {
        http.close();
      }
      if (cluster != null) {
        cluster.close();
      }
      CompletableFuture<Void> drained = new CompletableFuture<>();
      loop.execute(
          () -> {
            try {
              for (Channel ch : allClientChannels()) {
                ch.config().setAutoRead(false);
              }
              engine.flush();
              engine.sync();
              handler.releaseAll();
              for (Channel ch : allClientChannels()) {
                ch.flush();
                ch.close();
              }
              engine.close();
              drained.complete(null);
            } catch (Throwable t) {
              drained.completeExceptionally(t);
            }
          });
      drained.get(30, TimeUnit.SECONDS);
      log.info("log synced; stopped");
    } catch (Exception e) {
      log.error("unclean shutdown: {}", e.toString());
    } finally {
      loopGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }
}
