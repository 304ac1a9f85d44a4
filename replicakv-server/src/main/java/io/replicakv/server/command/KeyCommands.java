package io.replicakv.server.command;

import static io.replicakv.server.command.CommandTable.cmd;

import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.Value;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Generic key commands: deletion, existence, type, renaming, iteration and expiry. */
final class KeyCommands {
  private KeyCommands() {}

  /**
   * SCAN visits at most this many buckets per call, whatever COUNT asks, to bound one call's
   * latency.
   */
  static final int SCAN_COUNT_MAX = 100_000;

  static void register(CommandTable t) {
    t.register(
        cmd(
            "del",
            -2,
            "write",
            1,
            -1,
            1,
            "keyspace",
            "Deletes one or more keys.",
            KeyCommands::del));
    t.register(
        cmd(
            "unlink",
            -2,
            "write fast",
            1,
            -1,
            1,
            "keyspace",
            "Asynchronously deletes one or more keys.",
            KeyCommands::del));
    t.register(
        cmd(
            "exists",
            -2,
            "readonly fast",
            1,
            -1,
            1,
            "keyspace",
            "Determines whether one or more keys exist.",
            (n, s, r) -> {
              long count = 0;
              for (int i = 1; i < r.argc(); i++) {
                if (n.lookup(s.keyspace, Bytes.of(r.arg(i))) != null) {
                  count++;
                }
              }
              return Reply.integer(count);
            }));
    t.register(
        cmd(
            "type",
            2,
            "readonly fast",
            1,
            1,
            1,
            "keyspace",
            "Determines the type of value stored at a key.",
            (n, s, r) -> {
              Value v = n.lookup(s.keyspace, Bytes.of(r.arg(1)));
              return Reply.simple(v == null ? "none" : v.typeName());
            }));
    t.register(
        cmd(
            "rename",
            3,
            "write",
            1,
            2,
            1,
            "keyspace",
            "Renames a key and overwrites the destination.",
            (n, s, r) -> rename(n, s, r, false)));
    t.register(
        cmd(
            "renamenx",
            3,
            "write fast",
            1,
            2,
            1,
            "keyspace",
            "Renames a key only when the target key name doesn't exist.",
            (n, s, r) -> rename(n, s, r, true)));
    t.register(
        cmd(
            "keys",
            2,
            "readonly",
            0,
            0,
            0,
            "keyspace",
            "Returns all key names that match a pattern.",
            KeyCommands::keys));
    t.register(
        cmd(
            "scan",
            -2,
            "readonly",
            0,
            0,
            0,
            "keyspace",
            "Iterates over the key names in the database.",
            KeyCommands::scan));
    t.register(
        cmd(
            "randomkey",
            1,
            "readonly",
            0,
            0,
            0,
            "keyspace",
            "Returns a random key name from the database.",
            KeyCommands::randomKey));
    t.register(
        cmd(
            "expire",
            -3,
            "write fast",
            1,
            1,
            1,
            "keyspace",
            "Sets the expiration time of a key in seconds.",
            (n, s, r) -> expire(n, s, r, 1000, false, "expire")));
    t.register(
        cmd(
            "pexpire",
            -3,
            "write fast",
            1,
            1,
            1,
            "keyspace",
            "Sets the expiration time of a key in milliseconds.",
            (n, s, r) -> expire(n, s, r, 1, false, "pexpire")));
    t.register(
        cmd(
            "expireat",
            -3,
            "write fast",
            1,
            1,
            1,
            "keyspace",
            "Sets the expiration time of a key to a Unix timestamp.",
            (n, s, r) -> expire(n, s, r, 1000, true, "expireat")));
    t.register(
        cmd(
            "pexpireat",
            -3,
            "write fast",
            1,
            1,
            1,
            "keyspace",
            "Sets the expiration time of a key to a Unix milliseconds timestamp.",
            (n, s, r) -> expire(n, s, r, 1, true, "pexpireat")));
    t.register(
        cmd(
            "ttl",
            2,
            "readonly fast",
            1,
            1,
            1,
            "keyspace",
            "Returns the expiration time in seconds of a key.",
            (n, s, r) -> ttl(n, s, r, false, false)));
    t.register(
        cmd(
            "pttl",
            2,
            "readonly fast",
            1,
            1,
            1,
            "keyspace",
            "Returns the expiration time in milliseconds of a key.",
            (n, s, r) -> ttl(n, s, r, true, false)));
    t.register(
        cmd(
            "expiretime",
            2,
            "readonly fast",
            1,
            1,
            1,
            "keyspace",
            "Returns the expiration time of a key as a Unix timestamp.",
            (n, s, r) -> ttl(n, s, r, false, true)));
    t.register(
        cmd(
            "pexpiretime",
            2,
            "readonly fast",
            1,
            1,
            1,
            "keyspace",
            "Returns the expiration time of a key as a Unix milliseconds timestamp.",
            (n, s, r) -> ttl(n, s, r, true, true)));
    t.register(
        cmd(
            "persist",
            2,
            "write fast",
            1,
            1,
            1,
            "keyspace",
            "Removes the expiration time of a key.",
            (n, s, r) -> {
              Bytes key = Bytes.of(r.arg(1));
              if (n.lookup(s.keyspace, key) == null || n.expireAt(s.keyspace, key) == 0) {
                return Reply.integer(0);
              }
              n.apply(new Mutation.Expire(s.keyspace, r.arg(1), 0));
              return Reply.integer(1);
            }));
  }

