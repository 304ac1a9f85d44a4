package io.replicakv.server.command;

import static io.replicakv.server.command.CommandTable.cmd;

import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.StringValue;
import io.replicakv.storage.data.Value;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * String commands. Every change is logged as the resulting value with its absolute expiry ({@link
 * Mutation.StringSet}), so INCR, APPEND, SETRANGE and relative expiries replay identically.
 */
final class StringCommands {
  private StringCommands() {}

  /** Largest string SETRANGE and APPEND may build, as in Redis. */
  static final long MAX_STRING_BYTES = 512L * 1024 * 1024;

  static void register(CommandTable t) {
    t.register(
        cmd(
            "get",
            2,
            "readonly fast",
            1,
            1,
            1,
            "string",
            "Returns the string value of a key.",
            StringCommands::get));
    t.register(
        cmd(
            "set",
            -3,
            "write denyoom",
            1,
            1,
            1,
            "string",
            "Sets the string value of a key, ignoring its type.",
            StringCommands::set));
    t.register(
        cmd(
            "setnx",
            3,
            "write denyoom fast",
            1,
            1,
            1,
            "string",
            "Set the string value of a key only when the key doesn't exist.",
            (n, s, r) ->
                Reply.integer(
                    setGeneric(n, s, r.arg(1), r.arg(2), 0, SetMode.NX, false, false) != null
                        ? 1
                        : 0)));
    t.register(
        cmd(
            "setex",
            4,
            "write denyoom",
            1,
            1,
            1,
            "string",
            "Sets the string value and expiration time of a key.",
            (n, s, r) -> setWithTtl(n, s, r, 1000, "setex")));
    t.register(
        cmd(
            "psetex",
            4,
            "write denyoom",
            1,
            1,
            1,
            "string",
            "Sets both string value and expiration time in milliseconds of a key.",
            (n, s, r) -> setWithTtl(n, s, r, 1, "psetex")));
    t.register(
        cmd(
            "getset",
            3,
            "write denyoom fast",
            1,
            1,
            1,
            "string",
            "Returns the previous string value of a key after setting it to a new value.",
            StringCommands::getset));
    t.register(
        cmd(
            "getdel",
            2,
            "write fast",
            1,
            1,
            1,
            "string",
            "Returns the string value of a key after deleting the key.",
            StringCommands::getdel));
    t.register(
        cmd(
            "getex",
            -2,
            "write fast",
            1,
            1,
            1,
            "string",
            "Returns the string value of a key after setting its expiration time.",
            StringCommands::getex));
    t.register(
        cmd(
            "mget",
            -2,
            "readonly fast",
            1,
            -1,
            1,
            "string",
            "Atomically returns the string values of one or more keys.",
            StringCommands::mget));
    t.register(
        cmd(
            "mset",
            -3,
            "write denyoom",
            1,
            -1,
            2,
            "string",
            "Atomically creates or modifies the string values of one or more keys.",
            (n, s, r) -> mset(n, s, r, false)));
    t.register(
        cmd(
            "msetnx",
            -3,
            "write denyoom",
            1,
            -1,
            2,
            "string",
            "Atomically modifies the string values of one or more keys only when all keys don't exist.",
            (n, s, r) -> mset(n, s, r, true)));
    t.register(
        cmd(
            "append",
            3,
            "write denyoom fast",
            1,
            1,
            1,
            "string",
            "Appends a string to the value of a key. Creates the key if it doesn't exist.",
            StringCommands::append));
    t.register(
        cmd(
            "strlen",
            2,
            "readonly fast",
            1,
            1,
            1,
            "string",
            "Returns the length of a string value.",
            (n, s, r) -> {
              StringValue v = n.string(s.keyspace, Bytes.of(r.arg(1)));
              return Reply.integer(v == null ? 0 : v.bytes().length);
            }));
    t.register(
        cmd(
            "getrange",
            4,
            "readonly",
            1,
            1,
            1,
            "string",
            "Returns a substring of the string stored at a key.",
            StringCommands::getrange));
    t.register(
        cmd(
            "substr",
            4,
            "readonly",
            1,
            1,
            1,
            "string",
            "Returns a substring from a string value.",
            StringCommands::getrange));
    t.register(
        cmd(
            "setrange",
            4,
            "write denyoom",
            1,
            1,
            1,
            "string",
            "Overwrites a part of a string value with another by an offset.",
            StringCommands::setrange));
    t.register(
        cmd(
            "incr",
            2,
            "write denyoom fast",
            1,
            1,
            1,
            "string",
            "Increments the integer value of a key by one.",
            (n, s, r) -> incrBy(n, s, r.arg(1), 1)));
    t.register(
        cmd(
            "decr",
            2,
            "write denyoom fast",
            1,
            1,
            1,
            "string",
            "Decrements the integer value of a key by one.",
            (n, s, r) -> incrBy(n, s, r.arg(1), -1)));
    t.register(
        cmd(
            "incrby",
            3,
            "write denyoom fast",
            1,
            1,
            1,
            "string",
            "Increments the integer value of a key by a number.",
            (n, s, r) -> incrBy(n, s, r.arg(1), Args.parseLong(r.arg(2)))));
    t.register(
        cmd(
            "decrby",
            3,
            "write denyoom fast",
            1,
            1,
            1,
            "string",
            "Decrements a number from the integer value of a key.",
            (n, s, r) -> {
              long by = Args.parseLong(r.arg(2));
              if (by == Long.MIN_VALUE) {
                throw new CommandError("ERR decrement would overflow");
              }
              return incrBy(n, s, r.arg(1), -by);
            }));
    t.register(
        cmd(
            "incrbyfloat",
            3,
            "write denyoom fast",
            1,
            1,
            1,
            "string",
            "Increment the floating point value of a key by a number.",
            StringCommands::incrByFloat));
  }

