package io.replicakv.cli;

import static org.awaitility.Awaitility.await;

import io.replicakv.net.fault.FaultControl;
import io.replicakv.net.fault.FaultNetwork;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.commands.ProtocolCommand;

/**
 * A cluster of server processes on loopback whose peer traffic all passes a {@link FaultNetwork} in
 * this JVM, for tests that cut, delay or make lossy the links between real nodes and that kill,
 * pause, resume and restart the processes.
 *
 * <p>Nodes are {@code n1..nN}, all metadata voters. Each node gets fixed free ports (RESP, HTTP,
 * peer, metadata) so that a restarted process comes back where the proxy and the metadata expect
 * it. Each node's {@code peer-routes} names the proxies of its outgoing links, so every forwarded
 * command, heartbeat and key move crosses the network; Raft metadata traffic goes direct. The
 * network's control port ({@link #controlPort}) serves {@code replicakv fault --control PORT}.
 */
final class FaultCluster implements AutoCloseable {
  /** Seed of the proxies' jitter and loss draws. */
  static final long SEED = 7;

  /** How long the members may take to register with the metadata quorum. */
  static final Duration FORM_DEADLINE = Duration.ofSeconds(180);

  private final Map<String, ServerProcess> nodes = new LinkedHashMap<>();
  private final Map<String, Integer> peerPorts = new LinkedHashMap<>();
  private final FaultNetwork network;
  private final FaultControl control;

  private FaultCluster(FaultNetwork network, FaultControl control) {
    this.network = network;
    this.control = control;
  }

  /** Starts {@code size} nodes with {@code extraArgs} (each a {@code --set=k=v} or flag). */
  static FaultCluster start(Path dir, int size, String... extraArgs) throws IOException {
    return start(dir, size, size, extraArgs);
  }

  /**
   * As above with only the first {@code voters} nodes in the metadata (Raft) group; the others
   * follow it. Five voters starting at once on a loaded machine have been seen to fail their
   * elections for the whole register timeout; three elect sooner and still survive one down node.
   */
  static FaultCluster start(Path dir, int size, int voters, String... extraArgs)
      throws IOException {
    // One batch for the nodes' ports and the proxies' listeners: a proxy bound to any free port
    // once the batch was released could take a node's port (seen: a node's RESP port served by the
    // proxy to another node's peer port, so that node never started serving).
    int proxies = size * (size - 1);
    int[] ports = ServerProcess.freePorts(4 * size + proxies);
    Map<String, Integer> peerPorts = new LinkedHashMap<>();
    StringBuilder voterList = new StringBuilder();
    for (int i = 0; i < size; i++) {
      peerPorts.put(id(i), ports[4 * i + 2]);
      if (i >= voters) {
        continue;
      }
      voterList
          .append(i > 0 ? "," : "")
          .append(id(i))
          .append("@127.0.0.1:")
          .append(ports[4 * i + 3]);
    }
    int[] nextProxyPort = {4 * size};
    FaultNetwork network = FaultNetwork.start(peerPorts, SEED, () -> ports[nextProxyPort[0]++]);
    FaultCluster cluster = new FaultCluster(network, FaultControl.start(network, 0));
    cluster.peerPorts.putAll(peerPorts);
    try {
      // All at once: each node gives up registering after ClusterNode's register timeout, so on a
      // loaded machine a node started first could quit before the last one has booted.
      List<java.util.concurrent.CompletableFuture<ServerProcess>> starting = new ArrayList<>();
      java.util.concurrent.ExecutorService starters =
          java.util.concurrent.Executors.newFixedThreadPool(size);
      for (int i = 0; i < size; i++) {
        List<String> args = new ArrayList<>();
        args.add("--set=node-id=" + id(i));
        args.add("--set=cluster-voters=" + voterList);
        args.add("--set=peer-port=" + ports[4 * i + 2]);
        args.add("--set=metadata-port=" + ports[4 * i + 3]);
        args.add("--set=peer-routes=" + network.peerRoutes(id(i)));
        args.addAll(List.of(extraArgs));
        Path data = dir.resolve(id(i));
        int port = ports[4 * i];
        int httpPort = ports[4 * i + 1];
        java.util.function.Supplier<ServerProcess> launch =
            () -> {
              try {
                return ServerProcess.start(data, port, httpPort, args.toArray(String[]::new));
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            };
        // the voters together; the others once the voters answer (they have registered), so that
        // a follower's register timeout does not run out while the voters are still electing
        starting.add(
            i < voters
                ? java.util.concurrent.CompletableFuture.supplyAsync(launch, starters)
                : java.util.concurrent.CompletableFuture.allOf(
                        starting
                            .subList(0, voters)
                            .toArray(java.util.concurrent.CompletableFuture[]::new))
                    .thenApplyAsync(ignored -> launch.get(), starters));
      }
      Throwable failed = null;
      for (int i = 0; i < size; i++) {
        try {
          cluster.nodes.put(id(i), starting.get(i).join());
        } catch (java.util.concurrent.CompletionException e) {
          failed = failed == null ? e.getCause() : failed;
        }
      }
      starters.shutdown();
      if (failed != null) {
        throw new AssertionError("a node did not start: " + failed, failed);
      }
      await("all " + size + " members registered")
          .atMost(FORM_DEADLINE)
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  cluster.nodes.values().stream()
                      .allMatch(
                          n ->
                              LocalCluster.query(n.port(), "CLUSTER INFO")
                                  .contains("cluster_known_nodes:" + size)));
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      String state = cluster.describe();
      cluster.close();
      throw new AssertionError(e.getMessage() + "\n" + state, e);
    } catch (RuntimeException | Error e) {
      cluster.close();
      throw e;
    }
    return cluster;
  }

