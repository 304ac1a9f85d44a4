package io.replicakv.server.route;

import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.server.command.Command;
import io.replicakv.server.command.Session;
import java.util.concurrent.CompletableFuture;

/**
 * Decides where a command runs: here, on the node that owns its keys (forwarded, the reply comes
 * back as RESP bytes in the client's protocol), or nowhere (an error such as CROSSSLOT, MOVED or
 * CLUSTERDOWN). Called on the node loop after the command's name and arity were checked.
 */
public interface Router {
  /** Run the command on this node. */
  Decision LOCAL = null;

  /** Returns {@link #LOCAL} (null) to run here, else the decision. */
  Decision route(Session session, Command command, RespRequest request);

  /** Where a command goes when it does not run here. */
  sealed interface Decision {
    /** Answer at once with this reply. */
    record Answer(Reply reply) implements Decision {}

    /**
     * The command was sent to its owner; the future completes with the encoded reply (any thread),
     * or exceptionally, which the client sees as an error that says the outcome is unknown.
     */
    record Forwarded(CompletableFuture<byte[]> encodedReply) implements Decision {}
  }

  /** A node alone: everything runs here. */
  Router SINGLE_NODE = (session, command, request) -> LOCAL;

  /**
   * A clustered node whose RESP port is open but which has not yet registered with the metadata
   * quorum: it cannot know where a key lives or whether its keyspace is replicated, so commands on
   * keys answer {@code -CLUSTERDOWN} (a client retries) instead of running unreplicated on this
   * node's own copy; commands without keys (PING, INFO...) run here.
   */
  Router STARTING =
      (session, command, request) ->
          command.firstKey() <= 0 || request.argc() <= command.firstKey()
              ? LOCAL
              : new Decision.Answer(
                  Reply.error(
                      "CLUSTERDOWN this node has not joined the cluster yet (registering with the"
                          + " metadata quorum); retry shortly"));
}
