package io.replicakv.storage.data;

import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.random.RandomGenerator;

/**
 * The live data of a node: Redis-style keyspaces (logical databases) of strings, hashes and sets
 * with per-key expiry, changed only by applying {@link Mutation}s.
 *
 * <h2>Model</h2>
 *
 * As in Redis's {@code redisDb}, each keyspace holds two {@link Dict}s: {@code data} (key to value)
 * and {@code expires} (key to absolute expiry in Unix milliseconds), whose keys are a subset of
 * {@code data}'s and share its key instances. The state never reads a clock: {@link #get} ignores
 * expiry, the caller asks {@link #isExpired} with its own time and turns an expired key into a
 * {@link Mutation.Delete} that it logs and applies, as Redis propagates a DEL for a key it expires.
 * A key is expired when {@code now > expireAtMillis}, Redis's rule for reads.
 *
 * <h2>Invariants</h2>
 *
 * <ul>
 *   <li>No hash or set is stored empty: removing the last field or member removes the key.
 *   <li>Every key in {@code expires} is in {@code data}; an expiry is never 0 (0 means none).
 *   <li>The running memory estimate equals a recomputation from scratch ({@link
 *       #verifyInvariants}); it counts keys, values, entry nodes, boxed expiries and the tables.
 *   <li>{@link HashValue} and {@link SetValue} are changed in place, {@link StringValue} never.
 *   <li>Per slot ({@link Slots}, CRC16 with hash tags) the key count and the data bytes (key length
 *       plus {@link Value#dataBytes}) equal a recount ({@link #verifyInvariants}).
 * </ul>
 *
 * <h2>Slot counters</h2>
 *
 * Each keyspace keeps, per slot, its number of keys and their data bytes: the key's length plus its
 * value's {@link Value#dataBytes} (string length; hash field and value lengths; set member
 * lengths), without expiry, headers or pointers. They are maintained on every change (one CRC16 of
 * the key per applied mutation that touches a present key) so that CLUSTER COUNTKEYSINSLOT and the
 * key and byte counts of a move plan cost O(slots) instead of a walk over every key, which would
 * hold the node loop for seconds on a large keyspace. Redis keeps the same per-slot key count for
 * the same reason. The counters of a slot sit next to each other (one cache line per update, which
 * matters when the keys' working set has pushed them out of the cache); the array ({@value
 * #SLOT_COUNTERS_BYTES} bytes) is allocated with a keyspace's first key and dropped when it is
 * flushed, so the many unused keyspaces of a cluster node cost nothing; they are not part of {@link
 * #usedMemoryBytes}, which estimates the data.
 *
 * <h2>Replay</h2>
 *
 * {@link #apply} is deterministic and lenient, because on replay it must accept whatever the log
 * holds: a HashSet or SetAdd on a key of another type replaces it (dropping its expiry, as if the
 * key had been deleted first), a HashDelete or SetRemove on another type, an Expire on an absent
 * key and a Rename from an absent key do nothing. A snapshot taken while writes continue (a fuzzy
 * snapshot) is repaired by replaying the log from a position before the snapshot started; that
 * converges for the blind writes, whose outcome does not depend on the state they meet. It does not
 * for two record types, which callers must not replay twice:
 *
 * <ul>
 *   <li>Rename reads its source: {@code SET a 1; RENAME a b; SET a 2}, replayed from the RENAME
 *       over the final state, moves the newer {@code a} into {@code b}.
 *   <li>Expire depends on whether its key exists: {@code EXPIRE k t} (no-op, k absent) then {@code
 *       HSET k f v}, replayed over the final state, gives {@code k} an expiry; likewise {@code HSET
 *       k f v; EXPIRE k t; HDEL k f} (k goes with its last field) {@code ; HSET k g w}, replayed
 *       from the EXPIRE, leaves an expiry on {@code k} because the HDEL no longer empties it.
 * </ul>
 *
 * Snapshots must therefore be taken at an exact log position (the design's rule), not fuzzily.
 *
 * <h2>Threading</h2>
 *
 * One thread, the node loop. Values returned by {@link #get} are live and must be read before the
 * next {@link #apply}.
 */
public final class MemoryState {
  /** Most keyspaces a state may hold; Redis's default is 16. */
  public static final int KEYSPACE_COUNT_MAX = 1 << 16;

  /** Version byte of {@link #encodeEntry}. */
  public static final int ENTRY_FORMAT_VERSION = 1;

