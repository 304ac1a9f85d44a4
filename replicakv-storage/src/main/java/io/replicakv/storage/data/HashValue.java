package io.replicakv.storage.data;

import io.replicakv.core.util.Check;

/**
 * A Redis hash: fields to byte-string values. {@link MemoryState#apply} mutates it in place through
 * package-private methods that keep a running size; {@link #fields()} is for reading, and changing
 * the dict directly would desynchronise memory accounting.
 */
public final class HashValue implements Value {
  static final int SHALLOW_BYTES = 24;

  private final Dict<Bytes, byte[]> fields = new Dict<>();

  /** Sum over fields of node + field + value bytes; the dict's own overhead is added on demand. */
  private long entriesBytes;

  /** Sum over fields of field length + value length ({@link Value#dataBytes}). */
  private long dataBytes;

  /** An empty hash; {@link MemoryState} never stores one empty. */
  public HashValue() {}

  /** The fields, for reading only. */
  public Dict<Bytes, byte[]> fields() {
    return fields;
  }

  /** The value of {@code field}, or null. */
  public byte[] get(Bytes field) {
    return fields.get(field);
  }

  public int size() {
    return fields.size();
  }

  @Override
  public String typeName() {
    return "hash";
  }

  @Override
  public long sizeBytesEstimate() {
    return SHALLOW_BYTES + fields.overheadBytesEstimate() + entriesBytes;
  }

  @Override
  public long dataBytes() {
    return dataBytes;
  }

  /** Sets {@code field} to {@code value}; the caller gives up both arrays. */
  void put(Bytes field, byte[] value) {
    Check.notNull(value, "hash value");
    Dict.Node<Bytes, byte[]> node = fields.findOrCreate(field);
    if (node.value == null) {
      entriesBytes += Dict.NODE_BYTES + field.sizeBytesEstimate();
      dataBytes += field.length();
    } else {
      entriesBytes -= MemoryLayout.byteArrayBytes(node.value.length);
      dataBytes -= node.value.length;
    }
    node.value = value;
    entriesBytes += MemoryLayout.byteArrayBytes(value.length);
    dataBytes += value.length;
  }

  /** Removes {@code field}; returns whether it was present. */
  boolean remove(Bytes field) {
    Dict.Node<Bytes, byte[]> node = fields.removeNode(field);
    if (node == null) {
      return false;
    }
    entriesBytes -=
        Dict.NODE_BYTES
            + node.key.sizeBytesEstimate()
            + MemoryLayout.byteArrayBytes(node.value.length);
    dataBytes -= node.key.length() + node.value.length;
    Check.state(entriesBytes >= 0, "hash entry bytes %s negative", entriesBytes);
    Check.state(dataBytes >= 0, "hash data bytes %s negative", dataBytes);
    return true;
  }

  /** {@link #sizeBytesEstimate()} computed by walking every field, for tests and debugging. */
  long recomputeSizeBytes() {
    long[] total = {SHALLOW_BYTES + fields.overheadBytesEstimate()};
    fields.forEach(
        (field, value) ->
            total[0] +=
                Dict.NODE_BYTES
                    + field.sizeBytesEstimate()
                    + MemoryLayout.byteArrayBytes(value.length));
    return total[0];
  }

  /** {@link #dataBytes()} computed by walking every field, for tests and debugging. */
  long recomputeDataBytes() {
    long[] total = {0};
    fields.forEach((field, value) -> total[0] += field.length() + value.length);
    return total[0];
  }

  @Override
  public String toString() {
    return "hash(" + fields.size() + " fields)";
  }
}
