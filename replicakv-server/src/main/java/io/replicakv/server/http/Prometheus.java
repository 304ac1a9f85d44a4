package io.replicakv.server.http;

import io.replicakv.server.command.Node;
import io.replicakv.server.metrics.Metrics;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.log.LogMetrics;
import io.replicakv.storage.snapshot.SnapshotInfo;
import java.util.Locale;
import java.util.Map;

/** Renders the node's metrics in the Prometheus text format (version 0.0.4). */
final class Prometheus {
  private Prometheus() {}

  private static final double[] BUCKET_SECONDS = {
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 1.0
  };

  static String render(Node n) {
    StringBuilder b = new StringBuilder(8192);
    Metrics m = n.metrics;
    head(b, "replicakv_commands_total", "counter", "Commands run, by command.");
    for (Map.Entry<String, Metrics.CommandStats> e : m.commandsSorted().entrySet()) {
      b.append("replicakv_commands_total{command=\"")
          .append(e.getKey())
          .append("\"} ")
          .append(e.getValue().calls)
          .append('\n');
    }
    head(
        b,
        "replicakv_command_errors_total",
        "counter",
        "Commands that answered with an error, by command.");
    for (Map.Entry<String, Metrics.CommandStats> e : m.commandsSorted().entrySet()) {
      b.append("replicakv_command_errors_total{command=\"")
          .append(e.getKey())
          .append("\"} ")
          .append(e.getValue().errors)
          .append('\n');
    }
    head(
        b,
        "replicakv_command_duration_seconds",
        "histogram",
        "Time to run a command on the node loop, by command.");
    for (Map.Entry<String, Metrics.CommandStats> e : m.commandsSorted().entrySet()) {
      Metrics.CommandStats c = e.getValue();
      long cumulative = 0;
      for (int i = 0; i < BUCKET_SECONDS.length; i++) {
        cumulative += c.buckets[i];
        b.append("replicakv_command_duration_seconds_bucket{command=\"")
            .append(e.getKey())
            .append("\",le=\"")
            .append(BUCKET_SECONDS[i])
            .append("\"} ")
            .append(cumulative)
            .append('\n');
      }
      b.append("replicakv_command_duration_seconds_bucket{command=\"")
          .append(e.getKey())
          .append("\",le=\"+Inf\"} ")
          .append(c.calls)
          .append('\n');
      b.append("replicakv_command_duration_seconds_sum{command=\"")
          .append(e.getKey())
          .append("\"} ")
          .append(c.totalMicros / 1e6)
          .append('\n');
      b.append("replicakv_command_duration_seconds_count{command=\"")
          .append(e.getKey())
          .append("\"} ")
          .append(c.calls)
          .append('\n');
    }
    gauge(b, "replicakv_connected_clients", "Connected RESP clients.", n.sessions.size());
    counter(
        b, "replicakv_connections_received_total", "Connections accepted.", m.connectionsReceived);
    counter(
        b,
        "replicakv_connections_rejected_total",
        "Connections refused at maxclients.",
        m.connectionsRejected);
    counter(
        b,
        "replicakv_protocol_errors_total",
        "Connections closed for invalid RESP.",
        m.protocolErrors);
    counter(
        b,
        "replicakv_output_limit_disconnects_total",
        "Clients disconnected at client-output-buffer-limit.",
        m.outputLimitDisconnects);
    counter(b, "replicakv_oom_rejections_total", "Writes refused past maxmemory.", m.oomRejections);
    counter(
        b,
        "replicakv_expired_keys_total",
        "Keys deleted because their expiry passed.",
        m.expiredKeys);
    MemoryState state = n.state();
    gauge(
        b, "replicakv_memory_used_bytes", "Estimated memory of the data.", state.usedMemoryBytes());
    gauge(
        b,
        "replicakv_memory_max_bytes",
        "maxmemory (0 = no limit).",
        n.config.getLong("maxmemory"));
    Runtime rt = Runtime.getRuntime();
    gauge(
        b, "replicakv_jvm_heap_used_bytes", "JVM heap in use.", rt.totalMemory() - rt.freeMemory());
    head(b, "replicakv_keys", "gauge", "Keys per keyspace.");
    for (int ks = 0; ks < state.keyspaceCount(); ks++) {
      if (state.size(ks) > 0) {
        b.append("replicakv_keys{keyspace=\"")
            .append(ks)
            .append("\"} ")
            .append(state.size(ks))
            .append('\n');
      }
    }
    LogMetrics log = n.engine.logMetrics();
    gauge(b, "replicakv_log_bytes", "Size of the write-ahead log on disk.", log.sizeBytes());
    gauge(b, "replicakv_log_segments", "Segments of the write-ahead log.", log.segmentCount());
    counter(
        b, "replicakv_log_records_total", "Records appended to the log.", log.appendedRecords());
    counter(
        b, "replicakv_log_written_bytes_total", "Bytes written to the log.", log.bytesWritten());
    counter(b, "replicakv_log_fsyncs_total", "fsync calls on the log.", log.fsyncCount());
    head(b, "replicakv_log_fsync_seconds_total", "counter", "Time spent in fsync.");
    b.append("replicakv_log_fsync_seconds_total ")
        .append(String.format(Locale.ROOT, "%.6f", log.fsyncTotalNanos() / 1e9))
        .append('\n');
    head(b, "replicakv_log_fsync_max_seconds", "gauge", "Longest fsync.");
    b.append("replicakv_log_fsync_max_seconds ")
        .append(String.format(Locale.ROOT, "%.6f", log.fsyncMaxNanos() / 1e9))
        .append('\n');
    gauge(
        b,
        "replicakv_log_write_failing",
        "1 while the disk refuses log writes.",
        n.engine.failure() == null ? 0 : 1);
    SnapshotInfo snap = n.engine.lastSnapshot();
    head(b, "replicakv_snapshot_age_seconds", "gauge", "Age of the newest snapshot (-1 = none).");
    b.append("replicakv_snapshot_age_seconds ")
        .append(snap == null ? -1 : (n.now() - snap.createdMillis()) / 1000.0)
        .append('\n');
    gauge(
        b,
        "replicakv_snapshot_in_progress",
        "1 while a snapshot is being written.",
        n.engine.snapshotInProgress() ? 1 : 0);
    counter(
        b,
        "replicakv_snapshots_total",
        "Snapshots completed since start.",
        n.engine.snapshotsTaken());
    counter(
        b,
        "replicakv_forwarded_commands_total",
        "Commands forwarded to the node owning their keys.",
        m.forwardedCommands);
    counter(
        b,
        "replicakv_forward_failures_total",
        "Forwarded commands whose owner did not answer.",
        m.forwardFailures);
    io.replicakv.server.cluster.ClusterView view = n.clusterView.get();
    gauge(
        b,
        "replicakv_metadata_version",
        "Cluster metadata version this node acts on (0 alone).",
        view == null ? 0 : view.version());
    io.replicakv.server.move.KeyMover mover = n.mover;
    if (mover != null) {
      counter(
          b,
          "replicakv_move_keys_sent_total",
          "Keys streamed to other nodes because members joined or left.",
          mover.keysSent());
      counter(
          b,
          "replicakv_move_bytes_sent_total",
          "Bytes streamed to other nodes because members joined or left.",
          mover.bytesSent());
      gauge(
          b,
          "replicakv_move_keys_remaining",
          "Keys the running move's last catch-up round found still to send.",
          mover.keysRemainingEstimate());
      counter(
          b,
          "replicakv_move_keys_received_total",
          "Key mutations applied here as the target of a move.",
          mover.keysReceived());
      counter(
          b,
          "replicakv_move_keys_deleted_total",
          "Moved keys deleted here after their new owner took over.",
          mover.keysDeleted());
      counter(
          b,
          "replicakv_moves_completed_total",
          "Moves this node finished as a source.",
          mover.movesCompleted());
      moveProgress(b, mover.progress().snapshot());
    }
    leaderless(b, n.leaderless);
    if (n.multi != null) {
      b.append(io.replicakv.server.multi.SiteMetrics.render(n.multi));
    }
    replication(b, n.replication);
    gauge(
        b, "replicakv_uptime_seconds", "Seconds since start.", (n.now() - n.startedMillis) / 1000);
    return b.toString();
  }

