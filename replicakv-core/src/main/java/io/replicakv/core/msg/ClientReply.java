package io.replicakv.core.msg;

import io.replicakv.core.util.Check;

/**
 * A replica's answer to one {@link ClientRequest}.
 *
 * @param clientId copied from the request
 * @param requestId copied from the request
 * @param reply the outcome
 */
public record ClientReply(long clientId, long requestId, Reply reply) {
  public ClientReply {
    Check.argument(reply != null, "reply is null");
  }

  /** Replies to {@code request} with {@code reply}. */
  public static ClientReply to(ClientRequest request, Reply reply) {
    return new ClientReply(request.clientId(), request.requestId(), reply);
  }
}
