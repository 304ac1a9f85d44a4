package io.replicakv.net.resp;

import io.replicakv.core.util.Check;

/**
 * Emitted by {@link RespDecoder}, at most once per connection and instead of a request, when the
 * input is not valid RESP. The server replies {@code -ERR Protocol error: <message>} and closes the
 * connection; the decoder discards everything that arrives afterwards.
 *
 * @param message Redis's text for the fault, such as {@code invalid bulk length}
 */
public record RespProtocolError(String message) {
  public RespProtocolError {
    Check.notNull(message, "message");
  }

  /** The reply Redis sends before closing: {@code -ERR Protocol error: <message>}. */
  public Reply toReply() {
    return Reply.error("ERR Protocol error: " + message);
  }
}
