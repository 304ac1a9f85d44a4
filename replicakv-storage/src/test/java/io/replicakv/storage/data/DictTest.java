package io.replicakv.storage.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DictTest {
  private static final int OPERATIONS = 20_000;

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 42, 1234})
  void behavesLikeHashMapOverRandomOperations(long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    Dict<Bytes, Integer> dict = new Dict<>();
    Map<Bytes, Integer> model = new HashMap<>();
    // The key range swings between wide and narrow so that the table grows and shrinks.
    for (int i = 0; i < OPERATIONS; i++) {
      int keyRange = (i / 2_000) % 2 == 0 ? 2_000 : 20;
      Bytes key = Bytes.utf8("k" + random.nextInt(keyRange));
      int choice = random.nextInt(100);
      if (choice < 45) {
        int value = random.nextInt();
        assertThat(dict.put(key, value)).isEqualTo(model.put(key, value));
      } else if (choice < 85) {
        assertThat(dict.remove(key)).isEqualTo(model.remove(key));
      } else if (choice < 99) {
        assertThat(dict.get(key)).isEqualTo(model.get(key));
        assertThat(dict.containsKey(key)).isEqualTo(model.containsKey(key));
      } else if (random.nextInt(20) == 0) {
        dict.clear();
        model.clear();
      }
      assertThat(dict.size()).isEqualTo(model.size());
      assertTableShape(dict);
      if (i % 500 == 0) {
        assertThat(contents(dict)).isEqualTo(model);
      }
    }
    assertThat(contents(dict)).isEqualTo(model);
  }

  @Test
  void shrinksWhenSparseAndReleasesTableWhenEmpty() {
    Dict<Integer, Integer> dict = new Dict<>();
    for (int i = 0; i < 1_000; i++) {
      dict.put(i, i);
    }
    assertThat(dict.capacity()).isEqualTo(1_024);
    for (int i = 0; i < 990; i++) {
      dict.remove(i);
    }
    assertThat(dict.capacity()).isLessThanOrEqualTo(64);
    for (int i = 990; i < 1_000; i++) {
      dict.remove(i);
    }
    assertThat(dict.capacity()).isZero();
    assertThat(dict.overheadBytesEstimate()).isEqualTo(Dict.SHALLOW_BYTES);
  }

  @Test
  void fullScanOfAStableDictReturnsEveryElementExactlyOnce() {
    Dict<Bytes, Integer> dict = new Dict<>();
    for (int i = 0; i < 777; i++) {
      dict.put(Bytes.utf8("key" + i), i);
    }
    dict.rehashSteps(Integer.MAX_VALUE);
    assertThat(dict.isRehashing()).isFalse();
    List<Integer> seen = new ArrayList<>();
    long cursor = 0;
    int calls = 0;
    do {
      cursor = dict.scan(cursor, 3, (k, v) -> seen.add(v));
      calls++;
    } while (cursor != 0);
    assertThat(seen).hasSize(777).doesNotHaveDuplicates();
    assertThat(calls).isEqualTo(dict.capacity() / 3 + 1);
  }

  @ParameterizedTest
  @ValueSource(longs = {7, 8, 9, 10, 11, 12, 13, 14})
  void scanReturnsEveryStableElementAcrossGrowthAndShrinkMidScan(long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    Dict<Bytes, Integer> dict = new Dict<>();
    Set<Bytes> stable = new HashSet<>();
    for (int i = 0; i < 40; i++) {
      Bytes key = Bytes.utf8("stable" + i);
      stable.add(key);
      dict.put(key, i);
    }
    Set<Bytes> everPresent = new HashSet<>(stable);
    List<Bytes> churn = new ArrayList<>();
    Set<Bytes> returned = new HashSet<>();
    Set<Integer> capacitiesSeen = new HashSet<>();
    int scanCallsDuringRehash = 0;
    long cursor = 0;
    int step = 0;
    do {
      scanCallsDuringRehash += dict.isRehashing() ? 1 : 0;
      cursor = dict.scan(cursor, 1 + random.nextInt(4), (k, v) -> returned.add(k));
      // Alternate phases: flood the table (growth), then drain it (shrink).
      boolean growing = (step / 40) % 2 == 0;
      int changes = 1 + random.nextInt(60);
      for (int c = 0; c < changes; c++) {
        if (growing) {
          Bytes key = Bytes.utf8("churn" + seed + ":" + step + ":" + c);
          dict.put(key, -1);
          churn.add(key);
          everPresent.add(key);
        } else if (!churn.isEmpty()) {
          dict.remove(churn.remove(random.nextInt(churn.size())));
        }
      }
      capacitiesSeen.add(dict.capacity());
      step++;
    } while (cursor != 0);
    assertThat(returned).containsAll(stable);
    assertThat(everPresent).containsAll(returned);
    assertThat(capacitiesSeen.size()).as("resized mid-scan").isGreaterThan(2);
    assertThat(scanCallsDuringRehash).as("scanned while rehashing").isPositive();
  }

  @Test
  void scanSurvivesACursorFromALargerTable() {
    Dict<Integer, Integer> dict = new Dict<>();
    for (int i = 0; i < 4_096; i++) {
      dict.put(i, i);
    }
    Set<Integer> returned = new HashSet<>();
    long cursor = dict.scan(0, 1_000, (k, v) -> returned.add(k));
    for (int i = 100; i < 4_096; i++) {
      dict.remove(i);
    }
    assertThat(dict.capacity()).isLessThan(1_024);
    do {
      cursor = dict.scan(cursor, 7, (k, v) -> returned.add(k));
    } while (cursor != 0);
    for (int i = 0; i < 100; i++) {
      assertThat(returned).contains(i);
    }
  }

  @Test
  void randomEntryReachesEveryEntryRoughlyFairly() {
    Dict<Integer, Integer> dict = new Dict<>();
    int entries = 100;
    for (int i = 0; i < entries; i++) {
      dict.put(i, i);
    }
    SplittableRandom random = new SplittableRandom(99);
    int[] hits = new int[entries];
    int samples = 100_000;
    for (int i = 0; i < samples; i++) {
      hits[dict.randomEntry(random).getKey()]++;
    }
    int mean = samples / entries;
    for (int h : hits) {
      assertThat(h).isBetween(mean / 4, mean * 4);
    }
    assertThat(new Dict<Integer, Integer>().randomEntry(random)).isNull();
  }

  @Test
  void visitorThatModifiesTheDictFailsLoudly() {
    Dict<Integer, Integer> dict = new Dict<>();
    for (int i = 0; i < 10; i++) {
      dict.put(i, i);
    }
    assertThatThrownBy(() -> dict.forEach((k, v) -> dict.put(k + 100, v)))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> dict.scan(0, 100, (k, v) -> dict.remove(k)))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void rejectsNullKeysAndValues() {
    Dict<Integer, Integer> dict = new Dict<>();
    assertThatThrownBy(() -> dict.put(null, 1)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> dict.put(1, null)).isInstanceOf(NullPointerException.class);
    assertThat(dict.size()).isZero();
  }

  private static <K, V> Map<K, V> contents(Dict<K, V> dict) {
    Map<K, V> copy = new HashMap<>();
    dict.forEach(copy::put);
    return copy;
  }

  @Test
  void growthIsIncrementalAndLookupsSeeBothTables() {
    Dict<Integer, Integer> dict = new Dict<>();
    int entries = 1 << 16;
    for (int i = 0; i < entries; i++) {
      dict.put(i, i);
    }
    assertThat(dict.isRehashing()).isFalse();
    dict.put(entries, entries);
    assertThat(dict.isRehashing()).isTrue();
    assertThat(dict.capacity()).isEqualTo(2 * entries);
    long overheadDuringRehash = dict.overheadBytesEstimate();
    for (int i = 0; i <= entries; i++) {
      assertThat(dict.get(i)).isEqualTo(i);
    }
    // Lookups alone do not advance the rehash; writes do, a few buckets each.
    assertThat(dict.isRehashing()).isTrue();
    int writes = 0;
    while (dict.isRehashing()) {
      dict.put(-1 - writes, 0);
      writes++;
    }
    assertThat(writes).isBetween(entries / (2 * Dict.REHASH_BUCKETS_PER_WRITE), entries / 3);
    assertThat(dict.overheadBytesEstimate()).isLessThan(overheadDuringRehash);
    assertThat(dict.size()).isEqualTo(entries + 1 + writes);
    for (int i = 0; i <= entries; i++) {
      assertThat(dict.get(i)).isEqualTo(i);
    }
  }

  private static void assertTableShape(Dict<?, ?> dict) {
    if (dict.isRehashing()) {
      assertThat(dict.size()).isPositive();
      return;
    }
    int capacity = dict.capacity();
    assertThat(capacity == 0).isEqualTo(dict.size() == 0);
    if (capacity > 0) {
      assertThat(Integer.bitCount(capacity)).isEqualTo(1);
      assertThat(dict.size()).isLessThanOrEqualTo(capacity);
      if (capacity > Dict.MIN_CAPACITY) {
        assertThat(dict.size()).isGreaterThanOrEqualTo(capacity / Dict.SHRINK_DIVISOR);
      }
    }
  }
}
