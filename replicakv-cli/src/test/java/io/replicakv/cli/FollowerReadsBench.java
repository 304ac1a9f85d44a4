package io.replicakv.cli;

import io.replicakv.client.ReplicaKvClient;
import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.cluster.InMemoryMetadataStore;
import io.replicakv.server.config.ServerConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.commands.ProtocolCommand;

/**
 * Read throughput of three in-process servers (in-memory metadata, loopback, dynamic ports): GETs
 * spread evenly over the three nodes, on a keyspace with {@code follower-reads=on} (every node
 * answers from its replica) and on one without (two reads in three are forwarded to the group
 * leader), plus the same follower reads through {@link ReplicaKvClient} sessions (each GET
 * pipelined with {@code SESSION TOKEN}). Prints operations per second per mode and round.
 * In-process so that it needs no metadata quorum; run by {@code bench/follower-reads-bench.sh}.
 *
 * <p>Arguments: seconds per measurement (default 10), reader threads per node (default 4), keys
 * (default 10,000). Fixed seed for the key choice.
 */
public final class FollowerReadsBench {
  private FollowerReadsBench() {}

  private static final long SEED = 20261201L;

  private static ProtocolCommand command(String name) {
    byte[] raw = name.getBytes(StandardCharsets.UTF_8);
    return () -> raw;
  }

  public static void main(String[] args) throws Exception {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
    int threadsPerNode = args.length > 1 ? Integer.parseInt(args[1]) : 4;
    int keys = args.length > 2 ? Integer.parseInt(args[2]) : 10_000;
    Path dir = Files.createTempDirectory("follower-reads-bench");
    InMemoryMetadataStore metadata = new InMemoryMetadataStore("bench");
    List<ReplicaKvServer> servers = new ArrayList<>();
    try {
      for (int i = 1; i <= 3; i++) {
        Map<String, String> settings = new HashMap<>();
        settings.put("port", "0");
        settings.put("http-port", "0");
        settings.put("peer-port", "0");
        settings.put("bind", "127.0.0.1");
        settings.put("data-dir", dir.resolve("n" + i).toString());
        settings.put("node-id", "n" + i);
        settings.put("cluster-voters", "n1@127.0.0.1:1");
        settings.put("loglevel", "warn");
        servers.add(
            new ReplicaKvServer(ServerConfig.load(null, settings))
                .withMetadataStore(metadata)
                .start());
      }
      int leaderOnly = create(servers, "leader-only", "off");
      int followers = create(servers, "follower-reads", "on");
      for (int keyspace : List.of(leaderOnly, followers)) {
        awaitWritable(servers, keyspace);
        try (Jedis j = jedis(servers.get(0), keyspace)) {
          for (int k = 0; k < keys; k++) {
            j.set("key:" + k, "value-" + k);
          }
        }
      }
      System.out.printf(
          "3 in-process nodes, %d reader threads per node, %d keys, %d s per measurement, %d"
              + " cores%n",
          threadsPerNode, keys, seconds, Runtime.getRuntime().availableProcessors());
      measure(servers, leaderOnly, threadsPerNode, keys, 2, false); // warm-up
      measure(servers, followers, threadsPerNode, keys, 2, false);
      System.out.printf("%-28s %12s%n", "mode", "GET ops/s");
      for (int round = 0; round < 2; round++) {
        report("leader-only", measure(servers, leaderOnly, threadsPerNode, keys, seconds, false));
        report("follower-reads", measure(servers, followers, threadsPerNode, keys, seconds, false));
        report(
            "follower-reads + client",
            measure(servers, followers, threadsPerNode, keys, seconds, true));
      }
    } finally {
      for (ReplicaKvServer server : servers) {
        server.close();
      }
      metadata.close();
    }
  }

  private static void report(String mode, double rate) {
    System.out.printf("%-28s %12.0f%n", mode, rate);
  }

  private static Jedis jedis(ReplicaKvServer server, int keyspace) {
    Jedis j = new Jedis("127.0.0.1", server.port(), 20_000);
    j.select(keyspace);
    return j;
  }

  private static int create(List<ReplicaKvServer> servers, String name, String followerReads) {
    try (Jedis j = new Jedis("127.0.0.1", servers.get(0).port(), 20_000)) {
      return ((Long)
              j.sendCommand(
                  command("KEYSPACE"),
                  "CREATE",
                  name,
                  "style",
                  "single-leader",
                  "follower-reads",
                  followerReads))
          .intValue();
    }
  }

  /** Until a write through every node succeeds (groups elected); gives up after five minutes. */
  private static void awaitWritable(List<ReplicaKvServer> servers, int keyspace)
      throws InterruptedException {
    long deadline = System.nanoTime() + 300_000_000_000L;
    for (ReplicaKvServer server : servers) {
      while (true) {
        try (Jedis j = jedis(server, keyspace)) {
          boolean all = true;
          for (int i = 0; i < 30; i++) {
            all &= "OK".equals(j.set("warm-" + i, "w"));
          }
          if (all) {
            break;
          }
        } catch (RuntimeException e) {
          if (System.nanoTime() > deadline) {
            throw e;
          }
        }
        Thread.sleep(200); // a bench main polling for elections, not a test
      }
    }
  }

  private static double measure(
      List<ReplicaKvServer> servers,
      int keyspace,
      int threadsPerNode,
      int keys,
      int seconds,
      boolean sessions)
      throws InterruptedException {
    AtomicLong done = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    long endNanos = System.nanoTime() + seconds * 1_000_000_000L;
    List<Thread> threads = new ArrayList<>();
    for (int node = 0; node < servers.size(); node++) {
      for (int t = 0; t < threadsPerNode; t++) {
        ReplicaKvServer server = servers.get(node);
        SplittableRandom random = new SplittableRandom(SEED + node * 100L + t);
        threads.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      long mine = 0;
                      if (sessions) {
                        try (ReplicaKvClient c =
                            new ReplicaKvClient(
                                List.of(new HostAndPort("127.0.0.1", server.port())),
                                ReplicaKvClient.Options.defaults().withKeyspace(keyspace))) {
                          while (System.nanoTime() < endNanos) {
                            c.get("key:" + random.nextInt(keys));
                            mine++;
                          }
                        } catch (RuntimeException e) {
                          failed.incrementAndGet();
                        }
                      } else {
                        try (Jedis j = jedis(server, keyspace)) {
                          while (System.nanoTime() < endNanos) {
                            j.get("key:" + random.nextInt(keys));
                            mine++;
                          }
                        } catch (RuntimeException e) {
                          failed.incrementAndGet();
                        }
                      }
                      done.addAndGet(mine);
                    }));
      }
    }
    for (Thread t : threads) {
      t.join();
    }
    if (failed.get() > 0) {
      System.out.println("  (" + failed.get() + " reader threads stopped on an error)");
    }
    return done.get() / (double) seconds;
  }
}
