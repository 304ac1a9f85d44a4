package io.replicakv.cli;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A measurement program, not a test: closed-loop clients that each send one etcd v3 put at a time
 * through etcd's JSON gateway ({@code POST /v3/kv/put} on a client URL, HTTP/1.1 keep-alive), and
 * print ops/s with the p50 and p99 of the put latency, in the same one-line format as {@link
 * SetWaitDriver}: {@code LABEL ops/s p50_ms p99_ms errors}. An etcd put returns once the Raft
 * leader has committed it on a majority (2 of 3), each member's WAL forced to disk.
 *
 * <p>{@code EtcdPutDriver LABEL URL THREADS OPS_PER_THREAD}. Keys and values as SetWaitDriver's
 * (random over 100 million per client seed, 3-byte values); a reply other than 200 is an error.
 */
final class EtcdPutDriver {
  /** Per request, generous for a loaded machine. */
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);

  /** The whole run stops by itself after this long. */
  static final long RUN_MAX_MINUTES = 10;

  public static void main(String[] args) throws Exception {
    String label = args[0];
    URI put = URI.create(args[1] + "/v3/kv/put");
    int threads = Integer.parseInt(args[2]);
    int opsPerThread = Integer.parseInt(args[3]);
    long[][] latencies = new long[threads][];
    AtomicLong errors = new AtomicLong();
    String[] firstError = {null};
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    List<CompletableFuture<Void>> clients = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(RUN_MAX_MINUTES);
    Base64.Encoder b64 = Base64.getEncoder();
    String value = b64.encodeToString("xxx".getBytes(StandardCharsets.UTF_8));
    long start = System.nanoTime();
    for (int t = 0; t < threads; t++) {
      int client = t;
      clients.add(
          CompletableFuture.runAsync(
              () -> {
                // one connection per client, like a Jedis client
                HttpClient http =
                    HttpClient.newBuilder()
                        .version(HttpClient.Version.HTTP_1_1)
                        .connectTimeout(REQUEST_TIMEOUT)
                        .build();
                long[] mine = new long[opsPerThread];
                int done = 0;
                SplittableRandom random = new SplittableRandom(SetWaitDriver.SEED + client);
                for (int i = 0; i < opsPerThread && System.nanoTime() < deadline; i++) {
                  String key =
                      b64.encodeToString(
                          ("key:" + random.nextLong(SetWaitDriver.KEY_SPACE))
                              .getBytes(StandardCharsets.UTF_8));
                  HttpRequest request =
                      HttpRequest.newBuilder(put)
                          .timeout(REQUEST_TIMEOUT)
                          .POST(
                              HttpRequest.BodyPublishers.ofString(
                                  "{\"key\":\"" + key + "\",\"value\":\"" + value + "\"}"))
                          .build();
                  long t0 = System.nanoTime();
                  try {
                    HttpResponse<String> reply =
                        http.send(request, HttpResponse.BodyHandlers.ofString());
                    if (reply.statusCode() != 200) {
                      throw new java.io.IOException(reply.statusCode() + " " + reply.body());
                    }
                    mine[done++] = System.nanoTime() - t0;
                  } catch (java.io.IOException e) {
                    errors.incrementAndGet();
                    synchronized (firstError) {
                      firstError[0] = firstError[0] == null ? e.toString() : firstError[0];
                    }
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
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
    System.out.printf(
        "%s %.0f %.3f %.3f %d%s%n",
        label,
        all.length / (elapsed / 1e9),
        percentile(all, 0.50),
        percentile(all, 0.99),
        errors.get(),
        firstError[0] == null ? "" : " first-error: " + firstError[0].replace(' ', '_'));
    System.exit(0);
  }

  private static double percentile(long[] sortedNanos, double q) {
    if (sortedNanos.length == 0) {
      return Double.NaN;
    }
    int index = (int) Math.min(sortedNanos.length - 1, Math.ceil(q * sortedNanos.length) - 1);
    return sortedNanos[Math.max(0, index)] / 1e6;
  }
}
