package io.replicakv.core.msg;

import io.replicakv.core.util.Check;

/**
 * A client's request. {@code (clientId, requestId)} names it uniquely, so a retried request can be
 * recognised and its reply routed back.
 *
 * @param clientId the client (session) that sent it
 * @param requestId increasing per client
 * @param operation what to do
 * @param sessionToken the highest position the session has seen ({@link Lsn#ZERO}: none); a replica
 *     that has not applied it must wait or refuse rather than answer from older state
 */
public record ClientRequest(long clientId, long requestId, Operation operation, Lsn sessionToken)
    implements Message {
  public ClientRequest {
    Check.argument(requestId >= 0, "requestId %s negative", requestId);
    Check.argument(operation != null, "operation is null");
    Check.argument(sessionToken != null, "sessionToken is null");
  }

  /** A request without a session token. */
  public ClientRequest(long clientId, long requestId, Operation operation) {
    this(clientId, requestId, operation, Lsn.ZERO);
  }
}
