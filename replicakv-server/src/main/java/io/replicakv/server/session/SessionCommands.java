package io.replicakv.server.session;

import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespEncoder;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.server.command.Command;
import io.replicakv.server.command.CommandError;
import io.replicakv.server.command.Dispatcher;
import io.replicakv.server.command.Node;
import io.replicakv.server.command.Session;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code SESSION TOKEN}, {@code SESSION RESUME token} and {@code SESSION RESET}: session tokens for
 * any RESP client (DESIGN.md, "Client guarantees"; the keyspace option {@code follower-reads}).
 *
 * <p>Every connection keeps a {@link SessionToken}: the highest LSN per single-leader replica group
 * it wrote or read, raised by every command on a replicated keyspace, wherever the command ran (a
 * forwarded command brings its position back with its answer). Reads on the connection carry the
 * token, so with {@code follower-reads=on} a follower answers them only from state that includes
 * it: read-your-writes and monotonic reads. {@code SESSION TOKEN} returns the token's text (it
 * answers after the connection's earlier commands have their answers, so it covers them); {@code
 * SESSION RESUME} raises the connection's token to cover the given one, typically on a new
 * connection, possibly to another node, so the session continues there; {@code SESSION RESET}
 * forgets it. Consistent prefix needs no token: a follower applies each group's log in order.
 */
public final class SessionCommands {
  private SessionCommands() {}

  /** The commands this class serves. */
  public static List<Command> commands() {
    return List.of(
        new Command(
            "session",
            -2,
            Set.of("fast"),
            0,
            0,
            0,
            "connection",
            "Returns, resumes or resets the connection's session token (ReplicaKV).",
            SessionCommands::session,
            List.of("token", "resume", "reset")));
  }

  private static Reply session(Node node, Session s, RespRequest r) {
    String sub = new String(r.arg(1), StandardCharsets.UTF_8).toUpperCase(Locale.ROOT);
    switch (sub) {
      case "TOKEN" -> {
        if (r.argc() != 2) {
          throw CommandError.arity("session|token");
        }
        SessionState state = s.sessionState;
        int protocol = s.protocol;
        if (state.afterPending().isDone()) {
          return Reply.bulk(state.token().encode());
        }
        s.forwarded =
            state
                .afterPending()
                .thenApply(done -> encode(Reply.bulk(state.token().encode()), protocol));
        return Dispatcher.FORWARDED;
      }
      case "RESUME" -> {
        if (r.argc() != 3) {
          throw CommandError.arity("session|resume");
        }
        try {
          s.sessionState.merge(SessionToken.parse(new String(r.arg(2), StandardCharsets.US_ASCII)));
        } catch (IllegalArgumentException e) {
          throw new CommandError("ERR invalid session token: " + e.getMessage());
        }
        return Reply.ok();
      }
      case "RESET" -> {
        if (r.argc() != 2) {
          throw CommandError.arity("session|reset");
        }
        s.sessionState.reset();
        return Reply.ok();
      }
      default ->
          throw new CommandError(
              "ERR unknown subcommand '"
                  + new String(r.arg(1), StandardCharsets.UTF_8)
                  + "'. Try SESSION TOKEN, SESSION RESUME token or SESSION RESET.");
    }
  }

  static byte[] encode(Reply reply, int protocol) {
    io.netty.buffer.ByteBuf b = io.netty.buffer.Unpooled.buffer(64);
    try {
      RespEncoder.encode(reply, protocol, b);
      byte[] bytes = new byte[b.readableBytes()];
      b.readBytes(bytes);
      return bytes;
    } finally {
      b.release();
    }
  }
}
