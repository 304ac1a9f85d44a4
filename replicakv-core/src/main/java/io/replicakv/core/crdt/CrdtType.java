package io.replicakv.core.crdt;

import io.replicakv.core.util.CorruptEncodingException;

/**
 * The CRDT types, with the stable one-byte tag used where a value's type must travel with it. Tags
 * are part of the binary format: never renumber, only add.
 */
public enum CrdtType {
  /** {@link GCounter}. */
  G_COUNTER(1),
  /** {@link PNCounter}: Redis INCR, DECR, INCRBY under {@code conflicts=crdt}. */
  PN_COUNTER(2),
  /** {@link LwwRegister}: Redis SET under {@code conflicts=crdt}. */
  LWW_REGISTER(3),
  /** {@link MvRegister}. */
  MV_REGISTER(4),
  /** {@link AwOrSet}: Redis SADD, SREM. */
  AW_OR_SET(5),
  /** {@link OrMap}: Redis HSET, HDEL, HINCRBY. */
  OR_MAP(6);

  private final int tag;

  CrdtType(int tag) {
    this.tag = tag;
  }

  /** The stable tag byte. */
  public int tag() {
    return tag;
  }

  /** The type with {@code tag}. */
  public static CrdtType ofTag(int tag) {
    for (CrdtType type : values()) {
      if (type.tag == tag) {
        return type;
      }
    }
    throw new CorruptEncodingException("unknown CRDT type tag " + tag);
  }

  /** Decodes a value of this type from its own binary form. */
  public Crdt<?> decode(byte[] bytes) {
    return switch (this) {
      case G_COUNTER -> GCounter.fromBytes(bytes);
      case PN_COUNTER -> PNCounter.fromBytes(bytes);
      case LWW_REGISTER -> LwwRegister.fromBytes(bytes);
      case MV_REGISTER -> MvRegister.fromBytes(bytes);
      case AW_OR_SET -> AwOrSet.fromBytes(bytes);
      case OR_MAP -> OrMap.fromBytes(bytes);
    };
  }
}