  /** Leaderless keyspaces: the core's counters per keyspace, and this node's own. */
  private static void leaderless(
      StringBuilder b, io.replicakv.server.leaderless.LeaderlessKeyspaces keyspaces) {
    if (keyspaces == null) {
      return;
    }
    counter(
        b,
        "replicakv_leaderless_frames_send_failed_total",
        "Leaderless peer frames that could not be sent (counted as lost messages).",
        keyspaces.framesSendFailed());
    counter(
        b,
        "replicakv_leaderless_sibling_reads_refused_total",
        "Plain GETs refused on a leaderless key with siblings (read them with KV.GET).",
        keyspaces.siblingReadsRefused());
    gauge(
        b,
        "replicakv_leaderless_repairs_running",
        "Anti-entropy passes (KV.REPAIR) this node coordinates now.",
        keyspaces.repairsRunning());
    counter(
        b,
        "replicakv_leaderless_repairs_completed_total",
        "Anti-entropy passes (KV.REPAIR) this node coordinated to the end.",
        keyspaces.repairsCompleted());
    java.util.Map<Integer, java.util.Map<String, Integer>> hints = keyspaces.hintsByKeyspace();
    b.append("# HELP replicakv_leaderless_hints_pending Keys this node holds hints for, per")
        .append(" keyspace and owner (0 lines when all are handed off).\n")
        .append("# TYPE replicakv_leaderless_hints_pending gauge\n");
    hints.forEach(
        (keyspace, byOwner) ->
            byOwner.forEach(
                (owner, count) ->
                    b.append("replicakv_leaderless_hints_pending{keyspace=\"")
                        .append(keyspace)
                        .append("\",owner=\"")
                        .append(owner)
                        .append("\"} ")
                        .append(count)
                        .append('\n')));
    b.append("# HELP replicakv_leaderless_anti_entropy_sweep_position Scheduled anti-entropy:")
        .append(" partitions of this node's sweep done in the current sweep, per keyspace.\n")
        .append("# TYPE replicakv_leaderless_anti_entropy_sweep_position gauge\n");
    for (int keyspace : hints.keySet()) {
      io.replicakv.server.leaderless.LeaderlessService service = keyspaces.service(keyspace);
      if (service != null) {
        b.append("replicakv_leaderless_anti_entropy_sweep_position{keyspace=\"")
            .append(keyspace)
            .append("\",of=\"")
            .append(service.ownedPartitionCount())
            .append("\"} ")
            .append(service.sweepPosition())
            .append('\n');
      }
    }
    java.util.Map<Integer, java.util.Map<String, Long>> byKeyspace = keyspaces.countersByKeyspace();
    java.util.Set<String> names = new java.util.TreeSet<>();
    byKeyspace.values().forEach(c -> names.addAll(c.keySet()));
    for (String name : names) {
      String metric = "replicakv_leaderless_" + name + "_total";
      b.append("# HELP ")
          .append(metric)
          .append(" Leaderless node counter '")
          .append(name)
          .append("' per keyspace.\n# TYPE ")
          .append(metric)
          .append(" counter\n");
      for (java.util.Map.Entry<Integer, java.util.Map<String, Long>> e : byKeyspace.entrySet()) {
        b.append(metric)
            .append("{keyspace=\"")
            .append(e.getKey())
            .append("\"} ")
            .append(e.getValue().getOrDefault(name, 0L))
            .append('\n');
      }
    }
  }

