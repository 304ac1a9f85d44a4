package io.replicakv.server.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.replicakv.storage.StorageOptions;
import io.replicakv.storage.log.FsyncPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The settings of one node. Values come from the defaults, then the YAML config file, then
 * command-line flags; each layer is checked as it is read, and an unknown key or a bad value stops
 * start-up with a message that names the key. A few settings may be changed at run time by {@code
 * CONFIG SET}; the rest are fixed for the life of the process.
 *
 * <p>Thread-safe: values live in an immutable map swapped on each change.
 */
public final class ServerConfig {
  /** Every setting ReplicaKV knows, in the order the reference documents them. */
  public static final List<Setting> SETTINGS =
      List.of(
          Setting.string("bind", "127.0.0.1", false, "address the RESP and HTTP listeners bind to"),
          Setting.integer(
              "port", 6379, 0, 65535, false, "RESP (Redis protocol) port; 0 picks a free one"),
          Setting.integer(
              "http-port",
              -1,
              -1,
              65535,
              false,
              "HTTP port for /health, /metrics, /admin; -1 means port + 10000, 0 picks a free one"),
          Setting.string("data-dir", "data", false, "folder for the log and snapshots"),
          Setting.string(
              "node-id",
              "",
              false,
              "this node's member id (default: kept in data-dir/node-id, created as node-<port> on first start)"),
          Setting.integer(
              "peer-port",
              -1,
              -1,
              65535,
              false,
              "port for node-to-node traffic; -1 means port + 20000, 0 picks a free one"),
          Setting.integer(
              "metadata-port",
              -1,
              -1,
              65535,
              false,
              "port of this node's metadata (Raft) voter; -1 means port + 30000"),
          Setting.string(
              "peer-routes",
              "",
              false,
              "id=host:port,...: reach these members' peer ports at these addresses instead of the ones in the metadata (tunnels, port forwards, a fault proxy)"),
          Setting.string(
              "cluster-voters",
              "",
              false,
              "metadata voters as id@host:metadata-port,...; empty runs the node alone"),
          Setting.string(
              "site",
              "site-1",
              false,
              "this node's site (datacenter) name; multi-leader keyspaces replicate between sites"),
          Setting.string(
              "site-links",
              "",
              false,
              "other sites' nodes as name@host:peer-port,...; used until 'SITE LINK ADD|REMOVE' saves data-dir/multi/site-links, which then wins"),
          Setting.integer(
              "site-acks",
              1,
              0,
              63,
              false,
              "on a site of several nodes: other nodes of the site that must hold a multi-leader keyspace's site-log record before its write is answered (and its change leaves for other sites); fewer answering: writes fail with NOREPLICAS"),
          Setting.integer(
              "site-log-retention-changes",
              100_000,
              1,
              100_000_000,
              false,
              "multi-leader keyspaces: site-log changes kept in memory for linked sites that have not acknowledged them; a linked site further behind gets a full-state catch-up of the keyspace"),
          Setting.bytes(
              "site-log-retention-bytes",
              "64mb",
              1024,
              false,
              "multi-leader keyspaces: change bytes kept in memory for linked sites, as site-log-retention-changes"),
          Setting.integer(
              "site-log-compaction-records",
              10_000,
              16,
              100_000_000,
              false,
              "multi-leader keyspaces: a site log file is rewritten as its checkpoint once it grew by this many records (and doubled) since the last rewrite"),
          Setting.string(
              "cluster-id",
              "replicakv",
              false,
              "name of the cluster; nodes of another cluster are refused"),
          Setting.integer(
              "heartbeat-interval-ms",
              500,
              50,
              60_000,
              false,
              "how often a node pings the other members"),
          Setting.integer(
              "failover-timeout-ms",
              5_000,
              200,
              600_000,
              false,
              "a member silent this long is marked DOWN; its slots answer -CLUSTERDOWN"),
          Setting.choice(
              "replication",
              "on",
              List.of("on", "off"),
              false,
              "on: keyspace 0 and created single-leader keyspaces replicate to their N replicas (writes go to each replica group's leader); off: every single-leader key lives on its ring owner alone, as a cache would"),
          Setting.integer(
              "replication-tick-ms",
              50,
              5,
              1_000,
              false,
              "one tick of single-leader replication: heartbeats, retransmits and timeouts are counted in these"),
          Setting.integer(
              "replication-lease-ms",
              0,
              0,
              600_000,
              false,
              "how long a partition leader serves after the controller's last grant; must end before failover-timeout-ms (1% tick drift); 0 is half of failover-timeout-ms"),
          Setting.choice(
              "replication-preferred-leader",
              "on",
              List.of("on", "off"),
              false,
              "on: when a replica group's first replica (its token owner) is back, in sync and not leading, the controller moves leadership back to it with a planned switchover, one group at a time"),
          Setting.integer(
              "replication-hold-ms",
              1_000,
              0,
              60_000,
              false,
              "a command on a replicated key that meets a leader change (a switchover, a new leader's lease or first entry not yet in place, an election) waits up to this long, in order, for a leader that can serve it, here or forwarded, instead of getting -TRYAGAIN at once; 0 answers at once"),
          Setting.integer(
              "replication-write-timeout-ms",
              3_000,
              10,
              600_000,
              false,
              "a single-leader write without its acks by then is answered -TRYAGAIN write outcome unknown"),
          Setting.integer(
              "replication-max-lag-records",
              10_000,
              1,
              Long.MAX_VALUE,
              false,
              "a follower further behind than this leaves the in-sync set (acks count only in-sync followers)"),
          Setting.integer(
              "replication-max-lag-ms",
              1_000,
              10,
              600_000,
              false,
              "a follower silent for longer than this leaves the in-sync set; writes that need it get -NOREPLICAS"),
          Setting.integer(
              "replication-log-retained-records",
              100_000,
              1,
              5_000_000,
              false,
              "single-leader log entries each replica keeps below its commit point (memory and its group file); a follower further behind catches up by a partition snapshot"),
          Setting.string(
              "join",
              "",
              false,
              "non-empty (any member's host:port): this new node registers as STAGED (it serves clients but owns no slots); CLUSTER COMMIT JOIN (or COMMIT REPLACE) then moves its share of the slots, with their keys, to it"),
          Setting.integer(
              "move-throttle-bytes-per-sec",
              0,
              0,
              Long.MAX_VALUE,
              false,
              "most bytes per second a node streams to others when members join or leave; 0 is unlimited"),
          Setting.integer(
              "leaderless-anti-entropy-interval-ms",
              2_000,
              0,
              3_600_000,
              false,
              "leaderless keyspaces: time between two scheduled Merkle exchanges a node starts (one partition and one other owner each); 0 turns scheduled anti-entropy off (KV.REPAIR still works)"),
          Setting.integer(
              "leaderless-anti-entropy-bytes-per-sec",
              4L * 1024 * 1024,
              0,
              Long.MAX_VALUE,
              false,
              "leaderless keyspaces: most state bytes per second a node's scheduled anti-entropy ships; an interval with its budget spent starts no exchange (KV.REPAIR is not throttled); 0 is unlimited"),
          Setting.integer(
              "move-fence-timeout-ms",
              io.replicakv.server.move.KeyMover.FENCE_TIMEOUT_MILLIS,
              100,
              3_600_000,
              false,
              "a moving source whose last delta is not acknowledged this long lifts its write fence and catches up again"),
          Setting.choice(
              "routing",
              "proxy",
              List.of("proxy", "redirect"),
              true,
              "proxy: forward commands for other nodes' keys; redirect: answer -MOVED like Redis Cluster"),
          Setting.integer("databases", 16, 1, 1024, false, "number of keyspaces (SELECT 0..n-1)"),
          Setting.choice(
              "fsync",
              "interval",
              List.of("always", "interval", "never"),
              false,
              "always: reply after fsync (group commit); interval: fsync every fsync-interval-ms; never: leave it to the OS"),
          Setting.integer(
              "fsync-interval-ms", 1000, 1, 60_000, false, "fsync period under fsync=interval"),
          Setting.bytes(
              "log-segment-size",
              "64mb",
              4096,
              false,
              "log segment size before a new segment starts"),
          Setting.bytes(
              "log-buffer-size",
              "64mb",
              65536,
              false,
              "appended log bytes waiting for the disk before writes wait"),
          Setting.integer(
              "snapshot-interval-seconds",
              300,
              0,
              31_536_000,
              false,
              "take a snapshot this long after the last one (0 = only by log size or SAVE)"),
          Setting.integer(
              "snapshot-min-changes",
              1,
              1,
              Long.MAX_VALUE,
              false,
              "changes needed before a timed snapshot is taken"),
          Setting.bytes(
              "snapshot-log-size",
              "256mb",
              0,
              false,
              "take a snapshot when the log grows past this (0 = off)"),
          Setting.bytes(
              "maxmemory",
              "0",
              0,
              true,
              "data memory limit; past it writes get -OOM and reads keep working (0 = no limit)"),
          Setting.integer("maxclients", 10_000, 1, 1_000_000, true, "maximum connected clients"),
          Setting.bytes(
              "proto-max-bulk-len", "512mb", 1, true, "largest bulk string a client may send"),
          Setting.integer(
              "proto-max-multibulk-len",
              1_048_576,
              1,
              Integer.MAX_VALUE,
              true,
              "most arguments in one command"),
          Setting.bytes("proto-max-inline-len", "64kb", 16, true, "longest inline command line"),
          Setting.bytes(
              "client-output-buffer-limit",
              "64mb",
              0,
              true,
              "replies queued for a client that does not read; past it the client is disconnected (0 = no limit)"),
          Setting.integer("hz", 10, 1, 500, true, "active expiry cycles per second"),
          Setting.choice(
              "loglevel", "info", List.of("debug", "info", "warn", "error"), true, "log level"),
          // Read-only answers for tools that ask Redis about these (redis-benchmark does).
          Setting.string(
              "appendonly",
              "yes",
              false,
              "always yes: every write goes through the log (read-only)"),
          Setting.string(
              "save", "", false, "empty: snapshots follow snapshot-* settings (read-only)"));

