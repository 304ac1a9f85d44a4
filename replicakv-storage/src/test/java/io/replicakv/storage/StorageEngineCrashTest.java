package io.replicakv.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.storage.data.HashValue;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.SetValue;
import io.replicakv.storage.data.StringValue;
import io.replicakv.storage.log.FsyncPolicy;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The storage engine against a model made of plain Java maps: random changes (with snapshots taken
 * in the middle, while changes continue), a sync, more changes, then a crash that cuts the log at a
 * random byte offset past the synced part. The recovered state must equal the model after exactly
 * the records that survived, and every synced record must have survived.
 *
 * <p>Replay a failing seed: {@code ./mvnw -pl replicakv-storage test -Dtest=StorageEngineCrashTest
 * -Dcrash.seed=SEED}.
 */
class StorageEngineCrashTest {
  static final int KEYSPACES = 3;

  /** The log format's segment header; a record is its u32 length field + u32 CRC + length bytes. */
  private static final int SEGMENT_HEADER_BYTES = 20;

  static Stream<Long> seeds() {
    String one = System.getProperty("crash.seed");
    if (one != null) {
      return Stream.of(Long.parseLong(one));
    }
    return Stream.iterate(1L, s -> s + 1).limit(40);
  }

  /** The model: keyspace -> key -> (value as comparable text, expiry). */
  private final Map<Integer, Map<String, String>> model = new HashMap<>();

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void recoversExactlyTheSurvivingPrefix(long seed, @TempDir Path dir) throws IOException {
    SplittableRandom random = new SplittableRandom(seed);
    StorageOptions options =
        new StorageOptions(
            dir,
            KEYSPACES,
            FsyncPolicy.NEVER,
            1000,
            4096 + random.nextInt(8192),
            1 << 20,
            0,
            1,
            0,
            1 + random.nextInt(20),
            1 << 20);
    List<Mutation> history = new ArrayList<>();
    long syncedSequence;
    int snapshotsStarted = 0;
    try (StorageEngine engine = StorageEngine.open(options, 0)) {
      int phase1 = 50 + random.nextInt(300);
      for (int i = 0; i < phase1; i++) {
        Mutation m = randomMutation(random);
        engine.apply(m);
        history.add(m);
        if (random.nextInt(100) == 0 && engine.startSnapshot(0)) {
          snapshotsStarted++;
        }
        if (engine.snapshotInProgress()) {
          engine.onTimer(0); // the walk advances while changes keep coming
        }
        if (i % 7 == 0) {
          engine.flush();
        }
      }
      while (engine.snapshotInProgress()) {
        engine.onTimer(0);
        Thread.onSpinWait();
      }
      assertThat(engine.snapshotsTaken())
          .as("seed %s: snapshots completed", seed)
          .isEqualTo(snapshotsStarted);
      assertThat(engine.lastSnapshotError()).isNull();
      engine.flush();
      engine.sync();
      syncedSequence = engine.lastSequence();
      int phase2 = random.nextInt(200);
      for (int i = 0; i < phase2; i++) {
        Mutation m = randomMutation(random);
        engine.apply(m);
        history.add(m);
      }
      engine.flush();
      engine.sync(); // put the tail on disk so the cut decides what survives
    }
    Path lastSegment = lastSegment(dir.resolve("log"));
    long syncedLength = syncedLengthOf(lastSegment, syncedSequence, dir);
    long size = Files.size(lastSegment);
    if (size > syncedLength) {
      long cut = syncedLength + random.nextLong(size - syncedLength + 1);
      try (RandomAccessFile f = new RandomAccessFile(lastSegment.toFile(), "rw")) {
        f.setLength(cut);
      }
    }
    try (StorageEngine recovered = StorageEngine.open(options, 0)) {
      long survived = recovered.lastSequence();
      assertThat(survived)
          .as("seed %s: synced records survive", seed)
          .isGreaterThanOrEqualTo(syncedSequence);
      assertThat(survived).as("seed %s", seed).isLessThanOrEqualTo(history.size());
      model.clear();
      for (int i = 0; i < survived; i++) {
        applyToModel(history.get(i));
      }
      assertThat(dump(recovered))
          .as("seed %s: state after %s records", seed, survived)
          .isEqualTo(normalised());
    }
  }

