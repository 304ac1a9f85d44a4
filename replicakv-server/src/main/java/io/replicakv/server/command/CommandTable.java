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
  private final Map<String, Command> byName = new HashMap<>();

  /** Lower-case name bytes hashed by a cheap function; collisions fall back to the map. */
  private final Command[] fast = new Command[1024];

  public CommandTable register(Command c) {
    if (byName.put(c.name(), c) != null) {
      throw new IllegalStateException("command registered twice: " + c.name());
    }
    int slot = slot(c.name().getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    if (fast[slot] == null) {
      fast[slot] = c; // on a collision the later command is found through the map
    }
    return this;
  }

  /** Finds a command by its (any-case) name; null when unknown. */
  public Command find(byte[] name) {
    if (name.length == 0 || name.length > 32) {
      return null;
    }
    Command c = fast[slot(name)];
    if (c != null && sameIgnoringCase(c.name(), name)) {
      return c;
    }
    return byName.get(Args.upper(name).toLowerCase(java.util.Locale.ROOT));
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

  private static int slot(byte[] name) {
    int h = 0;
    for (byte b : name) {
      int c = (b >= 'A' && b <= 'Z') ? b + 32 : b;
      h = h * 31 + c;
    }
    return (h ^ (h >>> 10)) & 1023;
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
