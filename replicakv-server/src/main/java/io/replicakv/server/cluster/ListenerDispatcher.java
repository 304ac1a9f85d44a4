package io.replicakv.server.cluster;

import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers views to listeners in version order, once each, on one thread.
 *
 * <p>Publishing and registering are both tasks on one FIFO queue with one consumer, so a listener
 * registered between versions 7 and 8 is handed 7 (the last published) and then 8, never a gap or a
 * repeat. The queue is bounded: a publisher that outruns slow listeners blocks, which throttles the
 * metadata apply path rather than growing memory. A listener that throws is logged and kept.
 *
 * <p>In {@linkplain #inline() inline} mode the tasks run on the caller's thread instead, which a
 * deterministic simulator wants; the caller then provides the ordering (one thread or a lock).
 */
final class ListenerDispatcher implements AutoCloseable {
  /** Views waiting for delivery before a publisher blocks. */
  static final int QUEUE_CAPACITY = 1_024;

  private static final Logger log = LoggerFactory.getLogger(ListenerDispatcher.class);

  private final List<Consumer<ClusterView>> listeners = new ArrayList<>();
  private final BlockingQueue<Runnable> queue;
  private final Thread thread;
  private ClusterView lastDelivered;
  private volatile boolean closed;

  private ListenerDispatcher(String threadName, boolean threaded) {
    if (threaded) {
      queue = new ArrayBlockingQueue<>(QUEUE_CAPACITY);
      thread = Thread.ofPlatform().name(threadName).daemon(true).unstarted(this::run);
      thread.start();
    } else {
      queue = null;
      thread = null;
    }
  }

  /** Delivers on a daemon thread of its own called {@code threadName}. */
  static ListenerDispatcher threaded(String threadName) {
    return new ListenerDispatcher(threadName, true);
  }

  /** Delivers on the publishing caller's thread. */
  static ListenerDispatcher inline() {
    return new ListenerDispatcher("", false);
  }

  /** Queues {@code view} for every listener; versions must be published in increasing order. */
  void publish(ClusterView view) {
    submit(() -> deliver(view));
  }

  /** Registers {@code listener}; it first receives the last view published before it. */
  void addListener(Consumer<ClusterView> listener) {
    Check.notNull(listener, "listener");
    submit(
        () -> {
          listeners.add(listener);
          if (lastDelivered != null) {
            call(listener, lastDelivered);
          }
        });
  }

  private void submit(Runnable task) {
    if (closed) {
      return;
    }
    if (queue == null) {
      task.run();
      return;
    }
    try {
      queue.put(task);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MetadataUnavailableException("interrupted while queueing a view for listeners");
    }
  }

  private void deliver(ClusterView view) {
    Check.state(
        lastDelivered == null || view.version() > lastDelivered.version(),
        "view %s published after %s",
        view.version(),
        lastDelivered == null ? -1 : lastDelivered.version());
    lastDelivered = view;
    for (Consumer<ClusterView> listener : listeners) {
      call(listener, view);
    }
  }

  private static void call(Consumer<ClusterView> listener, ClusterView view) {
    try {
      listener.accept(view);
    } catch (RuntimeException e) {
      log.error("metadata listener failed on version {}", view.version(), e);
    }
  }

  private void run() {
    while (!closed) {
      try {
        queue.take().run();
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    if (thread != null) {
      thread.interrupt();
    }
  }
}