  private static Reply del(Node n, Session s, RespRequest r) {
    List<Mutation> deletes = new ArrayList<>();
    java.util.Set<Bytes> seen = new java.util.HashSet<>();
    for (int i = 1; i < r.argc(); i++) {
      Bytes key = Bytes.of(r.arg(i));
      if (seen.add(key) && n.lookup(s.keyspace, key) != null) {
        deletes.add(new Mutation.Delete(s.keyspace, r.arg(i)));
      }
    }
    if (!deletes.isEmpty()) {
      n.apply(StringCommands.one(deletes)); // one log record for the whole command
    }
    return Reply.integer(deletes.size());
  }

  private static Reply rename(Node n, Session s, RespRequest r, boolean nx) {
    Bytes from = Bytes.of(r.arg(1));
    Bytes to = Bytes.of(r.arg(2));
    if (n.lookup(s.keyspace, from) == null) {
      throw new CommandError(CommandError.NO_SUCH_KEY);
    }
    if (from.equals(to)) {
      return nx ? Reply.integer(0) : Reply.ok();
    }
    if (nx && n.lookup(s.keyspace, to) != null) {
      return Reply.integer(0);
    }
    n.apply(new Mutation.Rename(s.keyspace, r.arg(1), r.arg(2)));
    return nx ? Reply.integer(1) : Reply.ok();
  }

  private static Reply keys(Node n, Session s, RespRequest r) {
    byte[] pattern = r.arg(1);
    boolean all = pattern.length == 1 && pattern[0] == '*';
    List<byte[]> out = new ArrayList<>();
    List<Bytes> expired = new ArrayList<>();
    MemoryState state = n.state();
    long now = n.now();
    state.forEachEntry(
        s.keyspace,
        (key, value, expireAt) -> {
          if (expireAt != 0 && expireAt < now) {
            expired.add(key);
          } else if (all || Glob.matches(pattern, key.array(), false)) {
            out.add(key.array());
          }
        });
    expired.forEach(k -> n.expire(s.keyspace, k));
    return Reply.bulkArray(out);
  }

  /** Redis cursors are unsigned 64-bit decimals. */
  static long parseCursor(byte[] raw) {
    String text = new String(raw, StandardCharsets.US_ASCII);
    try {
      if (text.isEmpty() || text.charAt(0) == '+' || text.charAt(0) == '-') {
        throw new NumberFormatException();
      }
      return Long.parseUnsignedLong(text);
    } catch (NumberFormatException e) {
      throw new CommandError("ERR invalid cursor");
    }
  }

  /** The MATCH / COUNT / TYPE options shared by SCAN, HSCAN and SSCAN. */
  record ScanOptions(byte[] pattern, int count, String type, boolean noValues) {
    static ScanOptions parse(RespRequest r, int from, boolean allowType, boolean allowNoValues) {
      byte[] pattern = null;
      long count = 10;
      String type = null;
      boolean noValues = false;
      for (int i = from; i < r.argc(); i++) {
        byte[] a = r.arg(i);
        boolean hasNext = i + 1 < r.argc();
        if (Args.is(a, "MATCH") && hasNext) {
          pattern = r.arg(++i);
          if (pattern.length == 1 && pattern[0] == '*') {
            pattern = null;
          }
        } else if (Args.is(a, "COUNT") && hasNext) {
          count = Args.parseLong(r.arg(++i));
          if (count < 1) {
            throw CommandError.syntax();
          }
        } else if (allowType && Args.is(a, "TYPE") && hasNext) {
          type = new String(r.arg(++i), StandardCharsets.UTF_8).toLowerCase(java.util.Locale.ROOT);
        } else if (allowNoValues && Args.is(a, "NOVALUES")) {
          noValues = true;
        } else {
          throw CommandError.syntax();
        }
      }
      return new ScanOptions(pattern, (int) Math.min(count, SCAN_COUNT_MAX), type, noValues);
    }

