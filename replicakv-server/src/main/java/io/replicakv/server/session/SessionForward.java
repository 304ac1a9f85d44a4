package io.replicakv.server.session;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The answer to a forwarded command that asked for its session position ({@code ForwardCodec}
 * version 3, used for replicated keyspaces): {@code [u32 reply length][reply: the RESP bytes the
 * client reads][token: the text form of the session token the command reached on the node that ran
 * it]}. The forwarding node merges the token into its client's session before the client gets the
 * reply, so a write that ran on the group's leader raises the token of the connection that sent it
 * to a follower.
 */
public final class SessionForward {
  private SessionForward() {}

  /** Wraps {@code reply} with {@code token}. */
  public static byte[] wrap(byte[] reply, SessionToken token) {
    byte[] text = token.encode().getBytes(StandardCharsets.US_ASCII);
    return ByteBuffer.allocate(4 + reply.length + text.length)
        .putInt(reply.length)
        .put(reply)
        .put(text)
        .array();
  }

  /** A wrapped answer taken apart. */
  public record Answer(byte[] reply, SessionToken token) {}

  /** Takes apart what {@link #wrap} made; malformed input throws IllegalArgumentException. */
  public static Answer unwrap(byte[] payload) {
    if (payload.length < 4) {
      throw new IllegalArgumentException("forwarded answer of " + payload.length + " bytes");
    }
    ByteBuffer b = ByteBuffer.wrap(payload);
    int length = b.getInt();
    if (length < 0 || length > b.remaining()) {
      throw new IllegalArgumentException("forwarded reply length " + length + " out of range");
    }
    byte[] reply = new byte[length];
    b.get(reply);
    byte[] text = new byte[b.remaining()];
    b.get(text);
    return new Answer(reply, SessionToken.parse(new String(text, StandardCharsets.US_ASCII)));
  }
}