  private static Reply get(Node n, Session s, RespRequest r) {
    StringValue v = n.string(s.keyspace, Bytes.of(r.arg(1)));
    return v == null ? Reply.nil() : Reply.bulk(v.bytes());
  }

  enum SetMode {
    ANY,
    NX,
    XX
  }

  /**
   * The common path of all setters. Returns the previous value (empty array when there was none)
   * when the set happened, null when NX/XX prevented it. {@code expireAtMillis}: 0 = no expiry.
   */
  static byte[] setGeneric(
      Node n,
      Session s,
      byte[] rawKey,
      byte[] value,
      long expireAtMillis,
      SetMode mode,
      boolean keepTtl,
      boolean wantOld) {
    Bytes key = Bytes.of(rawKey);
    Value old = n.lookup(s.keyspace, key);
    if (wantOld && old != null && !(old instanceof StringValue)) {
      throw CommandError.wrongType();
    }
    if ((mode == SetMode.NX && old != null) || (mode == SetMode.XX && old == null)) {
      return null;
    }
    long expireAt = expireAtMillis;
    if (keepTtl && old != null) {
      expireAt = n.expireAt(s.keyspace, key);
    }
    n.apply(new Mutation.StringSet(s.keyspace, rawKey, value, expireAt));
    if (old instanceof StringValue sv) {
      return sv.bytes();
    }
    return EMPTY_MARKER;
  }

  private static final byte[] EMPTY_MARKER = new byte[0];

  private static Reply set(Node n, Session s, RespRequest r) {
    SetMode mode = SetMode.ANY;
    boolean keepTtl = false;
    boolean get = false;
    // Redis lets one expiry unit repeat (the last amount wins) but refuses two different units,
    // and checks the amount only after every option parsed, so a syntax error wins over a bad
    // number.
    String expiryUnit = null;
    byte[] expiryAmount = null;
    int argc = r.argc();
    for (int i = 3; i < argc; i++) {
      byte[] a = r.arg(i);
      boolean hasNext = i + 1 < argc;
      if (Args.is(a, "NX") && mode != SetMode.XX) {
        mode = SetMode.NX;
      } else if (Args.is(a, "XX") && mode != SetMode.NX) {
        mode = SetMode.XX;
      } else if (Args.is(a, "GET")) {
        get = true;
      } else if (Args.is(a, "KEEPTTL") && expiryUnit == null) {
        keepTtl = true;
      } else if (!keepTtl && hasNext && isExpiryUnit(a, expiryUnit)) {
        expiryUnit = Args.upper(a);
        expiryAmount = r.arg(++i);
      } else {
        throw CommandError.syntax();
      }
    }
    long expireAt =
        expiryUnit == null ? 0 : absoluteExpiry(n, expiryUnit, Args.parseLong(expiryAmount), "set");
    byte[] old = setGeneric(n, s, r.arg(1), r.arg(2), expireAt, mode, keepTtl, get);
    if (get) {
      if (old == null) {
        // NX/XX stopped the set: GET still answers with the current value
        StringValue cur = n.string(s.keyspace, Bytes.of(r.arg(1)));
        return cur == null ? Reply.nil() : Reply.bulk(cur.bytes());
      }
      return old == EMPTY_MARKER ? Reply.nil() : Reply.bulk(old);
    }
    return old == null ? Reply.nil() : Reply.ok();
  }

  /**
   * True for EX, PX, EXAT or PXAT when no other of them came before ({@code seen} null or equal).
   */
  private static boolean isExpiryUnit(byte[] a, String seen) {
    boolean unit = Args.is(a, "EX") || Args.is(a, "PX") || Args.is(a, "EXAT") || Args.is(a, "PXAT");
    return unit && (seen == null || Args.is(a, seen));
  }

