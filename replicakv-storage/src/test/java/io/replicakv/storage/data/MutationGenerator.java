package io.replicakv.storage.data;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Seeded random mutations over small alphabets of keys, fields and members, so that sequences hit
 * the same keys often: type changes, emptied hashes, renames over existing keys.
 */
final class MutationGenerator {
  static final int KEYSPACES = 3;
  private static final int KEYS = 6;
  private static final int FIELDS = 5;
  private static final long[] EXPIRIES = {0, 0, 100, 200, 300};

  /** Hash tags of {@link #hashTaggedKeys} keys: few, so that several keys share each slot. */
  private static final int TAGS = 2;

  private final SplittableRandom random;
  private final boolean blindWritesOnly;
  private final boolean hashTaggedKeys;

  MutationGenerator(long seed, boolean blindWritesOnly) {
    this(seed, blindWritesOnly, false);
  }

  /**
   * @param hashTaggedKeys when true, two keys in three carry a hash tag ({@code {t0}k3}), so slots
   *     hold several keys and renames move keys within and between slots
   */
  MutationGenerator(long seed, boolean blindWritesOnly, boolean hashTaggedKeys) {
    this.random = new SplittableRandom(seed);
    this.blindWritesOnly = blindWritesOnly;
    this.hashTaggedKeys = hashTaggedKeys;
  }

  List<Mutation> history(int length) {
    List<Mutation> history = new ArrayList<>(length);
    for (int i = 0; i < length; i++) {
      history.add(next());
    }
    return history;
  }

  Mutation next() {
    int keyspace = random.nextInt(KEYSPACES);
    byte[] key = key();
    while (true) {
      int choice = random.nextInt(100);
      if (choice < 20) {
        return new Mutation.StringSet(keyspace, key, value(), expiry());
      } else if (choice < 30) {
        return new Mutation.Delete(keyspace, key);
      } else if (choice < 40) {
        if (blindWritesOnly) {
          continue;
        }
        return new Mutation.Expire(keyspace, key, expiry());
      } else if (choice < 55) {
        List<byte[]> pairs = new ArrayList<>();
        for (int n = 1 + random.nextInt(3); n > 0; n--) {
          pairs.add(field());
          pairs.add(value());
        }
        return new Mutation.HashSet(keyspace, key, pairs);
      } else if (choice < 65) {
        return new Mutation.HashDelete(keyspace, key, fields());
      } else if (choice < 80) {
        return new Mutation.SetAdd(keyspace, key, fields());
      } else if (choice < 90) {
        return new Mutation.SetRemove(keyspace, key, fields());
      } else if (choice < 97) {
        if (blindWritesOnly) {
          continue;
        }
        return new Mutation.Rename(keyspace, key, key());
      } else if (choice < 99) {
        return new Mutation.FlushKeyspace(keyspace);
      } else {
        return new Mutation.FlushAll();
      }
    }
  }

  private byte[] key() {
    if (hashTaggedKeys && random.nextInt(3) != 0) {
      return ascii("{t" + random.nextInt(TAGS) + "}k" + random.nextInt(KEYS));
    }
    return ascii("key" + random.nextInt(KEYS));
  }

  private byte[] field() {
    return ascii("f" + random.nextInt(FIELDS));
  }

  private List<byte[]> fields() {
    List<byte[]> fields = new ArrayList<>();
    for (int n = random.nextInt(4); n > 0; n--) {
      fields.add(field());
    }
    return fields;
  }

  private byte[] value() {
    byte[] value = new byte[random.nextInt(30)];
    random.nextBytes(value);
    return value;
  }

  private long expiry() {
    return EXPIRIES[random.nextInt(EXPIRIES.length)];
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
