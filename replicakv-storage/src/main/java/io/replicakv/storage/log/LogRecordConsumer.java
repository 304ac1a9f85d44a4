package io.replicakv.storage.log;

import java.io.IOException;

/** Receives records during {@link SegmentedLog#replay}, in sequence order. */
@FunctionalInterface
public interface LogRecordConsumer {
  /**
   * @param sequence the record's log sequence (the first record of a log is 1)
   * @param partition the partition tag given to {@code append}
   * @param payload the record's bytes; the consumer owns the array
   */
  void accept(long sequence, int partition, byte[] payload) throws IOException;
}
