package io.replicakv.net.peer;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.replicakv.core.util.Check;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * Accepts peer connections and answers their request frames with a {@link FrameHandler}.
 *
 * <p>Each connection gets its own {@link FrameCodec} and {@link ServerConnectionHandler}. The
 * server answers {@link Frame#TYPE_PING} itself, refuses a request beyond {@link
 * PeerServerOptions#maxInFlightPerConnection()} with an ERROR frame, and on a frame it cannot read
 * (see {@link FrameCodec}) sends an ERROR frame and closes that connection. The event loop group
 * belongs to the caller: closing the server closes its channels, not the group.
 */
public final class PeerServer implements AutoCloseable {
  /** Pending accepts the kernel may queue while the event loop is busy. */
  static final int ACCEPT_BACKLOG = 256;

  private final Channel serverChannel;
  private final ChannelGroup connections;
  private final int port;

  private PeerServer(Channel serverChannel, ChannelGroup connections) {
    this.serverChannel = serverChannel;
    this.connections = connections;
    this.port = ((InetSocketAddress) serverChannel.localAddress()).getPort();
  }

  /**
   * Binds {@code bindHost:port} (0 picks a free port) with {@link PeerServerOptions#defaults()}.
   *
   * @throws IOException if the address cannot be bound
   */
  public static PeerServer start(
      String bindHost, int port, FrameHandler handler, EventLoopGroup group) throws IOException {
    return start(bindHost, port, handler, group, PeerServerOptions.defaults());
  }

  /**
   * Binds {@code bindHost:port} (0 picks a free port) with the given options.
   *
   * @throws IOException if the address cannot be bound
   */
  public static PeerServer start(
      String bindHost,
      int port,
      FrameHandler handler,
      EventLoopGroup group,
      PeerServerOptions options)
      throws IOException {
    Check.notNull(handler, "handler");
    Check.notNull(options, "options");
    Check.argument(port >= 0 && port <= 0xFFFF, "port %s outside 0..65535", port);
    ChannelGroup connections = new DefaultChannelGroup("peer-server", GlobalEventExecutor.INSTANCE);
    ServerBootstrap bootstrap =
        new ServerBootstrap()
            .group(group)
            .channel(Transports.serverSocketChannel(group))
            .option(ChannelOption.SO_BACKLOG, ACCEPT_BACKLOG)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(
                new ChannelInitializer<>() {
                  @Override
                  protected void initChannel(Channel channel) {
                    connections.add(channel);
                    channel
                        .pipeline()
                        .addLast("frames", new FrameCodec(options.maxFrameBytes()))
                        .addLast("requests", new ServerConnectionHandler(handler, options));
                  }
                });
    ChannelFuture bound = bootstrap.bind(bindHost, port).awaitUninterruptibly();
    if (!bound.isSuccess()) {
      throw new IOException("cannot bind peer server to " + bindHost + ":" + port, bound.cause());
    }
    return new PeerServer(bound.channel(), connections);
  }

  /** The bound port: the one asked for, or the free one chosen for port 0. */
  public int port() {
    return port;
  }

  /** Stops accepting and closes every connection; waits unless called on an event loop. */
  @Override
  public void close() {
    ChannelFuture closed = serverChannel.close();
    var connectionsClosed = connections.close();
    if (!serverChannel.eventLoop().inEventLoop() && !inAnyConnectionLoop()) {
      closed.awaitUninterruptibly();
      connectionsClosed.awaitUninterruptibly();
    }
  }

  private boolean inAnyConnectionLoop() {
    for (Channel channel : connections) {
      if (channel.eventLoop().inEventLoop()) {
        return true;
      }
    }
    return false;
  }
}