  /** Offset in the segment where the records after syncedSequence begin (scan by replay counts). */
  private static long syncedLengthOf(Path segment, long syncedSequence, Path dir)
      throws IOException {
    // The records are laid out in order; re-open read-only to find the byte end of syncedSequence.
    long[] end = {0};
    long first = Long.parseLong(segment.getFileName().toString().replace(".log", ""));
    if (syncedSequence < first) {
      return 0;
    }
    // Record format: u32 length, u32 crc, u64 sequence, u32 partition, payload; header of the
    // segment first. Walk it.
    byte[] bytes = Files.readAllBytes(segment);
    int headerBytes = SEGMENT_HEADER_BYTES;
    int pos = headerBytes;
    long seq = first - 1;
    while (pos + 4 <= bytes.length && seq < syncedSequence) {
      int length =
          ((bytes[pos] & 0xff) << 24)
              | ((bytes[pos + 1] & 0xff) << 16)
              | ((bytes[pos + 2] & 0xff) << 8)
              | (bytes[pos + 3] & 0xff);
      pos += 8 + length;
      seq++;
    }
    end[0] = pos;
    return end[0];
  }

  private static Path lastSegment(Path logDir) throws IOException {
    try (Stream<Path> files = Files.list(logDir)) {
      return files
          .filter(p -> p.toString().endsWith(".log"))
          .max(Comparator.naturalOrder())
          .orElseThrow();
    }
  }

  private static final String[] KEYS = {"a", "b", "c", "d", "e", "{x}1", "{x}2", "long-key-name"};

  static Mutation randomMutation(SplittableRandom r) {
    if (r.nextInt(20) == 0) {
      List<Mutation> parts = new ArrayList<>();
      int n = 1 + r.nextInt(3);
      for (int i = 0; i < n; i++) {
        parts.add(singleMutation(r));
      }
      return new Mutation.Batch(parts);
    }
    return singleMutation(r);
  }

  static Mutation singleMutation(SplittableRandom r) {
    int ks = r.nextInt(KEYSPACES);
    byte[] key = KEYS[r.nextInt(KEYS.length)].getBytes(StandardCharsets.UTF_8);
    int kind = r.nextInt(100);
    if (kind < 30) {
      return new Mutation.StringSet(
          ks, key, randomBytes(r), r.nextInt(4) == 0 ? 1_000_000 + r.nextInt(1000) : 0);
    } else if (kind < 40) {
      return new Mutation.Delete(ks, key);
    } else if (kind < 47) {
      return new Mutation.Expire(ks, key, r.nextBoolean() ? 0 : 2_000_000 + r.nextInt(1000));
    } else if (kind < 62) {
      return new Mutation.HashSet(
          ks, key, List.of(field(r), randomBytes(r), field(r), randomBytes(r)));
    } else if (kind < 70) {
      return new Mutation.HashDelete(ks, key, List.of(field(r)));
    } else if (kind < 82) {
      return new Mutation.SetAdd(ks, key, List.of(field(r), field(r)));
    } else if (kind < 90) {
      return new Mutation.SetRemove(ks, key, List.of(field(r)));
    } else if (kind < 97) {
      return new Mutation.Rename(
          ks, key, KEYS[r.nextInt(KEYS.length)].getBytes(StandardCharsets.UTF_8));
    } else if (kind < 99) {
      return new Mutation.FlushKeyspace(ks);
    }
    return new Mutation.FlushAll();
  }

  private static byte[] field(SplittableRandom r) {
    return ("f" + r.nextInt(6)).getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] randomBytes(SplittableRandom r) {
    byte[] b = new byte[r.nextInt(r.nextInt(10) == 0 ? 3000 : 40)];
    r.nextBytes(b);
    return b;
  }

  // ---- the model: typed values as sorted text so that equality is structural

  private final Map<Integer, Map<String, Object>> values = new HashMap<>();
  private final Map<Integer, Map<String, Long>> expiries = new HashMap<>();

