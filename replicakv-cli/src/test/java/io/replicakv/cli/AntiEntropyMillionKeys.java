package io.replicakv.cli;

import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.cluster.InMemoryMetadataStore;
import io.replicakv.server.config.ServerConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.commands.ProtocolCommand;

/**
 * The anti-entropy phase of {@code bench/leaderless-benchmark.sh} with the three nodes in one JVM
 * over loopback and an in-memory metadata store instead of the Ratis quorum (on a machine too
 * loaded for a 3-node Ratis group to form, the script's {@code replicakv up} cannot start). Same
 * server code for the leaderless keyspace, frames and {@code KV.REPAIR}: load KEYS keys into a
 * leaderless keyspace N=3 R=2 W=2 (read repair off) through all three nodes at once (pipelines of
 * {@link #BATCH} writes), stop node 3, overwrite 1% of the keys through nodes 1 and 2, start node 3
 * again from its data folder, then run two repair passes and print what each reports.
 *
 * <pre>
 *   root=. . bench/test-classpath.sh
 *   "${test_java[@]}" -cp "$test_cp" io.replicakv.cli.AntiEntropyMillionKeys [KEYS]
 * </pre>
 *
 * A benchmark, not a test: it prints numbers and asserts nothing. Node 3 is stopped by closing it
 * (its log is forced on close), not by SIGKILL as the script does.
 */
public final class AntiEntropyMillionKeys {
  /** Writes in flight per pipeline (one pipeline per node); far below a node's in-flight limit. */
  static final int BATCH = 2_000;

  private final Path dir;
  private final InMemoryMetadataStore metadata = new InMemoryMetadataStore("bench");
  private final List<ReplicaKvServer> servers = new ArrayList<>();
  private final List<ServerConfig> configs = new ArrayList<>();

  private AntiEntropyMillionKeys(Path dir) {
    this.dir = dir;
  }

  public static void main(String[] args) throws Exception {
    int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    AntiEntropyMillionKeys bench =
        new AntiEntropyMillionKeys(Files.createTempDirectory("replicakv-ae-"));
    try {
      bench.run(keys);
    } finally {
      bench.servers.forEach(
          s -> {
            if (s != null) {
              s.close();
            }
          });
      bench.metadata.close();
    }
    System.exit(0);
  }

  private static ProtocolCommand command(String name) {
    byte[] raw = name.getBytes(StandardCharsets.UTF_8);
    return () -> raw;
  }

  private void start(int node) throws Exception {
    String id = "n" + (node + 1);
    Map<String, String> settings = new HashMap<>();
    settings.put("port", "0");
    settings.put("http-port", "0");
    settings.put("peer-port", "0");
    settings.put("bind", "127.0.0.1");
    settings.put("data-dir", dir.resolve(id).toString());
    settings.put("node-id", id);
    settings.put("cluster-voters", "n1@127.0.0.1:1");
    ServerConfig config = ServerConfig.load(null, settings);
    if (configs.size() <= node) {
      configs.add(config);
      servers.add(null);
    }
    servers.set(node, new ReplicaKvServer(configs.get(node)).withMetadataStore(metadata).start());
  }

  private Jedis jedis(int node, int keyspace) {
    Jedis j = new Jedis("127.0.0.1", servers.get(node).port(), 900_000);
    j.select(keyspace);
    return j;
  }

  private void awaitServing(int node, int keyspace) throws InterruptedException {
    long deadline = System.nanoTime() + 600_000_000_000L;
    while (System.nanoTime() < deadline) {
      try (Jedis j = jedis(node, keyspace)) {
        if (j.sendCommand(command("KV.GET"), "warm-up", "R", "3") instanceof List) {
          return;
        }
      } catch (RuntimeException e) {
        // not serving yet
      }
      Thread.sleep(200); // polling a benchmark's setup, not synchronising a test
    }
    throw new IllegalStateException("node " + (node + 1) + " never served keyspace " + keyspace);
  }

