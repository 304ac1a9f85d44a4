package io.replicakv.storage.data;

import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.Check;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Immutable-by-convention byte string with a cached hash; used for keys, fields and members.
 *
 * <p>{@link #of} wraps the caller's array without copying: whoever hands an array to a {@code
 * Bytes} (or to a {@link Mutation} that is then applied) gives up the right to change it. The hash
 * is 32-bit MurmurHash3 (Austin Appleby's public-domain design) over the contents, so that the low
 * bits that {@link Dict} uses as a bucket index are well mixed even for keys such as {@code
 * key:000001}, {@code key:000002}. Ordering is unsigned lexicographic, as Redis compares strings.
 */
public final class Bytes implements Comparable<Bytes> {
  /** Shallow size of one instance on a 64-bit JVM with compressed references. */
  static final int SHALLOW_BYTES = 24;

  private static final VarHandle INT_LITTLE_ENDIAN =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
  private static final int SEED = 0x9747b28c;
  private static final int C1 = 0xcc9e2d51;
  private static final int C2 = 0x1b873593;

  private final byte[] bytes;

  /** 0 until computed; a true hash of 0 is simply recomputed each time. */
  private int hash;

  /**
   * The key's cluster slot plus one, 0 until computed: a key's slot is needed on every change to it
   * (the per-slot counters), and the field fits in the object's alignment padding, so the cache
   * costs no memory ({@link #SHALLOW_BYTES} stays 24).
   */
  private int slotPlusOne;

  private Bytes(byte[] bytes) {
    this.bytes = bytes;
  }

  /** Wraps {@code bytes} without copying. */
  public static Bytes of(byte[] bytes) {
    return new Bytes(Check.notNull(bytes, "bytes"));
  }

  /** A copy of {@code bytes}, for callers that will reuse their array. */
  public static Bytes copyOf(byte[] bytes) {
    return new Bytes(Check.notNull(bytes, "bytes").clone());
  }

  /** The UTF-8 encoding of {@code s}. */
  public static Bytes utf8(String s) {
    return new Bytes(s.getBytes(StandardCharsets.UTF_8));
  }

  /** The backing array itself (not a copy); do not modify it. */
  public byte[] array() {
    return bytes;
  }

  public int length() {
    return bytes.length;
  }

  /** {@link Slots#slot(byte[])} of these bytes as a key, computed once. */
  public int slot() {
    int s = slotPlusOne;
    if (s == 0) {
      s = Slots.slot(bytes) + 1;
      slotPlusOne = s;
    }
    return s - 1;
  }

  /** Estimated heap footprint of this instance and its array, for memory accounting. */
  long sizeBytesEstimate() {
    return SHALLOW_BYTES + MemoryLayout.byteArrayBytes(bytes.length);
  }

  @Override
  public int hashCode() {
    int h = hash;
    if (h == 0) {
      h = murmur3(bytes);
      hash = h;
    }
    return h;
  }

  @Override
  public boolean equals(Object other) {
    if (this == other) {
      return true;
    }
    if (!(other instanceof Bytes that)) {
      return false;
    }
    int h = hash;
    int th = that.hash;
    if (h != 0 && th != 0 && h != th) {
      return false;
    }
    return Arrays.equals(bytes, that.bytes);
  }

  @Override
  public int compareTo(Bytes other) {
    return Arrays.compareUnsigned(bytes, other.bytes);
  }

  /** UTF-8 decoding (malformed input replaced), meant for logs and test messages. */
  @Override
  public String toString() {
    return new String(bytes, StandardCharsets.UTF_8);
  }

  static int murmur3(byte[] data) {
    int h = SEED;
    int length = data.length;
    int i = 0;
    for (; i + 4 <= length; i += 4) {
      h ^= mixK((int) INT_LITTLE_ENDIAN.get(data, i));
      h = Integer.rotateLeft(h, 13);
      h = h * 5 + 0xe6546b64;
    }
    int tail = length & 3;
    if (tail != 0) {
      int k = 0;
      if (tail == 3) {
        k ^= (data[i + 2] & 0xff) << 16;
      }
      if (tail >= 2) {
        k ^= (data[i + 1] & 0xff) << 8;
      }
      k ^= data[i] & 0xff;
      h ^= mixK(k);
    }
    h ^= length;
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    h ^= h >>> 16;
    return h;
  }

  private static int mixK(int k) {
    k *= C1;
    k = Integer.rotateLeft(k, 15);
    return k * C2;
  }
}
