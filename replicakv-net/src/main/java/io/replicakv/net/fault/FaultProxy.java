package io.replicakv.net.fault;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A TCP proxy on 127.0.0.1 between clients and one target port, with switches that inject the
 * network faults real-process tests and the {@code replicakv fault} tools need: a partition that
 * holds bytes ({@link #blackhole}), in both directions or one, a dead port ({@link #refuse}),
 * latency with jitter ({@link #delay}), random loss ({@link #dropProbability}) and broken
 * connections ({@link #dropConnections}).
 *
 * <h2>Model</h2>
 *
 * <p>Each accepted connection gets its own connection to the target and two one-way pipes: {@link
 * Direction#UPSTREAM} (client to target) and {@link Direction#DOWNSTREAM} (target to client). Every
 * switch is set per direction. A pipe has a reader that stamps each chunk it reads with a due time
 * (arrival plus the direction's delay plus a uniform draw from its jitter) and puts it in a bounded
 * queue, and a writer that forwards each chunk once it is due and its direction is not blackholed.
 * So a delay is latency, not a throughput cap, and chunks keep their order even with jitter (a
 * chunk drawn earlier than its predecessor waits for it).
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
 *   <li>One-way blackhole: only one direction holds its bytes. Requests sent upstream still arrive
 *       and run when only downstream is held; their answers never come back, as with a route that
 *       fails in one direction.
 *   <li>Drop probability: each chunk read in that direction is, with the given probability, thrown
 *       away and its connection closed. TCP cannot lose bytes in the middle of a stream without
 *       breaking it, so loss shows as broken connections at a rate that grows with traffic; the
 *       client reconnects and its unanswered requests fail.
 *   <li>Drop connections: every current connection closes once (both sockets, so both ends see the
 *       close).
 * </ul>
 *
 * <p>Randomness (jitter, loss) comes from a {@link SplittableRandom} seeded by the caller and split
 * per pipe, so one pipe's draws do not depend on another's; which chunk a draw meets still depends
 * on how the endpoints' writes fall into reads, so runs are not replayable byte for byte.
 *
 * <p>Not modelled: loss without a close, reordering, duplication, bandwidth limits. It lives in
 * main so that the {@code replicakv fault} command and other modules' tests can use it; no server
 * code path uses it.
 */
public final class FaultProxy implements AutoCloseable {
  /** Which way bytes flow through a proxied connection. */
  public enum Direction {
    /** From the client that connected to the proxy towards the target. */
    UPSTREAM,
    /** From the target back to the client. */
    DOWNSTREAM
  }

  /** The seed {@link #start(int)} uses. */
  public static final long DEFAULT_SEED = 1;

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

  /** Switches of one direction, indexed by {@link Direction#ordinal()}. */
  private final Switches[] switches = {new Switches(), new Switches()};

  // Guarded by lock; read without it where a stale value only delays a decision by one wait.
  private volatile boolean refusing;
  private volatile boolean closed;
  private ServerSocket listener;
  private final SplittableRandom random; // guarded by lock

  private FaultProxy(int targetPort, ServerSocket listener, long seed) {
    this.targetPort = targetPort;
    this.listener = listener;
    this.port = listener.getLocalPort();
    this.random = new SplittableRandom(seed);
  }

  /** Starts a proxy on a free 127.0.0.1 port that forwards to 127.0.0.1:{@code targetPort}. */
  public static FaultProxy start(int targetPort) throws IOException {
    return start(targetPort, DEFAULT_SEED);
  }

  /** As {@link #start(int)}, with the seed of the jitter and loss draws. */
  public static FaultProxy start(int targetPort, long seed) throws IOException {
    return start(targetPort, seed, 0);
  }

  /**
   * As {@link #start(int, long)}, listening on {@code listenPort} (0: any free port). A caller that
   * reserves all of a test cluster's ports in one batch passes the proxies' share here, so that a
   * proxy can never take a port the batch gave to a node.
   */
  public static FaultProxy start(int targetPort, long seed, int listenPort) throws IOException {
    if (targetPort <= 0 || targetPort > 0xFFFF) {
      throw new IllegalArgumentException("target port " + targetPort + " outside 1..65535");
    }
    if (listenPort < 0 || listenPort > 0xFFFF) {
      throw new IllegalArgumentException("listen port " + listenPort + " outside 0..65535");
    }
    FaultProxy proxy = new FaultProxy(targetPort, bind(listenPort), seed);
    proxy.startAccepting(proxy.listener);
    return proxy;
  }

  /** The port this proxy forwards to. */
  public int targetPort() {
    return targetPort;
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
    blackhole(Direction.UPSTREAM, on);
    blackhole(Direction.DOWNSTREAM, on);
  }

  /** Holds the bytes flowing in {@code direction} while on; off delivers them. */
  public void blackhole(Direction direction, boolean on) {
    lock.lock();
    try {
      switches[direction.ordinal()].blackholed = on;
      switchesChanged.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Whether {@code direction} holds its bytes. */
  public boolean blackholed(Direction direction) {
    return switches[direction.ordinal()].blackholed;
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
    delay(Direction.UPSTREAM, millis, 0);
    delay(Direction.DOWNSTREAM, millis, 0);
  }

  /**
   * Latency of chunks read from now on in {@code direction}: {@code millis} plus a uniform draw
   * from 0..{@code jitterMillis}. Both 0 remove it.
   */
  public void delay(Direction direction, long millis, long jitterMillis) {
    if (millis < 0 || jitterMillis < 0) {
      throw new IllegalArgumentException(
          "delay " + millis + " ms or jitter " + jitterMillis + " ms is negative");
    }
    if (millis > DELAY_MAX_MILLIS || jitterMillis > DELAY_MAX_MILLIS) {
      throw new IllegalArgumentException(
          "delay " + millis + " ms or jitter " + jitterMillis + " ms above " + DELAY_MAX_MILLIS);
    }
    lock.lock();
    try {
      Switches s = switches[direction.ordinal()];
      s.delayNanos = TimeUnit.MILLISECONDS.toNanos(millis);
      s.jitterNanos = TimeUnit.MILLISECONDS.toNanos(jitterMillis);
      switchesChanged.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** The fixed part of {@code direction}'s delay, in milliseconds. */
  public long delayMillis(Direction direction) {
    return TimeUnit.NANOSECONDS.toMillis(switches[direction.ordinal()].delayNanos);
  }

  /** The jitter bound of {@code direction}'s delay, in milliseconds. */
  public long jitterMillis(Direction direction) {
    return TimeUnit.NANOSECONDS.toMillis(switches[direction.ordinal()].jitterNanos);
  }

  /**
   * From now on each chunk read in {@code direction} is lost, and its connection closed, with
   * {@code probability} (0 turns loss off).
   */
  public void dropProbability(Direction direction, double probability) {
    if (!(probability >= 0 && probability <= 1)) {
      throw new IllegalArgumentException("drop probability " + probability + " outside 0..1");
    }
    switches[direction.ordinal()].dropProbability = probability;
  }

  /** The loss probability of {@code direction}. */
  public double dropProbability(Direction direction) {
    return switches[direction.ordinal()].dropProbability;
  }

  /**
   * Turns every switch off: no blackhole, delay, jitter or loss in either direction, no refusal.
   */
  public void heal() {
    for (Direction d : Direction.values()) {
      dropProbability(d, 0);
      delay(d, 0, 0);
      blackhole(d, false);
    }
    refuse(false);
  }

  /** Whether new connects are refused. */
  public boolean refusing() {
    return refusing;
  }

  /** Most delay or jitter one direction accepts: beyond it a test wants a blackhole. */
  public static final long DELAY_MAX_MILLIS = 600_000;

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
  private boolean awaitDelivery(ProxiedConnection connection, Direction direction, long dueNanos) {
    Switches s = switches[direction.ordinal()];
    lock.lock();
    try {
      while (true) {
        if (closed || connection.closed) {
          return false;
        }
        long waitNanos = dueNanos - System.nanoTime();
        boolean blackholed = s.blackholed;
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
      pipe(client, target, Direction.UPSTREAM);
      pipe(target, client, Direction.DOWNSTREAM);
    }

    private void pipe(Socket from, Socket to, Direction direction) {
      BlockingQueue<Chunk> queue = new ArrayBlockingQueue<>(QUEUED_CHUNKS_MAX);
      SplittableRandom pipeRandom;
      lock.lock();
      try {
        pipeRandom = random.split();
      } finally {
        lock.unlock();
      }
      String name = "fault-proxy-" + port + "-" + direction.name().toLowerCase(Locale.ROOT);
      Thread.ofVirtual().name(name + "-read").start(() -> read(from, direction, pipeRandom, queue));
      Thread.ofVirtual().name(name + "-write").start(() -> write(queue, direction, to));
    }

    private void read(
        Socket from, Direction direction, SplittableRandom pipeRandom, BlockingQueue<Chunk> queue) {
      Switches s = switches[direction.ordinal()];
      try {
        InputStream in = from.getInputStream();
        while (true) {
          byte[] buffer = new byte[CHUNK_BYTES];
          int count = in.read(buffer);
          if (count > 0) {
            double loss = s.dropProbability;
            if (loss > 0 && pipeRandom.nextDouble() < loss) {
              lostChunks.increment();
              close();
              return;
            }
          }
          byte[] bytes = count < 0 ? END_OF_STREAM : java.util.Arrays.copyOf(buffer, count);
          long jitter = s.jitterNanos;
          long dueNanos =
              System.nanoTime() + s.delayNanos + (jitter > 0 ? pipeRandom.nextLong(jitter + 1) : 0);
          queue.put(new Chunk(bytes, dueNanos));
          if (count < 0) {
            return;
          }
        }
      } catch (IOException | InterruptedException broken) {
        close();
      }
    }

    private void write(BlockingQueue<Chunk> queue, Direction direction, Socket to) {
      try {
        OutputStream out = to.getOutputStream();
        while (!closed) {
          Chunk chunk = queue.poll(50, TimeUnit.MILLISECONDS);
          if (chunk == null) {
            continue;
          }
          if (!awaitDelivery(this, direction, chunk.dueNanos())) {
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

  /** Chunks thrown away by {@link #dropProbability}, each of which closed its connection. */
  public long lostChunks() {
    return lostChunks.sum();
  }

  private final LongAdder lostChunks = new LongAdder();

  /** The switches of one direction; written under the lock (loss: any thread), read anywhere. */
  private static final class Switches {
    volatile boolean blackholed;
    volatile long delayNanos;
    volatile long jitterNanos;
    volatile double dropProbability;
  }

  private record Chunk(byte[] bytes, long dueNanos) {}
}
