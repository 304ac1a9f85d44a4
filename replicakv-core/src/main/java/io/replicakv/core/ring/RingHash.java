package io.replicakv.core.ring;

import java.nio.charset.StandardCharsets;

/**
 * The token hash: 64-bit FNV-1a over the UTF-8 bytes followed by the MurmurHash3 64-bit finalizer
 * ({@code fmix64}), so that names differing in one trailing digit ({@code n1#7}, {@code n1#8}) land
 * far apart. Part of the ring's layout: changing it moves every slot, so it is frozen.
 */
final class RingHash {
  private static final long FNV_OFFSET_BASIS = 0xcbf29ce484222325L;
  private static final long FNV_PRIME = 0x100000001b3L;

  private RingHash() {}

  static long hash64(String text) {
    long hash = FNV_OFFSET_BASIS;
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
      hash ^= b & 0xFF;
      hash *= FNV_PRIME;
    }
    return fmix64(hash);
  }

  static long fmix64(long value) {
    long k = value;
    k ^= k >>> 33;
    k *= 0xff51afd7ed558ccdL;
    k ^= k >>> 33;
    k *= 0xc4ceb9fe1a85ec53L;
    k ^= k >>> 33;
    return k;
  }

  /** Maps a 64-bit hash onto the slot circle by its top 14 bits. */
  static int toSlot(long hash) {
    return (int) (hash >>> (Long.SIZE - Integer.numberOfTrailingZeros(Slots.SLOT_COUNT)));
  }
}