  /** Most buckets {@link #scan} visits per element asked for, as Redis's 10 x COUNT. */
  static final int SCAN_BUCKETS_PER_COUNT_MAX = 10;

  /** An expiry costs a dict node and a boxed Long; its key is shared with the data dict. */
  static final int EXPIRY_ENTRY_BYTES = Dict.NODE_BYTES + MemoryLayout.BOXED_LONG_BYTES;

  /** Heap of one keyspace's slot counters: an int and a long per slot (arrays' headers aside). */
  static final int SLOT_COUNTERS_BYTES = Slots.SLOT_COUNT * 2 * Long.BYTES;

  static final int TYPE_STRING = 1;
  static final int TYPE_HASH = 2;
  static final int TYPE_SET = 3;

  /** The keys and expiries of one Redis database, with the estimate of what its entries cost. */
  private static final class Keyspace {
    final Dict<Bytes, Value> data = new Dict<>();
    final Dict<Bytes, Long> expires = new Dict<>();

    /** Keys, values and expiry entries; the two tables are added when asked. */
    long entriesBytes;

    /**
     * Per slot {@code s}: its key count at {@code 2s}, its data bytes (key length + {@link
     * Value#dataBytes}) at {@code 2s + 1}; null until the first key, and again after a flush.
     */
    long[] slotCounts;

    /** Counts a change of one slot: a key added (+1) or removed (-1) or 0, and a byte delta. */
    void countSlot(int slot, int keysDelta, long bytesDelta) {
      long[] counts = slotCounts;
      if (counts == null) {
        counts = new long[2 * Slots.SLOT_COUNT];
        slotCounts = counts;
      }
      long keys = counts[2 * slot] += keysDelta;
      long bytes = counts[2 * slot + 1] += bytesDelta;
      Check.state(keys >= 0, "slot %s key count %s negative", slot, keys);
      Check.state(bytes >= 0, "slot %s data bytes %s negative", slot, bytes);
    }

    long usedMemoryBytes() {
      return entriesBytes + data.overheadBytesEstimate() + expires.overheadBytesEstimate();
    }
  }

  /** Receives one key of a keyspace with its value and expiry (0 = none). */
  @FunctionalInterface
  public interface EntryVisitor {
    void visit(Bytes key, Value value, long expireAtMillis);
  }

  /** One decoded snapshot entry; {@code value} is freshly built and owned by the record. */
  public record Entry(int keyspace, Bytes key, Value value, long expireAtMillis) {}

  private final Keyspace[] keyspaces;

  /** A state with {@code keyspaceCount} empty keyspaces numbered from 0. */
  public MemoryState(int keyspaceCount) {
    Check.argument(
        keyspaceCount >= 1 && keyspaceCount <= KEYSPACE_COUNT_MAX,
        "keyspaceCount %s outside [1, %s]",
        keyspaceCount,
        KEYSPACE_COUNT_MAX);
    keyspaces = new Keyspace[keyspaceCount];
    for (int i = 0; i < keyspaceCount; i++) {
      keyspaces[i] = new Keyspace();
    }
  }

  public int keyspaceCount() {
    return keyspaces.length;
  }

  /** The value under {@code key}, ignoring expiry (the caller checks {@link #isExpired}). */
  public Value get(int keyspace, Bytes key) {
    return keyspace(keyspace).data.get(key);
  }

  /** Absolute expiry in Unix milliseconds; 0 when the key has none or is absent. */
  public long expireAtMillis(int keyspace, Bytes key) {
    return expireAtMillis(keyspace(keyspace), key);
  }

  /** Whether {@code key} has an expiry that {@code nowMillis} has passed. */
  public boolean isExpired(int keyspace, Bytes key, long nowMillis) {
    long expireAt = expireAtMillis(keyspace(keyspace), key);
    return expireAt != 0 && nowMillis > expireAt;
  }

  /** Number of keys, expired or not (Redis DBSIZE). */
  public int size(int keyspace) {
    return keyspace(keyspace).data.size();
  }

  /** Number of keys with an expiry. */
  public int expiresSize(int keyspace) {
    return keyspace(keyspace).expires.size();
  }

  /** Keys of {@code keyspace} in {@code slot}, expired or not (CLUSTER COUNTKEYSINSLOT); O(1). */
  public int keysInSlot(int keyspace, int slot) {
    long[] counts = keyspace(keyspace).slotCounts;
    return counts == null ? 0 : (int) counts[2 * checkSlot(slot)];
  }

