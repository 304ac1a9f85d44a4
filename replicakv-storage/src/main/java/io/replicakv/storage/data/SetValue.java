package io.replicakv.storage.data;

import io.replicakv.core.util.Check;

/**
 * A Redis set of byte-string members, stored as a {@link Dict} whose values are all {@link
 * Boolean#TRUE} (one shared instance, so a member costs its node and its bytes). {@link
 * MemoryState#apply} mutates it in place; {@link #members()} is for reading only.
 */
public final class SetValue implements Value {
  static final int SHALLOW_BYTES = 24;

  private final Dict<Bytes, Boolean> members = new Dict<>();
  private long entriesBytes;

  /** Sum of member lengths ({@link Value#dataBytes}). */
  private long dataBytes;

  /** An empty set; {@link MemoryState} never stores one empty. */
  public SetValue() {}

  /** The members (values are always {@code TRUE}), for reading only. */
  public Dict<Bytes, Boolean> members() {
    return members;
  }

  public boolean contains(Bytes member) {
    return members.containsKey(member);
  }

  public int size() {
    return members.size();
  }

  @Override
  public String typeName() {
    return "set";
  }

  @Override
  public long sizeBytesEstimate() {
    return SHALLOW_BYTES + members.overheadBytesEstimate() + entriesBytes;
  }

  @Override
  public long dataBytes() {
    return dataBytes;
  }

  /** Adds {@code member}; returns whether it was new. */
  boolean add(Bytes member) {
    Dict.Node<Bytes, Boolean> node = members.findOrCreate(member);
    if (node.value != null) {
      return false;
    }
    node.value = Boolean.TRUE;
    entriesBytes += Dict.NODE_BYTES + member.sizeBytesEstimate();
    dataBytes += member.length();
    return true;
  }

  /** Removes {@code member}; returns whether it was present. */
  boolean remove(Bytes member) {
    Dict.Node<Bytes, Boolean> node = members.removeNode(member);
    if (node == null) {
      return false;
    }
    entriesBytes -= Dict.NODE_BYTES + node.key.sizeBytesEstimate();
    dataBytes -= node.key.length();
    Check.state(entriesBytes >= 0, "set entry bytes %s negative", entriesBytes);
    Check.state(dataBytes >= 0, "set data bytes %s negative", dataBytes);
    return true;
  }

  long recomputeSizeBytes() {
    long[] total = {SHALLOW_BYTES + members.overheadBytesEstimate()};
    members.forEach((member, ignored) -> total[0] += Dict.NODE_BYTES + member.sizeBytesEstimate());
    return total[0];
  }

  /** {@link #dataBytes()} computed by walking every member, for tests and debugging. */
  long recomputeDataBytes() {
    long[] total = {0};
    members.forEach((member, ignored) -> total[0] += member.length());
    return total[0];
  }

  @Override
  public String toString() {
    return "set(" + members.size() + " members)";
  }
}