  /** One change as itself, several as one batch (one log record). */
  static Mutation one(List<Mutation> changes) {
    return changes.size() == 1 ? changes.getFirst() : new Mutation.Batch(changes);
  }

  /** EX/PX/EXAT/PXAT to an absolute deadline in ms, with Redis's checks and error text. */
  static long absoluteExpiry(Node n, String unit, long amount, String command) {
    if (amount <= 0) {
      throw new CommandError("ERR invalid expire time in '" + command + "' command");
    }
    long ms;
    try {
      ms =
          switch (unit) {
            case "EX" -> Math.addExact(n.now(), Math.multiplyExact(amount, 1000L));
            case "PX" -> Math.addExact(n.now(), amount);
            case "EXAT" -> Math.multiplyExact(amount, 1000L);
            case "PXAT" -> amount;
            default -> throw CommandError.syntax();
          };
    } catch (ArithmeticException e) {
      throw new CommandError("ERR invalid expire time in '" + command + "' command");
    }
    return ms;
  }

  private static Reply setWithTtl(
      Node n, Session s, RespRequest r, long unitMillis, String command) {
    long amount = Args.parseLong(r.arg(2));
    long expireAt = absoluteExpiry(n, unitMillis == 1000 ? "EX" : "PX", amount, command);
    setGeneric(n, s, r.arg(1), r.arg(3), expireAt, SetMode.ANY, false, false);
    return Reply.ok();
  }

  private static Reply getset(Node n, Session s, RespRequest r) {
    byte[] old = setGeneric(n, s, r.arg(1), r.arg(2), 0, SetMode.ANY, false, true);
    return old == EMPTY_MARKER ? Reply.nil() : Reply.bulk(old);
  }

  private static Reply getdel(Node n, Session s, RespRequest r) {
    Bytes key = Bytes.of(r.arg(1));
    StringValue v = n.string(s.keyspace, key);
    if (v == null) {
      return Reply.nil();
    }
    n.apply(new Mutation.Delete(s.keyspace, r.arg(1)));
    return Reply.bulk(v.bytes());
  }

  private static Reply getex(Node n, Session s, RespRequest r) {
    Bytes key = Bytes.of(r.arg(1));
    boolean persist = false;
    String expiryUnit = null; // as in SET: one unit may repeat, the last amount wins
    byte[] expiryAmount = null;
    int argc = r.argc();
    for (int i = 2; i < argc; i++) {
      byte[] a = r.arg(i);
      if (Args.is(a, "PERSIST") && expiryUnit == null) {
        persist = true;
      } else if (!persist && i + 1 < argc && isExpiryUnit(a, expiryUnit)) {
        expiryUnit = Args.upper(a);
        expiryAmount = r.arg(++i);
      } else {
        throw CommandError.syntax();
      }
    }
    long expireAt = -1; // -1: leave as is
    if (expiryUnit != null) {
      expireAt = absoluteExpiry(n, expiryUnit, Args.parseLong(expiryAmount), "getex");
    }
    StringValue v = n.string(s.keyspace, key);
    if (v == null) {
      return Reply.nil();
    }
    if (persist && n.expireAt(s.keyspace, key) != 0) {
      n.apply(new Mutation.Expire(s.keyspace, r.arg(1), 0));
    } else if (expireAt != -1) {
      if (expireAt <= n.now()) {
        n.apply(new Mutation.Delete(s.keyspace, r.arg(1)));
      } else {
        n.apply(new Mutation.Expire(s.keyspace, r.arg(1), expireAt));
      }
    }
    return Reply.bulk(v.bytes());
  }

  private static Reply mget(Node n, Session s, RespRequest r) {
    List<Reply> out = new ArrayList<>(r.argc() - 1);
    for (int i = 1; i < r.argc(); i++) {
      Value v = n.lookup(s.keyspace, Bytes.of(r.arg(i)));
      out.add(v instanceof StringValue sv ? Reply.bulk(sv.bytes()) : Reply.nil());
    }
    return Reply.array(out);
  }

  private static Reply mset(Node n, Session s, RespRequest r, boolean nx) {
    if (r.argc() % 2 == 0) {
      throw CommandError.arity(nx ? "msetnx" : "mset");
    }
    if (nx) {
      for (int i = 1; i < r.argc(); i += 2) {
        if (n.lookup(s.keyspace, Bytes.of(r.arg(i))) != null) {
          return Reply.integer(0);
        }
      }
    }
    List<Mutation> sets = new ArrayList<>(r.argc() / 2);
    for (int i = 1; i < r.argc(); i += 2) {
      sets.add(new Mutation.StringSet(s.keyspace, r.arg(i), r.arg(i + 1), 0));
    }
    n.apply(one(sets)); // one log record: all keys or none, as MSET promises
    return nx ? Reply.integer(1) : Reply.ok();
  }

