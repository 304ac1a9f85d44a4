package io.replicakv.core.leaderless;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one leaderless node has counted since it started: the numbers behind {@code /metrics} and
 * the dashboard (conflicts, LWW overwrites, siblings, read repairs, hints, anti-entropy). Counters
 * only grow and restart from zero with the node. Names are the metric names without prefix.
 */
public final class LeaderlessCounters {
  long writesOk;
  long readsOk;
  long notEnoughReplicas;
  long timeouts;
  long writesRefused;
  long siblingLimitRefusals;
  long lwwWritesDiscarded;
  long readRepairsSent;
  long hintsStored;
  long hintsRefused;
  long hintsHandedOff;
  long antiEntropyExchanges;
  long antiEntropyKeysCompared;
  long antiEntropyDivergentKeys;
  long antiEntropyKeysRepaired;
  long antiEntropyBytesShipped;
  long clockDriftRefusals;
  long tombstonesHeld;
  long tombstonesDropped;
  long tombstoneGcRounds;
  long tombstoneGcConfirmations;
  long tombstoneHintsDropped;

  /** Every counter by metric name, in a fixed order. */
  public Map<String, Long> asMap() {
    Map<String, Long> map = new LinkedHashMap<>();
    map.put("writes_ok", writesOk);
    map.put("reads_ok", readsOk);
    map.put("not_enough_replicas", notEnoughReplicas);
    map.put("timeouts", timeouts);
    map.put("writes_refused", writesRefused);
    map.put("sibling_limit_refusals", siblingLimitRefusals);
    map.put("lww_writes_discarded", lwwWritesDiscarded);
    map.put("read_repairs_sent", readRepairsSent);
    map.put("hints_stored", hintsStored);
    map.put("hints_refused", hintsRefused);
    map.put("hints_handed_off", hintsHandedOff);
    map.put("anti_entropy_exchanges", antiEntropyExchanges);
    map.put("anti_entropy_keys_compared", antiEntropyKeysCompared);
    map.put("anti_entropy_divergent_keys", antiEntropyDivergentKeys);
    map.put("anti_entropy_keys_repaired", antiEntropyKeysRepaired);
    map.put("anti_entropy_bytes_shipped", antiEntropyBytesShipped);
    map.put("clock_drift_refusals", clockDriftRefusals);
    // a gauge among counters: tombstones this node holds now (its owned keys showing only deletes)
    map.put("tombstones_held", tombstonesHeld);
    map.put("tombstones_dropped", tombstonesDropped);
    map.put("tombstone_gc_rounds", tombstoneGcRounds);
    map.put("tombstone_gc_confirmations", tombstoneGcConfirmations);
    map.put("tombstone_hints_dropped", tombstoneHintsDropped);
    return map;
  }

  /** One counter by metric name; 0 for an unknown name. */
  public long get(String name) {
    return asMap().getOrDefault(name, 0L);
  }

  @Override
  public String toString() {
    return asMap().toString();
  }
}
