package io.replicakv.core;

import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.util.Check;

/**
 * A peer message with its destination, as listed in {@link Ready#messages()}.
 *
 * @param to destination node id; always equal to {@code message.to()}
 * @param message what to deliver
 */
public record Envelope(int to, PeerMessage message) {
  public Envelope {
    Check.argument(message != null, "message is null");
    Check.argument(to == message.to(), "envelope to %s but message to %s", to, message.to());
  }

  /** Wraps a message, addressing it to its own {@code to()}. */
  public static Envelope of(PeerMessage message) {
    return new Envelope(message.to(), message);
  }
}
