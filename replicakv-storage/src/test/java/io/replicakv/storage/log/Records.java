package io.replicakv.storage.log;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/** Test helpers: an expected record, random payloads, and collecting a replay. */
record Records(long sequence, int partition, byte[] payload) {

  @Override
  public boolean equals(Object o) {
    return o instanceof Records r
        && r.sequence == sequence
        && r.partition == partition
        && Arrays.equals(r.payload, payload);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(sequence) * 31 + Arrays.hashCode(payload);
  }

  @Override
  public String toString() {
    return "#" + sequence + "/p" + partition + "/" + payload.length + "B";
  }

  static List<Records> replayAll(SegmentedLog log, long after) throws IOException {
    List<Records> out = new ArrayList<>();
    log.replay(
        after,
        (sequence, partition, payload) -> out.add(new Records(sequence, partition, payload)));
    return out;
  }

  /** Sizes mixing empty, small and occasionally large payloads. */
  static byte[] randomPayload(Random random, int largeBytes) {
    int kind = random.nextInt(10);
    int size = kind == 0 ? 0 : kind < 8 ? random.nextInt(200) : random.nextInt(largeBytes + 1);
    byte[] payload = new byte[size];
    random.nextBytes(payload);
    return payload;
  }
}
