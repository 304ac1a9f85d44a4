package io.replicakv.server.command;

import static io.replicakv.server.command.CommandTable.cmd;

import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.HashValue;
import io.replicakv.storage.data.Mutation;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Hash commands. Changes are logged per field ({@link Mutation.HashSet} with the new values). */
final class HashCommands {
  private HashCommands() {}

  static void register(CommandTable t) {
    t.register(
        cmd(
            "hset",
            -4,
            "write denyoom fast",
            1,
            1,
            1,
            "hash",
            "Creates or modifies the value of a field in a hash.",
            (n, s, r) -> hset(n, s, r, "hset", false)));
    t.register(
        cmd(
            "hmset",
            -4,
            "write denyoom fast",
            1,
            1,
            1,
            "hash",
            "Sets the values of multiple fields.",
            (n, s, r) -> hset(n, s, r, "hmset", true)));
    t.register(
        cmd(
            "hsetnx",
            4,
            "write denyoom fast",
            1,
            1,
            1,
            "hash",
            "Sets the value of a field in a hash only when the field doesn't exist.",
            (n, s, r) -> {
              HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
              if (h != null && h.fields().containsKey(Bytes.of(r.arg(2)))) {
                return Reply.integer(0);
              }
              n.apply(new Mutation.HashSet(s.keyspace, r.arg(1), List.of(r.arg(2), r.arg(3))));
              return Reply.integer(1);
            }));
    t.register(
        cmd(
            "hget",
            3,
            "readonly fast",
            1,
            1,
            1,
            "hash",
            "Returns the value of a field in a hash.",
            (n, s, r) -> {
              HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
              byte[] v = h == null ? null : h.fields().get(Bytes.of(r.arg(2)));
              return v == null ? Reply.nil() : Reply.bulk(v);
            }));
    t.register(
        cmd(
            "hmget",
            -3,
            "readonly fast",
            1,
            1,
            1,
            "hash",
            "Returns the values of all fields in a hash.",
            (n, s, r) -> {
              HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
              List<Reply> out = new ArrayList<>(r.argc() - 2);
              for (int i = 2; i < r.argc(); i++) {
                byte[] v = h == null ? null : h.fields().get(Bytes.of(r.arg(i)));
                out.add(v == null ? Reply.nil() : Reply.bulk(v));
              }
              return Reply.array(out);
            }));
    t.register(
        cmd(
            "hdel",
            -3,
            "write fast",
            1,
            1,
            1,
            "hash",
            "Deletes one or more fields and their values from a hash.",
            (n, s, r) -> {
              HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
              if (h == null) {
                return Reply.integer(0);
              }
              List<byte[]> present = new ArrayList<>();
              java.util.Set<Bytes> distinct = new java.util.HashSet<>();
              for (int i = 2; i < r.argc(); i++) {
                Bytes f = Bytes.of(r.arg(i));
                if (h.fields().containsKey(f) && distinct.add(f)) {
                  present.add(r.arg(i));
                }
              }
              if (!present.isEmpty()) {
                n.apply(new Mutation.HashDelete(s.keyspace, r.arg(1), present));
              }
              return Reply.integer(present.size());
            }));
    t.register(
        cmd(
            "hgetall",
            2,
            "readonly",
            1,
            1,
            1,
            "hash",
            "Returns all fields and values in a hash.",
            (n, s, r) -> {
              HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
              List<Reply> out = new ArrayList<>();
              if (h != null) {
                h.fields()
                    .forEach(
                        (f, v) -> {
                          out.add(Reply.bulk(f.array()));
                          out.add(Reply.bulk(v));
                        });
              }
              return Reply.map(out);
            }));
    t.register(
        cmd(
            "hkeys",
            2,
            "readonly",
            1,
            1,
            1,
            "hash",
            "Returns all fields in a hash.",
            (n, s, r) -> {
              HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
              List<byte[]> out = new ArrayList<>();
              if (h != null) {
                h.fields().forEach((f, v) -> out.add(f.array()));
              }
              return Reply.bulkArray(out);
            }));
    t.register(
        cmd(
            "hvals",
            2,
            "readonly",
            1,
            1,
            1,
            "hash",
            "Returns all values in a hash.",
            (n, s, r) -> {
              HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
              List<byte[]> out = new ArrayList<>();
              if (h != null) {
                h.fields().forEach((f, v) -> out.add(v));
              }
              return Reply.bulkArray(out);
            }));
    t.register(
        cmd(
            "hlen",
            2,
            "readonly fast",
            1,
            1,
            1,
            "hash",
            "Returns the number of fields in a hash.",
            (n, s, r) -> {
              HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
              return Reply.integer(h == null ? 0 : h.fields().size());
            }));
    t.register(
        cmd(
            "hstrlen",
            3,
            "readonly fast",
            1,
            1,
            1,
            "hash",
            "Returns the length of the value of a field.",
            (n, s, r) -> {
              HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
              byte[] v = h == null ? null : h.fields().get(Bytes.of(r.arg(2)));
              return Reply.integer(v == null ? 0 : v.length);
            }));
    t.register(
        cmd(
            "hexists",
            3,
            "readonly fast",
            1,
            1,
            1,
            "hash",
            "Determines whether a field exists in a hash.",
            (n, s, r) -> {
              HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
              return Reply.integer(h != null && h.fields().containsKey(Bytes.of(r.arg(2))) ? 1 : 0);
            }));
    t.register(
        cmd(
            "hincrby",
            4,
            "write denyoom fast",
            1,
            1,
            1,
            "hash",
            "Increments the integer value of a field in a hash by a number.",
            HashCommands::hincrby));
    t.register(
        cmd(
            "hincrbyfloat",
            4,
            "write denyoom fast",
            1,
            1,
            1,
            "hash",
            "Increments the floating point value of a field by a number.",
            HashCommands::hincrbyfloat));
    t.register(
        cmd(
            "hscan",
            -3,
            "readonly",
            1,
            1,
            1,
            "hash",
            "Iterates over fields and values of a hash.",
            HashCommands::hscan));
  }