  private static String id(int index) {
    return "n" + (index + 1);
  }

  ServerProcess node(String id) {
    ServerProcess n = nodes.get(id);
    if (n == null) {
      throw new IllegalArgumentException("no node " + id + " in " + nodes.keySet());
    }
    return n;
  }

  /** Node {@code id}'s own peer port (not its proxy's): for peers outside the fault network. */
  int peerPort(String id) {
    node(id);
    return peerPorts.get(id);
  }

  List<String> ids() {
    return List.copyOf(nodes.keySet());
  }

  FaultNetwork network() {
    return network;
  }

  int controlPort() {
    return control.port();
  }

  /** Holds the traffic between {@code a} and {@code b} in both directions. */
  void cut(String a, String b) {
    network.cut(a, b, false);
  }

  /** Holds only the traffic from {@code from} to {@code to}. */
  void cutOneWay(String from, String to) {
    network.cut(from, to, true);
  }

  /** Latency (plus up to {@code jitterMillis}) between {@code a} and {@code b}, both ways. */
  void delay(String a, String b, long delayMillis, long jitterMillis) {
    network.delay(a, b, delayMillis, jitterMillis, false);
  }

  void heal(String a, String b) {
    network.heal(a, b);
  }

  /** Heals every link and resumes every paused node. */
  void healAll() throws IOException {
    network.heal();
    for (ServerProcess n : nodes.values()) {
      if (n.isAlive() && n.paused()) {
        n.resume();
      }
    }
  }

  void kill9(String id) throws InterruptedException {
    node(id).kill9();
  }

  void pause(String id) throws IOException {
    node(id).pause();
  }

  void resume(String id) throws IOException {
    node(id).resume();
  }

  void restart(String id) throws IOException, InterruptedException {
    node(id).restart();
  }

  /** A client of node {@code id} with a read timeout above the peer request timeout. */
  Jedis client(String id) {
    return new Jedis("127.0.0.1", node(id).port(), 30_000);
  }

  /** Whether every node's CLUSTER NODES shows every member without the fail flag. */
  boolean allUpEverywhere() {
    for (ServerProcess n : nodes.values()) {
      String text = LocalCluster.query(n.port(), "CLUSTER NODES");
      long up =
          text.lines()
              .filter(l -> nodes.containsKey(l.split(" ")[0]))
              .filter(l -> !l.contains("fail"))
              .count();
      if (up != nodes.size()
          || !LocalCluster.query(n.port(), "CLUSTER INFO").contains("cluster_state:ok")) {
        return false;
      }
    }
    return true;
  }