  /**
   * Data bytes (key lengths + {@link Value#dataBytes}) of {@code keyspace} in {@code slot}; O(1).
   */
  public long bytesInSlot(int keyspace, int slot) {
    long[] counts = keyspace(keyspace).slotCounts;
    return counts == null ? 0 : counts[2 * checkSlot(slot) + 1];
  }

  /** Keys of {@code keyspace} in slots {@code first..last} (inclusive); O(slots). */
  public long keysInSlots(int keyspace, int firstSlot, int lastSlot) {
    long[] counts = keyspace(keyspace).slotCounts;
    checkSlotRange(firstSlot, lastSlot);
    long total = 0;
    if (counts != null) {
      for (int slot = firstSlot; slot <= lastSlot; slot++) {
        total += counts[2 * slot];
      }
    }
    return total;
  }

  /** Data bytes of {@code keyspace} in slots {@code first..last} (inclusive); O(slots). */
  public long bytesInSlots(int keyspace, int firstSlot, int lastSlot) {
    long[] counts = keyspace(keyspace).slotCounts;
    checkSlotRange(firstSlot, lastSlot);
    long total = 0;
    if (counts != null) {
      for (int slot = firstSlot; slot <= lastSlot; slot++) {
        total += counts[2 * slot + 1];
      }
    }
    return total;
  }

  /** Whether {@code keyspace} holds no key (its slot counters are then all zero or absent). */
  public boolean isEmpty(int keyspace) {
    return keyspace(keyspace).data.isEmpty();
  }

  /**
   * Up to {@code count} keys of {@code keyspace} in {@code slot} (CLUSTER GETKEYSINSLOT), in table
   * order. There is no per-slot index of keys, so this walks the keyspace, but stops as soon as it
   * has every key the slot counter says the slot holds (or {@code count}): an empty slot costs
   * nothing, a full one a walk until its keys are found. Expired keys are returned too.
   */
  public List<Bytes> keysInSlot(int keyspace, int slot, int count) {
    Check.argument(count >= 0, "count %s negative", count);
    Keyspace ks = keyspace(keyspace);
    int wanted = Math.min(count, keysInSlot(keyspace, slot));
    List<Bytes> found = new ArrayList<>(wanted);
    long cursor = 0;
    while (found.size() < wanted) {
      cursor =
          ks.data.scan(
              cursor,
              1,
              (key, value) -> {
                if (found.size() < wanted && key.slot() == slot) {
                  found.add(key);
                }
              });
      if (cursor == 0) {
        break;
      }
    }
    Check.state(
        found.size() == wanted,
        "slot %s: found %s keys, counter says %s",
        slot,
        found.size(),
        wanted);
    return found;
  }

  private static int checkSlot(int slot) {
    Check.argument(
        slot >= 0 && slot < Slots.SLOT_COUNT, "slot %s outside [0, %s)", slot, Slots.SLOT_COUNT);
    return slot;
  }

  private static void checkSlotRange(int firstSlot, int lastSlot) {
    checkSlot(firstSlot);
    checkSlot(lastSlot);
    Check.argument(firstSlot <= lastSlot, "slot range %s-%s reversed", firstSlot, lastSlot);
  }

  /**
   * Applies one mutation. Deterministic (no clock, no randomness) and lenient on replay; see the
   * class comment. The mutation's arrays become part of the state.
   */
  public void apply(Mutation m) {
    switch (m) {
      case Mutation.StringSet s -> applyStringSet(keyspace(s.keyspace()), s);
      case Mutation.Delete d -> removeKey(keyspace(d.keyspace()), Bytes.of(d.key()));
      case Mutation.Expire e -> applyExpire(keyspace(e.keyspace()), e);
      case Mutation.HashSet h -> applyHashSet(keyspace(h.keyspace()), h);
      case Mutation.HashDelete h -> applyHashDelete(keyspace(h.keyspace()), h);
      case Mutation.SetAdd s -> applySetAdd(keyspace(s.keyspace()), s);
      case Mutation.SetRemove s -> applySetRemove(keyspace(s.keyspace()), s);
      case Mutation.Rename r -> applyRename(keyspace(r.keyspace()), r);
      case Mutation.FlushKeyspace f -> flush(keyspace(f.keyspace()));
      case Mutation.FlushAll f -> {
        for (Keyspace ks : keyspaces) {
          flush(ks);
        }
      }
      case Mutation.Batch b -> b.parts().forEach(this::apply);
    }
  }

