package io.replicakv.storage.data;

/**
 * 64-bit hashing for {@link MemoryState#contentHash}: FNV-1a over the bytes, finished with the
 * MurmurHash3 64-bit finaliser so that sums of many hashes stay well spread. Collections are hashed
 * as sums of their elements' hashes, which makes the result independent of table order.
 */
final class ContentHash {
  private ContentHash() {}

  private static final long FNV_OFFSET = 0xcbf29ce484222325L;
  private static final long FNV_PRIME = 0x100000001b3L;

  static long bytes(byte[] data) {
    long h = FNV_OFFSET;
    for (byte b : data) {
      h ^= b & 0xFF;
      h *= FNV_PRIME;
    }
    return mix(h ^ data.length);
  }

  static long mix(long value) {
    long h = value;
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    h ^= h >>> 33;
    return h;
  }

  static long entry(Bytes key, Value value, long expireAtMillis) {
    long h = bytes(key.array());
    h = mix(h * 31 + value(value));
    return mix(h * 31 + mix(expireAtMillis + 0x9E3779B97F4A7C15L));
  }

  static long value(Value value) {
    return switch (value) {
      case StringValue s -> mix(1 + bytes(s.bytes()));
      case HashValue h -> {
        long[] sum = {2};
        h.fields()
            .forEach((field, v) -> sum[0] += mix(bytes(field.array()) * 0x9E3779B1L + bytes(v)));
        yield mix(sum[0]);
      }
      case SetValue s -> {
        long[] sum = {3};
        s.members().forEach((member, ignored) -> sum[0] += mix(bytes(member.array())));
        yield mix(sum[0]);
      }
    };
  }
}
