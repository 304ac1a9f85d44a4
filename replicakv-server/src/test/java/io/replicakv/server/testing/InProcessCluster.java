package io.replicakv.server.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.core.util.Check;
import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.cluster.InMemoryMetadataStore;
import io.replicakv.server.config.ServerConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.commands.ProtocolCommand;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * Real servers in one JVM for tests: nodes {@code n1..nN} on 127.0.0.1 with dynamic RESP, HTTP and
 * peer ports, one data directory each under the test's temporary folder, sharing an in-memory
 * metadata store ({@code n1} is the configured voter). The test owns the cluster and closes it (a
 * try-with-resources or an {@code @AfterEach}); a node can be stopped, restarted on its data
 * directory with the same settings, or joined later.
 *
 * <p>The waits here are on conditions with a deadline the test chooses (generous: several JVMs of
 * other work share two cores). {@link #awaitLeaders} is the one readiness check for single-leader
 * keyspaces: every up node lists the keyspace's replica groups, each with a leader that every up
 * node agrees on, and writes through every up node succeed.
 */
public final class InProcessCluster implements AutoCloseable {
  /**
   * Warm-up writes through each node before a keyspace counts as writable by {@link #awaitLeaders}.
   */
  public static final int LEADER_WARM_UP_WRITES = 40;

  /** Warm-up writes through each node in {@link #awaitWritable}. */
  public static final int WRITABLE_WARM_UP_WRITES = 30;

  /** Interval between readiness polls. */
  private static final Duration POLL_INTERVAL = Duration.ofMillis(200);

  /** One replica-group line of {@code INFO replication}. */
  private static final Pattern GROUP_LINE =
      Pattern.compile(
          "group_(\\d+)_(\\d+):keyspace=\\d+,slots=\\d+,role=(\\w+),epoch=(\\d+),leader=([^,]*),");

  /** One replica group as a node's {@code INFO replication} shows it. */
  public record Group(int keyspace, String group, String role, long epoch, String leader) {}

  private final Path dir;
  private final Map<String, String> common;
  private final Duration clientTimeout;
  private final Duration deadline;
  private final InMemoryMetadataStore metadata = new InMemoryMetadataStore("test");
  private final List<ReplicaKvServer> servers = new ArrayList<>();
  private final List<Map<String, String>> settingsOf = new ArrayList<>();

  private InProcessCluster(Builder b) {
    this.dir = b.dir;
    this.common = Map.copyOf(b.settings);
    this.clientTimeout = b.clientTimeout;
    this.deadline = b.deadline;
  }

  /** A builder for a cluster whose nodes keep their data under {@code dir}. */
  public static Builder builder(Path dir) {
    return new Builder(dir);
  }

  /** Options of the cluster; {@link #start()} starts it. */
  public static final class Builder {
    private final Path dir;
    private final Map<String, String> settings = new LinkedHashMap<>();
    private int nodes = 3;
    private Duration clientTimeout = Duration.ofSeconds(20);
    private Duration deadline = Duration.ofSeconds(90);
    private boolean awaitLeaders;

    private Builder(Path dir) {
      this.dir = dir;
    }

    /** Nodes started by {@link #start()} (default 3; 0 for a test that starts each itself). */
    public Builder nodes(int count) {
      Check.argument(count >= 0, "nodes %s", count);
      this.nodes = count;
      return this;
    }

    /** A server setting for every node, as in {@code --set key=value}. */
    public Builder set(String key, String value) {
      settings.put(key, value);
      return this;
    }

    /**
     * Short single-leader timings: failover after 3 s, heartbeats every 200 ms, a replicated write
     * answered within 2 s, followers in sync while less than 1 s behind.
     */
    public Builder fastReplication() {
      return set("failover-timeout-ms", "3000")
          .set("heartbeat-interval-ms", "200")
          .set("replication-write-timeout-ms", "2000")
          .set("replication-max-lag-ms", "1000");
    }

    /** Socket timeout of the clients {@link InProcessCluster#jedis} opens (default 20 s). */
    public Builder clientTimeout(Duration timeout) {
      this.clientTimeout = timeout;
      return this;
    }

    /** Deadline of every wait the cluster does for the test (default 90 s). */
    public Builder deadline(Duration deadline) {
      this.deadline = deadline;
      return this;
    }

    /** {@link #start()} returns once keyspace 0 passes {@link InProcessCluster#awaitLeaders}. */
    public Builder awaitLeaders() {
      this.awaitLeaders = true;
      return this;
    }

    /** Starts the nodes one after another; closes what started if one fails. */
    public InProcessCluster start() throws IOException {
      InProcessCluster cluster = new InProcessCluster(this);
      try {
        for (int i = 0; i < nodes; i++) {
          cluster.startNode(Map.of());
        }
        if (awaitLeaders) {
          cluster.awaitLeaders(0);
        }
      } catch (IOException | RuntimeException | Error e) {
        cluster.close();
        throw e;
      }
      return cluster;
    }
  }

  /**
   * Starts node {@code n<size+1>} with the cluster's settings and {@code extra} on top; returns its
   * index.
   */
  public int startNode(Map<String, String> extra) throws IOException {
    String id = id(servers.size());
    Map<String, String> settings = new HashMap<>();
    settings.put("port", "0");
    settings.put("http-port", "0");
    settings.put("peer-port", "0");
    settings.put("bind", "127.0.0.1");
    settings.put("data-dir", dir.resolve(id).toString());
    settings.put("node-id", id);
    settings.put("cluster-voters", "n1@127.0.0.1:1");
    settings.putAll(common);
    settings.putAll(extra);
    settingsOf.add(Map.copyOf(settings));
    servers.add(null);
    int index = servers.size() - 1;
    servers.set(index, launch(settings));
    return index;
  }

  /**
   * Starts node {@code id}, which must be the next one, with {@code extra} settings, joining
   * through n1 when {@code join}; returns its server.
   */
  public ReplicaKvServer startNode(String id, boolean join, Map<String, String> extra)
      throws IOException {
    Check.argument(id.equals(id(size())), "next node is %s, not %s", id(size()), id);
    return server(join ? join(extra) : startNode(extra));
  }

  /** Starts the next node as a joiner through n1; returns its index. */
  public int join() throws IOException {
    return join(Map.of());
  }

  /** Starts the next node as a joiner through n1 with {@code extra} settings; returns its index. */
  public int join(Map<String, String> extra) throws IOException {
    Map<String, String> settings = new HashMap<>(extra);
    settings.put("join", "127.0.0.1:" + server(0).port());
    return startNode(settings);
  }

  private ReplicaKvServer launch(Map<String, String> settings) throws IOException {
    return new ReplicaKvServer(ServerConfig.load(null, settings))
        .withMetadataStore(metadata)
        .start();
  }

  /** Nodes started so far, up or stopped. */
  public int size() {
    return servers.size();
  }

  /** The node id at {@code index} ({@code n1} is index 0). */
  public static String id(int index) {
    return "n" + (index + 1);
  }

  /** The index of node {@code id} ({@code "n2"} is 1). */
  public static int index(String id) {
    return Integer.parseInt(id.substring(1)) - 1;
  }

  /** The running server at {@code index}; fails if the node is stopped. */
  public ReplicaKvServer server(int index) {
    ReplicaKvServer server = servers.get(index);
    Check.state(server != null, "node %s is stopped", id(index));
    return server;
  }

  /** The running servers, in node order. */
  public List<ReplicaKvServer> servers() {
    return servers.stream().filter(java.util.Objects::nonNull).toList();
  }

  /** The ids of the running nodes, in node order. */
  public List<String> ids() {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < servers.size(); i++) {
      if (servers.get(i) != null) {
        out.add(id(i));
      }
    }
    return out;
  }

  /** The running server of node {@code id}. */
  public ReplicaKvServer server(String id) {
    return server(index(id));
  }

  /** Whether node {@code index} runs (started and not stopped). */
  public boolean isUp(int index) {
    return servers.get(index) != null;
  }

  /** The metadata store every node shares. */
  public InMemoryMetadataStore metadata() {
    return metadata;
  }

  /** Closes node {@code index}; its data directory stays for {@link #restart}. */
  public void stop(int index) {
    server(index).close();
    servers.set(index, null);
  }

  /** Starts node {@code index} again on its data directory with the settings it had. */
  public void restart(int index) throws IOException {
    restart(index, Map.of());
  }

  /** Starts node {@code index} again on its data directory, {@code changed} settings on top. */
  public void restart(int index, Map<String, String> changed) throws IOException {
    Check.state(servers.get(index) == null, "node %s is still up", id(index));
    Map<String, String> settings = new HashMap<>(settingsOf.get(index));
    settings.putAll(changed);
    settingsOf.set(index, Map.copyOf(settings));
    servers.set(index, launch(settings));
  }

  /** A client of node {@code index} on keyspace 0; the caller closes it. */
  public Jedis jedis(int index) {
    return new Jedis("127.0.0.1", server(index).port(), (int) clientTimeout.toMillis());
  }

  /** A client of node {@code index} with {@code keyspace} selected; the caller closes it. */
  public Jedis jedis(int index, int keyspace) {
    Jedis j = jedis(index);
    j.select(keyspace);
    return j;
  }

  /** A RESP command by name, for commands Jedis has no method for. */
  public static ProtocolCommand command(String name) {
    byte[] raw = name.getBytes(StandardCharsets.UTF_8);
    return () -> raw;
  }

  /** {@code KEYSPACE CREATE name options...} through n1; returns the new keyspace's number. */
  public int createKeyspace(String name, String... options) {
    List<String> args = new ArrayList<>(List.of("CREATE", name));
    args.addAll(List.of(options));
    try (Jedis j = jedis(0)) {
      return ((Long) j.sendCommand(command("KEYSPACE"), args.toArray(new String[0]))).intValue();
    }
  }

  /** Every replica group node {@code index} lists in {@code INFO replication}. */
  public List<Group> groups(int index) {
    List<Group> out = new ArrayList<>();
    try (Jedis j = jedis(index)) {
      Matcher m = GROUP_LINE.matcher(j.info("replication"));
      while (m.find()) {
        out.add(
            new Group(
                Integer.parseInt(m.group(1)),
                m.group(2),
                m.group(3),
                Long.parseLong(m.group(4)),
                m.group(5)));
      }
    }
    return out;
  }

  /** The replica groups of {@code keyspace} on node {@code index}, by group number. */
  public Map<String, Group> groups(int index, int keyspace) {
    Map<String, Group> out = new HashMap<>();
    for (Group g : groups(index)) {
      if (g.keyspace() == keyspace) {
        out.put(g.group(), g);
      }
    }
    return out;
  }

  /**
   * Until every up node lists the replica groups of {@code keyspace}, each as leader or follower of
   * a leader {@code n<i>} that every up node names alike, and {@value #LEADER_WARM_UP_WRITES}
   * writes through every up node succeed.
   */
  public void awaitLeaders(int keyspace) {
    await("leaders of every group of keyspace " + keyspace)
        .atMost(deadline)
        .pollInterval(POLL_INTERVAL)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              Map<String, String> leaderByGroup = new HashMap<>();
              for (int node = 0; node < size(); node++) {
                if (!isUp(node)) {
                  continue;
                }
                Map<String, Group> groups = groups(node, keyspace);
                assertThat(groups).as("groups on %s", id(node)).isNotEmpty();
                for (Group g : groups.values()) {
                  assertThat(g.role()).isIn("leader", "follower");
                  assertThat(g.leader()).startsWith("n");
                  String before = leaderByGroup.putIfAbsent(g.group(), g.leader());
                  assertThat(before == null || before.equals(g.leader()))
                      .as("group %s led by %s and %s", g.group(), before, g.leader())
                      .isTrue();
                }
              }
              assertThat(leaderByGroup).isNotEmpty();
              for (int node = 0; node < size(); node++) {
                if (!isUp(node)) {
                  continue;
                }
                try (Jedis j = jedis(node, keyspace)) {
                  for (int i = 0; i < LEADER_WARM_UP_WRITES; i++) {
                    try {
                      assertThat(j.set("warm-up-" + i, "w")).isEqualTo("OK");
                    } catch (JedisDataException e) {
                      System.out.println("warm-up through " + id(node) + ": " + e.getMessage());
                      throw e;
                    }
                  }
                }
              }
            });
  }

  /**
   * Until {@value #WRITABLE_WARM_UP_WRITES} writes of {@code prefix-i} succeed through every up
   * node.
   */
  public void awaitWritable(int keyspace, String prefix) {
    await("writes through every node to keyspace " + keyspace)
        .atMost(deadline)
        .pollInterval(POLL_INTERVAL)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (int node = 0; node < size(); node++) {
                if (!isUp(node)) {
                  continue;
                }
                try (Jedis j = jedis(node, keyspace)) {
                  for (int i = 0; i < WRITABLE_WARM_UP_WRITES; i++) {
                    assertThat(j.set(prefix + "-" + i, "w")).isEqualTo("OK");
                  }
                }
              }
            });
  }

  /**
   * The leader of the replica group holding {@code key} in {@code keyspace}, as node {@code via}
   * sees it.
   */
  public String leaderOf(int via, int keyspace, String key) {
    try (Jedis j = jedis(via)) {
      long slot = j.clusterKeySlot(key);
      j.select(keyspace);
      Object leader = j.sendCommand(command("CLUSTER"), "REPLICALEADER", Long.toString(slot));
      return new String((byte[]) leader, StandardCharsets.UTF_8);
    }
  }

  /**
   * Until a {@code KV.GET} at read quorum {@code readQuorum} answers through every up node: a
   * leaderless keyspace's service has heard its peers (before that a quorum read may answer
   * NOREPLICAS).
   */
  public void awaitQuorumReads(int keyspace, int readQuorum) {
    for (int node = 0; node < size(); node++) {
      if (!isUp(node)) {
        continue;
      }
      int n = node;
      await(id(node) + " serves quorum reads of keyspace " + keyspace)
          .atMost(deadline)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                try (Jedis j = jedis(n, keyspace)) {
                  assertThat(
                          j.sendCommand(
                              command("KV.GET"), "warm-up", "R", Integer.toString(readQuorum)))
                      .isInstanceOf(List.class);
                }
              });
    }
  }

  /** {@code key} in {@code keyspace} as node {@code index} holds it (LOCALGET does not route). */
  public String localGet(int index, int keyspace, String key) {
    try (Jedis j = jedis(index, keyspace)) {
      Object raw = j.sendCommand(command("LOCALGET"), key);
      return raw == null ? null : new String((byte[]) raw, StandardCharsets.UTF_8);
    }
  }

  /** The body of {@code GET path} on node {@code index}'s HTTP port. */
  public String httpGet(int index, String path) throws IOException, InterruptedException {
    HttpResponse<String> response =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server(index).httpPort() + path))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    return response.body();
  }

  /** {@code POST path} (with its query) on node {@code index}'s HTTP port, with no body. */
  public HttpResponse<String> httpPost(int index, String path)
      throws IOException, InterruptedException {
    return HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + server(index).httpPort() + path))
                .POST(HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.ofString());
  }

  /**
   * A flat field/value array reply ({@code KV.REPAIR}, {@code KV.HINTS}) as a map; bulk-string
   * values as text, integers as {@code Long}.
   */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> fields(Object reply) {
    List<Object> flat = (List<Object>) reply;
    Map<String, Object> out = new HashMap<>();
    for (int i = 0; i + 1 < flat.size(); i += 2) {
      Object value = flat.get(i + 1);
      out.put(
          new String((byte[]) flat.get(i), StandardCharsets.UTF_8),
          value instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : value);
    }
    return out;
  }

  /** Closes every up node, then the metadata store. */
  @Override
  public void close() {
    for (int i = 0; i < servers.size(); i++) {
      ReplicaKvServer server = servers.get(i);
      if (server != null) {
        server.close();
        servers.set(i, null);
      }
    }
    metadata.close();
  }
}
