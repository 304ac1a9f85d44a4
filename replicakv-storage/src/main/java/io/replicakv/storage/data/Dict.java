package io.replicakv.storage.data;

import io.replicakv.core.util.Check;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.random.RandomGenerator;

/**
 * A hash table with Redis's SCAN semantics and random sampling.
 *
 * <h2>Model</h2>
 *
 * Separate chaining over power-of-two tables of buckets, as Redis's {@code dict.c}. A bucket index
 * is the low bits of the (spread) hash. A table is allocated on the first insertion, doubles when
 * the number of entries exceeds the number of buckets (load factor 1.0), shrinks when fewer than
 * one bucket in {@value #SHRINK_DIVISOR} would be used, and is released when the dict empties, so
 * an idle hash or set costs only the dict object. Each entry is one node object (hash, key, value,
 * next): an insertion allocates that node and nothing else; lookups allocate nothing.
 *
 * <h2>Incremental rehash</h2>
 *
 * A resize of more than {@value #REHASH_AT_ONCE_BUCKETS_MAX} buckets does not stop the node loop
 * for a pass over every entry: as in Redis, a second table is allocated and every later insertion
 * or removal moves {@value #REHASH_BUCKETS_PER_WRITE} buckets of the old table into it (visiting at
 * most {@value #REHASH_EMPTY_VISITS_PER_BUCKET} empty buckets per bucket moved), and {@link
 * #rehashSteps} lets an idle caller move more. Lookups search both tables and never move entries,
 * so reading stays free of side effects. Growth finishes within a quarter of the old capacity in
 * writes, before the new table could fill; a resize due while one is running waits for it.
 *
 * <h2>SCAN</h2>
 *
 * The cursor is a bucket index whose bits are incremented from the most significant end (reverse
 * binary increment, Pieter Noordhuis's design in Redis). With power-of-two tables, the buckets
 * still to visit after any cursor are exactly those whose reversed index is larger, in the table of
 * any size: growth splits bucket {@code i} into {@code i} and {@code i + n}, which both lie ahead
 * when {@code i} does; shrinking merges buckets, which may return some elements again but never
 * skips one. During a rehash a step visits the cursor's bucket in the smaller table and all its
 * expansions in the larger one, so the same argument holds over the two tables. Hence: every
 * element present for the whole scan is returned at least once, elements may be returned more than
 * once, and elements added or removed during the scan may or may not be returned. A scan ends when
 * the cursor returns to 0.
 *
 * <h2>Rules</h2>
 *
 * Single-threaded. Keys and values are never null, so {@code get} returning null means absent. Keys
 * must not change their hash while stored. A visitor given to {@link #scan} or {@link #forEach}
 * must not modify the dict; doing so is detected and fails with {@link IllegalStateException}.
 *
 * @param <K> key type, with content-based {@code equals} and {@code hashCode}
 * @param <V> value type
 */
public final class Dict<K, V> {
  /** Smallest table allocated; Redis uses 4 as well. */
  static final int MIN_CAPACITY = 4;

  /** Largest table: the largest power-of-two array length. Past it chains just lengthen. */
  static final int MAX_CAPACITY = 1 << 30;

  /** Shrink when entries < buckets / this. Growth happens at entries > buckets: hysteresis 8x. */
  static final int SHRINK_DIVISOR = 8;

  /** Random bucket probes before {@link #randomEntry} falls back to a linear walk. */
  static final int RANDOM_PROBES_MAX = 64;

  /** Tables up to this many buckets are rehashed in one go: cheaper than two-table lookups. */
  static final int REHASH_AT_ONCE_BUCKETS_MAX = 64;

  /** Old-table buckets moved by each insertion or removal while a rehash runs. */
  static final int REHASH_BUCKETS_PER_WRITE = 4;

  /** Empty buckets a rehash step may skip per bucket it is asked to move, bounding its time. */
  static final int REHASH_EMPTY_VISITS_PER_BUCKET = 10;

  /** Shallow size of a dict object (header, two table references, three ints). */
  static final int SHALLOW_BYTES = 32;

  /** Size of one entry node (header, hash, key, value, next) with compressed references. */
  static final int NODE_BYTES = 32;

  /** The table entries live in, or the old one while a rehash moves them to the new one. */
  private Node<K, V>[] table;

