package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.LongFunction;
import java.util.function.Supplier;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * A client thread for process tests: {@code SET key(n) value(n)} for n = 0, 1, 2, ... through one
 * node until stopped, recording what the servers acknowledged and what may or may not have applied,
 * so that a test can check afterwards that no acknowledged write was lost.
 *
 * <p>Each reply is one of three outcomes. {@code OK}: the write is acknowledged; it becomes the
 * key's last acknowledged value and clears the values of that key whose outcome was unknown. An
 * error reply: the test's policy says whether to send the same write again ({@link OnError#RETRY},
 * for refusals that applied nothing: TRYAGAIN while a slot moves), to count it and go on to the
 * next write ({@link OnError#SKIP}), or to end the writer with a failure that {@link #stopAndCheck}
 * reports ({@link OnError#FAIL}); a reply that says the outcome is unknown makes the value
 * uncertain. A lost connection: the write in flight is uncertain (it may have applied); the writer
 * reconnects once the test's condition holds ({@link Builder#reconnectWhen}) or, without one,
 * fails.
 *
 * <p>Bounded: the writer stops by itself after {@link Builder#maxRunTime} whatever happens, keeps
 * at most {@value #DISTINCT_ERRORS_MAX} distinct error texts, and waits at most the reconnect
 * deadline for a node to come back.
 */
final class AckedWriter implements AutoCloseable {
  /** What the writer does after an error reply. */
  enum OnError {
    /** Send the same write again: the refusal applied nothing. */
    RETRY,
    /** Count the error by kind and go on with the next write. */
    SKIP,
    /** End the writer; {@link #stopAndCheck} fails the test with the reply. */
    FAIL
  }

  /** Distinct error texts (digits folded) kept for the test's report. */
  static final int DISTINCT_ERRORS_MAX = 100;

  /** How long {@link #stop} waits for the thread to finish its write in flight. */
  static final Duration STOP_DEADLINE = Duration.ofMinutes(2);

  /** Error kind counted for a lost connection. */
  static final String CONNECTION = "connection";

  private final Supplier<Jedis> connect;
  private final int keyspace;
  private final LongFunction<String> keyOf;
  private final LongFunction<String> valueOf;
  private final Function<String, OnError> onError;
  private final BooleanSupplier reconnectWhen;
  private final Duration reconnectDeadline;
  private final long maxRunNanos;

  /** Per key, the last value the servers acknowledged (shared with the test when it gave one). */
  final Map<String, String> acknowledged;

  /** Per key, values written after its last acknowledgement whose outcome is unknown. */
  final Map<String, Set<String>> uncertain = new ConcurrentHashMap<>();

  private final AtomicLong acknowledgedWrites = new AtomicLong();
  private final AtomicLong retries = new AtomicLong();
  private final Map<String, AtomicLong> errorsByKind = new ConcurrentHashMap<>();
  private final Set<String> distinctErrors = ConcurrentHashMap.newKeySet();
  private final AtomicLong faultAtNanos = new AtomicLong();
  private final AtomicLong firstOkAfterFaultNanos = new AtomicLong();
  private final AtomicLong acknowledgedAfterFault = new AtomicLong();
  private final AtomicBoolean stop = new AtomicBoolean();
  private final Thread thread;
  private volatile Throwable failure;

  private AckedWriter(Builder b) {
    this.connect = b.connect;
    this.keyspace = b.keyspace;
    this.keyOf = b.keyOf;
    this.valueOf = b.valueOf;
    this.onError = b.onError;
    this.reconnectWhen = b.reconnectWhen;
    this.reconnectDeadline = b.reconnectDeadline;
    this.maxRunNanos = b.maxRunTime.toNanos();
    this.acknowledged = b.acknowledged;
    this.thread = new Thread(this::run, "acked-writer-" + b.name);
    this.thread.setDaemon(true);
  }

  /** A writer whose connections {@code connect} opens (again after a lost one). */
  static Builder through(Supplier<Jedis> connect) {
    return new Builder(connect);
  }

  /** A writer through the RESP port {@code port} of 127.0.0.1, with a 30 s socket timeout. */
  static Builder throughPort(int port) {
    return new Builder(() -> new Jedis("127.0.0.1", port, 30_000));
  }

  /** Options of a writer; {@link #start()} starts its thread. */
  static final class Builder {
    private final Supplier<Jedis> connect;
    private int keyspace;
    private LongFunction<String> keyOf = n -> "k" + n;
    private LongFunction<String> valueOf = n -> "v" + n;
    private Function<String, OnError> onError = message -> OnError.SKIP;
    private BooleanSupplier reconnectWhen;
    private Duration reconnectDeadline = Duration.ofMinutes(5);
    private Duration maxRunTime = Duration.ofMinutes(10);
    private Map<String, String> acknowledged = new ConcurrentHashMap<>();
    private String name = "";

    private Builder(Supplier<Jedis> connect) {
      this.connect = connect;
    }

    /** The keyspace each connection selects (default 0: no SELECT is sent). */
    Builder keyspace(int keyspace) {
      this.keyspace = keyspace;
      return this;
    }

    /** The key of write n; called once per write, in order, on the writer's thread. */
    Builder keys(LongFunction<String> keyOf) {
      this.keyOf = keyOf;
      return this;
    }

    /** The value of write n; called once per write, in order, on the writer's thread. */
    Builder values(LongFunction<String> valueOf) {
      this.valueOf = valueOf;
      return this;
    }

    /** What to do after an error reply, by its text (default: skip every one). */
    Builder onError(Function<String, OnError> onError) {
      this.onError = onError;
      return this;
    }

    /** Retry the same write after errors starting with one of {@code prefixes}; fail on others. */
    Builder retryOnly(String... prefixes) {
      return onError(
          message -> {
            for (String prefix : prefixes) {
              if (message.startsWith(prefix)) {
                return OnError.RETRY;
              }
            }
            return OnError.FAIL;
          });
    }

    /**
     * After a lost connection, reconnect once {@code ready} holds (checked every 200 ms for at most
     * {@code deadline}; the writer ends if it never does). Without this a lost connection fails the
     * writer.
     */
    Builder reconnectWhen(BooleanSupplier ready, Duration deadline) {
      this.reconnectWhen = ready;
      this.reconnectDeadline = deadline;
      return this;
    }

    /** The writer stops by itself after this long (default 10 minutes). */
    Builder maxRunTime(Duration maxRunTime) {
      this.maxRunTime = maxRunTime;
      return this;
    }

    /** Record acknowledged writes into {@code map} (shared by writers of one test, pre-filled). */
    Builder acknowledgedInto(Map<String, String> map) {
      this.acknowledged = map;
      return this;
    }

    /** Names the writer's thread. */
    Builder name(String name) {
      this.name = name;
      return this;
    }

    AckedWriter start() {
      AckedWriter writer = new AckedWriter(this);
      writer.thread.start();
      return writer;
    }
  }

  private void run() {
    long endNanos = System.nanoTime() + maxRunNanos;
    Jedis j = null;
    try {
      for (long n = 0; !stop.get() && System.nanoTime() < endNanos; n++) {
        String key = keyOf.apply(n);
        String value = valueOf.apply(n);
        boolean sent = false;
        try {
          while (!stop.get() && System.nanoTime() < endNanos) {
            if (j == null) {
              j = connect.get();
              if (keyspace != 0) {
                j.select(keyspace);
              }
            }
            boolean startedAfterFault = faultAtNanos.get() != 0;
            sent = true;
            if (write(j, key, value, startedAfterFault)) {
              break;
            }
            retries.incrementAndGet();
          }
        } catch (JedisConnectionException e) {
          count(CONNECTION, CONNECTION + ": " + e.getMessage());
          if (sent) {
            uncertain.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet()).add(value);
          }
          closeQuietly(j);
          j = null;
          if (reconnectWhen == null) {
            throw e;
          }
          if (!stop.get() && !awaitReconnect()) {
            return;
          }
        }
      }
    } catch (Throwable t) {
      failure = t;
    } finally {
      closeQuietly(j);
    }
  }

  /** One attempt; false when the policy says to send the same write again. */
  private boolean write(Jedis j, String key, String value, boolean startedAfterFault) {
    try {
      if ("OK".equals(j.set(key, value))) {
        acknowledged.put(key, value);
        uncertain.remove(key);
        acknowledgedWrites.incrementAndGet();
        if (startedAfterFault) {
          firstOkAfterFaultNanos.compareAndSet(0, System.nanoTime());
          acknowledgedAfterFault.incrementAndGet();
        }
      }
      return true;
    } catch (JedisDataException e) {
      String message = String.valueOf(e.getMessage());
      switch (onError.apply(message)) {
        case RETRY -> {
          return false;
        }
        case SKIP -> {
          count(message.split(" ")[0], message);
          if (message.contains("outcome unknown") || message.contains("may or may not")) {
            uncertain.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet()).add(value);
          }
          return true;
        }
        case FAIL -> throw e;
      }
      throw new IllegalStateException("unreachable");
    }
  }

  private void count(String kind, String message) {
    errorsByKind.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
    if (distinctErrors.size() < DISTINCT_ERRORS_MAX) {
      distinctErrors.add(message.replaceAll("[0-9]+", "#"));
    }
  }

  private boolean awaitReconnect() {
    try {
      await()
          .atMost(reconnectDeadline)
          .pollInterval(Duration.ofMillis(200))
          .until(() -> stop.get() || reconnectWhen.getAsBoolean());
      return true;
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      return false;
    }
  }

  private static void closeQuietly(Jedis j) {
    if (j != null) {
      try {
        j.close();
      } catch (RuntimeException e) {
        // the connection is dropped either way
      }
    }
  }

  /** From now on, writes that start count as "after the fault" (the test is about to inject it). */
  void markFault() {
    faultAtNanos.compareAndSet(0, System.nanoTime());
  }

  /** When the first write that started after {@link #markFault} was acknowledged; 0 if none yet. */
  long firstOkAfterFaultNanos() {
    return firstOkAfterFaultNanos.get();
  }

  /** Writes started after {@link #markFault} and acknowledged. */
  long acknowledgedAfterFault() {
    return acknowledgedAfterFault.get();
  }

  /** {@code OK} replies so far (a key written twice counts twice). */
  long acknowledgedWrites() {
    return acknowledgedWrites.get();
  }

  /** Error replies answered by sending the same write again. */
  long retries() {
    return retries.get();
  }

  /** Errors counted, by the first word of the reply ({@value #CONNECTION} for lost connections). */
  Map<String, Long> errorCounts() {
    Map<String, Long> out = new TreeMap<>();
    errorsByKind.forEach((kind, count) -> out.put(kind, count.get()));
    return out;
  }

  /** The distinct error texts seen, digits folded to {@code #}. */
  Set<String> distinctErrors() {
    return new LinkedHashSet<>(distinctErrors);
  }

  /** Whether the thread has ended (stopped, failed or out of time). */
  boolean isDone() {
    return !thread.isAlive();
  }

  /** Why the writer ended early, or null. */
  Throwable failure() {
    return failure;
  }

  /**
   * Until at least {@code atLeast} keys hold an acknowledged value; fails early if the writer
   * ended.
   */
  void awaitAcknowledged(int atLeast, Duration deadline) {
    await("at least " + atLeast + " acknowledged writes")
        .atMost(deadline)
        .pollInterval(Duration.ofMillis(100))
        .until(() -> acknowledged.size() >= atLeast || isDone());
    assertThat(failure).as("writer failure").isNull();
    assertThat(acknowledged.size()).as("acknowledged writes").isGreaterThanOrEqualTo(atLeast);
  }

  /** Stops the writer and waits for its thread. */
  void stop() throws InterruptedException {
    stop.set(true);
    thread.join(STOP_DEADLINE.toMillis());
  }

  /**
   * Stops the writer and fails the test if its thread is still running, ended with a failure, or
   * had no write acknowledged; returns the number of acknowledged writes.
   */
  long stopAndCheck() throws InterruptedException {
    stop();
    assertThat(thread.isAlive()).as("writer stopped").isFalse();
    assertThat(failure).as("writer failure").isNull();
    assertThat(acknowledgedWrites.get()).as("writes acknowledged").isPositive();
    return acknowledgedWrites.get();
  }

  @Override
  public void close() throws InterruptedException {
    stop();
  }
}
