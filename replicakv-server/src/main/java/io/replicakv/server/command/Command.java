package io.replicakv.server.command;

import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespRequest;
import java.util.List;
import java.util.Set;

/**
 * A command of the RESP front end.
 *
 * @param name lower-case name
 * @param arity Redis convention: n means exactly n arguments including the name, -n at least n
 * @param flags Redis command flags ({@code write}, {@code readonly}, {@code denyoom}, {@code fast},
 *     ...); {@code write} commands are refused while the disk refuses writes, {@code denyoom} ones
 *     past maxmemory
 * @param firstKey position of the first key argument (0 = no keys)
 * @param lastKey position of the last key (-1 = the last argument)
 * @param keyStep distance between keys
 * @param group documentation group (string, hash, set, keyspace, connection, server)
 * @param summary one line for COMMAND DOCS
 * @param handler the implementation
 * @param subcommands container commands list theirs (CLIENT, CONFIG, COMMAND)
 */
public record Command(
    String name,
    int arity,
    Set<String> flags,
    int firstKey,
    int lastKey,
    int keyStep,
    String group,
    String summary,
    Handler handler,
    List<String> subcommands) {

  /** Runs one command; returns its reply or throws {@link CommandError}. */
  @FunctionalInterface
  public interface Handler {
    Reply run(Node node, Session session, RespRequest request);
  }

  public boolean isWrite() {
    return flags.contains("write");
  }

  public boolean denyOom() {
    return flags.contains("denyoom");
  }

  public boolean arityOk(int argc) {
    return arity >= 0 ? argc == arity : argc >= -arity;
  }
}