  /** The new table during a rehash, else null. */
  private Node<K, V>[] rehashTable;

  /** During a rehash: buckets of {@link #table} below this index are empty (moved). */
  private int rehashIndex;

  private int size;
  private int modificationCount;

  /** An empty dict; its table is allocated on the first insertion. */
  public Dict() {}

  /** One entry. Package code may replace {@link #value} directly to avoid a second lookup. */
  static final class Node<K, V> implements Map.Entry<K, V> {
    final int hash;
    final K key;
    V value;
    Node<K, V> next;

    Node(int hash, K key, V value, Node<K, V> next) {
      this.hash = hash;
      this.key = key;
      this.value = value;
      this.next = next;
    }

    @Override
    public K getKey() {
      return key;
    }

    @Override
    public V getValue() {
      return value;
    }

    @Override
    public V setValue(V value) {
      throw new UnsupportedOperationException("entries of a Dict are read-only");
    }

    @Override
    public String toString() {
      return key + "=" + value;
    }
  }

  public V get(K key) {
    Node<K, V> node = node(key);
    return node == null ? null : node.value;
  }

  public boolean containsKey(K key) {
    return node(key) != null;
  }

  /** Stores {@code value} under {@code key}; returns the previous value or null. */
  public V put(K key, V value) {
    Check.notNull(value, "value");
    Node<K, V> node = findOrCreate(key);
    V previous = node.value;
    node.value = value;
    return previous;
  }

  /** Removes {@code key}; returns its value or null when absent. */
  public V remove(K key) {
    Node<K, V> node = removeNode(key);
    return node == null ? null : node.value;
  }

  public int size() {
    return size;
  }

  public boolean isEmpty() {
    return size == 0;
  }

  public void clear() {
    table = null;
    rehashTable = null;
    rehashIndex = 0;
    size = 0;
    modificationCount++;
  }

  /** Buckets of the table entries are heading to: the new table during a rehash; 0 when empty. */
  public int capacity() {
    if (rehashTable != null) {
      return rehashTable.length;
    }
    return table == null ? 0 : table.length;
  }

  /** Whether an incremental rehash is in progress. */
  public boolean isRehashing() {
    return rehashTable != null;
  }

  /**
   * Moves up to {@code buckets} buckets of a running rehash (for idle time, as Redis's cron does);
   * returns whether a rehash is still in progress. Does nothing when none runs.
   */
  public boolean rehashSteps(int buckets) {
    Check.argument(buckets > 0, "rehash buckets %s must be positive", buckets);
    rehashStep(buckets);
    return rehashTable != null;
  }

  /** Estimated heap footprint of the dict object and its bucket arrays, excluding entries. */
  long overheadBytesEstimate() {
    long bytes = SHALLOW_BYTES;
    if (table != null) {
      bytes += MemoryLayout.referenceArrayBytes(table.length);
    }
    if (rehashTable != null) {
      bytes += MemoryLayout.referenceArrayBytes(rehashTable.length);
    }
    return bytes;
  }

  /** Visits every entry. */
  public void forEach(BiConsumer<? super K, ? super V> action) {
    int expected = modificationCount;
    forEachIn(table, action, expected);
    forEachIn(rehashTable, action, expected);
  }

  private void forEachIn(Node<K, V>[] t, BiConsumer<? super K, ? super V> action, int expected) {
    if (t == null) {
      return;
    }
    for (Node<K, V> head : t) {
      for (Node<K, V> e = head; e != null; e = e.next) {
        action.accept(e.key, e.value);
      }
      Check.state(modificationCount == expected, "dict modified during forEach");
    }
  }