  /** Single-leader replication: per hosted group its role and epoch, per follower its lag. */
  private static void replication(
      StringBuilder b, io.replicakv.server.replication.ReplicationLoop replication) {
    if (replication == null) {
      return;
    }
    java.util.Map<String, Long> counters = new java.util.LinkedHashMap<>(replication.counters());
    counters.remove("divergent_writes"); // per keyspace below, under the same name
    Long waiting = counters.remove("commands_waiting"); // a gauge
    gauge(
        b,
        "replicakv_replication_commands_waiting",
        "Commands on replicated keys waiting out a leader change now (replication-hold-ms).",
        waiting == null ? 0 : waiting);
    counters.putAll(replication.switchoverCounters());
    counters.forEach(
        (name, value) ->
            counter(
                b,
                "replicakv_replication_" + name + "_total",
                "Single-leader replication counter '" + name + "' of this node.",
                value));
    java.util.List<io.replicakv.server.replication.ReplicationLoop.GroupStatus> groups =
        replication.status();
    head(
        b,
        "replicakv_replication_divergent_writes_total",
        "counter",
        "Writes this node's replicas truncated from their logs because the group's new leader never"
            + " received them (acks=none), per keyspace; REPLICATION DIVERGENT lists them.");
    java.util.Map<Integer, Long> divergent = new java.util.TreeMap<>();
    for (var g : groups) {
      divergent.merge(g.keyspace(), 0L, Long::sum);
    }
    divergent.putAll(replication.divergentWritesByKeyspace());
    divergent.forEach(
        (keyspace, total) ->
            b.append("replicakv_replication_divergent_writes_total{keyspace=\"")
                .append(keyspace)
                .append("\"} ")
                .append(total)
                .append('\n'));
    head(
        b,
        "replicakv_replication_leader",
        "gauge",
        "1 when this node leads the replica group (keyspace, partition = group id), else 0.");
    for (var g : groups) {
      b.append("replicakv_replication_leader")
          .append(labels(g.keyspace(), g.group(), null))
          .append(g.role().equals("leader") ? 1 : 0)
          .append('\n');
    }
    head(b, "replicakv_replication_epoch", "gauge", "Epoch of the replica group on this node.");
    for (var g : groups) {
      b.append("replicakv_replication_epoch")
          .append(labels(g.keyspace(), g.group(), null))
          .append(g.epoch())
          .append('\n');
    }
    head(
        b,
        "replicakv_replication_commit_offset",
        "gauge",
        "Offset up to which the group's log is committed and applied on this node.");
    for (var g : groups) {
      b.append("replicakv_replication_commit_offset")
          .append(labels(g.keyspace(), g.group(), null))
          .append(g.commitOffset())
          .append('\n');
    }
    head(
        b,
        "replicakv_replication_lag_records",
        "gauge",
        "Records a follower has not acknowledged yet, as its leader (this node) sees it.");
    for (var g : groups) {
      for (var f : g.followers()) {
        b.append("replicakv_replication_lag_records")
            .append(labels(g.keyspace(), g.group(), f.member()))
            .append(f.lagRecords())
            .append('\n');
      }
    }
    head(
        b,
        "replicakv_replication_lag_bytes",
        "gauge",
        "Bytes of log entries a follower has not acknowledged yet (held entries only).");
    for (var g : groups) {
      for (var f : g.followers()) {
        b.append("replicakv_replication_lag_bytes")
            .append(labels(g.keyspace(), g.group(), f.member()))
            .append(f.lagBytes())
            .append('\n');
      }
    }
    head(
        b,
        "replicakv_replication_lag_ms",
        "gauge",
        "Milliseconds since a follower that is behind last held the leader's whole log.");
    for (var g : groups) {
      for (var f : g.followers()) {
        b.append("replicakv_replication_lag_ms")
            .append(labels(g.keyspace(), g.group(), f.member()))
            .append(f.lagMillis())
            .append('\n');
      }
    }
  }

