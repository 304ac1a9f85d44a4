package io.replicakv.server.cluster;

import io.replicakv.core.util.Check;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * A linearizable metadata store in one process, for tests and the simulator: the stand-in for the
 * Raft group that DESIGN.md asks for.
 *
 * <p>Every proposal is applied under one lock, so changes are totally ordered and each completes
 * with the view that includes it (linearizable by construction). {@link #setAvailable(false)} makes
 * the store behave like a quorum that cannot be reached: proposals fail with {@link
 * MetadataUnavailableException} while {@link #current()} keeps answering, which is what a node sees
 * when it loses the metadata majority. Several nodes of a simulated cluster share one instance.
 *
 * <p>Listeners run on a thread of the store's ({@link #InMemoryMetadataStore(String)}), or, for a
 * deterministic simulator, on the proposing thread under the lock ({@link #synchronous}).
 */
public final class InMemoryMetadataStore implements MetadataStore {
  private final ReentrantLock lock = new ReentrantLock();
  private final ListenerDispatcher dispatcher;
  private volatile ClusterView current;
  private volatile boolean available = true;
  private volatile boolean closed;

  /** An empty store for {@code clusterId} that delivers to listeners on its own thread. */
  public InMemoryMetadataStore(String clusterId) {
    this(ClusterView.empty(clusterId), ListenerDispatcher.threaded("replicakv-metadata-listeners"));
  }

  private InMemoryMetadataStore(ClusterView initial, ListenerDispatcher dispatcher) {
    this.current = Check.notNull(initial, "initial");
    this.dispatcher = dispatcher;
    dispatcher.publish(initial);
  }

  /** A store starting at {@code initial} that calls listeners on the proposing thread. */
  public static InMemoryMetadataStore synchronous(ClusterView initial) {
    return new InMemoryMetadataStore(initial, ListenerDispatcher.inline());
  }

  /** Makes the store reachable or not; see the class comment. */
  public void setAvailable(boolean available) {
    this.available = available;
  }

  @Override
  public ClusterView current() {
    return current;
  }

  @Override
  public CompletableFuture<ClusterView> propose(MetadataChange change) {
    Check.notNull(change, "change");
    if (closed) {
      return CompletableFuture.failedFuture(new MetadataUnavailableException("store closed"));
    }
    if (!available) {
      return CompletableFuture.failedFuture(
          new MetadataUnavailableException("in-memory store set unavailable"));
    }
    lock.lock();
    try {
      ClusterView next = current.apply(change);
      current = next;
      dispatcher.publish(next);
      return CompletableFuture.completedFuture(next);
    } catch (MetadataRejectedException e) {
      return CompletableFuture.failedFuture(e);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void addListener(Consumer<ClusterView> listener) {
    lock.lock();
    try {
      dispatcher.addListener(listener);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void close() {
    closed = true;
    dispatcher.close();
  }
}