  /**
   * Visits roughly `count` buckets starting at `cursor`; returns the next cursor, 0 when done.
   * Guarantees of Redis SCAN: every element present for the whole scan is returned at least once,
   * across growth and shrinking (reverse-binary cursor increment over power-of-two tables).
   */
  public long scan(long cursor, int count, BiConsumer<? super K, ? super V> visitor) {
    Check.argument(count > 0, "scan count %s must be positive", count);
    if (table == null) {
      return 0;
    }
    int expected = modificationCount;
    long v = cursor;
    for (int visited = 0; visited < count; visited++) {
      long smallMask;
      if (rehashTable == null) {
        smallMask = table.length - 1;
        visitChain(table[(int) (v & smallMask)], visitor);
      } else {
        Node<K, V>[] small = table.length <= rehashTable.length ? table : rehashTable;
        Node<K, V>[] large = small == table ? rehashTable : table;
        smallMask = small.length - 1;
        long largeMask = large.length - 1;
        visitChain(small[(int) (v & smallMask)], visitor);
        // Every bucket of the larger table whose low bits are the cursor's small-table bucket.
        do {
          visitChain(large[(int) (v & largeMask)], visitor);
          v = (((v | smallMask) + 1) & ~smallMask) | (v & smallMask);
        } while ((v & (smallMask ^ largeMask)) != 0);
      }
      Check.state(modificationCount == expected, "dict modified by a scan visitor");
      v = nextCursor(v, smallMask);
      if (v == 0) {
        return 0;
      }
    }
    return v;
  }

  private static <K, V> void visitChain(Node<K, V> head, BiConsumer<? super K, ? super V> visitor) {
    for (Node<K, V> e = head; e != null; e = e.next) {
      visitor.accept(e.key, e.value);
    }
  }

  /** Sets the bits above the mask, then adds one from the most significant end. */
  static long nextCursor(long cursor, long mask) {
    long v = cursor | ~mask;
    v = Long.reverse(v);
    v++;
    return Long.reverse(v);
  }

  /**
   * A random entry, null when empty: a random non-empty bucket, then a random entry of its chain.
   * Entries in longer chains are somewhat less likely, as with Redis's {@code dictGetRandomKey};
   * with load between 1/8 and 1 chains are short, which is fair enough for RANDOMKEY, SPOP and
   * SRANDMEMBER. The returned entry is read-only and valid until the next modification.
   */
  public Map.Entry<K, V> randomEntry(RandomGenerator random) {
    if (size == 0) {
      return null;
    }
    int buckets = table.length + (rehashTable == null ? 0 : rehashTable.length);
    for (int probe = 0; probe < RANDOM_PROBES_MAX; probe++) {
      Node<K, V> head = bucket(random.nextInt(buckets));
      if (head != null) {
        return pickInChain(head, random);
      }
    }
    int start = random.nextInt(buckets);
    for (int i = 0; i < buckets; i++) {
      Node<K, V> head = bucket((start + i) % buckets);
      if (head != null) {
        return pickInChain(head, random);
      }
    }
    throw new IllegalStateException("dict of size " + size + " has no entries in its tables");
  }

  /** Bucket {@code index} of the two tables laid end to end. */
  private Node<K, V> bucket(int index) {
    return index < table.length ? table[index] : rehashTable[index - table.length];
  }

  private static <K, V> Node<K, V> pickInChain(Node<K, V> head, RandomGenerator random) {
    int length = 0;
    for (Node<K, V> e = head; e != null; e = e.next) {
      length++;
    }
    Node<K, V> e = head;
    for (int skip = length == 1 ? 0 : random.nextInt(length); skip > 0; skip--) {
      e = e.next;
    }
    return e;
  }

  /** The node holding {@code key}, or null. Never moves entries. */
  Node<K, V> node(K key) {
    Check.notNull(key, "key");
    if (table == null) {
      return null;
    }
    int h = spread(key.hashCode());
    Node<K, V> found = find(table, h, key);
    if (found == null && rehashTable != null) {
      found = find(rehashTable, h, key);
    }
    return found;
  }

  private static <K, V> Node<K, V> find(Node<K, V>[] t, int h, K key) {
    for (Node<K, V> e = t[h & (t.length - 1)]; e != null; e = e.next) {
      if (e.hash == h && (e.key == key || key.equals(e.key))) {
        return e;
      }
    }
    return null;
  }

