package io.replicakv.server.command;

import io.replicakv.server.Version;
import io.replicakv.server.metrics.Metrics;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.log.LogMetrics;
import io.replicakv.storage.snapshot.SnapshotInfo;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The INFO text, in Redis's "# Section" / "field:value" form. */
public final class Info {
  private Info() {}

  static final List<String> DEFAULT_SECTIONS =
      List.of("server", "clients", "memory", "persistence", "stats", "replication", "keyspace");

  public static String render(Node n, List<String> asked) {
    List<String> sections = asked.isEmpty() || asked.contains("default") ? DEFAULT_SECTIONS : asked;
    boolean everything = asked.contains("all") || asked.contains("everything");
    if (everything) {
      sections =
          List.of(
              "server",
              "clients",
              "memory",
              "persistence",
              "stats",
              "replication",
              "commandstats",
              "keyspace",
              "multileader",
              "leaderless");
    }
    StringBuilder b = new StringBuilder();
    for (String section : sections) {
      switch (section) {
        case "server" -> server(n, b);
        case "clients" -> clients(n, b);
        case "memory" -> memory(n, b);
        case "persistence" -> persistence(n, b);
        case "stats" -> stats(n, b);
        case "replication" -> replication(n, b);
        case "commandstats" -> commandStats(n, b);
        case "keyspace" -> keyspace(n, b);
        case "multileader" -> {
          if (n.multi != null) {
            b.append("# Multileader\r\n")
                .append(io.replicakv.server.multi.SiteCommands.info(n.multi))
                .append("\r\n");
          }
        }
        case "leaderless" -> leaderless(n, b);
        default -> {}
      }
    }
    return b.toString();
  }

  /** Per leaderless keyspace: hints held per owner, and the anti-entropy counters. */
  private static void leaderless(Node n, StringBuilder b) {
    io.replicakv.server.leaderless.LeaderlessKeyspaces keyspaces = n.leaderless;
    b.append("# Leaderless\r\n");
    if (keyspaces != null) {
      Map<Integer, Map<String, Integer>> hints = keyspaces.hintsByKeyspace();
      keyspaces
          .countersByKeyspace()
          .forEach(
              (keyspace, counters) -> {
                Map<String, Integer> byOwner = hints.getOrDefault(keyspace, Map.of());
                line(
                    b,
                    "ks" + keyspace + "_hints_pending",
                    byOwner.values().stream().mapToInt(Integer::intValue).sum());
                byOwner.forEach(
                    (owner, count) -> line(b, "ks" + keyspace + "_hints_for_" + owner, count));
                counters.forEach(
                    (name, value) -> {
                      if (name.startsWith("hints_") || name.startsWith("anti_entropy_")) {
                        line(b, "ks" + keyspace + "_" + name, value);
                      }
                    });
              });
      line(b, "repairs_running", keyspaces.repairsRunning());
      line(b, "repairs_completed", keyspaces.repairsCompleted());
    }
    b.append("\r\n");
  }

  /**
   * Redis's two lines, then, on a node that replicates single-leader keyspaces, one line per
   * replica group it holds ({@code group_K_G}: keyspace K, group G) with its role, epoch, leader,
   * last LSN and commit offset, and on a leader one line per follower with its lag in records and
   * ms.
   */
  private static void replication(Node n, StringBuilder b) {
    b.append("# Replication\r\n");
    line(b, "role", "master");
    line(b, "connected_slaves", 0);
    io.replicakv.server.replication.ReplicationLoop replication = n.replication;
    if (replication != null) {
      List<io.replicakv.server.replication.ReplicationLoop.GroupStatus> groups =
          replication.status();
      line(b, "replica_groups", groups.size());
      line(
          b,
          "replica_groups_leading",
          groups.stream().filter(g -> g.role().equals("leader")).count());
      line(b, "controllers_hosted", replication.controllersHosted());
      replication.counters().forEach((name, value) -> line(b, "replication_" + name, value));
      replication.snapshotTransfers().forEach((name, progress) -> line(b, name, progress));
      for (io.replicakv.server.replication.ReplicationLoop.GroupStatus g : groups) {
        String name = "group_" + g.keyspace() + "_" + g.group();
        line(
            b,
            name,
            "keyspace="
                + g.keyspace()
                + ",slots="
                + g.slots()
                + ",role="
                + g.role()
                + ",epoch="
                + g.epoch()
                + ",leader="
                + g.leader()
                + ",last_lsn="
                + g.lastLsn()
                + ",commit_offset="
                + g.commitOffset()
                + ",divergent_writes="
                + g.divergentWrites());
        for (io.replicakv.server.replication.ReplicationLoop.FollowerStatus f : g.followers()) {
          line(
              b,
              name + "_follower_" + f.member(),
              "match_offset="
                  + f.matchOffset()
                  + ",lag_records="
                  + f.lagRecords()
                  + ",lag_bytes="
                  + f.lagBytes()
                  + ",lag_ms="
                  + f.lagMillis()
                  + ",in_sync="
                  + (f.inSync() ? 1 : 0));
        }
      }
    }
    b.append("\r\n");
  }

  private static void line(StringBuilder b, String k, Object v) {
    b.append(k).append(':').append(v).append("\r\n");
  }

