package io.replicakv.core.leaderless;

import java.nio.charset.StandardCharsets;

/**
 * The 64-bit hashes behind Merkle trees and state digests: FNV-1a over the bytes, then the
 * SplitMix64 finaliser so that nearby inputs spread over all 64 bits (FNV alone leaves the high
 * bits weak for short keys, and the tree takes its leaf index from the high bits). Not
 * cryptographic: a collision only delays repair of one key until its state changes again.
 */
final class Hashing {
  private static final long FNV_OFFSET_BASIS = 0xcbf29ce484222325L;
  private static final long FNV_PRIME = 0x100000001b3L;

  private Hashing() {}

  /** The hash of {@code bytes}. */
  static long hash64(byte[] bytes) {
    long hash = FNV_OFFSET_BASIS;
    for (byte b : bytes) {
      hash ^= b & 0xff;
      hash *= FNV_PRIME;
    }
    return mix(hash);
  }

  /** The hash of a key's UTF-8 bytes. */
  static long hashKey(String key) {
    return hash64(key.getBytes(StandardCharsets.UTF_8));
  }

  /** SplitMix64's finaliser: a bijection on 64 bits with good avalanche. */
  static long mix(long value) {
    long z = value;
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