  /**
   * The node holding {@code key}, inserting one with a null value when absent; the caller must then
   * set {@link Node#value} before anything else touches the dict. One lookup serves both a
   * replacement and an insertion, and the stored key instance comes back with it.
   */
  Node<K, V> findOrCreate(K key) {
    Check.notNull(key, "key");
    int h = spread(key.hashCode());
    if (table == null) {
      table = allocate(MIN_CAPACITY);
    } else {
      rehashStep(REHASH_BUCKETS_PER_WRITE);
      Node<K, V> found = find(table, h, key);
      if (found == null && rehashTable != null) {
        found = find(rehashTable, h, key);
      }
      if (found != null) {
        return found;
      }
    }
    Node<K, V>[] t = rehashTable != null ? rehashTable : table;
    int index = h & (t.length - 1);
    Node<K, V> created = new Node<>(h, key, null, t[index]);
    t[index] = created;
    size++;
    modificationCount++;
    resizeIfDue();
    return created;
  }

  /** Unlinks and returns the node holding {@code key}, or null. */
  Node<K, V> removeNode(K key) {
    Check.notNull(key, "key");
    if (table == null) {
      return null;
    }
    rehashStep(REHASH_BUCKETS_PER_WRITE);
    int h = spread(key.hashCode());
    Node<K, V> removed = unlink(table, h, key);
    if (removed == null && rehashTable != null) {
      removed = unlink(rehashTable, h, key);
    }
    if (removed == null) {
      return null;
    }
    size--;
    modificationCount++;
    if (size == 0) {
      table = null;
      rehashTable = null;
      rehashIndex = 0;
    } else {
      resizeIfDue();
    }
    return removed;
  }

  private static <K, V> Node<K, V> unlink(Node<K, V>[] t, int h, K key) {
    int index = h & (t.length - 1);
    Node<K, V> previous = null;
    for (Node<K, V> e = t[index]; e != null; previous = e, e = e.next) {
      if (e.hash == h && (e.key == key || key.equals(e.key))) {
        if (previous == null) {
          t[index] = e.next;
        } else {
          previous.next = e.next;
        }
        return e;
      }
    }
    return null;
  }

  /** Starts a growth or a shrink when the load calls for one and none is running. */
  private void resizeIfDue() {
    if (rehashTable != null) {
      return;
    }
    int capacity = table.length;
    if (size > capacity && capacity < MAX_CAPACITY) {
      startRehash(capacity << 1);
    } else if (capacity > MIN_CAPACITY && size < capacity / SHRINK_DIVISOR) {
      startRehash(Math.max(MIN_CAPACITY, Integer.highestOneBit(size) << 1));
    }
  }

  private void startRehash(int newCapacity) {
    Check.state(Integer.bitCount(newCapacity) == 1, "capacity %s not a power of two", newCapacity);
    rehashTable = allocate(newCapacity);
    rehashIndex = 0;
    if (table.length <= REHASH_AT_ONCE_BUCKETS_MAX) {
      rehashStep(Integer.MAX_VALUE);
    }
  }

  /**
   * Moves up to {@code buckets} non-empty buckets of the old table to the new one, skipping at most
   * {@value #REHASH_EMPTY_VISITS_PER_BUCKET} empty buckets per bucket asked for, and switches to
   * the new table when the old one is empty.
   */
  private void rehashStep(int buckets) {
    if (rehashTable == null) {
      return;
    }
    Node<K, V>[] old = table;
    Node<K, V>[] fresh = rehashTable;
    int mask = fresh.length - 1;
    long emptyVisitsLeft = (long) buckets * REHASH_EMPTY_VISITS_PER_BUCKET;
    int moved = 0;
    while (moved < buckets && rehashIndex < old.length) {
      Node<K, V> e = old[rehashIndex];
      if (e == null) {
        rehashIndex++;
        if (--emptyVisitsLeft == 0) {
          break;
        }
        continue;
      }
      while (e != null) {
        Node<K, V> next = e.next;
        int index = e.hash & mask;
        e.next = fresh[index];
        fresh[index] = e;
        e = next;
      }
      old[rehashIndex++] = null;
      moved++;
    }
    if (rehashIndex >= old.length) {
      table = fresh;
      rehashTable = null;
      rehashIndex = 0;
    }
  }

  @SuppressWarnings("unchecked")
  private static <K, V> Node<K, V>[] allocate(int capacity) {
    return (Node<K, V>[]) new Node<?, ?>[capacity];
  }

  /**
   * Folds the high half into the low half, which the bucket index uses; {@link Bytes} hashes are
   * already well mixed, this protects other key types whose hashes differ only in high bits.
   */
  private static int spread(int h) {
    return h ^ (h >>> 16);
  }
}