  private void applyStringSet(Keyspace ks, Mutation.StringSet s) {
    Dict.Node<Bytes, Value> node = ks.data.findOrCreate(Bytes.of(s.key()));
    int slot = node.key.slot();
    if (node.value == null) {
      ks.entriesBytes += keyEntryBytes(node.key);
      ks.countSlot(slot, 1, s.key().length + (long) s.value().length);
    } else {
      ks.entriesBytes -= node.value.sizeBytesEstimate();
      ks.countSlot(slot, 0, s.value().length - node.value.dataBytes());
    }
    StringValue value = new StringValue(s.value());
    node.value = value;
    ks.entriesBytes += value.sizeBytesEstimate();
    setExpiry(ks, node.key, s.expireAtMillis());
  }

  private void applyExpire(Keyspace ks, Mutation.Expire e) {
    Dict.Node<Bytes, Value> node = ks.data.node(Bytes.of(e.key()));
    if (node != null) {
      setExpiry(ks, node.key, e.expireAtMillis());
    }
  }

  private void applyHashSet(Keyspace ks, Mutation.HashSet h) {
    List<byte[]> pairs = h.fieldsAndValues();
    if (pairs.isEmpty()) {
      return;
    }
    Dict.Node<Bytes, Value> node = replaceUnlessType(ks, Bytes.of(h.key()), HashValue.class);
    HashValue hash = (HashValue) node.value;
    long before = hash.sizeBytesEstimate();
    long dataBefore = hash.dataBytes();
    for (int i = 0; i < pairs.size(); i += 2) {
      hash.put(Bytes.of(pairs.get(i)), pairs.get(i + 1));
    }
    ks.entriesBytes += hash.sizeBytesEstimate() - before;
    ks.countSlot(node.key.slot(), 0, hash.dataBytes() - dataBefore);
  }

  private void applyHashDelete(Keyspace ks, Mutation.HashDelete h) {
    Bytes key = Bytes.of(h.key());
    Dict.Node<Bytes, Value> node = ks.data.node(key);
    if (node == null || !(node.value instanceof HashValue hash)) {
      return;
    }
    long before = hash.sizeBytesEstimate();
    long dataBefore = hash.dataBytes();
    for (byte[] field : h.fields()) {
      hash.remove(Bytes.of(field));
    }
    ks.entriesBytes += hash.sizeBytesEstimate() - before;
    if (hash.dataBytes() != dataBefore) {
      ks.countSlot(node.key.slot(), 0, hash.dataBytes() - dataBefore);
    }
    if (hash.size() == 0) {
      removeKey(ks, key);
    }
  }

  private void applySetAdd(Keyspace ks, Mutation.SetAdd s) {
    if (s.members().isEmpty()) {
      return;
    }
    Dict.Node<Bytes, Value> node = replaceUnlessType(ks, Bytes.of(s.key()), SetValue.class);
    SetValue set = (SetValue) node.value;
    long before = set.sizeBytesEstimate();
    long dataBefore = set.dataBytes();
    for (byte[] member : s.members()) {
      set.add(Bytes.of(member));
    }
    ks.entriesBytes += set.sizeBytesEstimate() - before;
    ks.countSlot(node.key.slot(), 0, set.dataBytes() - dataBefore);
  }

  private void applySetRemove(Keyspace ks, Mutation.SetRemove s) {
    Bytes key = Bytes.of(s.key());
    Dict.Node<Bytes, Value> node = ks.data.node(key);
    if (node == null || !(node.value instanceof SetValue set)) {
      return;
    }
    long before = set.sizeBytesEstimate();
    long dataBefore = set.dataBytes();
    for (byte[] member : s.members()) {
      set.remove(Bytes.of(member));
    }
    ks.entriesBytes += set.sizeBytesEstimate() - before;
    if (set.dataBytes() != dataBefore) {
      ks.countSlot(node.key.slot(), 0, set.dataBytes() - dataBefore);
    }
    if (set.size() == 0) {
      removeKey(ks, key);
    }
  }

