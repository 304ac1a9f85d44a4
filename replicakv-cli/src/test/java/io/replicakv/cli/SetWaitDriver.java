package io.replicakv.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisException;

/**
 * A measurement program, not a test: closed-loop Jedis clients that each do one {@code SET} and,
 * when asked, one {@code WAIT replicas 0} per operation, one operation at a time per client, and
 * print ops/s with the p50 and p99 of the whole operation's latency. Against Redis, {@code SET} +
 * {@code WAIT 1 0} is the stand-in for a write acknowledged by one replica; against ReplicaKV the
 * same loop runs with no {@code WAIT} (ReplicaKV has none) on a keyspace whose {@code acks} setting
 * makes the {@code SET} reply wait itself, so both sides measure one client-visible replicated
 * write per operation.
 *
 * <p>{@code SetWaitDriver LABEL PORT DB THREADS OPS_PER_THREAD WAIT_REPLICAS} (WAIT_REPLICAS -1: no
 * WAIT). Keys are random over 100 million per client seed (fixed seeds), values 3 bytes like
 * redis-benchmark's default. Errors are counted, not retried, and left out of the latencies. One
 * line of output: {@code LABEL ops/s p50_ms p99_ms errors}.
 */
final class SetWaitDriver {
  /** Keys per client draw from this many. */
  static final long KEY_SPACE = 100_000_000L;

  /** Client read timeout, generous for a loaded machine. */
  static final int CLIENT_TIMEOUT_MILLIS = 30_000;

  /** Seed of the first client's key draws; client i uses SEED + i. */
  static final long SEED = 42;

  /** The whole run stops by itself after this long. */
  static final long RUN_MAX_MINUTES = 10;

  public static void main(String[] args) throws Exception {
    String label = args[0];
    int port = Integer.parseInt(args[1]);
    int db = Integer.parseInt(args[2]);
    int threads = Integer.parseInt(args[3]);
    int opsPerThread = Integer.parseInt(args[4]);
    int waitReplicas = Integer.parseInt(args[5]);
    long[][] latencies = new long[threads][];
    AtomicLong errors = new AtomicLong();
    String firstError[] = {null};
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    List<CompletableFuture<Void>> clients = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(RUN_MAX_MINUTES);
    long start = System.nanoTime();
    for (int t = 0; t < threads; t++) {
      int client = t;
      clients.add(
          CompletableFuture.runAsync(
              () -> {
                long[] mine = new long[opsPerThread];
                int done = 0;
                SplittableRandom random = new SplittableRandom(SEED + client);
                try (Jedis j = new Jedis("127.0.0.1", port, CLIENT_TIMEOUT_MILLIS)) {
                  j.select(db);
                  for (int i = 0; i < opsPerThread && System.nanoTime() < deadline; i++) {
                    String key = "key:" + random.nextLong(KEY_SPACE);
                    long t0 = System.nanoTime();
                    try {
                      j.set(key, "xxx");
                      if (waitReplicas >= 0) {
                        long got = j.waitReplicas(waitReplicas, 0);
                        if (got < waitReplicas) {
                          throw new IllegalStateException("WAIT answered " + got);
                        }
                      }
                      mine[done++] = System.nanoTime() - t0;
                    } catch (JedisException | IllegalStateException e) {
                      errors.incrementAndGet();
                      synchronized (firstError) {
                        firstError[0] = firstError[0] == null ? e.getMessage() : firstError[0];
                      }
                    }
                  }
                }
                latencies[client] = Arrays.copyOf(mine, done);
              },
              pool));
    }
    CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new)).join();
    long elapsed = System.nanoTime() - start;
    pool.shutdown();
    long[] all = Arrays.stream(latencies).flatMapToLong(Arrays::stream).sorted().toArray();
    double opsPerSecond = all.length / (elapsed / 1e9);
    System.out.printf(
        "%s %.0f %.3f %.3f %d%s%n",
        label,
        opsPerSecond,
        percentile(all, 0.50),
        percentile(all, 0.99),
        errors.get(),
        firstError[0] == null ? "" : " first-error: " + firstError[0].replace(' ', '_'));
  }

  private static double percentile(long[] sortedNanos, double q) {
    if (sortedNanos.length == 0) {
      return Double.NaN;
    }
    int index = (int) Math.min(sortedNanos.length - 1, Math.ceil(q * sortedNanos.length) - 1);
    return sortedNanos[Math.max(0, index)] / 1e6;
  }
}
