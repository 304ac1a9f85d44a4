package io.replicakv.net.fault;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A TCP proxy on 127.0.0.1 between clients and one target port, with switches that inject the
 * network faults real-process tests need: a partition that holds bytes ({@link #blackhole}), a dead
 * port ({@link #refuse}), latency ({@link #delayMillis}) and broken connections ({@link
 * #dropConnections}).
 *
 * <h2>Model</h2>
 *
 * <p>Each accepted connection gets its own connection to the target and two one-way pipes. A pipe
 * has a reader that stamps each chunk it reads with a due time (arrival plus the current delay) and
 * puts it in a bounded queue, and a writer that forwards each chunk once it is due and the proxy is
 * not blackholed. So a delay is latency, not a throughput cap, and chunks keep their order.
 *
 * <h2>Faults and what they look like to the endpoints</h2>
 *
 * <ul>
 *   <li>Blackhole: connections stay open and nothing moves in either direction; bytes already read
 *       wait in the proxy, and once the queue ({@value #QUEUED_CHUNKS_MAX} chunks of at most
 *       {@value #CHUNK_BYTES} bytes per direction) is full the reader stops and TCP flow control
 *       pushes back on the sender. Healing delivers the held bytes, as TCP would after a partition
 *       heals. New connections are accepted (the SYN gets through in a real partition only
 *       sometimes; here it always does) and their bytes are held too.
 *   <li>Refuse: the listening socket closes, so new connects get ECONNREFUSED, and existing
 *       connections close. Turning it off binds the same port again.
 *   <li>Drop: every current connection closes once (both sockets, so both ends see the close).
 * </ul>
 *
 * <p>Not modelled: packet loss without a close, reordering, one-way partitions, bandwidth limits.
 * This is test support: it lives in main only so that other modules' tests can use it.
 */
public final class FaultProxy implements AutoCloseable {
  /** Largest chunk one read forwards. */
  static final int CHUNK_BYTES = 16 * 1024;

  /** Chunks held per direction of one connection before the proxy stops reading. */
  static final int QUEUED_CHUNKS_MAX = 64;

  private static final byte[] END_OF_STREAM = new byte[0];

  private final int targetPort;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition switchesChanged = lock.newCondition();
  private final Set<ProxiedConnection> connections = ConcurrentHashMap.newKeySet();
  private final int port;

  // Guarded by lock; read without it where a stale value only delays a decision by one wait.
  private volatile boolean blackholed;
  private volatile boolean refusing;
  private volatile long delayNanos;
  private volatile boolean closed;
  private ServerSocket listener;

  private FaultProxy(int targetPort, ServerSocket listener) {
    this.targetPort = targetPort;
    this.listener = listener;
    this.port = listener.getLocalPort();
  }

  /** Starts a proxy on a free 127.0.0.1 port that forwards to 127.0.0.1:{@code targetPort}. */
  public static FaultProxy start(int targetPort) throws IOException {
    if (targetPort <= 0 || targetPort > 0xFFFF) {
      throw new IllegalArgumentException("target port " + targetPort + " outside 1..65535");
    }
    FaultProxy proxy = new FaultProxy(targetPort, bind(0));
    proxy.startAccepting(proxy.listener);
    return proxy;
  }

  private static ServerSocket bind(int port) throws IOException {
    ServerSocket socket = new ServerSocket();
    socket.setReuseAddress(true);
    socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    return socket;
  }

  /** The port clients connect to. It stays the same across {@link #refuse} on and off. */
  public int port() {
    return port;
  }

  /** Holds all bytes in both directions while on; connections stay open. Off delivers them. */
  public void blackhole(boolean on) {
    lock.lock();
    try {
      blackholed = on;
      switchesChanged.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** While on, new connects are refused and existing connections are closed. */
  public void refuse(boolean on) {
    lock.lock();
    try {
      if (closed || on == refusing) {
        return;
      }
      refusing = on;
      if (on) {
        closeQuietly(listener);
        listener = null;
      } else {
        try {
          listener = bind(port);
        } catch (IOException bindFailed) {
          throw new IllegalStateException("cannot bind proxy port " + port + " again", bindFailed);
        }
        startAccepting(listener);
      }
    } finally {
      lock.unlock();
    }
    if (on) {
      dropConnections();
    }
  }

  /** Latency added to every chunk from now on, in both directions; 0 removes it. */
  public void delayMillis(long millis) {
    if (millis < 0) {
      throw new IllegalArgumentException("delay " + millis + " ms is negative");
    }
    lock.lock();
    try {
      delayNanos = TimeUnit.MILLISECONDS.toNanos(millis);
      switchesChanged.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Closes every current connection once; later connections are unaffected. */
  public void dropConnections() {
    for (ProxiedConnection connection : new ArrayList<>(connections)) {
      connection.close();
    }
  }

  /** Connections currently proxied. */
  public int connectionCount() {
    return connections.size();
  }

  /** Stops listening and closes every connection. */
  @Override
  public void close() {
    lock.lock();
    try {
      closed = true;
      closeQuietly(listener);
      listener = null;
      switchesChanged.signalAll();
    } finally {
      lock.unlock();
    }
    dropConnections();
  }

  private void startAccepting(ServerSocket socket) {
    Thread.ofVirtual().name("fault-proxy-accept-" + port).start(() -> acceptLoop(socket));
  }

  private void acceptLoop(ServerSocket socket) {
    while (!socket.isClosed()) {
      Socket client;
      try {
        client = socket.accept();
      } catch (IOException closedOrBroken) {
        return;
      }
      if (refusing || closed) {
        closeQuietly(client);
        continue;
      }
      Socket target = new Socket();
      try {
        client.setTcpNoDelay(true);
        target.setTcpNoDelay(true);
        target.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort));
      } catch (IOException targetDown) {
        // The target is down: the client sees its connection close, as if the port were dead.
        closeQuietly(target);
        closeQuietly(client);
        continue;
      }
      ProxiedConnection connection = new ProxiedConnection(client, target);
      connections.add(connection);
      connection.start();
    }
  }

  /**
   * Waits until a chunk due at {@code dueNanos} may be written; false when the connection is
   * closing.
   */
  private boolean awaitDelivery(ProxiedConnection connection, long dueNanos) {
    lock.lock();
    try {
      while (true) {
        if (closed || connection.closed) {
          return false;
        }
        long waitNanos = dueNanos - System.nanoTime();
        if (!blackholed && waitNanos <= 0) {
          return true;
        }
        // Re-check at least every 50 ms so a closed connection's writer exits promptly.
        long boundNanos = TimeUnit.MILLISECONDS.toNanos(50);
        switchesChanged.awaitNanos(blackholed ? boundNanos : Math.min(waitNanos, boundNanos));
      }
    } catch (InterruptedException interrupted) {
      Thread.currentThread().interrupt();
      return false;
    } finally {
      lock.unlock();
    }
  }

  private static void closeQuietly(java.io.Closeable closeable) {
    if (closeable == null) {
      return;
    }
    try {
      closeable.close();
    } catch (IOException ignored) {
      // closing for a fault or shutdown: nothing to report
    }
  }

  /** One client connection, its target connection and the two pipes between them. */
  private final class ProxiedConnection {
    private final Socket client;
    private final Socket target;
    private volatile boolean closed;

    ProxiedConnection(Socket client, Socket target) {
      this.client = client;
      this.target = target;
    }

    void start() {
      pipe(client, target, "up");
      pipe(target, client, "down");
    }

    private void pipe(Socket from, Socket to, String direction) {
      BlockingQueue<Chunk> queue = new ArrayBlockingQueue<>(QUEUED_CHUNKS_MAX);
      String name = "fault-proxy-" + port + "-" + direction;
      Thread.ofVirtual().name(name + "-read").start(() -> read(from, queue));
      Thread.ofVirtual().name(name + "-write").start(() -> write(queue, to));
    }

    private void read(Socket from, BlockingQueue<Chunk> queue) {
      try {
        InputStream in = from.getInputStream();
        while (true) {
          byte[] buffer = new byte[CHUNK_BYTES];
          int count = in.read(buffer);
          byte[] bytes = count < 0 ? END_OF_STREAM : java.util.Arrays.copyOf(buffer, count);
          queue.put(new Chunk(bytes, System.nanoTime() + delayNanos));
          if (count < 0) {
            return;
          }
        }
      } catch (IOException | InterruptedException broken) {
        close();
      }
    }

    private void write(BlockingQueue<Chunk> queue, Socket to) {
      try {
        OutputStream out = to.getOutputStream();
        while (!closed) {
          Chunk chunk = queue.poll(50, TimeUnit.MILLISECONDS);
          if (chunk == null) {
            continue;
          }
          if (!awaitDelivery(this, chunk.dueNanos())) {
            return;
          }
          if (chunk.bytes() == END_OF_STREAM) {
            to.shutdownOutput();
            return;
          }
          out.write(chunk.bytes());
          out.flush();
        }
      } catch (IOException | InterruptedException broken) {
        close();
      }
    }

    void close() {
      closed = true;
      connections.remove(this);
      closeQuietly(client);
      closeQuietly(target);
      lock.lock();
      try {
        switchesChanged.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  private record Chunk(byte[] bytes, long dueNanos) {}
}