  private static final Map<String, Setting> BY_NAME;

  static {
    Map<String, Setting> byName = new LinkedHashMap<>();
    for (Setting s : SETTINGS) {
      byName.put(s.name(), s);
    }
    BY_NAME = Collections.unmodifiableMap(byName);
  }

  private volatile Map<String, String> values;

  private ServerConfig(Map<String, String> values) {
    this.values = Map.copyOf(values);
  }

  /** Defaults, then the file (when not null), then the overrides. */
  public static ServerConfig load(Path file, Map<String, String> overrides) {
    Map<String, String> values = new LinkedHashMap<>();
    for (Setting s : SETTINGS) {
      values.put(s.name(), s.canonical(s.defaultValue()));
    }
    if (file != null) {
      readYaml(file).forEach((k, v) -> values.put(k, checked(k, v)));
    }
    overrides.forEach((k, v) -> values.put(k, checked(k, v)));
    return new ServerConfig(values);
  }

  public static ServerConfig defaults() {
    return load(null, Map.of());
  }

  private static String checked(String key, String value) {
    Setting s = BY_NAME.get(key);
    if (s == null) {
      throw new ConfigException("unknown setting '" + key + "'");
    }
    return s.canonical(value);
  }

  private static Map<String, String> readYaml(Path file) {
    JsonNode root;
    try {
      root = new ObjectMapper(new YAMLFactory()).readTree(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new ConfigException("config file " + file + ": " + e.getMessage());
    }
    Map<String, String> out = new LinkedHashMap<>();
    if (root == null || root.isMissingNode() || root.isNull()) {
      return out;
    }
    if (!root.isObject()) {
      throw new ConfigException("config file " + file + ": expected a mapping of setting: value");
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode v = e.getValue();
      if (v.isContainerNode()) {
        throw new ConfigException(
            "setting '" + e.getKey() + "' in " + file + ": expected a single value");
      }
      if (v.isBoolean()) {
        out.put(e.getKey(), v.booleanValue() ? "yes" : "no");
      } else {
        out.put(e.getKey(), v.isNull() ? "" : v.asText());
      }
    }
    return out;
  }

  public static Setting setting(String name) {
    return BY_NAME.get(name);
  }

  public String get(String name) {
    String v = values.get(name);
    if (v == null) {
      throw new ConfigException("unknown setting '" + name + "'");
    }
    return v;
  }

  public long getLong(String name) {
    return Long.parseLong(get(name));
  }

  public int getInt(String name) {
    return Math.toIntExact(getLong(name));
  }

  /** All current values in reference order. */
  public Map<String, String> all() {
    Map<String, String> out = new LinkedHashMap<>();
    for (Setting s : SETTINGS) {
      out.put(s.name(), values.get(s.name()));
    }
    return out;
  }

  /** CONFIG SET: checks and applies; throws naming the setting when it cannot. */
  public synchronized void set(String name, String value) {
    Setting s = BY_NAME.get(name);
    if (s == null) {
      throw new ConfigException(
          "Unknown option or number of arguments for CONFIG SET - '" + name + "'");
    }
    if (!s.mutable()) {
      throw new ConfigException(
          "CONFIG SET failed (possibly related to argument '"
              + name
              + "') - can't set immutable config");
    }
    String canonical = s.canonical(value);
    Map<String, String> next = new LinkedHashMap<>(values);
    next.put(name, canonical);
    values = Map.copyOf(next);
  }

  public int port() {
    return getInt("port");
  }

  public int httpPort() {
    int p = getInt("http-port");
    if (p == -1) {
      return port() == 0 || port() + 10000 > 65535 ? 0 : port() + 10000;
    }
    return p;
  }

  public int peerPort() {
    int p = getInt("peer-port");
    if (p == -1) {
      return port() == 0 || port() + 20000 > 65535 ? 0 : port() + 20000;
    }
    return p;
  }

  public int metadataPort() {
    int p = getInt("metadata-port");
    if (p == -1) {
      return port() == 0 || port() + 30000 > 65535 ? 0 : port() + 30000;
    }
    return p;
  }

  public boolean clustered() {
    return !get("cluster-voters").isBlank() || !get("join").isBlank();
  }

  public String bind() {
    return get("bind");
  }

  public Path dataDirectory() {
    return Path.of(get("data-dir"));
  }

  public StorageOptions storageOptions() {
    FsyncPolicy fsync = FsyncPolicy.valueOf(get("fsync").toUpperCase(java.util.Locale.ROOT));
    return new StorageOptions(
        dataDirectory(),
        // a cluster's keyspaces are created at run time and numbered up to 1023
        clustered() ? Math.max(getInt("databases"), 1024) : getInt("databases"),
        fsync,
        getLong("fsync-interval-ms"),
        getLong("log-segment-size"),
        getLong("log-buffer-size"),
        getLong("snapshot-interval-seconds") * 1000,
        getLong("snapshot-min-changes"),
        getLong("snapshot-log-size"),
        2_000,
        16L << 20);
  }
}
