package io.replicakv.server.session;

import io.replicakv.core.msg.Lsn;
import java.util.concurrent.CompletableFuture;

/**
 * One client connection's session token and the answers still on their way that will raise it.
 *
 * <p>A command run on this node raises the token as it runs (on the node loop). A command forwarded
 * to another node, or a follower read waiting for its replica to catch up, raises it only when its
 * answer arrives, possibly on a peer thread; so the token is guarded by this object's lock, and
 * {@code SESSION TOKEN} answers only after every such answer that was pending when it arrived
 * ({@link #afterPending}): a pipelined {@code SET k v} then {@code SESSION TOKEN} returns a token
 * that covers the SET wherever it ran.
 */
public final class SessionState {
  private SessionToken token = SessionToken.EMPTY;
  private CompletableFuture<Void> pending = CompletableFuture.completedFuture(null);

  /** The token as of now. */
  public synchronized SessionToken token() {
    return token;
  }

  /** Raises the token to {@code lsn} for one group. */
  public synchronized void observe(int keyspace, int group, Lsn lsn) {
    token = token.with(keyspace, group, lsn);
  }

  /** Raises the token to cover {@code other} as well (SESSION RESUME, a forwarded answer). */
  public synchronized void merge(SessionToken other) {
    token = token.merge(other);
  }

  /** Forgets everything (SESSION RESET): later reads on this connection carry no token. */
  public synchronized void reset() {
    token = SessionToken.EMPTY;
  }

  /** Notes an answer that will raise the token when it completes (whether or not it fails). */
  public synchronized void track(CompletableFuture<?> answer) {
    CompletableFuture<Void> settled = answer.handle((value, error) -> null);
    pending = pending.isDone() ? settled : pending.thenCombine(settled, (a, b) -> null);
  }

  /** Completes once every answer tracked so far has arrived. */
  public synchronized CompletableFuture<Void> afterPending() {
    return pending;
  }
}