  /**
   * The value of {@code type} under {@code key}, creating an empty one when the key is absent or
   * holds another type (which loses its expiry); returns the key's node, holding it. The caller
   * must make a created value non-empty before returning, and count the data bytes it adds.
   */
  private static Dict.Node<Bytes, Value> replaceUnlessType(
      Keyspace ks, Bytes key, Class<? extends Value> type) {
    Dict.Node<Bytes, Value> node = ks.data.findOrCreate(key);
    if (type.isInstance(node.value)) {
      return node;
    }
    int slot = node.key.slot();
    if (node.value == null) {
      ks.entriesBytes += keyEntryBytes(node.key);
      ks.countSlot(slot, 1, key.length());
    } else {
      ks.entriesBytes -= node.value.sizeBytesEstimate();
      ks.countSlot(slot, 0, -node.value.dataBytes());
      removeExpiry(ks, node.key);
    }
    Value created = type == HashValue.class ? new HashValue() : new SetValue();
    node.value = created;
    ks.entriesBytes += created.sizeBytesEstimate();
    return node;
  }

  private void applyRename(Keyspace ks, Mutation.Rename r) {
    Bytes from = Bytes.of(r.from());
    Bytes to = Bytes.of(r.to());
    if (from.equals(to)) {
      return;
    }
    Value value = ks.data.get(from);
    if (value == null) {
      return;
    }
    long expireAt = expireAtMillis(ks, from);
    removeKey(ks, from);
    removeKey(ks, to);
    insertKey(ks, to, value, expireAt);
  }

  private static void flush(Keyspace ks) {
    ks.data.clear();
    ks.expires.clear();
    ks.entriesBytes = 0;
    ks.slotCounts = null;
  }

  /** Inserts a key known to be absent. */
  private static void insertKey(Keyspace ks, Bytes key, Value value, long expireAtMillis) {
    Dict.Node<Bytes, Value> node = ks.data.findOrCreate(key);
    Check.state(node.value == null, "insertKey over an existing key");
    node.value = value;
    ks.entriesBytes += keyEntryBytes(node.key) + value.sizeBytesEstimate();
    ks.countSlot(node.key.slot(), 1, key.length() + value.dataBytes());
    setExpiry(ks, node.key, expireAtMillis);
  }

  /** Removes {@code key} with its expiry; returns whether it was present. */
  private static boolean removeKey(Keyspace ks, Bytes key) {
    Dict.Node<Bytes, Value> node = ks.data.removeNode(key);
    if (node == null) {
      return false;
    }
    ks.entriesBytes -= keyEntryBytes(node.key) + node.value.sizeBytesEstimate();
    ks.countSlot(node.key.slot(), -1, -(key.length() + node.value.dataBytes()));
    removeExpiry(ks, key);
    Check.state(ks.entriesBytes >= 0, "keyspace entry bytes %s negative", ks.entriesBytes);
    return true;
  }

  /** Sets the expiry of a present key, given as the data dict's own key instance; 0 clears it. */
  private static void setExpiry(Keyspace ks, Bytes storedKey, long expireAtMillis) {
    if (expireAtMillis == 0) {
      removeExpiry(ks, storedKey);
      return;
    }
    Dict.Node<Bytes, Long> node = ks.expires.findOrCreate(storedKey);
    if (node.value == null) {
      ks.entriesBytes += EXPIRY_ENTRY_BYTES;
    }
    node.value = expireAtMillis;
  }

  private static void removeExpiry(Keyspace ks, Bytes key) {
    if (ks.expires.isEmpty()) {
      return;
    }
    if (ks.expires.removeNode(key) != null) {
      ks.entriesBytes -= EXPIRY_ENTRY_BYTES;
    }
  }

  private static long expireAtMillis(Keyspace ks, Bytes key) {
    if (ks.expires.isEmpty()) {
      return 0;
    }
    Long expireAt = ks.expires.get(key);
    return expireAt == null ? 0 : expireAt;
  }

  private static long keyEntryBytes(Bytes key) {
    return Dict.NODE_BYTES + key.sizeBytesEstimate();
  }