  private static Reply hset(Node n, Session s, RespRequest r, String name, boolean legacy) {
    if (r.argc() % 2 != 0) {
      throw CommandError.arity(name);
    }
    HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
    List<byte[]> pairs = new ArrayList<>(r.argc() - 2);
    java.util.Set<Bytes> added = new java.util.HashSet<>();
    for (int i = 2; i < r.argc(); i += 2) {
      Bytes f = Bytes.of(r.arg(i));
      if (h == null || !h.fields().containsKey(f)) {
        added.add(f);
      }
      pairs.add(r.arg(i));
      pairs.add(r.arg(i + 1));
    }
    n.apply(new Mutation.HashSet(s.keyspace, r.arg(1), pairs));
    return legacy ? Reply.ok() : Reply.integer(added.size());
  }

  private static Reply hincrby(Node n, Session s, RespRequest r) {
    long by = Args.parseLong(r.arg(3));
    HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
    byte[] cur = h == null ? null : h.fields().get(Bytes.of(r.arg(2)));
    long value = 0;
    if (cur != null) {
      value = Args.parseLongOr(cur, Long.MIN_VALUE, true);
      if (value == Long.MIN_VALUE
          && !"-9223372036854775808".equals(new String(cur, StandardCharsets.US_ASCII))) {
        throw new CommandError("ERR hash value is not an integer");
      }
    }
    long next;
    try {
      next = Math.addExact(value, by);
    } catch (ArithmeticException e) {
      throw new CommandError(CommandError.OVERFLOW);
    }
    n.apply(
        new Mutation.HashSet(
            s.keyspace,
            r.arg(1),
            List.of(r.arg(2), Long.toString(next).getBytes(StandardCharsets.US_ASCII))));
    return Reply.integer(next);
  }

  private static Reply hincrbyfloat(Node n, Session s, RespRequest r) {
    double by = Args.parseDouble(r.arg(3), CommandError.NOT_FLOAT);
    if (Double.isNaN(by) || Double.isInfinite(by)) {
      throw new CommandError("ERR value is NaN or Infinity"); // Redis checks the increment first
    }
    HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
    byte[] cur = h == null ? null : h.fields().get(Bytes.of(r.arg(2)));
    double value = cur == null ? 0 : Args.parseDouble(cur, "ERR hash value is not a float");
    double next = value + by;
    if (Double.isNaN(next) || Double.isInfinite(next)) {
      throw new CommandError("ERR increment would produce NaN or Infinity");
    }
    byte[] text = Args.formatDouble(next).getBytes(StandardCharsets.US_ASCII);
    n.apply(new Mutation.HashSet(s.keyspace, r.arg(1), List.of(r.arg(2), text)));
    return Reply.bulk(text);
  }

  private static Reply hscan(Node n, Session s, RespRequest r) {
    long cursor = KeyCommands.parseCursor(r.arg(2));
    KeyCommands.ScanOptions o = KeyCommands.ScanOptions.parse(r, 3, false, true);
    HashValue h = n.hash(s.keyspace, Bytes.of(r.arg(1)));
    List<byte[]> out = new ArrayList<>();
    long next = 0;
    if (h != null) {
      next =
          h.fields()
              .scan(
                  cursor,
                  o.count(),
                  (f, v) -> {
                    if (o.matches(f.array())) {
                      out.add(f.array());
                      if (!o.noValues()) {
                        out.add(v);
                      }
                    }
                  });
    }
    return Reply.array(List.of(Reply.bulk(Long.toUnsignedString(next)), Reply.bulkArray(out)));
  }
}
