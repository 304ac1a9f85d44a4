package io.replicakv.core.ring;

import io.replicakv.core.util.Check;
import java.nio.charset.StandardCharsets;

/**
 * A key's slot, computed exactly as Redis Cluster does (Redis Cluster specification, "Key
 * distribution model" and "Hash tags"): CRC16 in the XMODEM variant (polynomial 0x1021, initial
 * value 0, no reflection, no final XOR) of the key, modulo 16384.
 *
 * <p>If the key contains a '{' and, after the first '{', a '}' with at least one byte between them,
 * only the bytes between that first '{' and the first '}' after it are hashed, so {@code
 * {user1}.cart} and {@code {user1}.orders} share a slot. An empty tag ({@code "{}"}) or an unclosed
 * '{' hashes the whole key. Matching Redis byte for byte lets Redis Cluster clients route by our
 * {@code CLUSTER SLOTS} answers.
 */
public final class Slots {
  /** Number of slots on the ring, the Redis Cluster slot space. */
  public static final int SLOT_COUNT = 16_384;

  private static final int[] CRC16_TABLE = crc16Table();

  private Slots() {}

  /** The slot of {@code key}, honouring hash tags. */
  public static int slot(byte[] key) {
    Check.notNull(key, "key");
    int open = indexOf(key, (byte) '{', 0);
    if (open >= 0) {
      int close = indexOf(key, (byte) '}', open + 1);
      if (close > open + 1) {
        return crc16(key, open + 1, close) & (SLOT_COUNT - 1);
      }
    }
    return crc16(key, 0, key.length) & (SLOT_COUNT - 1);
  }

  /** The slot of a UTF-8 key, for tests and tools. */
  public static int slot(String key) {
    return slot(key.getBytes(StandardCharsets.UTF_8));
  }

  /** CRC16/XMODEM of the whole array. */
  public static int crc16(byte[] bytes) {
    return crc16(bytes, 0, bytes.length);
  }

  /** CRC16/XMODEM of {@code bytes[from, to)}. */
  public static int crc16(byte[] bytes, int from, int to) {
    int crc = 0;
    for (int i = from; i < to; i++) {
      crc = ((crc << 8) ^ CRC16_TABLE[((crc >>> 8) ^ bytes[i]) & 0xFF]) & 0xFFFF;
    }
    return crc;
  }

  private static int indexOf(byte[] bytes, byte wanted, int from) {
    for (int i = from; i < bytes.length; i++) {
      if (bytes[i] == wanted) {
        return i;
      }
    }
    return -1;
  }

  private static int[] crc16Table() {
    int[] table = new int[256];
    for (int b = 0; b < 256; b++) {
      int crc = b << 8;
      for (int bit = 0; bit < 8; bit++) {
        crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
      }
      table[b] = crc & 0xFFFF;
    }
    return table;
  }
}