  /** Writes prefix+i to key:i for i = first, first+step, ... < keys, pipelined through nodes. */
  private long[] load(int keyspace, int keys, int step, String prefix, int... nodes)
      throws Exception {
    AtomicLong ok = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < nodes.length; t++) {
      int lane = t;
      Thread thread =
          new Thread(
              () -> {
                try (Jedis j = jedis(nodes[lane], keyspace)) {
                  Pipeline p = j.pipelined();
                  int inBatch = 0;
                  for (long i = (long) lane * step; i < keys; i += (long) step * nodes.length) {
                    p.set("key:" + i, prefix + i);
                    if (++inBatch == BATCH) {
                      count(p.syncAndReturnAll(), ok, errors);
                      inBatch = 0;
                    }
                  }
                  count(p.syncAndReturnAll(), ok, errors);
                }
              },
              "load-" + lane);
      threads.add(thread);
      thread.start();
    }
    for (Thread thread : threads) {
      thread.join();
    }
    return new long[] {ok.get(), errors.get()};
  }

  private static void count(List<Object> replies, AtomicLong ok, AtomicLong errors) {
    for (Object reply : replies) {
      if ("OK".equals(reply)) {
        ok.incrementAndGet();
      } else {
        errors.incrementAndGet();
      }
    }
  }

  @SuppressWarnings("unchecked")
  private Map<String, Object> repair(int keyspace) {
    try (Jedis j = jedis(0, keyspace)) {
      List<Object> flat = (List<Object>) j.sendCommand(command("KV.REPAIR"), "ae");
      Map<String, Object> out = new LinkedHashMap<>();
      for (int i = 0; i + 1 < flat.size(); i += 2) {
        Object value = flat.get(i + 1);
        out.put(
            new String((byte[]) flat.get(i), StandardCharsets.UTF_8),
            value instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : value);
      }
      return out;
    }
  }

  private void run(int keys) throws Exception {
    for (int node = 0; node < 3; node++) {
      start(node);
    }
    int keyspace;
    try (Jedis j = new Jedis("127.0.0.1", servers.get(0).port(), 120_000)) {
      keyspace =
          ((Long)
                  j.sendCommand(
                      command("KEYSPACE"),
                      "CREATE",
                      "ae",
                      "style",
                      "leaderless",
                      "replicas",
                      "3",
                      "r",
                      "2",
                      "w",
                      "2",
                      "read-repair",
                      "false"))
              .intValue();
    }
    for (int node = 0; node < 3; node++) {
      awaitServing(node, keyspace);
    }
    System.out.printf(
        "anti-entropy: %d keys in keyspace ae (N=3 R=2 W=2, read repair off), 3 nodes in one JVM,"
            + " machine load %s%n",
        keys, Files.readString(Path.of("/proc/loadavg")).trim());
    long start = System.nanoTime();
    long[] loaded = load(keyspace, keys, 1, "value-", 0, 1, 2);
    System.out.printf(
        "loaded: %d OK, %d errors in %.1f s%n",
        loaded[0], loaded[1], (System.nanoTime() - start) / 1e9);
    servers.get(2).close();
    servers.set(2, null);
    start = System.nanoTime();
    long[] changed = load(keyspace, keys, 100, "changed-", 0, 1);
    System.out.printf(
        "n3 stopped; %d keys (1%%) overwritten through n1 and n2: %d OK, %d errors in %.1f s%n",
        (keys + 99) / 100, changed[0], changed[1], (System.nanoTime() - start) / 1e9);
    start = System.nanoTime();
    start(2);
    awaitServing(2, keyspace);
    System.out.printf("n3 restarted and serving in %.1f s%n", (System.nanoTime() - start) / 1e9);
    for (int pass = 1; pass <= 2; pass++) {
      start = System.nanoTime();
      Map<String, Object> report = repair(keyspace);
      System.out.printf(
          "pass %d (%.1f s seen by the client): %s%n",
          pass, (System.nanoTime() - start) / 1e9, report);
    }
  }
}
