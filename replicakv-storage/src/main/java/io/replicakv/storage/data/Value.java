package io.replicakv.storage.data;

/**
 * The value stored under a key: a string, a hash or a set, as Redis types them. A value reports an
 * O(1) estimate of its heap footprint so that {@link MemoryState} can keep {@code used_memory}
 * current without walking anything.
 */
public sealed interface Value permits StringValue, HashValue, SetValue {
  /** The Redis TYPE name: "string", "hash" or "set". */
  String typeName();

  /** Estimated heap footprint in bytes (the value only, not its key), for maxmemory accounting. */
  long sizeBytesEstimate();
}
