package io.replicakv.storage.data;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;

/**
 * A rough throughput and footprint check, run by hand (not a test; JMH would be the real tool):
 * {@code java -cp target/classes:target/test-classes io.replicakv.storage.data.DataBenchmarkMain}.
 * Compares Dict with HashMap on Bytes keys, then measures MemoryState SET throughput and compares
 * its used-memory estimate with the heap growth the JVM reports after a full collection.
 */
final class DataBenchmarkMain {
  private static final int KEYS = 1_000_000;
  private static final int ROUNDS = 5;

  private DataBenchmarkMain() {}

  public static void main(String[] args) {
    Bytes[] keys = new Bytes[KEYS];
    Bytes[] misses = new Bytes[KEYS];
    for (int i = 0; i < KEYS; i++) {
      keys[i] = Bytes.utf8("key:" + i);
      misses[i] = Bytes.utf8("miss:" + i);
    }
    for (int round = 0; round < ROUNDS; round++) {
      Dict<Bytes, Integer> dict = new Dict<>();
      HashMap<Bytes, Integer> map = new HashMap<>();
      Integer one = 1;
      long t0 = System.nanoTime();
      for (Bytes k : keys) {
        dict.put(k, one);
      }
      long t1 = System.nanoTime();
      for (Bytes k : keys) {
        map.put(k, one);
      }
      long t2 = System.nanoTime();
      long hits = 0;
      for (Bytes k : keys) {
        hits += dict.get(k) != null ? 1 : 0;
      }
      for (Bytes k : misses) {
        hits += dict.get(k) != null ? 1 : 0;
      }
      long t3 = System.nanoTime();
      for (Bytes k : keys) {
        hits += map.get(k) != null ? 1 : 0;
      }
      for (Bytes k : misses) {
        hits += map.get(k) != null ? 1 : 0;
      }
      long t4 = System.nanoTime();
      for (Bytes k : keys) {
        dict.remove(k);
      }
      long t5 = System.nanoTime();
      for (Bytes k : keys) {
        map.remove(k);
      }
      long t6 = System.nanoTime();
      if (round % 2 == 1) {
        // Same work in the other order, to expose effects of heap layout and GC timing.
        for (Bytes k : keys) {
          map.put(k, one);
          dict.put(k, one);
        }
        t4 = System.nanoTime();
        for (Bytes k : keys) {
          map.remove(k);
        }
        t5 = System.nanoTime();
        for (Bytes k : keys) {
          dict.remove(k);
        }
        t6 = System.nanoTime();
        long mapNanos = t5 - t4;
        t5 = t4 + (t6 - t5);
        t6 = t5 + mapNanos;
      }
      System.out.printf(
          "round %d: put ns/op dict %.1f map %.1f | get (hit+miss) dict %.1f map %.1f | remove dict"
              + " %.1f map %.1f (%d)%n",
          round,
          per(t1 - t0, KEYS),
          per(t2 - t1, KEYS),
          per(t3 - t2, 2 * KEYS),
          per(t4 - t3, 2 * KEYS),
          per(t5 - t4, KEYS),
          per(t6 - t5, KEYS),
          hits);
    }
    for (int round = 0; round < ROUNDS; round++) {
      measureState(round);
    }
  }

  private static void measureState(int round) {
    long heapBefore = usedHeap();
    byte[][] rawKeys = new byte[KEYS][];
    for (int i = 0; i < KEYS; i++) {
      rawKeys[i] = ("key:" + i).getBytes(StandardCharsets.US_ASCII);
    }
    byte[] value = new byte[32];
    MemoryState state = new MemoryState(16);
    long t0 = System.nanoTime();
    for (int i = 0; i < KEYS; i++) {
      byte[] v = value.clone();
      state.apply(new Mutation.StringSet(0, rawKeys[i], v, i % 4 == 0 ? 1_900_000_000_000L : 0));
    }
    long t1 = System.nanoTime();
    for (int i = 0; i < KEYS; i += 10) {
      state.apply(
          new Mutation.HashSet(1, rawKeys[i], List.of(rawKeys[(i + 1) % KEYS], value.clone())));
    }
    long t2 = System.nanoTime();
    rawKeys = null;
    long heapAfter = usedHeap();
    System.out.printf(
        "state round %d: SET %.1f ns/op, HSET %.1f ns/op; estimate %d MB, heap growth %d MB"
            + " (keys %d)%n",
        round,
        per(t1 - t0, KEYS),
        per(t2 - t1, KEYS / 10),
        state.usedMemoryBytes() >> 20,
        (heapAfter - heapBefore) >> 20,
        state.size(0) + state.size(1));
  }

  private static long usedHeap() {
    Runtime runtime = Runtime.getRuntime();
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return runtime.totalMemory() - runtime.freeMemory();
  }

  private static double per(long nanos, int operations) {
    return (double) nanos / operations;
  }
}