  private static Reply append(Node n, Session s, RespRequest r) {
    Bytes key = Bytes.of(r.arg(1));
    StringValue v = n.string(s.keyspace, key);
    byte[] add = r.arg(2);
    byte[] cur = v == null ? new byte[0] : v.bytes();
    checkStringLength(n, (long) cur.length + add.length);
    byte[] next = new byte[cur.length + add.length];
    System.arraycopy(cur, 0, next, 0, cur.length);
    System.arraycopy(add, 0, next, cur.length, add.length);
    long expireAt = v == null ? 0 : n.expireAt(s.keyspace, key);
    n.apply(new Mutation.StringSet(s.keyspace, r.arg(1), next, expireAt));
    return Reply.integer(next.length);
  }

  static void checkStringLength(Node n, long length) {
    long max = Math.min(MAX_STRING_BYTES, n.config.getLong("proto-max-bulk-len"));
    if (length > max) {
      throw new CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    }
  }

  private static Reply getrange(Node n, Session s, RespRequest r) {
    long start = Args.parseLong(r.arg(2));
    long end = Args.parseLong(r.arg(3));
    StringValue v = n.string(s.keyspace, Bytes.of(r.arg(1)));
    if (v == null) {
      return Reply.bulk(new byte[0]);
    }
    byte[] b = v.bytes();
    long len = b.length;
    if (start < 0 && end < 0 && start > end) {
      return Reply.bulk(new byte[0]);
    }
    if (start < 0) {
      start = Math.max(0, len + start);
    }
    if (end < 0) {
      end = Math.max(0, len + end);
    }
    if (end >= len) {
      end = len - 1;
    }
    if (len == 0 || start > end) {
      return Reply.bulk(new byte[0]);
    }
    byte[] out = new byte[(int) (end - start + 1)];
    System.arraycopy(b, (int) start, out, 0, out.length);
    return Reply.bulk(out);
  }

  private static Reply setrange(Node n, Session s, RespRequest r) {
    long offset = Args.parseLong(r.arg(2));
    if (offset < 0) {
      throw new CommandError("ERR offset is out of range");
    }
    Bytes key = Bytes.of(r.arg(1));
    StringValue v = n.string(s.keyspace, key);
    byte[] patch = r.arg(3);
    byte[] cur = v == null ? new byte[0] : v.bytes();
    if (patch.length == 0) {
      return Reply.integer(cur.length);
    }
    if (offset > StringCommands.MAX_STRING_BYTES) {
      throw new CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    }
    checkStringLength(n, offset + patch.length);
    int newLen = (int) Math.max(cur.length, offset + patch.length);
    byte[] next = new byte[newLen];
    System.arraycopy(cur, 0, next, 0, cur.length);
    System.arraycopy(patch, 0, next, (int) offset, patch.length);
    long expireAt = v == null ? 0 : n.expireAt(s.keyspace, key);
    n.apply(new Mutation.StringSet(s.keyspace, r.arg(1), next, expireAt));
    return Reply.integer(next.length);
  }

  private static Reply incrBy(Node n, Session s, byte[] rawKey, long by) {
    Bytes key = Bytes.of(rawKey);
    StringValue v = n.string(s.keyspace, key);
    long cur = 0;
    if (v != null) {
      byte[] b = v.bytes();
      cur = Args.parseLongOr(b, Long.MIN_VALUE, true);
      if (cur == Long.MIN_VALUE
          && !"-9223372036854775808".equals(new String(b, StandardCharsets.US_ASCII))) {
        throw CommandError.notInteger();
      }
    }
    long next;
    try {
      next = Math.addExact(cur, by);
    } catch (ArithmeticException e) {
      throw new CommandError(CommandError.OVERFLOW);
    }
    long expireAt = v == null ? 0 : n.expireAt(s.keyspace, key);
    n.apply(
        new Mutation.StringSet(
            s.keyspace, rawKey, Long.toString(next).getBytes(StandardCharsets.US_ASCII), expireAt));
    return Reply.integer(next);
  }

  private static Reply incrByFloat(Node n, Session s, RespRequest r) {
    Bytes key = Bytes.of(r.arg(1));
    double by = Args.parseDouble(r.arg(2), CommandError.NOT_FLOAT);
    StringValue v = n.string(s.keyspace, key);
    double cur = v == null ? 0 : Args.parseDouble(v.bytes(), CommandError.NOT_FLOAT);
    double next = cur + by;
    if (Double.isNaN(next) || Double.isInfinite(next)) {
      throw new CommandError("ERR increment would produce NaN or Infinity");
    }
    byte[] text = Args.formatDouble(next).getBytes(StandardCharsets.US_ASCII);
    long expireAt = v == null ? 0 : n.expireAt(s.keyspace, key);
    n.apply(new Mutation.StringSet(s.keyspace, r.arg(1), text, expireAt));
    return Reply.bulk(text);
  }
}
