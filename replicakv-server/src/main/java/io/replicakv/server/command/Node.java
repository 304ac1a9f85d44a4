package io.replicakv.server.command;

import io.replicakv.server.config.ServerConfig;
import io.replicakv.server.metrics.Metrics;
import io.replicakv.storage.StorageEngine;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.HashValue;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.SetValue;
import io.replicakv.storage.data.StringValue;
import io.replicakv.storage.data.Value;
import io.replicakv.storage.log.LogWriteException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;

/**
 * What commands see of the node: the storage engine, the settings, the connected clients, the
 * clock. Used only on the node loop thread.
 *
 * <p>Reads go through {@link #lookup}, which hides (and deletes, through the log) keys whose expiry
 * has passed, so a key is never visible after its deadline whether or not the active sweep reached
 * it. Writes go through {@link #apply}, the only path to the engine, so every change is logged.
 */
public final class Node {
  public final StorageEngine engine;
  public final ServerConfig config;
  public final CommandTable commands;
  public final Metrics metrics;
  public final RandomGenerator random;
  public final Map<Long, Session> sessions = new LinkedHashMap<>();
  public final long startedMillis;
  public final String runId;
  private final LongSupplier clockMillis;
  private long nextClientId = 1;
  private long nowMillis;

  public Node(
      StorageEngine engine,
      ServerConfig config,
      CommandTable commands,
      Metrics metrics,
      RandomGenerator random,
      LongSupplier clockMillis,
      String runId) {
    this.engine = engine;
    this.config = config;
    this.commands = commands;
    this.metrics = metrics;
    this.random = random;
    this.clockMillis = clockMillis;
    this.startedMillis = clockMillis.getAsLong();
    this.nowMillis = startedMillis;
    this.runId = runId;
    refreshCachedSettings();
  }

  /** Wall-clock ms, read once per command so one command sees one time. */
  public long now() {
    return nowMillis;
  }

  public long tickClock() {
    nowMillis = clockMillis.getAsLong();
    return nowMillis;
  }

  public long newClientId() {
    return nextClientId++;
  }

  public MemoryState state() {
    return engine.state();
  }

  /** The value of a live (not expired) key, or null. */
  public Value lookup(int keyspace, Bytes key) {
    MemoryState state = engine.state();
    Value v = state.get(keyspace, key);
    if (v == null) {
      return null;
    }
    long expireAt = state.expireAtMillis(keyspace, key);
    if (expireAt != 0 && expireAt < nowMillis) {
      expire(keyspace, key);
      return null;
    }
    return v;
  }

  /** Deletes an expired key through the log; while the disk refuses writes it stays hidden. */
  public void expire(int keyspace, Bytes key) {
    try {
      engine.apply(new Mutation.Delete(keyspace, key.array()));
      metrics.expiredKeys++;
    } catch (LogWriteException e) {
      // the key is past its deadline: lookups keep hiding it until the delete can be logged
    }
  }

  public StringValue string(int keyspace, Bytes key) {
    Value v = lookup(keyspace, key);
    if (v == null || v instanceof StringValue) {
      return (StringValue) v;
    }
    throw CommandError.wrongType();
  }

  public HashValue hash(int keyspace, Bytes key) {
    Value v = lookup(keyspace, key);
    if (v == null || v instanceof HashValue) {
      return (HashValue) v;
    }
    throw CommandError.wrongType();
  }

  public SetValue set(int keyspace, Bytes key) {
    Value v = lookup(keyspace, key);
    if (v == null || v instanceof SetValue) {
      return (SetValue) v;
    }
    throw CommandError.wrongType();
  }

  /** Expiry deadline of a live key (0 = none); call after {@link #lookup} found it. */
  public long expireAt(int keyspace, Bytes key) {
    return engine.state().expireAtMillis(keyspace, key);
  }

  /** Logs and applies a change; returns its log sequence. */
  public long apply(Mutation m) {
    long sequence;
    try {
      sequence = engine.apply(m);
    } catch (LogWriteException e) {
      throw new CommandError(misconf());
    }
    if (mutationCapture != null) {
      mutationCapture.add(m);
    }
    return sequence;
  }

  /**
   * While a command on a replicated single-leader key runs, the mutations it applied, in order, for
   * the replication log; null otherwise. Set and cleared by the dispatcher on the node loop.
   */
  public java.util.List<Mutation> mutationCapture;

  /** Single-leader replication of this node's partitions; null when the node runs alone. */
  public volatile io.replicakv.server.replication.ReplicationLoop replication;

  /**
   * What {@code SHUTDOWN} runs (on a thread of its own): the process's orderly stop, set by the
   * {@code server} command; null when the node is embedded (tests, library mode), where the command
   * is refused rather than stopping a program that did not ask for it.
   */
  public volatile Runnable shutdownRequest;

  /**
   * True while a clustered node is still registering with the metadata quorum: its keyed commands
   * answer CLUSTERDOWN and {@code CLUSTER INFO} says {@code cluster_state:fail}.
   */
  public volatile boolean clusterStarting;

  public String misconf() {
    java.io.IOException f = engine.failure();
    return "MISCONF Errors writing to the log: "
        + (f == null ? "unknown error" : f.getMessage())
        + "; writes are refused until the disk accepts them again";
  }

  /** The cluster metadata this node acts on; null when the node runs alone. */
  public java.util.function.Supplier<io.replicakv.server.cluster.ClusterView> clusterView =
      () -> null;

  /** Proposes a metadata change to the cluster's quorum; null when the node runs alone. */
  public java.util.function.Function<
          io.replicakv.server.cluster.MetadataChange,
          java.util.concurrent.CompletableFuture<io.replicakv.server.cluster.ClusterView>>
      proposer;

  /** Moves keys when members join or leave; null when the node runs alone. */
  public io.replicakv.server.move.KeyMover mover;

  /** The leaderless keyspaces this node serves; null when the node runs alone. */
  public volatile io.replicakv.server.leaderless.LeaderlessKeyspaces leaderless;

  /** The multi-leader keyspaces of this site; null when the node runs alone. */
  public volatile io.replicakv.server.multi.SiteKeyspaces multi;

  /** This node's member id in the cluster. */
  public String selfId = "";

  /** Runs a task on the node loop (set by the server). */
  public java.util.function.Consumer<Runnable> loopExecutor = Runnable::run;

  public void loopExecute(Runnable task) {
    loopExecutor.accept(task);
  }

  /** Called after CONFIG SET changed a setting, so the server can apply it (limits, log level). */
  public java.util.function.Consumer<String> configListener = name -> {};

  public void onConfigChanged(String name) {
    refreshCachedSettings();
    configListener.accept(name);
  }

  /** Settings read on every command, parsed once per change instead of per use. */
  public long maxmemoryBytes;

  public long outputBufferLimitBytes;

  public void refreshCachedSettings() {
    maxmemoryBytes = config.getLong("maxmemory");
    outputBufferLimitBytes = config.getLong("client-output-buffer-limit");
  }

  public boolean overMaxmemory() {
    long max = maxmemoryBytes;
    return max > 0 && engine.state().usedMemoryBytes() > max;
  }
}
