package io.replicakv.client;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.commands.ProtocolCommand;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * A ReplicaKV client that carries its session token by itself, so that its reads see its own writes
 * and never go back in time, on whichever node answers them (DESIGN.md, "Client guarantees").
 *
 * <p><b>Model.</b> Any node accepts any command: a node that does not lead a key's replica group
 * forwards writes to the leader, and with the keyspace option {@code follower-reads=on} answers
 * reads from its own replica, but only from state that includes the connection's session token. The
 * server keeps one token per connection and raises it with every command; this client holds the
 * session's token too and moves it between connections: each command goes out in one pipeline as
 * {@code [SESSION RESUME token] command SESSION TOKEN}, the resume only when the connection has not
 * seen the client's latest token, and the token that comes back (the server's merge of what it had
 * and what the command reached) becomes the client's. So one round trip per command, and a session
 * continues across nodes, reconnects and other clients ({@link #sessionToken()} / {@link
 * #resumeSession}).
 *
 * <p><b>Reads and retries.</b> Writes go to the first node that answers, in the configured order.
 * Reads go there too, or with {@link Options#spreadReads} round-robin over every node. A node
 * answers {@code -TRYAGAIN} when its replica did not reach the token within its wait bound, or a
 * group has no leader for a moment (failover); reads are then retried on the next node, up to
 * {@link Options#attempts} times with a growing pause. A write is retried only when the error says
 * it was not run ({@link #writeNotRun}); an outcome-unknown write is never resent, since {@code
 * INCR} would count twice: the caller gets the error. A node that cannot be reached is skipped; a
 * write whose connection broke mid-way throws, since it may have been applied.
 *
 * <p><b>Threads.</b> One client is one session: methods are synchronized, so threads that share a
 * client take turns. Use a client per thread (and pass tokens between them) for parallelism.
 */
public final class ReplicaKvClient implements AutoCloseable {
  /** Pause before the second attempt of a retried command; each later one waits one more. */
  static final long RETRY_PAUSE_MILLIS = 50;

  /**
   * Client settings.
   *
   * @param keyspace the keyspace number ({@code SELECT n}) every connection uses
   * @param spreadReads send reads round-robin over every node instead of the first reachable one
   * @param attempts tries per command at most (the first included), at least 1
   * @param timeoutMillis connect and read timeout of each connection
   */
  public record Options(int keyspace, boolean spreadReads, int attempts, int timeoutMillis) {
    public Options {
      if (keyspace < 0) {
        throw new IllegalArgumentException("keyspace " + keyspace + " negative");
      }
      if (attempts < 1 || attempts > 100) {
        throw new IllegalArgumentException("attempts " + attempts + " not in [1, 100]");
      }
      if (timeoutMillis < 1) {
        throw new IllegalArgumentException("timeout " + timeoutMillis + " ms");
      }
    }

    /** Keyspace 0, reads on the first node, 6 attempts, 20 s timeouts. */
    public static Options defaults() {
      return new Options(0, false, 6, 20_000);
    }

    public Options withKeyspace(int number) {
      return new Options(number, spreadReads, attempts, timeoutMillis);
    }

    public Options withSpreadReads(boolean spread) {
      return new Options(keyspace, spread, attempts, timeoutMillis);
    }

    public Options withAttempts(int count) {
      return new Options(keyspace, spreadReads, count, timeoutMillis);
    }
  }

  private static final ProtocolCommand SESSION = () -> "SESSION".getBytes(StandardCharsets.UTF_8);

  /** The token of a session that has seen nothing. */
  public static final String EMPTY_TOKEN = "1";

  private final List<HostAndPort> nodes;
  private final Options options;
  private final Jedis[] connections;
  private final String[] connectionTokens;
  private String token = EMPTY_TOKEN;
  private int nextReader;
  private long retries;

  /** A client of {@code nodes} (any of the cluster's nodes; at least one) with {@code options}. */
  public ReplicaKvClient(List<HostAndPort> nodes, Options options) {
    if (nodes.isEmpty()) {
      throw new IllegalArgumentException("no nodes");
    }
    this.nodes = List.copyOf(nodes);
    this.options = Objects.requireNonNull(options);
    this.connections = new Jedis[nodes.size()];
    this.connectionTokens = new String[nodes.size()];
  }

  // ---------------------------------------------------------------- commands

  public synchronized String get(String key) {
    return run(true, p -> p.get(key));
  }

  public synchronized String set(String key, String value) {
    return run(false, p -> p.set(key, value));
  }

  public synchronized String setex(String key, long seconds, String value) {
    return run(false, p -> p.setex(key, seconds, value));
  }

  public synchronized long del(String key) {
    return run(false, p -> p.del(key));
  }

  public synchronized boolean exists(String key) {
    return run(true, p -> p.exists(key));
  }

  public synchronized long incr(String key) {
    return run(false, p -> p.incr(key));
  }

  public synchronized long incrBy(String key, long increment) {
    return run(false, p -> p.incrBy(key, increment));
  }

  public synchronized long decr(String key) {
    return run(false, p -> p.decr(key));
  }

  public synchronized long expire(String key, long seconds) {
    return run(false, p -> p.expire(key, seconds));
  }

  public synchronized long ttl(String key) {
    return run(true, p -> p.ttl(key));
  }

  public synchronized long hset(String key, String field, String value) {
    return run(false, p -> p.hset(key, field, value));
  }

  public synchronized String hget(String key, String field) {
    return run(true, p -> p.hget(key, field));
  }

  /**
   * Any other command ({@code SADD}, {@code SMEMBERS}, {@code SITE LINK ADD}, {@code KEYSPACE
   * LIST}, ...) with the session carried as for the others. It is treated as a write: sent to the
   * first node that answers and retried only when the error says it ran nothing. The answer comes
   * back as Java values: bulk and simple strings as {@link String} (UTF-8), integers as {@link
   * Long}, arrays and maps as {@link List}, nil as null; an error reply throws {@link
   * JedisDataException}.
   */
  public synchronized Object command(String name, String... arguments) {
    Objects.requireNonNull(name, "name");
    byte[] raw = name.getBytes(StandardCharsets.UTF_8);
    ProtocolCommand command = () -> raw;
    return decoded(run(false, p -> p.sendCommand(command, arguments)));
  }

  /** Jedis's raw reply as strings, longs and lists. */
  static Object decoded(Object reply) {
    if (reply instanceof byte[] bytes) {
      return new String(bytes, StandardCharsets.UTF_8);
    }
    if (reply instanceof List<?> list) {
      List<Object> out = new ArrayList<>(list.size());
      list.forEach(item -> out.add(decoded(item)));
      return out;
    }
    if (reply instanceof java.util.Map<?, ?> map) {
      List<Object> out = new ArrayList<>(2 * map.size());
      map.forEach(
          (key, value) -> {
            out.add(decoded(key));
            out.add(decoded(value));
          });
      return out;
    }
    return reply;
  }

  // ---------------------------------------------------------------- the session

  /** The session token as of the last answer (pass it to another client's resumeSession). */
  public synchronized String sessionToken() {
    return token;
  }

  /**
   * Continues the session of {@code otherToken} as well: later reads see at least what it saw. The
   * token is checked by the next node this client talks to ({@code -ERR invalid session token}
   * surfaces as an exception then).
   */
  public synchronized void resumeSession(String otherToken) {
    Objects.requireNonNull(otherToken, "token");
    token = SessionTokens.merge(token, otherToken);
  }

  /** Commands this client resent after a TRYAGAIN or an unreachable node. */
  public synchronized long retries() {
    return retries;
  }

  // ---------------------------------------------------------------- the machinery

  private <T> T run(boolean read, Function<Pipeline, Response<T>> command) {
    RuntimeException last = null;
    int start = read && options.spreadReads() ? nextReader++ % nodes.size() : 0;
    for (int attempt = 0; attempt < options.attempts(); attempt++) {
      int node = (start + attempt) % nodes.size();
      if (attempt > 0) {
        retries++;
        pause(attempt);
      }
      Jedis connection;
      try {
        connection = connection(node);
      } catch (JedisConnectionException e) {
        last = e;
        continue; // nothing was sent
      }
      try {
        return once(node, connection, command);
      } catch (JedisConnectionException e) {
        drop(node);
        if (!read) {
          throw e; // the write may have reached the node
        }
        last = e;
      } catch (JedisDataException e) {
        if (!retryable(e.getMessage(), read)) {
          throw e;
        }
        last = e;
      }
    }
    throw last;
  }

  private <T> T once(int node, Jedis connection, Function<Pipeline, Response<T>> command) {
    Pipeline pipeline = connection.pipelined();
    Response<Object> resumed = null;
    String sent = token;
    if (!sent.equals(EMPTY_TOKEN) && !sent.equals(connectionTokens[node])) {
      resumed = pipeline.sendCommand(SESSION, "RESUME", sent);
    }
    Response<T> answer = command.apply(pipeline);
    Response<Object> tokenNow = pipeline.sendCommand(SESSION, "TOKEN");
    pipeline.sync();
    if (resumed != null) {
      resumed.get(); // throws on a refused token
    }
    String reached = text(tokenNow.get());
    connectionTokens[node] = reached;
    token = SessionTokens.merge(token, reached);
    return answer.get();
  }

  private Jedis connection(int node) {
    Jedis c = connections[node];
    if (c != null && c.isConnected() && !c.isBroken()) {
      return c;
    }
    drop(node);
    HostAndPort address = nodes.get(node);
    c =
        new Jedis(
            address,
            redis.clients.jedis.DefaultJedisClientConfig.builder()
                .timeoutMillis(options.timeoutMillis())
                .database(options.keyspace())
                .autoNegotiateProtocol(false)
                .build());
    try {
      c.connect();
    } catch (RuntimeException e) {
      c.close();
      throw e instanceof JedisConnectionException jce
          ? jce
          : new JedisConnectionException("cannot open " + address + ": " + e.getMessage(), e);
    }
    connections[node] = c;
    connectionTokens[node] = null;
    return c;
  }

  private void drop(int node) {
    Jedis c = connections[node];
    connections[node] = null;
    connectionTokens[node] = null;
    if (c != null) {
      try {
        c.close();
      } catch (RuntimeException e) {
        // already broken: nothing to release
      }
    }
  }

  private static void pause(int attempt) {
    try {
      Thread.sleep(RETRY_PAUSE_MILLIS * attempt);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while retrying", e);
    }
  }

  private static String text(Object reply) {
    if (reply instanceof byte[] bytes) {
      return new String(bytes, StandardCharsets.US_ASCII);
    }
    return String.valueOf(reply);
  }

  /** Whether an error reply lets the command be sent again (to another node). */
  static boolean retryable(String message, boolean read) {
    if (message == null) {
      return false;
    }
    if (read) {
      return message.startsWith("TRYAGAIN") || message.startsWith("CLUSTERDOWN");
    }
    return writeNotRun(message);
  }

  /**
   * Whether a write's error says the node ran nothing: no leader or replica known yet, or a leader
   * that may not accept writes now (checked before the command runs). "Outcome unknown" and
   * forwarding failures may have been applied and are not in this list.
   */
  static boolean writeNotRun(String message) {
    List<String> notRun = new ArrayList<>();
    notRun.add("has no leader right now");
    notRun.add("has no replica group on this node yet");
    notRun.add("cannot serve yet");
    notRun.add("NOREPLICAS");
    for (String marker : notRun) {
      if (message.contains(marker)) {
        return !message.contains("outcome unknown") && !message.contains("may or may not");
      }
    }
    return false;
  }

  @Override
  public synchronized void close() {
    for (int i = 0; i < connections.length; i++) {
      drop(i);
    }
  }
}