  /** A key whose slot node {@code id} owns, by CLUSTER SLOTS of node {@code askedNode}. */
  String keyOwnedBy(String id, String askedNode) {
    try (Jedis j = client(askedNode)) {
      List<Object> slots = j.clusterSlots();
      for (int i = 0; i < 100_000; i++) {
        String key = "key-" + id + "-" + i;
        long slot = j.clusterKeySlot(key);
        for (Object range : slots) {
          List<?> r = (List<?>) range;
          if ((Long) r.get(0) <= slot && slot <= (Long) r.get(1)) {
            List<?> node = (List<?>) r.get(2);
            if (new String((byte[]) node.get(2)).equals(id)) {
              return key;
            }
          }
        }
      }
    }
    throw new AssertionError("no key owned by " + id);
  }

  /**
   * The {@code --set} arguments of the single-leader process tests: heartbeats every 200 ms,
   * failover after {@code failoverTimeoutMillis}, a replicated write answered within 2 s.
   */
  static String[] fastReplication(long failoverTimeoutMillis) {
    return new String[] {
      "--set=heartbeat-interval-ms=200",
      "--set=failover-timeout-ms=" + failoverTimeoutMillis,
      "--set=replication-write-timeout-ms=2000"
    };
  }

  /** A RESP command by name, for commands Jedis has no method for. */
  static ProtocolCommand command(String name) {
    byte[] raw = name.getBytes(StandardCharsets.UTF_8);
    return () -> raw;
  }

  /** {@code KEYSPACE CREATE name options...} through n1; returns the new keyspace's number. */
  int createKeyspace(String name, String... options) {
    List<String> args = new ArrayList<>(List.of("CREATE", name));
    args.addAll(List.of(options));
    try (Jedis j = client("n1")) {
      return ((Long) j.sendCommand(command("KEYSPACE"), args.toArray(String[]::new))).intValue();
    }
  }

  /**
   * The leader of the replica group of {@code key} in {@code keyspace}, as {@code askedNode} sees
   * it.
   */
  String leaderOf(String askedNode, int keyspace, String key) {
    try (Jedis j = client(askedNode)) {
      j.select(keyspace);
      long slot = j.clusterKeySlot(key);
      Object leader = j.sendCommand(command("CLUSTER"), "REPLICALEADER", Long.toString(slot));
      return new String((byte[]) leader, StandardCharsets.UTF_8);
    }
  }

  /** Until {@code SET key w} of every key in {@code keyspace} answers OK through every node. */
  void awaitWritable(Duration deadline, int keyspace, String... keys) {
    for (String node : ids()) {
      try (Jedis j = client(node)) {
        await("writes through " + node + " to keyspace " + keyspace)
            .atMost(deadline)
            .pollInterval(Duration.ofMillis(250))
            .ignoreExceptions()
            .until(
                () -> {
                  j.select(keyspace);
                  for (String key : keys) {
                    if (!"OK".equals(j.set(key, "w"))) {
                      return false;
                    }
                  }
                  return true;
                });
      }
    }
  }

  /** For a failure message: each node's CLUSTER INFO, its liveness and the end of its output. */
  String describe() {
    StringBuilder b = new StringBuilder(network.status());
    for (Map.Entry<String, ServerProcess> e : nodes.entrySet()) {
      ServerProcess n = e.getValue();
      List<String> lines = n.output().lines().toList();
      b.append("== ")
          .append(e.getKey())
          .append(n.isAlive() ? (n.paused() ? " paused" : " running") : " exited")
          .append('\n')
          .append(LocalCluster.query(n.port(), "CLUSTER INFO").replace("\r", ""))
          .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size())))
          .append('\n');
    }
    return b.toString();
  }

  /** Stops every process and the network. */
  @Override
  public void close() {
    nodes.values().forEach(ServerProcess::close);
    control.close();
    network.close();
  }
}
