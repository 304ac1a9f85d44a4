package io.replicakv.storage.data;

import io.replicakv.core.util.Check;
import java.util.Arrays;
import java.util.List;

/**
 * A logical change to the live data, as the write-ahead log carries it: the new value, never the
 * command, so that replay does not depend on the clock or on randomness ({@code INCR} logs the
 * resulting string, {@code EXPIRE 10} logs an absolute time, {@code SPOP} logs the removed member).
 *
 * <p>Equality, hash codes and {@code toString} go by array contents, so decoded records compare
 * equal to the originals. {@code keyspace} is the Redis database number. {@code expireAtMillis} is
 * absolute Unix time in milliseconds; 0 means no expiry. Byte arrays are not copied: once a
 * mutation is built, its arrays belong to it, and after {@link MemoryState#apply} to the state.
 *
 * <p>Replay of an overlapping log suffix over a fuzzy snapshot is safe for the blind writes ({@link
 * StringSet}, {@link Delete}, {@link HashSet}, {@link HashDelete}, {@link SetAdd}, {@link
 * SetRemove}, {@link FlushKeyspace}, {@link FlushAll}), but not for {@link Rename}, which reads its
 * source, nor for {@link Expire}, whose effect depends on whether the key exists at that moment;
 * see {@link MemoryState} for the cases.
 */
public sealed interface Mutation {
  /** The keyspace changed, or -1 for {@link FlushAll}. */
  int keyspace();

  /** SET and friends: replaces any value of any type; expiry becomes {@code expireAtMillis}. */
  record StringSet(int keyspace, byte[] key, byte[] value, long expireAtMillis)
      implements Mutation {
    public StringSet {
      checkKeyspace(keyspace);
      Check.notNull(key, "key");
      Check.notNull(value, "value");
      checkExpireAt(expireAtMillis);
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof StringSet that
          && keyspace == that.keyspace
          && Arrays.equals(key, that.key)
          && Arrays.equals(value, that.value)
          && expireAtMillis == that.expireAtMillis;
    }

    @Override
    public int hashCode() {
      return 31 * (31 * (31 * (keyspace) + Arrays.hashCode(key)) + Arrays.hashCode(value))
          + Long.hashCode(expireAtMillis);
    }

    @Override
    public String toString() {
      return "StringSet["
          + "keyspace="
          + keyspace
          + ", "
          + "key="
          + MutationText.show(key)
          + ", "
          + "value="
          + MutationText.show(value)
          + ", "
          + "expireAtMillis="
          + expireAtMillis
          + "]";
    }
  }

  /** DEL, UNLINK, and deletions by expiry. No effect when absent. */
  record Delete(int keyspace, byte[] key) implements Mutation {
    public Delete {
      checkKeyspace(keyspace);
      Check.notNull(key, "key");
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof Delete that
          && keyspace == that.keyspace
          && Arrays.equals(key, that.key);
    }

    @Override
    public int hashCode() {
      return 31 * (keyspace) + Arrays.hashCode(key);
    }

    @Override
    public String toString() {
      return "Delete[" + "keyspace=" + keyspace + ", " + "key=" + MutationText.show(key) + "]";
    }
  }

  /** Sets ({@code expireAtMillis > 0}) or clears (0, PERSIST) an existing key's expiry. */
  record Expire(int keyspace, byte[] key, long expireAtMillis) implements Mutation {
    public Expire {
      checkKeyspace(keyspace);
      Check.notNull(key, "key");
      checkExpireAt(expireAtMillis);
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof Expire that
          && keyspace == that.keyspace
          && Arrays.equals(key, that.key)
          && expireAtMillis == that.expireAtMillis;
    }

    @Override
    public int hashCode() {
      return 31 * (31 * (keyspace) + Arrays.hashCode(key)) + Long.hashCode(expireAtMillis);
    }

    @Override
    public String toString() {
      return "Expire["
          + "keyspace="
          + keyspace
          + ", "
          + "key="
          + MutationText.show(key)
          + ", "
          + "expireAtMillis="
          + expireAtMillis
          + "]";
    }
  }

  /** HSET: field/value pairs f1, v1, f2, v2...; creates the hash, replaces a non-hash. */
  record HashSet(int keyspace, byte[] key, List<byte[]> fieldsAndValues) implements Mutation {
    public HashSet {
      checkKeyspace(keyspace);
      Check.notNull(key, "key");
      checkElements(fieldsAndValues);
      Check.argument(
          fieldsAndValues.size() % 2 == 0,
          "HashSet needs field/value pairs, got %s elements",
          fieldsAndValues.size());
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof HashSet that
          && keyspace == that.keyspace
          && Arrays.equals(key, that.key)
          && MutationText.equal(fieldsAndValues, that.fieldsAndValues);
    }

    @Override
    public int hashCode() {
      return 31 * (31 * (keyspace) + Arrays.hashCode(key)) + MutationText.hash(fieldsAndValues);
    }

    @Override
    public String toString() {
      return "HashSet["
          + "keyspace="
          + keyspace
          + ", "
          + "key="
          + MutationText.show(key)
          + ", "
          + "fieldsAndValues="
          + MutationText.show(fieldsAndValues)
          + "]";
    }
  }

