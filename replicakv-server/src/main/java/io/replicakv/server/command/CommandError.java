package io.replicakv.server.command;

/**
 * A command refused for a reason the client should see; the message is the full error text as Redis
 * writes it, starting with its code ({@code ERR}, {@code WRONGTYPE}, {@code OOM}, ...).
 */
public final class CommandError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public static final String SYNTAX = "ERR syntax error";
  public static final String NOT_INTEGER = "ERR value is not an integer or out of range";
  public static final String NOT_FLOAT = "ERR value is not a valid float";
  public static final String WRONG_TYPE =
      "WRONGTYPE Operation against a key holding the wrong kind of value";
  public static final String OVERFLOW = "ERR increment or decrement would overflow";
  public static final String NO_SUCH_KEY = "ERR no such key";
  public static final String OOM = "OOM command not allowed when used memory > 'maxmemory'.";

  public CommandError(String message) {
    super(message, null, false, false);
  }

  public static CommandError syntax() {
    return new CommandError(SYNTAX);
  }

  public static CommandError notInteger() {
    return new CommandError(NOT_INTEGER);
  }

  public static CommandError wrongType() {
    return new CommandError(WRONG_TYPE);
  }

  public static CommandError arity(String command) {
    return new CommandError("ERR wrong number of arguments for '" + command + "' command");
  }
}
