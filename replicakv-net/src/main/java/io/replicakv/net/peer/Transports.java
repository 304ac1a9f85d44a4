package io.replicakv.net.peer;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoopGroup;
import io.netty.channel.IoHandler;
import io.netty.channel.ServerChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

/**
 * Picks the socket channel classes that fit the event loop group a caller hands in: NIO, or epoll
 * when the group runs epoll (its classes are looked up by name, so this module needs no epoll
 * dependency; the server module that creates an epoll group brings them).
 */
final class Transports {
  private static final String EPOLL_SOCKET = "io.netty.channel.epoll.EpollSocketChannel";
  private static final String EPOLL_SERVER_SOCKET =
      "io.netty.channel.epoll.EpollServerSocketChannel";
  private static final String EPOLL_IO_HANDLER = "io.netty.channel.epoll.EpollIoHandler";

  private Transports() {}

  static Class<? extends Channel> socketChannel(EventLoopGroup group) {
    return pick(group, NioSocketChannel.class, EPOLL_SOCKET, Channel.class);
  }

  static Class<? extends ServerChannel> serverSocketChannel(EventLoopGroup group) {
    return pick(group, NioServerSocketChannel.class, EPOLL_SERVER_SOCKET, ServerChannel.class);
  }

  private static <T extends Channel> Class<? extends T> pick(
      EventLoopGroup group, Class<? extends T> nio, String epollName, Class<T> kind) {
    if (!(group instanceof IoEventLoopGroup ioGroup)) {
      return nio; // a legacy group: NIO is the only transport that runs everywhere
    }
    if (ioGroup.isIoType(NioIoHandler.class)) {
      return nio;
    }
    try {
      if (ioGroup.isIoType(Class.forName(EPOLL_IO_HANDLER).asSubclass(IoHandler.class))) {
        return Class.forName(epollName).asSubclass(kind);
      }
    } catch (ClassNotFoundException missing) {
      // fall through to the error below
    }
    throw new IllegalArgumentException(
        "event loop group " + group + " runs neither NIO nor epoll; peer transport supports those");
  }
}