  /**
   * Redis SCAN over one keyspace: visits buckets from {@code cursor} until at least {@code count}
   * keys were returned, {@value #SCAN_BUCKETS_PER_COUNT_MAX} x {@code count} buckets were visited
   * or the scan ended; returns the next cursor, 0 when done. Guarantees as {@link Dict#scan}.
   * Expired keys are returned too; the visitor must not apply mutations.
   */
  public long scan(int keyspace, long cursor, int count, BiConsumer<Bytes, Value> visitor) {
    Check.argument(count > 0, "scan count %s must be positive", count);
    Dict<Bytes, Value> data = keyspace(keyspace).data;
    long bucketsMax = (long) count * SCAN_BUCKETS_PER_COUNT_MAX;
    int[] returned = {0};
    BiConsumer<Bytes, Value> counting =
        (key, value) -> {
          returned[0]++;
          visitor.accept(key, value);
        };
    long next = cursor;
    long buckets = 0;
    do {
      next = data.scan(next, 1, counting);
      buckets++;
    } while (next != 0 && returned[0] < count && buckets < bucketsMax);
    return next;
  }

  /**
   * Advances the incremental rehash of every keyspace's key and expiry tables by up to {@code
   * bucketsPerTable} buckets each, for the node loop's idle time (Redis's {@code activerehashing});
   * returns whether any rehash is still in progress. Writes advance rehashes by themselves, so
   * calling this is optional.
   */
  public boolean rehashSteps(int bucketsPerTable) {
    boolean inProgress = false;
    for (Keyspace ks : keyspaces) {
      inProgress |= ks.data.isRehashing() && ks.data.rehashSteps(bucketsPerTable);
      inProgress |= ks.expires.isRehashing() && ks.expires.rehashSteps(bucketsPerTable);
    }
    return inProgress;
  }

  /** A random key (expired or not), or null when the keyspace is empty. */
  public Bytes randomKey(int keyspace, RandomGenerator random) {
    Map.Entry<Bytes, Value> entry = keyspace(keyspace).data.randomEntry(random);
    return entry == null ? null : entry.getKey();
  }

  /**
   * Up to maxSamples keys with an expiry, sampled at random; returns those already expired at
   * nowMillis (Redis active expiry), each once. When the keyspace has no more keys with an expiry
   * than {@code maxSamples}, all of them are examined instead.
   */
  public List<Bytes> sampleExpired(
      int keyspace, long nowMillis, int maxSamples, RandomGenerator random) {
    Check.argument(maxSamples >= 0, "maxSamples %s negative", maxSamples);
    Dict<Bytes, Long> expires = keyspace(keyspace).expires;
    List<Bytes> expired = new ArrayList<>();
    if (expires.size() <= maxSamples) {
      expires.forEach(
          (key, expireAt) -> {
            if (nowMillis > expireAt) {
              expired.add(key);
            }
          });
      return expired;
    }
    LinkedHashSet<Bytes> distinct = new LinkedHashSet<>();
    for (int i = 0; i < maxSamples; i++) {
      Map.Entry<Bytes, Long> entry = expires.randomEntry(random);
      if (nowMillis > entry.getValue()) {
        distinct.add(entry.getKey());
      }
    }
    expired.addAll(distinct);
    return expired;
  }

  /**
   * Running estimate of the heap the data takes: keys, values, entry nodes, boxed expiries and
   * tables, as {@link MemoryLayout} sizes them. O(keyspace count).
   */
  public long usedMemoryBytes() {
    long total = 0;
    for (Keyspace ks : keyspaces) {
      total += ks.usedMemoryBytes();
    }
    return total;
  }

  /** {@link #usedMemoryBytes()} recomputed by walking every key, field and member. */
  public long usedMemoryBytesRecomputed() {
    long total = 0;
    for (Keyspace ks : keyspaces) {
      long[] sum = {ks.data.overheadBytesEstimate() + ks.expires.overheadBytesEstimate()};
      ks.data.forEach((key, value) -> sum[0] += keyEntryBytes(key) + recomputeSize(value));
      sum[0] += (long) ks.expires.size() * EXPIRY_ENTRY_BYTES;
      total += sum[0];
    }
    return total;
  }

  private static long recomputeSize(Value value) {
    return switch (value) {
      case StringValue s -> s.sizeBytesEstimate();
      case HashValue h -> h.recomputeSizeBytes();
      case SetValue s -> s.recomputeSizeBytes();
    };
  }

