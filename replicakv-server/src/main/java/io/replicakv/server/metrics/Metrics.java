package io.replicakv.server.metrics;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Counters of one node, written on the node loop and read there too (the HTTP front end renders
 * them by running on the loop), so plain fields suffice.
 */
public final class Metrics {
  /** Upper bounds of the latency histogram buckets, in microseconds. */
  static final long[] LATENCY_BUCKETS_MICROS = {
    10,
    25,
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    1_000_000,
    Long.MAX_VALUE
  };

  public long connectionsReceived;
  public long connectionsRejected;
  public long commandsProcessed;
  public long protocolErrors;
  public long expiredKeys;
  public long oomRejections;
  public long outputLimitDisconnects;
  public long forwardedCommands;
  public long forwardFailures;

  /**
   * By command name; a HashMap because this is looked up on every command (sorted when rendered).
   */
  public final Map<String, CommandStats> commands = new HashMap<>();

  /** Calls, errors and latency of one command. */
  public static final class CommandStats {
    public long calls;
    public long errors;
    public long totalMicros;
    public final long[] buckets = new long[LATENCY_BUCKETS_MICROS.length];

    public void record(long micros, boolean error) {
      calls++;
      if (error) {
        errors++;
      }
      totalMicros += micros;
      int i = 0;
      while (micros > LATENCY_BUCKETS_MICROS[i]) {
        i++;
      }
      buckets[i]++;
    }
  }

  /** The per-command counters in name order, for rendering. */
  public Map<String, CommandStats> commandsSorted() {
    return new TreeMap<>(commands);
  }

  public CommandStats command(String name) {
    return commands.computeIfAbsent(name, n -> new CommandStats());
  }
}
