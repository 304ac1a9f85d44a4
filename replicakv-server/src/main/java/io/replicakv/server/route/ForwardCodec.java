package io.replicakv.server.route;

import io.replicakv.net.resp.RespRequest;
import java.nio.ByteBuffer;

/**
 * The payload of a forwarded command between nodes: {@code [u8 version][u8 hops][u16 keyspace][u8
 * protocol] [u32 argc] ([u32 length][bytes])*}. The reply travels back as the RESP bytes the client
 * will read. {@code hops} counts how many times the command was forwarded (1 for the first): a node
 * whose newer view says another node owns the keys forwards again, and refuses past {@link
 * #HOPS_MAX}, so two nodes with different stale views cannot pass a command back and forth.
 *
 * <p>Version 3 has the same layout and asks the receiver to answer with its session position as
 * well ({@code io.replicakv.server.session.SessionForward}): nodes send it for commands on
 * replicated single-leader keyspaces, so a client's session token covers a write or read that ran
 * on another node. Version 2 (every other keyspace) is answered with the bare reply. A node older
 * than version 3 refuses it, so a rolling upgrade to session tokens sees forwarded commands on
 * replicated keyspaces fail until every node runs the new version.
 */
public final class ForwardCodec {
  private ForwardCodec() {}

  /** Peer frame type of a forwarded command; its reply uses {@link #TYPE_FORWARD_REPLY}. */
  public static final int TYPE_FORWARD = 16;

  public static final int TYPE_FORWARD_REPLY = 17;

  static final byte VERSION = 2;

  /** {@link #VERSION} plus "answer with the session position" (see the class comment). */
  static final byte VERSION_SESSION = 3;

  /** Most times one command is forwarded; a node receiving it at this count answers TRYAGAIN. */
  public static final int HOPS_MAX = 2;

  /** Most arguments a forwarded command may carry; the RESP front end's limit applies first. */
  static final int ARGUMENTS_MAX = 1 << 24;

  public static byte[] encode(int keyspace, int protocol, RespRequest request) {
    return encode(keyspace, protocol, request, 1);
  }

  public static byte[] encode(int keyspace, int protocol, RespRequest request, int hops) {
    return encode(keyspace, protocol, request, hops, false);
  }

  /** With {@code session}, the receiver answers with its session position too (version 3). */
  public static byte[] encode(
      int keyspace, int protocol, RespRequest request, int hops, boolean session) {
    if (hops < 1 || hops > 255) {
      throw new IllegalArgumentException("hops " + hops + " outside 1..255");
    }
    long size = 1 + 1 + 2 + 1 + 4;
    for (int i = 0; i < request.argc(); i++) {
      size += 4 + request.arg(i).length;
    }
    if (size > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("command too large to forward: " + size + " bytes");
    }
    ByteBuffer b = ByteBuffer.allocate((int) size);
    b.put(session ? VERSION_SESSION : VERSION)
        .put((byte) hops)
        .putShort((short) keyspace)
        .put((byte) protocol)
        .putInt(request.argc());
    for (int i = 0; i < request.argc(); i++) {
      b.putInt(request.arg(i).length).put(request.arg(i));
    }
    return b.array();
  }

  /** A decoded forwarded command. */
  public record Forward(
      int keyspace, int protocol, RespRequest request, int hops, boolean session) {}

  public static Forward decode(byte[] payload) {
    ByteBuffer b = ByteBuffer.wrap(payload);
    try {
      byte version = b.get();
      if (version != VERSION && version != VERSION_SESSION) {
        throw new IllegalArgumentException("unsupported forward format version " + version);
      }
      int hops = Byte.toUnsignedInt(b.get());
      if (hops < 1) {
        throw new IllegalArgumentException("bad hop count " + hops);
      }
      int keyspace = Short.toUnsignedInt(b.getShort());
      int protocol = b.get();
      int argc = b.getInt();
      if (argc < 1 || argc > ARGUMENTS_MAX || argc > b.remaining() / 4) {
        throw new IllegalArgumentException("bad argument count " + argc);
      }
      byte[][] args = new byte[argc][];
      for (int i = 0; i < argc; i++) {
        int len = b.getInt();
        if (len < 0 || len > b.remaining()) {
          throw new IllegalArgumentException("bad argument length " + len);
        }
        args[i] = new byte[len];
        b.get(args[i]);
      }
      if (b.hasRemaining()) {
        throw new IllegalArgumentException(b.remaining() + " trailing bytes");
      }
      return new Forward(
          keyspace, protocol, RespRequest.of(args), hops, version == VERSION_SESSION);
    } catch (java.nio.BufferUnderflowException e) {
      throw new IllegalArgumentException("truncated forward payload", e);
    }
  }
}
