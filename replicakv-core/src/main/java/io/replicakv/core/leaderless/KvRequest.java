package io.replicakv.core.leaderless;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.util.Check;

/**
 * A client request to a leaderless coordinator through {@link LeaderlessNode#submit}: the full API,
 * with causal context and per-request quorums, that plain {@code Get}/{@code Put} client requests
 * cannot express. {@code (clientId, requestId)} is echoed in the {@link KvResult}.
 */
public sealed interface KvRequest {
  /** Use the keyspace's R or W. */
  int DEFAULT_QUORUM = 0;

  long clientId();

  long requestId();

  String key();

  /**
   * Reads the key from R replicas.
   *
   * @param readQuorum R for this request, or {@link #DEFAULT_QUORUM}
   */
  record Get(long clientId, long requestId, String key, int readQuorum) implements KvRequest {
    public Get {
      Check.notNull(key, "key");
      Check.argument(readQuorum >= 0, "readQuorum %s < 0", readQuorum);
    }
  }

  /**
   * Writes the key on N replicas and waits for W.
   *
   * @param context the context of the client's last read of the key (empty: a blind write, which
   *     becomes a sibling of everything in siblings mode)
   * @param writeQuorum W for this request, or {@link #DEFAULT_QUORUM}
   */
  record Put(
      long clientId,
      long requestId,
      String key,
      Write write,
      VersionVector context,
      int writeQuorum)
      implements KvRequest {
    public Put {
      Check.notNull(key, "key");
      Check.notNull(write, "write");
      Check.notNull(context, "context");
      Check.argument(writeQuorum >= 0, "writeQuorum %s < 0", writeQuorum);
    }
  }
}
