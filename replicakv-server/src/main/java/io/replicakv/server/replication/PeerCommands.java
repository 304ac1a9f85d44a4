package io.replicakv.server.replication;

import io.replicakv.net.peer.Frame;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.route.ForwardCodec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Runs one of our admin commands on another member and reads its answer. The command travels in the
 * forwarded-command frame ({@link ForwardCodec#TYPE_FORWARD}, peer frame type 16) that already
 * carries clients' keyed commands between nodes: the receiving node runs it as a forwarded command
 * (its session says so, so it never forwards it on), and the RESP2 bytes of its answer come back.
 * No new frame type is needed for an operator's rare requests, and a node of an older version
 * answers "unknown command" rather than dropping a frame it does not know.
 *
 * <p>Answers are decoded into {@link String} (simple and bulk strings), {@link Long}, {@link List}
 * (arrays), {@link Error} (error replies) or null (nil), bounded by {@link #ELEMENTS_MAX}; a
 * malformed answer fails the future.
 */
final class PeerCommands {
  private PeerCommands() {}

  /** An error reply of the remote node. */
  record Error(String message) {}

  /** Most elements, at any depth, one decoded answer may hold. */
  static final int ELEMENTS_MAX = 1_000_000;

  /** RESP2: the reply bytes are decoded here, whatever protocol the original client spoke. */
  private static final int PROTOCOL = 2;

  /**
   * Runs {@code args} on {@code memberId} with {@code keyspace} selected. Fails when the member is
   * unknown, LEFT or has no peer port, or when the peer does not answer.
   */
  static CompletableFuture<Object> call(
      ReplicationLoop replication,
      ClusterView view,
      String memberId,
      int keyspace,
      String... args) {
    Member member = view == null ? null : view.members().get(memberId);
    if (member == null || member.peerPort() == 0 || member.state() == MemberState.LEFT) {
      return CompletableFuture.failedFuture(
          new IllegalStateException("member " + memberId + " cannot be reached"));
    }
    byte[] payload = ForwardCodec.encode(keyspace, PROTOCOL, RespRequest.ofStrings(args));
    return replication
        .peers()
        .request(
            replication.routes().host(member),
            replication.routes().port(member),
            Frame.of(ForwardCodec.TYPE_FORWARD, payload))
        .thenApply(
            frame -> {
              if (frame.type() != ForwardCodec.TYPE_FORWARD_REPLY) {
                throw new IllegalStateException(
                    memberId
                        + " answered with frame type "
                        + frame.type()
                        + ": "
                        + new String(frame.payload(), StandardCharsets.UTF_8));
              }
              return decode(frame.payload());
            });
  }

  /** Decodes one RESP2 answer. */
  static Object decode(byte[] bytes) {
    ByteBuffer in = ByteBuffer.wrap(bytes);
    int[] budget = {ELEMENTS_MAX};
    Object out = read(in, budget);
    if (in.hasRemaining()) {
      throw new IllegalArgumentException(in.remaining() + " bytes after the answer");
    }
    return out;
  }

  private static Object read(ByteBuffer in, int[] budget) {
    if (--budget[0] < 0) {
      throw new IllegalArgumentException("answer holds more than " + ELEMENTS_MAX + " elements");
    }
    byte kind = in.get();
    String line = line(in);
    switch (kind) {
      case '+' -> {
        return line;
      }
      case '-' -> {
        return new Error(line);
      }
      case ':' -> {
        return Long.parseLong(line);
      }
      case '$' -> {
        int length = Integer.parseInt(line);
        if (length < 0) {
          return null;
        }
        if (length > in.remaining() - 2) {
          throw new IllegalArgumentException("bulk of " + length + " bytes past the end");
        }
        byte[] value = new byte[length];
        in.get(value);
        in.get();
        in.get();
        return new String(value, StandardCharsets.UTF_8);
      }
      case '*' -> {
        int count = Integer.parseInt(line);
        if (count < 0) {
          return null;
        }
        if (count > budget[0]) {
          throw new IllegalArgumentException("array of " + count + " elements");
        }
        List<Object> items = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          items.add(read(in, budget));
        }
        return items;
      }
      default -> throw new IllegalArgumentException("unknown RESP2 type byte " + kind);
    }
  }

  private static String line(ByteBuffer in) {
    StringBuilder b = new StringBuilder();
    while (true) {
      byte c = in.get();
      if (c == '\r') {
        if (in.get() != '\n') {
          throw new IllegalArgumentException("CR without LF");
        }
        return b.toString();
      }
      b.append((char) (c & 0xFF));
    }
  }
}