  private static void server(Node n, StringBuilder b) {
    b.append("# Server\r\n");
    line(b, "redis_version", Version.REDIS_COMPATIBLE);
    line(b, "replicakv_version", Version.VERSION);
    line(b, "redis_mode", "standalone");
    line(b, "os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
    line(b, "java_version", Runtime.version());
    line(b, "process_id", ProcessHandle.current().pid());
    line(b, "run_id", n.runId);
    line(b, "tcp_port", n.config.port());
    line(b, "uptime_in_seconds", (n.now() - n.startedMillis) / 1000);
    line(b, "uptime_in_days", (n.now() - n.startedMillis) / 86_400_000);
    line(b, "hz", n.config.get("hz"));
    b.append("\r\n");
  }

  private static void clients(Node n, StringBuilder b) {
    b.append("# Clients\r\n");
    line(b, "connected_clients", n.sessions.size());
    line(b, "maxclients", n.config.get("maxclients"));
    b.append("\r\n");
  }

  private static void memory(Node n, StringBuilder b) {
    Runtime rt = Runtime.getRuntime();
    long used = n.state().usedMemoryBytes();
    b.append("# Memory\r\n");
    line(b, "used_memory", used);
    line(b, "used_memory_human", human(used));
    line(b, "used_memory_heap", rt.totalMemory() - rt.freeMemory());
    line(b, "max_heap", rt.maxMemory());
    line(b, "maxmemory", n.config.get("maxmemory"));
    line(b, "maxmemory_human", human(n.config.getLong("maxmemory")));
    line(b, "maxmemory_policy", "noeviction");
    b.append("\r\n");
  }

  private static void persistence(Node n, StringBuilder b) {
    LogMetrics log = n.engine.logMetrics();
    SnapshotInfo snap = n.engine.lastSnapshot();
    b.append("# Persistence\r\n");
    line(b, "loading", 0);
    line(b, "fsync", n.config.get("fsync"));
    line(b, "log_size_bytes", log.sizeBytes());
    line(b, "log_segments", log.segmentCount());
    line(b, "log_last_sequence", n.engine.lastSequence());
    line(b, "log_durable_sequence", n.engine.durableSequence());
    line(b, "log_fsyncs", log.fsyncCount());
    line(b, "log_write_status", n.engine.failure() == null ? "ok" : "err");
    line(b, "changes_since_last_snapshot", n.engine.changesSinceSnapshot());
    line(b, "snapshot_in_progress", n.engine.snapshotInProgress() ? 1 : 0);
    line(b, "snapshots_taken", n.engine.snapshotsTaken());
    line(b, "last_snapshot_time", snap == null ? -1 : snap.createdMillis() / 1000);
    line(b, "last_snapshot_sequence", snap == null ? 0 : snap.lastIncludedSequence());
    line(b, "last_snapshot_status", n.engine.lastSnapshotError() == null ? "ok" : "err");
    // Names Redis tools look for
    line(b, "aof_enabled", 1);
    line(b, "rdb_bgsave_in_progress", n.engine.snapshotInProgress() ? 1 : 0);
    b.append("\r\n");
  }

  private static void stats(Node n, StringBuilder b) {
    Metrics m = n.metrics;
    b.append("# Stats\r\n");
    line(b, "total_connections_received", m.connectionsReceived);
    line(b, "total_commands_processed", m.commandsProcessed);
    line(b, "rejected_connections", m.connectionsRejected);
    line(b, "expired_keys", m.expiredKeys);
    line(b, "total_error_replies", m.commands.values().stream().mapToLong(c -> c.errors).sum());
    line(b, "protocol_errors", m.protocolErrors);
    line(b, "oom_rejections", m.oomRejections);
    line(b, "client_output_buffer_limit_disconnections", m.outputLimitDisconnects);
    b.append("\r\n");
  }

  private static void commandStats(Node n, StringBuilder b) {
    b.append("# Commandstats\r\n");
    for (Map.Entry<String, Metrics.CommandStats> e : n.metrics.commandsSorted().entrySet()) {
      Metrics.CommandStats c = e.getValue();
      b.append("cmdstat_")
          .append(e.getKey())
          .append(":calls=")
          .append(c.calls)
          .append(",usec=")
          .append(c.totalMicros)
          .append(",usec_per_call=")
          .append(
              String.format(
                  Locale.ROOT, "%.2f", c.calls == 0 ? 0.0 : (double) c.totalMicros / c.calls))
          .append(",failed_calls=")
          .append(c.errors)
          .append("\r\n");
    }
    b.append("\r\n");
  }

  private static void keyspace(Node n, StringBuilder b) {
    b.append("# Keyspace\r\n");
    MemoryState state = n.state();
    for (int ks = 0; ks < state.keyspaceCount(); ks++) {
      int keys = state.size(ks);
      if (keys > 0) {
        b.append("db")
            .append(ks)
            .append(":keys=")
            .append(keys)
            .append(",expires=")
            .append(state.expiresSize(ks))
            .append(",avg_ttl=0\r\n");
      }
    }
    b.append("\r\n");
  }

  static String human(long bytes) {
    if (bytes < 1024) {
      return bytes + "B";
    }
    String[] units = {"K", "M", "G", "T"};
    double v = bytes;
    int i = -1;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return String.format(Locale.ROOT, "%.2f%s", v, units[i]);
  }
}
