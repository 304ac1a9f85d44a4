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

  /**
   * The value's data bytes, O(1): a string's length; the sum of field and value lengths of a hash;
   * the sum of member lengths of a set. No headers, pointers or expiry: what a client wrote, the
   * unit of the per-slot byte counters of {@link MemoryState} and of planned data movement.
   */
  long dataBytes();
}