  /**
   * Checks every invariant of the class comment by walking the whole state; O(size). For tests, the
   * simulator and a DEBUG command. Throws {@link IllegalStateException} on the first breach.
   */
  public void verifyInvariants() {
    for (Keyspace ks : keyspaces) {
      ks.data.forEach(
          (key, value) -> {
            if (value instanceof HashValue h) {
              Check.state(h.size() > 0, "empty hash stored");
            } else if (value instanceof SetValue s) {
              Check.state(s.size() > 0, "empty set stored");
            }
          });
      ks.expires.forEach(
          (key, expireAt) -> {
            Check.state(ks.data.containsKey(key), "expiry without a key");
            Check.state(expireAt > 0, "stored expiry %s not positive", expireAt);
          });
    }
    long running = usedMemoryBytes();
    long recomputed = usedMemoryBytesRecomputed();
    Check.state(running == recomputed, "used memory %s, recomputed %s", running, recomputed);
    for (int keyspace = 0; keyspace < keyspaces.length; keyspace++) {
      verifySlotCounters(keyspace);
    }
  }

  /**
   * Checks that the slot counters of {@code keyspace} equal a recount from the keys, fields and
   * members themselves (not from the values' running sizes); O(size + slots).
   */
  private void verifySlotCounters(int keyspace) {
    Keyspace ks = keyspaces[keyspace];
    long[] counts = ks.slotCounts;
    if (counts == null) {
      Check.state(ks.data.isEmpty(), "keyspace %s holds keys but has no slot counters", keyspace);
      return;
    }
    Map<Integer, long[]> recount = new java.util.HashMap<>();
    ks.data.forEach(
        (key, value) -> {
          long[] c = recount.computeIfAbsent(Slots.slot(key.array()), slot -> new long[2]);
          c[0]++;
          c[1] += key.length() + recomputeDataBytes(value);
        });
    long recountedBytes = 0;
    for (Map.Entry<Integer, long[]> e : recount.entrySet()) {
      int slot = e.getKey();
      long[] c = e.getValue();
      recountedBytes += c[1];
      Check.state(
          counts[2 * slot] == c[0] && counts[2 * slot + 1] == c[1],
          "keyspace %s slot %s: counters %s keys %s bytes, recount %s keys %s bytes",
          keyspace,
          slot,
          counts[2 * slot],
          counts[2 * slot + 1],
          c[0],
          c[1]);
    }
    // Every other slot must be zero: with no counter negative, equal totals say so.
    long keys = 0;
    long bytes = 0;
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
      Check.state(counts[2 * slot] >= 0 && counts[2 * slot + 1] >= 0, "slot %s negative", slot);
      keys += counts[2 * slot];
      bytes += counts[2 * slot + 1];
    }
    Check.state(
        keys == ks.data.size(),
        "slot key counters sum to %s, keyspace holds %s",
        keys,
        ks.data.size());
    Check.state(
        bytes == recountedBytes, "slot byte counters sum to %s, recount %s", bytes, recountedBytes);
  }

  private static long recomputeDataBytes(Value value) {
    return switch (value) {
      case StringValue s -> s.bytes().length;
      case HashValue h -> h.recomputeDataBytes();
      case SetValue s -> s.recomputeDataBytes();
    };
  }

  /** Visits every key of {@code keyspace} with its value and expiry (0 = none). */
  public void forEachEntry(int keyspace, EntryVisitor visitor) {
    Keyspace ks = keyspace(keyspace);
    ks.data.forEach((key, value) -> visitor.visit(key, value, expireAtMillis(ks, key)));
  }

  /**
   * Snapshot form of one key: versioned binary of (keyspace, key, expireAt, type, contents).
   * Layout: version byte, varint keyspace, key, varint expireAtMillis, type byte (1 string, 2 hash,
   * 3 set), then the string, or a count and field/value pairs, or a count and members; byte strings
   * and varints as in {@link MutationCodec}.
   */
  public static byte[] encodeEntry(int keyspace, Bytes key, Value value, long expireAtMillis) {
    Check.argument(keyspace >= 0, "keyspace %s negative", keyspace);
    Check.argument(expireAtMillis >= 0, "expireAtMillis %s negative", expireAtMillis);
    int header =
        2
            + ByteWriter.varLongSize(keyspace)
            + ByteWriter.byteStringSize(key.array())
            + ByteWriter.varLongSize(expireAtMillis);
    ByteWriter out = new ByteWriter(Math.addExact(header, contentsSize(value)));
    out.writeByte(ENTRY_FORMAT_VERSION);
    out.writeVarLong(keyspace);
    out.writeByteString(key.array());
    out.writeVarLong(expireAtMillis);
    switch (value) {
      case StringValue s -> {
        out.writeByte(TYPE_STRING);
        out.writeByteString(s.bytes());
      }
      case HashValue h -> {
        out.writeByte(TYPE_HASH);
        out.writeVarLong(h.size());
        h.fields()
            .forEach(
                (field, fieldValue) -> {
                  out.writeByteString(field.array());
                  out.writeByteString(fieldValue);
                });
      }
      case SetValue s -> {
        out.writeByte(TYPE_SET);
        out.writeVarLong(s.size());
        s.members().forEach((member, ignored) -> out.writeByteString(member.array()));
      }
    }
    return out.finish();
  }

  private static int contentsSize(Value value) {
    return switch (value) {
      case StringValue s -> ByteWriter.byteStringSize(s.bytes());
      case HashValue h -> {
        long[] size = {ByteWriter.varLongSize(h.size())};
        h.fields()
            .forEach(
                (field, fieldValue) ->
                    size[0] +=
                        ByteWriter.byteStringSize(field.array())
                            + ByteWriter.byteStringSize(fieldValue));
        yield Math.toIntExact(size[0]);
      }
      case SetValue s -> {
        long[] size = {ByteWriter.varLongSize(s.size())};
        s.members()
            .forEach((member, ignored) -> size[0] += ByteWriter.byteStringSize(member.array()));
        yield Math.toIntExact(size[0]);
      }
    };
  }

  /**
   * Decodes {@link #encodeEntry}'s form; throws {@link IllegalArgumentException} on anything
   * malformed, including an empty hash or set and a repeated field or member.
   */
  public static Entry decodeEntry(byte[] entry) {
    ByteReader in = new ByteReader(entry);
    int version = in.readByte();
    if (version != ENTRY_FORMAT_VERSION) {
      throw new IllegalArgumentException("unsupported entry format version " + version);
    }
    int keyspace = in.readVarInt("keyspace", Integer.MAX_VALUE);
    Bytes key = Bytes.of(in.readByteString());
    long expireAtMillis = in.readVarLong("expireAtMillis", Long.MAX_VALUE);
    int type = in.readByte();
    Value value =
        switch (type) {
          case TYPE_STRING -> new StringValue(in.readByteString());
          case TYPE_HASH -> {
            int count = in.readCount("field count");
            HashValue hash = new HashValue();
            for (int i = 0; i < count; i++) {
              hash.put(Bytes.of(in.readByteString()), in.readByteString());
            }
            requireDistinctNonEmpty(count, hash.size(), "hash fields");
            yield hash;
          }
          case TYPE_SET -> {
            int count = in.readCount("member count");
            SetValue set = new SetValue();
            for (int i = 0; i < count; i++) {
              set.add(Bytes.of(in.readByteString()));
            }
            requireDistinctNonEmpty(count, set.size(), "set members");
            yield set;
          }
          default -> throw new IllegalArgumentException("unknown value type " + type);
        };
    in.expectEnd();
    return new Entry(keyspace, key, value, expireAtMillis);
  }

  private static void requireDistinctNonEmpty(int count, int distinct, String what) {
    if (count == 0 || distinct != count) {
      throw new IllegalArgumentException(
          count + " " + what + " with " + distinct + " distinct; empty or repeated");
    }
  }

  /** Restores one {@link #encodeEntry} form, replacing the key if present. */
  public void loadEntry(byte[] entry) {
    Entry decoded = decodeEntry(entry);
    Check.argument(
        decoded.keyspace() < keyspaces.length,
        "entry keyspace %s, state has %s",
        decoded.keyspace(),
        keyspaces.length);
    Keyspace ks = keyspaces[decoded.keyspace()];
    removeKey(ks, decoded.key());
    insertKey(ks, decoded.key(), decoded.value(), decoded.expireAtMillis());
  }

  /**
   * Order-independent 64-bit hash of every key, value and expiry of {@code keyspace}: two states
   * with the same contents have the same hash whatever their history or table layout. For tests and
   * replica comparison; O(size).
   */
  public long contentHash(int keyspace) {
    Keyspace ks = keyspace(keyspace);
    long[] sum = {0};
    ks.data.forEach(
        (key, value) -> sum[0] += ContentHash.entry(key, value, expireAtMillis(ks, key)));
    return sum[0] + ContentHash.mix(ks.data.size());
  }

  private Keyspace keyspace(int keyspace) {
    if (keyspace < 0 || keyspace >= keyspaces.length) {
      throw new IllegalArgumentException(
          "keyspace " + keyspace + " outside [0, " + keyspaces.length + ")");
    }
    return keyspaces[keyspace];
  }
}