  /** HDEL: removes fields; the key goes when its last field does. */
  record HashDelete(int keyspace, byte[] key, List<byte[]> fields) implements Mutation {
    public HashDelete {
      checkKeyspace(keyspace);
      Check.notNull(key, "key");
      checkElements(fields);
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof HashDelete that
          && keyspace == that.keyspace
          && Arrays.equals(key, that.key)
          && MutationText.equal(fields, that.fields);
    }

    @Override
    public int hashCode() {
      return 31 * (31 * (keyspace) + Arrays.hashCode(key)) + MutationText.hash(fields);
    }

    @Override
    public String toString() {
      return "HashDelete["
          + "keyspace="
          + keyspace
          + ", "
          + "key="
          + MutationText.show(key)
          + ", "
          + "fields="
          + MutationText.show(fields)
          + "]";
    }
  }

  /** SADD: adds members; creates the set, replaces a non-set. */
  record SetAdd(int keyspace, byte[] key, List<byte[]> members) implements Mutation {
    public SetAdd {
      checkKeyspace(keyspace);
      Check.notNull(key, "key");
      checkElements(members);
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof SetAdd that
          && keyspace == that.keyspace
          && Arrays.equals(key, that.key)
          && MutationText.equal(members, that.members);
    }

    @Override
    public int hashCode() {
      return 31 * (31 * (keyspace) + Arrays.hashCode(key)) + MutationText.hash(members);
    }

    @Override
    public String toString() {
      return "SetAdd["
          + "keyspace="
          + keyspace
          + ", "
          + "key="
          + MutationText.show(key)
          + ", "
          + "members="
          + MutationText.show(members)
          + "]";
    }
  }

  /** SREM, SPOP: removes members; the key goes when its last member does. */
  record SetRemove(int keyspace, byte[] key, List<byte[]> members) implements Mutation {
    public SetRemove {
      checkKeyspace(keyspace);
      Check.notNull(key, "key");
      checkElements(members);
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof SetRemove that
          && keyspace == that.keyspace
          && Arrays.equals(key, that.key)
          && MutationText.equal(members, that.members);
    }

    @Override
    public int hashCode() {
      return 31 * (31 * (keyspace) + Arrays.hashCode(key)) + MutationText.hash(members);
    }

    @Override
    public String toString() {
      return "SetRemove["
          + "keyspace="
          + keyspace
          + ", "
          + "key="
          + MutationText.show(key)
          + ", "
          + "members="
          + MutationText.show(members)
          + "]";
    }
  }

  /** RENAME: moves value and expiry from {@code from} to {@code to}, replacing {@code to}. */
  record Rename(int keyspace, byte[] from, byte[] to) implements Mutation {
    public Rename {
      checkKeyspace(keyspace);
      Check.notNull(from, "from");
      Check.notNull(to, "to");
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof Rename that
          && keyspace == that.keyspace
          && Arrays.equals(from, that.from)
          && Arrays.equals(to, that.to);
    }

    @Override
    public int hashCode() {
      return 31 * (31 * (keyspace) + Arrays.hashCode(from)) + Arrays.hashCode(to);
    }

    @Override
    public String toString() {
      return "Rename["
          + "keyspace="
          + keyspace
          + ", "
          + "from="
          + MutationText.show(from)
          + ", "
          + "to="
          + MutationText.show(to)
          + "]";
    }
  }

  /** FLUSHDB. */
  record FlushKeyspace(int keyspace) implements Mutation {
    public FlushKeyspace {
      checkKeyspace(keyspace);
    }
  }

  /**
   * Several changes that form one command (MSET, multi-key DEL): one log record, so the log holds
   * all of them or none, and replay applies them together. Parts are never batches themselves.
   */
  record Batch(List<Mutation> parts) implements Mutation {
    /** Most parts one batch may hold (a command's keys are bounded by the argument limit too). */
    public static final int PARTS_MAX = 1 << 20;

    public Batch {
      Check.argument(parts != null && !parts.isEmpty(), "a batch needs at least one part");
      Check.argument(
          parts.size() <= PARTS_MAX, "batch of %s parts exceeds %s", parts.size(), PARTS_MAX);
      parts = List.copyOf(parts);
      for (Mutation part : parts) {
        Check.argument(!(part instanceof Batch), "batches do not nest");
      }
    }

    @Override
    public int keyspace() {
      return parts.getFirst().keyspace();
    }
  }

  /** FLUSHALL. */
  record FlushAll() implements Mutation {
    @Override
    public int keyspace() {
      return -1;
    }
  }

  private static void checkKeyspace(int keyspace) {
    Check.argument(keyspace >= 0, "keyspace %s negative", keyspace);
  }

  private static void checkExpireAt(long expireAtMillis) {
    Check.argument(expireAtMillis >= 0, "expireAtMillis %s negative", expireAtMillis);
  }

  private static void checkElements(List<byte[]> elements) {
    Check.notNull(elements, "elements");
    for (byte[] element : elements) {
      Check.notNull(element, "element");
    }
  }
}
