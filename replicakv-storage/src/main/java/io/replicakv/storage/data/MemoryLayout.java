package io.replicakv.storage.data;

/**
 * Heap sizes used by memory accounting, for a 64-bit HotSpot JVM with compressed references
 * (12-byte object headers, 4-byte references, 8-byte alignment), the default below 32 GiB heaps.
 * They are estimates in the spirit of Redis's {@code used_memory}: good enough to enforce {@code
 * maxmemory}, not an exact heap census. The same functions serve the running total and its
 * recomputation, so the two can be compared exactly in tests.
 */
final class MemoryLayout {
  private MemoryLayout() {}

  static final int OBJECT_HEADER_BYTES = 12;
  static final int ARRAY_HEADER_BYTES = 16;
  static final int REFERENCE_BYTES = 4;

  /** A boxed {@link Long}: header plus the 8-byte value. */
  static final int BOXED_LONG_BYTES = 16;

  static long align(long bytes) {
    return (bytes + 7) & ~7L;
  }

  static long byteArrayBytes(int length) {
    return align(ARRAY_HEADER_BYTES + (long) length);
  }

  static long referenceArrayBytes(int length) {
    return align(ARRAY_HEADER_BYTES + (long) REFERENCE_BYTES * length);
  }
}
