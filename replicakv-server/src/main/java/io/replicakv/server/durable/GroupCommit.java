package io.replicakv.server.durable;

import io.replicakv.core.util.Check;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit for a keyspace service whose single-threaded loop appends records to a file: the
 * loop writes without forcing, hands this class the output of that turn (messages to send, replies
 * to complete) together with the file's write sequence it depends on, and goes on; one syncer
 * thread forces the file and tells the loop how far it is durable, and the loop then releases, in
 * order, every output whose sequence is covered.
 *
 * <p>While one force runs, the writes of the turns that arrive meanwhile pile up and share the next
 * force, so a burst of N writes costs a few forces instead of N, and the loop never waits on the
 * device. Output that needs no force still waits behind held output, so output leaves in the order
 * the loop produced it. That is what a core's {@code Ready.syncBeforeSend} asks: no message and no
 * reply leaves before the records written up to its turn are durable.
 *
 * <p>Threads: every method except {@link #close} runs on the service loop. The force callback is
 * posted back through {@code loopInput}, which the service wraps so that a failure of the force (a
 * disk error, rethrown there) stops the service as any loop failure does.
 */
public final class GroupCommit implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GroupCommit.class);

  /** How long close waits for a running force. */
  public static final long SYNC_STOP_WAIT_MILLIS = 10_000;

  /** The file a service writes: its write sequence and a force of what was written. */
  public interface Forceable {
    /** Records written since open; read on the loop. */
    long writtenSequence();

    /** Forces every record written before the call; called on the syncer thread. */
    void force();
  }

  private record Held(long sequence, Runnable output) {}

  private final String name;
  private final Forceable file;
  private final Executor loopInput;
  private final ExecutorService syncer;
  private final ArrayDeque<Held> held = new ArrayDeque<>();
  private boolean syncRunning;
  private long durableSequence;
  private long forces;

  /**
   * @param name names the syncer thread and log lines (the keyspace)
   * @param file the record file the loop writes
   * @param loopInput runs a task on the service loop, through the service's failure handling
   */
  public GroupCommit(String name, Forceable file, Executor loopInput) {
    this.name = Check.notNull(name, "name");
    this.file = Check.notNull(file, "file");
    this.loopInput = Check.notNull(loopInput, "loopInput");
    this.durableSequence = file.writtenSequence();
    this.syncer =
        Executors.newSingleThreadExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "log-sync-" + name);
              thread.setDaemon(true);
              return thread;
            });
  }

  /**
   * Runs {@code output} once the file is durable through {@code sequence} when {@code needsForce},
   * else as soon as every earlier held output has run (at once when none is held).
   */
  public void after(long sequence, boolean needsForce, Runnable output) {
    if (!needsForce && held.isEmpty()) {
      output.run();
      return;
    }
    held.addLast(new Held(needsForce ? sequence : durableSequence, output));
    requestForce();
  }

  /** Outputs waiting for a force; read on the loop. */
  public int heldCount() {
    return held.size();
  }

  /** Forces completed so far (each covers every write before it); read on the loop. */
  public long forces() {
    return forces;
  }

  /** Drops every held output (the service stops; its callers are failed by the service). */
  public void clear() {
    held.clear();
  }

  private void requestForce() {
    if (syncRunning || durableSequence >= file.writtenSequence()) {
      releaseDurable();
      return;
    }
    syncRunning = true;
    long target = file.writtenSequence();
    try {
      syncer.execute(
          () -> {
            RuntimeException failure = null;
            try {
              file.force();
            } catch (RuntimeException e) {
              failure = e;
            }
            RuntimeException failed = failure;
            try {
              loopInput.execute(() -> onForced(target, failed));
            } catch (RejectedExecutionException e) {
              // the loop is shutting down; the service fails what is pending
            }
          });
    } catch (RejectedExecutionException e) {
      // closed: the service is stopping and fails what is pending
      syncRunning = false;
    }
  }

  private void onForced(long target, RuntimeException failure) {
    syncRunning = false;
    if (failure != null) {
      throw failure;
    }
    Check.state(target >= durableSequence, "forced %s below durable %s", target, durableSequence);
    durableSequence = target;
    forces++;
    releaseDurable();
    if (!held.isEmpty()) {
      requestForce();
    }
  }

  private void releaseDurable() {
    while (!held.isEmpty() && held.peekFirst().sequence() <= durableSequence) {
      held.pollFirst().output().run();
    }
  }

  /** Lets a running force finish (its outcome no longer matters) and stops the syncer thread. */
  @Override
  public void close() {
    syncer.shutdown();
    try {
      if (!syncer.awaitTermination(SYNC_STOP_WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
        log.warn("{}: log force still running at close", name);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