  private static String labels(int keyspace, int partition, String follower) {
    return "{keyspace=\""
        + keyspace
        + "\",partition=\""
        + partition
        + (follower == null ? "" : "\",follower=\"" + follower)
        + "\"} ";
  }

  /** The running outgoing move: planned and copied keys and data bytes, and its ETA. */
  private static void moveProgress(
      StringBuilder b, io.replicakv.server.move.MoveProgress.Snapshot p) {
    head(
        b,
        "replicakv_moving_bytes",
        "gauge",
        "Data bytes (keys and values) of the running outgoing move: planned at the copy's start,"
            + " copied so far.");
    b.append("replicakv_moving_bytes{stage=\"planned\"} ").append(p.plannedBytes()).append('\n');
    b.append("replicakv_moving_bytes{stage=\"copied\"} ").append(p.copiedBytes()).append('\n');
    head(
        b,
        "replicakv_moving_keys",
        "gauge",
        "Keys of the running outgoing move: planned at the copy's start, copied so far.");
    b.append("replicakv_moving_keys{stage=\"planned\"} ").append(p.plannedKeys()).append('\n');
    b.append("replicakv_moving_keys{stage=\"copied\"} ").append(p.copiedKeys()).append('\n');
    gauge(
        b,
        "replicakv_move_eta_seconds",
        "Seconds the running copy needs at its recent rate; 0 when idle or past the copy, -1"
            + " unknown.",
        p.etaSeconds());
  }

  private static void head(StringBuilder b, String name, String type, String help) {
    b.append("# HELP ").append(name).append(' ').append(help).append('\n');
    b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
  }

  private static void gauge(StringBuilder b, String name, String help, long value) {
    head(b, name, "gauge", help);
    b.append(name).append(' ').append(value).append('\n');
  }

  private static void counter(StringBuilder b, String name, String help, long value) {
    head(b, name, "counter", help);
    b.append(name).append(' ').append(value).append('\n');
  }
}
