package io.replicakv.storage.data;

import io.replicakv.core.util.Check;

/**
 * A Redis string. Never mutated in place: a write replaces the whole value, so a reader holding an
 * old instance (a reply being encoded, a snapshot being written) keeps a consistent view.
 */
public final class StringValue implements Value {
  static final int SHALLOW_BYTES = 16;

  private final byte[] bytes;

  /** Wraps {@code bytes} without copying; the caller must not modify them afterwards. */
  public StringValue(byte[] bytes) {
    this.bytes = Check.notNull(bytes, "bytes");
  }

  /** The contents (not a copy); do not modify. */
  public byte[] bytes() {
    return bytes;
  }

  @Override
  public String typeName() {
    return "string";
  }

  @Override
  public long sizeBytesEstimate() {
    return SHALLOW_BYTES + MemoryLayout.byteArrayBytes(bytes.length);
  }

  @Override
  public long dataBytes() {
    return bytes.length;
  }

  @Override
  public String toString() {
    return "string(" + bytes.length + " bytes)";
  }
}