    boolean matches(byte[] item) {
      return pattern == null || Glob.matches(pattern, item, false);
    }
  }

  private static Reply scan(Node n, Session s, RespRequest r) {
    long cursor = parseCursor(r.arg(1));
    ScanOptions o = ScanOptions.parse(r, 2, true, false);
    List<byte[]> out = new ArrayList<>();
    List<Bytes> expired = new ArrayList<>();
    long now = n.now();
    MemoryState state = n.state();
    long next =
        state.scan(
            s.keyspace,
            cursor,
            o.count(),
            (key, value) -> {
              long exp = state.expireAtMillis(s.keyspace, key);
              if (exp != 0 && exp < now) {
                expired.add(key);
                return;
              }
              if (o.type() != null && !o.type().equals(value.typeName())) {
                return;
              }
              if (o.matches(key.array())) {
                out.add(key.array());
              }
            });
    expired.forEach(k -> n.expire(s.keyspace, k));
    return Reply.array(List.of(Reply.bulk(Long.toUnsignedString(next)), Reply.bulkArray(out)));
  }

  private static Reply randomKey(Node n, Session s, RespRequest r) {
    MemoryState state = n.state();
    for (int attempt = 0; attempt < 100; attempt++) {
      Bytes key = state.randomKey(s.keyspace, n.random);
      if (key == null) {
        return Reply.nil();
      }
      if (n.lookup(s.keyspace, key) != null) {
        return Reply.bulk(key.array());
      }
    }
    return Reply.nil();
  }

  private static Reply expire(
      Node n, Session s, RespRequest r, long unitMillis, boolean absolute, String command) {
    long amount = Args.parseLong(r.arg(2));
    boolean nx = false;
    boolean xx = false;
    boolean gt = false;
    boolean lt = false;
    for (int i = 3; i < r.argc(); i++) {
      byte[] a = r.arg(i);
      if (Args.is(a, "NX")) {
        nx = true;
      } else if (Args.is(a, "XX")) {
        xx = true;
      } else if (Args.is(a, "GT")) {
        gt = true;
      } else if (Args.is(a, "LT")) {
        lt = true;
      } else {
        throw new CommandError("ERR Unsupported option " + Args.text(a));
      }
    }
    if (nx && (xx || gt || lt)) {
      throw new CommandError("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if (gt && lt) {
      throw new CommandError("ERR GT and LT options at the same time are not compatible");
    }
    long when;
    try {
      when = Math.multiplyExact(amount, unitMillis);
      if (!absolute) {
        when = Math.addExact(when, n.now());
      }
    } catch (ArithmeticException e) {
      throw new CommandError("ERR invalid expire time in '" + command + "' command");
    }
    Bytes key = Bytes.of(r.arg(1));
    if (n.lookup(s.keyspace, key) == null) {
      return Reply.integer(0);
    }
    long current = n.expireAt(s.keyspace, key);
    if (nx && current != 0 || xx && current == 0) {
      return Reply.integer(0);
    }
    if (gt && (current == 0 || when <= current)) {
      return Reply.integer(0); // no expiry counts as infinite
    }
    if (lt && current != 0 && when >= current) {
      return Reply.integer(0);
    }
    if (when <= n.now()) {
      n.apply(new Mutation.Delete(s.keyspace, r.arg(1)));
    } else {
      n.apply(new Mutation.Expire(s.keyspace, r.arg(1), when));
    }
    return Reply.integer(1);
  }

  private static Reply ttl(Node n, Session s, RespRequest r, boolean millis, boolean absolute) {
    Bytes key = Bytes.of(r.arg(1));
    if (n.lookup(s.keyspace, key) == null) {
      return Reply.integer(-2);
    }
    long expireAt = n.expireAt(s.keyspace, key);
    if (expireAt == 0) {
      return Reply.integer(-1);
    }
    long value = absolute ? expireAt : Math.max(0, expireAt - n.now());
    return Reply.integer(millis ? value : (value + 500) / 1000);
  }
}
