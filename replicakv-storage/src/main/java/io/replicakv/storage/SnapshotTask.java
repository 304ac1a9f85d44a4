package io.replicakv.storage;

import io.replicakv.core.util.Check;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.Value;
import io.replicakv.storage.snapshot.SnapshotInfo;
import io.replicakv.storage.snapshot.SnapshotWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One point-in-time snapshot in progress.
 *
 * <p>The walk runs on the node loop, a bounded number of keys per {@link #step}, with each
 * keyspace's SCAN cursor. Invariant: every key is written at most once, with its value as of the
 * tagged log sequence. Two paths write a key: the walk reaching it, and {@link #beforeChange} when
 * a change is about to touch it first. The {@code seen} sets record which keys either path has
 * handled (including keys created after the start, which must not appear at all), so the walk's
 * possible repeats after a table resize are skipped too. Encoded entries go through a queue to a
 * writer thread; the walk pauses while more than {@code snapshotQueueBytes} are waiting
 * (backpressure), while copy-before-write entries are always queued because the change cannot wait.
 */
final class SnapshotTask {
  /** The walk is complete: finish and publish the file. */
  private static final byte[] END = new byte[0];

  /** The snapshot is abandoned: close without publishing, whatever was written so far. */
  private static final byte[] ABORT = new byte[0];

  private final MemoryState state;
  private final long lastIncludedSequence;
  private final long queueLimitBytes;
  private final Set<Bytes>[] seen;
  private final long[] cursors;
  private int keyspace;
  private volatile boolean walkDone;
  private final LinkedBlockingQueue<byte[]> queue = new LinkedBlockingQueue<>();
  private final AtomicLong queuedBytes = new AtomicLong();
  private final AtomicReference<Object> result = new AtomicReference<>();
  private final Thread writerThread;
  private volatile boolean aborted;

  @SuppressWarnings("unchecked")
  SnapshotTask(
      MemoryState state,
      Path directory,
      long lastIncludedSequence,
      long createdMillis,
      StorageOptions options)
      throws IOException {
    this.state = state;
    this.lastIncludedSequence = lastIncludedSequence;
    this.queueLimitBytes = options.snapshotQueueBytes();
    this.seen = new Set[state.keyspaceCount()];
    for (int i = 0; i < seen.length; i++) {
      seen[i] = new HashSet<>();
    }
    this.cursors = new long[state.keyspaceCount()];
    SnapshotWriter writer = SnapshotWriter.create(directory, lastIncludedSequence, createdMillis);
    this.writerThread = new Thread(() -> write(writer), "replicakv-snapshot-writer");
    writerThread.setDaemon(true);
    writerThread.start();
  }

  long lastIncludedSequence() {
    return lastIncludedSequence;
  }

  private void write(SnapshotWriter writer) {
    try (writer) {
      while (true) {
        byte[] entry = queue.take();
        if (entry == ABORT || aborted) {
          // closing the writer without finish() deletes the temporary file: a partial snapshot
          // must never be published, or a restart would load it as complete
          result.set(new IOException("snapshot aborted"));
          return;
        }
        if (entry == END) {
          break;
        }
        queuedBytes.addAndGet(-entry.length);
        writer.append(entry);
      }
      Check.state(walkDone, "snapshot writer reached its end before the walk did");
      result.set(writer.finish());
    } catch (IOException | RuntimeException e) {
      result.set(e);
    } catch (InterruptedException e) {
      result.set(new IOException("snapshot writer interrupted"));
    }
  }

  /**
   * Advances the walk by up to {@code maxKeys} keys. Returns true once the file is complete (or the
   * writer failed; {@link #awaitFinished} tells which).
   */
  boolean step(int maxKeys) {
    if (result.get() != null) {
      return true;
    }
    if (walkDone || queuedBytes.get() > queueLimitBytes) {
      return false;
    }
    int[] budget = {maxKeys};
    while (budget[0] > 0 && keyspace < cursors.length) {
      int ks = keyspace;
      long next =
          state.scan(
              ks,
              cursors[ks],
              Math.max(1, budget[0] / 4),
              (key, value) -> {
                budget[0]--;
                if (seen[ks].add(key)) {
                  enqueue(MemoryState.encodeEntry(ks, key, value, state.expireAtMillis(ks, key)));
                }
              });
      budget[0]--;
      if (next == 0) {
        seen[ks].clear(); // keys of a walked keyspace never need copying again
        keyspace++;
      } else {
        cursors[ks] = next;
      }
    }
    if (keyspace >= cursors.length) {
      walkDone = true;
      queue.add(END);
    }
    return false;
  }

  /** Copies the keys a change is about to touch, when the walk has not written them yet. */
  void beforeChange(Mutation mutation) {
    switch (mutation) {
      case Mutation.StringSet m -> preserve(m.keyspace(), m.key());
      case Mutation.Delete m -> preserve(m.keyspace(), m.key());
      case Mutation.Expire m -> preserve(m.keyspace(), m.key());
      case Mutation.HashSet m -> preserve(m.keyspace(), m.key());
      case Mutation.HashDelete m -> preserve(m.keyspace(), m.key());
      case Mutation.SetAdd m -> preserve(m.keyspace(), m.key());
      case Mutation.SetRemove m -> preserve(m.keyspace(), m.key());
      case Mutation.Rename m -> {
        preserve(m.keyspace(), m.from());
        preserve(m.keyspace(), m.to());
      }
      case Mutation.FlushKeyspace m -> preserveAll(m.keyspace());
      case Mutation.Batch m -> m.parts().forEach(this::beforeChange);
      case Mutation.FlushAll m -> {
        for (int ks = 0; ks < cursors.length; ks++) {
          preserveAll(ks);
        }
      }
    }
  }

  private void preserve(int ks, byte[] rawKey) {
    if (walkDone || ks < keyspace) {
      return; // every key that existed at the start of this keyspace has been written
    }
    Bytes key = Bytes.of(rawKey);
    if (!seen[ks].add(key)) {
      return;
    }
    Value value = state.get(ks, key);
    if (value != null) {
      enqueue(MemoryState.encodeEntry(ks, key, value, state.expireAtMillis(ks, key)));
    }
  }

  private void preserveAll(int ks) {
    if (walkDone || ks < keyspace) {
      return;
    }
    state.forEachEntry(
        ks,
        (key, value, expireAt) -> {
          if (seen[ks].add(key)) {
            enqueue(MemoryState.encodeEntry(ks, key, value, expireAt));
          }
        });
  }

  private void enqueue(byte[] entry) {
    queuedBytes.addAndGet(entry.length);
    queue.add(entry);
  }

  SnapshotInfo awaitFinished() throws IOException {
    Object outcome = result.get();
    if (outcome instanceof SnapshotInfo info) {
      return info;
    }
    if (outcome instanceof IOException e) {
      throw e;
    }
    if (outcome instanceof RuntimeException e) {
      throw e;
    }
    throw new IllegalStateException("snapshot not finished");
  }

  void abort() {
    aborted = true;
    queue.add(ABORT);
  }
}
