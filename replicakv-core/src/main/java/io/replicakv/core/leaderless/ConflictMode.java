package io.replicakv.core.leaderless;

/** How a leaderless keyspace resolves concurrent writes to one key; see {@link KeyState}. */
public enum ConflictMode {
  /** Keep concurrent values as siblings (dotted version vector sets); the default. */
  SIBLINGS,
  /** Highest HLC timestamp wins, ties by node id; losing writes are counted. */
  LWW,
  /** Typed CRDT values (counters, sets) merged by their join. */
  CRDT
}