  private void applyToModel(Mutation m) {
    switch (m) {
      case Mutation.StringSet s -> {
        values(s.keyspace()).put(k(s.key()), hex(s.value()));
        expiry(s.keyspace(), k(s.key()), s.expireAtMillis());
      }
      case Mutation.Delete d -> remove(d.keyspace(), k(d.key()));
      case Mutation.Expire e -> {
        if (values(e.keyspace()).containsKey(k(e.key()))) {
          expiry(e.keyspace(), k(e.key()), e.expireAtMillis());
        }
      }
      case Mutation.HashSet h -> {
        @SuppressWarnings("unchecked")
        Map<String, String> fields =
            values(h.keyspace()).get(k(h.key())) instanceof TreeMap<?, ?> t
                ? (Map<String, String>) t
                : null;
        if (fields == null) {
          fields = new TreeMap<>();
          values(h.keyspace()).put(k(h.key()), fields);
          expiry(h.keyspace(), k(h.key()), 0);
        }
        for (int i = 0; i < h.fieldsAndValues().size(); i += 2) {
          fields.put(k(h.fieldsAndValues().get(i)), hex(h.fieldsAndValues().get(i + 1)));
        }
      }
      case Mutation.HashDelete h -> {
        if (values(h.keyspace()).get(k(h.key())) instanceof TreeMap<?, ?> t) {
          h.fields().forEach(f -> t.remove(k(f)));
          if (t.isEmpty()) {
            remove(h.keyspace(), k(h.key()));
          }
        }
      }
      case Mutation.SetAdd a -> {
        @SuppressWarnings("unchecked")
        Set<String> members =
            values(a.keyspace()).get(k(a.key())) instanceof java.util.TreeSet<?> t
                ? (Set<String>) t
                : null;
        if (members == null) {
          members = new java.util.TreeSet<>();
          values(a.keyspace()).put(k(a.key()), members);
          expiry(a.keyspace(), k(a.key()), 0);
        }
        for (byte[] b : a.members()) {
          members.add(k(b));
        }
      }
      case Mutation.SetRemove a -> {
        if (values(a.keyspace()).get(k(a.key())) instanceof java.util.TreeSet<?> t) {
          a.members().forEach(b -> t.remove(k(b)));
          if (t.isEmpty()) {
            remove(a.keyspace(), k(a.key()));
          }
        }
      }
      case Mutation.Rename r -> {
        Object v = values(r.keyspace()).remove(k(r.from()));
        Long e = expiries(r.keyspace()).remove(k(r.from()));
        if (v != null) {
          remove(r.keyspace(), k(r.to()));
          values(r.keyspace()).put(k(r.to()), v);
          expiry(r.keyspace(), k(r.to()), e == null ? 0 : e);
        }
      }
      case Mutation.FlushKeyspace f -> {
        values(f.keyspace()).clear();
        expiries(f.keyspace()).clear();
      }
      case Mutation.Batch b -> b.parts().forEach(this::applyToModel);
      case Mutation.FlushAll f -> {
        values.clear();
        expiries.clear();
      }
    }
  }

  private Map<String, Object> values(int ks) {
    return values.computeIfAbsent(ks, x -> new HashMap<>());
  }

  private Map<String, Long> expiries(int ks) {
    return expiries.computeIfAbsent(ks, x -> new HashMap<>());
  }

  private void expiry(int ks, String key, long at) {
    if (at == 0) {
      expiries(ks).remove(key);
    } else {
      expiries(ks).put(key, at);
    }
  }

  private void remove(int ks, String key) {
    values(ks).remove(key);
    expiries(ks).remove(key);
  }

  private Map<String, String> normalised() {
    Map<String, String> out = new TreeMap<>();
    values.forEach(
        (ks, m) ->
            m.forEach(
                (key, v) ->
                    out.put(ks + "/" + key, v + " @" + expiries(ks).getOrDefault(key, 0L))));
    return out;
  }

  static Map<String, String> dump(StorageEngine engine) {
    return dump(engine.state());
  }

  static Map<String, String> dump(io.replicakv.storage.data.MemoryState state) {
    Map<String, String> out = new TreeMap<>();
    for (int ks = 0; ks < KEYSPACES; ks++) {
      int keyspace = ks;
      state.forEachEntry(
          ks,
          (key, value, expireAt) -> {
            Object v =
                switch (value) {
                  case StringValue s -> hex(s.bytes());
                  case HashValue h -> {
                    Map<String, String> t = new TreeMap<>();
                    h.fields().forEach((f, b) -> t.put(k(f.array()), hex(b)));
                    yield t;
                  }
                  case SetValue s -> {
                    Set<String> t = new java.util.TreeSet<>();
                    s.members().forEach((m, unused) -> t.add(k(m.array())));
                    yield t;
                  }
                };
            out.put(keyspace + "/" + k(key.array()), v + " @" + expireAt);
          });
    }
    return out;
  }

  private static String k(byte[] b) {
    return new String(b, StandardCharsets.ISO_8859_1);
  }

  private static String hex(byte[] b) {
    return java.util.HexFormat.of().formatHex(b);
  }
}
