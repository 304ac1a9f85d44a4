package io.replicakv.storage.log;

/** One record as read back from a segment, with the byte offset where it starts. */
record LogRecord(long sequence, int partition, byte[] payload, long offset) {
  long endOffset() {
    return offset + LogFormat.recordBytes(payload.length);
  }
}
