package io.replicakv.core.msg;

/**
 * An input to {@link io.replicakv.core.Replica#step}: a client's request or a peer's message.
 * Sealed so that dispatch is exhaustive.
 */
public sealed interface Message permits ClientRequest, PeerMessage {}
