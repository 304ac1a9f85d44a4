package io.replicakv.storage.data;

import java.util.Map;
import java.util.function.BiConsumer;
import java.util.random.RandomGenerator;

/**
 * A hash table with Redis's SCAN semantics and random sampling.
 *
 * <h2>Model</h2>
 *
 * Separate chaining over a power-of-two table of buckets, as Redis's {@code dict.c}. A bucket index
 * is the low bits of the (spread) hash. The table is allocated on the first insertion, doubles when
 * the number of entries exceeds the number of buckets (load factor 1.0), shrinks when fewer than
 * one bucket in {@value #SHRINK_DIVISOR} would be used, and is released when the dict empties, so
 * an idle hash or set costs only the dict object. Each entry is one node object (hash, key, value,
 * next): an insertion allocates that node and nothing else; lookups allocate nothing. Rehashing is
 * done in one step (not incrementally as Redis does), which costs one pause proportional to the
 * size on each doubling.
 *
 * <h2>SCAN</h2>
 *
 * The cursor is a bucket index whose bits are incremented from the most significant end (reverse
 * binary increment, Pieter Noordhuis's design in Redis). With power-of-two tables, the buckets
 * still to visit after any cursor are exactly those whose reversed index is larger, in the table of
 * any size: growth splits bucket {@code i} into {@code i} and {@code i + n}, which both lie ahead
 * when {@code i} does; shrinking merges buckets, which may return some elements again but never
 * skips one. Hence: every element present for the whole scan is returned at least once, elements
 * may be returned more than once, and elements added or removed during the scan may or may not be
 * returned. A scan ends when the cursor returns to 0.
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

  /** Shallow size of a dict object (header, table reference, size, modification count). */
  static final int SHALLOW_BYTES = 24;

  /** Size of one entry node (header, hash, key, value, next) with compressed references. */
  static final int NODE_BYTES = 32;

  private Node<K, V>[] table;
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
    size = 0;
    modificationCount++;
  }

  /** Number of buckets currently allocated (0 when empty). */
  public int capacity() {
    return table == null ? 0 : table.length;
  }

  /** Estimated heap footprint of the dict object and its bucket array, excluding entries. */
  long overheadBytesEstimate() {
    return SHALLOW_BYTES + (table == null ? 0 : MemoryLayout.referenceArrayBytes(table.length));
  }

  /** Visits every entry, in bucket order. */
  public void forEach(BiConsumer<? super K, ? super V> action) {
    Node<K, V>[] t = table;
    if (t == null) {
      return;
    }
    int expected = modificationCount;
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
    Node<K, V>[] t = table;
    if (t == null) {
      return 0;
    }
    long mask = t.length - 1;
    int expected = modificationCount;
    long v = cursor;
    for (int visited = 0; visited < count; visited++) {
      for (Node<K, V> e = t[(int) (v & mask)]; e != null; e = e.next) {
        visitor.accept(e.key, e.value);
      }
      Check.state(modificationCount == expected, "dict modified by a scan visitor");
      v = nextCursor(v, mask);
      if (v == 0) {
        return 0;
      }
    }
    return v;
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
    Node<K, V>[] t = table;
    for (int probe = 0; probe < RANDOM_PROBES_MAX; probe++) {
      Node<K, V> head = t[random.nextInt(t.length)];
      if (head != null) {
        return pickInChain(head, random);
      }
    }
    int mask = t.length - 1;
    int start = random.nextInt(t.length);
    for (int i = 0; i < t.length; i++) {
      Node<K, V> head = t[(start + i) & mask];
      if (head != null) {
        return pickInChain(head, random);
      }
    }
    throw new IllegalStateException("dict of size " + size + " has no entries in its table");
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

  /** The node holding {@code key}, or null. */
  Node<K, V> node(K key) {
    Check.notNull(key, "key");
    Node<K, V>[] t = table;
    if (t == null) {
      return null;
    }
    int h = spread(key.hashCode());
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
    Node<K, V>[] t = table;
    if (t == null) {
      t = allocate(MIN_CAPACITY);
      table = t;
    } else {
      for (Node<K, V> e = t[h & (t.length - 1)]; e != null; e = e.next) {
        if (e.hash == h && (e.key == key || key.equals(e.key))) {
          return e;
        }
      }
    }
    int index = h & (t.length - 1);
    Node<K, V> created = new Node<>(h, key, null, t[index]);
    t[index] = created;
    size++;
    modificationCount++;
    if (size > t.length && t.length < MAX_CAPACITY) {
      resize(t.length << 1);
    }
    return created;
  }

  /** Unlinks and returns the node holding {@code key}, or null. */
  Node<K, V> removeNode(K key) {
    Check.notNull(key, "key");
    Node<K, V>[] t = table;
    if (t == null) {
      return null;
    }
    int h = spread(key.hashCode());
    int index = h & (t.length - 1);
    Node<K, V> previous = null;
    for (Node<K, V> e = t[index]; e != null; previous = e, e = e.next) {
      if (e.hash == h && (e.key == key || key.equals(e.key))) {
        if (previous == null) {
          t[index] = e.next;
        } else {
          previous.next = e.next;
        }
        size--;
        modificationCount++;
        shrinkIfSparse();
        return e;
      }
    }
    return null;
  }

  private void shrinkIfSparse() {
    if (size == 0) {
      table = null;
      return;
    }
    int capacity = table.length;
    if (capacity > MIN_CAPACITY && size < capacity / SHRINK_DIVISOR) {
      resize(Math.max(MIN_CAPACITY, Integer.highestOneBit(size) << 1));
    }
  }

  private void resize(int newCapacity) {
    Check.state(Integer.bitCount(newCapacity) == 1, "capacity %s not a power of two", newCapacity);
    Check.state(
        newCapacity > size || newCapacity == MAX_CAPACITY, "capacity %s too small", newCapacity);
    Node<K, V>[] old = table;
    Node<K, V>[] fresh = allocate(newCapacity);
    int mask = newCapacity - 1;
    for (Node<K, V> head : old) {
      Node<K, V> e = head;
      while (e != null) {
        Node<K, V> next = e.next;
        int index = e.hash & mask;
        e.next = fresh[index];
        fresh[index] = e;
        e = next;
      }
    }
    table = fresh;
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
