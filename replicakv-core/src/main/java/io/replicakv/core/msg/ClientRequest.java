package io.replicakv.core.msg;

import io.replicakv.core.util.Check;

/**
 * A client's request. {@code (clientId, requestId)} names it uniquely, so a retried request can be
 * recognised and its reply routed back.
 *
 * @param clientId the client (session) that sent it
 * @param requestId increasing per client
 * @param operation what to do
 */
public record ClientRequest(long clientId, long requestId, Operation operation) implements Message {
  public ClientRequest {
    Check.argument(requestId >= 0, "requestId %s negative", requestId);
    Check.argument(operation != null, "operation is null");
  }
}
