package io.replicakv.core;

import io.replicakv.core.util.Check;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * One opaque record a replica asks its caller to append to durable storage. The caller frames it
 * (length, checksum) and hands back, after a restart, exactly the records that survived, in order.
 *
 * @param payload the bytes to store; copied on the way in and out
 */
public record PersistRecord(byte[] payload) {
  /** Largest payload accepted; larger state must be split by the replica. */
  public static final int PAYLOAD_BYTES_MAX = 16 * 1024 * 1024;

  public PersistRecord {
    Check.argument(payload != null, "payload is null");
    Check.argument(
        payload.length <= PAYLOAD_BYTES_MAX,
        "payload %s bytes over %s",
        payload.length,
        PAYLOAD_BYTES_MAX);
    payload = payload.clone();
  }

  @Override
  public byte[] payload() {
    return payload.clone();
  }

  /** Payload length without copying. */
  public int sizeBytes() {
    return payload.length;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof PersistRecord that && Arrays.equals(payload, that.payload);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(payload);
  }

  @Override
  public String toString() {
    int shown = Math.min(payload.length, 32);
    return "PersistRecord["
        + payload.length
        + "B "
        + HexFormat.of().formatHex(payload, 0, shown)
        + (shown < payload.length ? "..." : "")
        + "]";
  }
}
