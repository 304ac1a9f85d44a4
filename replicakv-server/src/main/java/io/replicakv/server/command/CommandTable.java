package io.replicakv.server.command;

import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** All commands by name, looked up without allocating for the common case. */
public final class CommandTable {
  /** Open-addressing table size (a power of two, well above the number of commands). */
  private static final int SLOTS = 1024;

  private final Map<String, Command> byName = new HashMap<>();

  /**
   * Commands by a case-insensitive hash of their name, linear probing; found without allocating.
   */
  private final Command[] table = new Command[SLOTS];

  public CommandTable register(Command c) {
    if (byName.put(c.name(), c) != null) {
      throw new IllegalStateException("command registered twice: " + c.name());
    }
    if (byName.size() > SLOTS / 2) {
      throw new IllegalStateException("command table too full: " + byName.size());
    }
    int i = hash(c.name().getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    while (table[i] != null) {
      i = (i + 1) & (SLOTS - 1);
    }
    table[i] = c;
    return this;
  }

  /** Finds a command by its (any-case) name; null when unknown. */
  public Command find(byte[] name) {
    if (name.length == 0 || name.length > 32) {
      return null;
    }
    for (int i = hash(name); ; i = (i + 1) & (SLOTS - 1)) {
      Command c = table[i];
      if (c == null) {
        return null;
      }
      if (sameIgnoringCase(c.name(), name)) {
        return c;
      }
    }
  }

  public Command find(String name) {
    return byName.get(name.toLowerCase(java.util.Locale.ROOT));
  }

  public Collection<Command> all() {
    return byName.values();
  }

  public int size() {
    return byName.size();
  }

  private static int hash(byte[] name) {
    int h = 0x811c9dc5;
    for (byte b : name) {
      int c = (b >= 'A' && b <= 'Z') ? b + 32 : b;
      h = (h ^ c) * 0x01000193;
    }
    return (h ^ (h >>> 16)) & (SLOTS - 1);
  }

  private static boolean sameIgnoringCase(String lower, byte[] name) {
    if (lower.length() != name.length) {
      return false;
    }
    for (int i = 0; i < name.length; i++) {
      int c = name[i];
      if (c >= 'A' && c <= 'Z') {
        c += 32;
      }
      if (c != lower.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** Builder shorthand used by the command groups. */
  static Command cmd(
      String name,
      int arity,
      String flags,
      int firstKey,
      int lastKey,
      int step,
      String group,
      String summary,
      Command.Handler handler) {
    Set<String> f = new LinkedHashSet<>(Arrays.asList(flags.split(" ")));
    f.remove("");
    return new Command(
        name, arity, Set.copyOf(f), firstKey, lastKey, step, group, summary, handler, List.of());
  }
}
