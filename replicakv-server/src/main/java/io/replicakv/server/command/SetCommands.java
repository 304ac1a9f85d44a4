package io.replicakv.server.command;

import static io.replicakv.server.command.CommandTable.cmd;

import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.Dict;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.SetValue;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Set commands. SPOP's random choice is made here and logged as the removal of the chosen members,
 * so replay does not depend on randomness.
 */
final class SetCommands {
  private SetCommands() {}

  /** Members SRANDMEMBER with a negative count may return; the reply is built in memory first. */
  static final long SRANDMEMBER_REPEATS_MAX = 10_000_000;

  static void register(CommandTable t) {
    t.register(
        cmd(
            "sadd",
            -3,
            "write denyoom fast",
            1,
            1,
            1,
            "set",
            "Adds one or more members to a set.",
            (n, s, r) -> {
              SetValue set = n.set(s.keyspace, Bytes.of(r.arg(1)));
              List<byte[]> members = new ArrayList<>();
              Set<Bytes> fresh = new HashSet<>();
              for (int i = 2; i < r.argc(); i++) {
                Bytes m = Bytes.of(r.arg(i));
                if ((set == null || !set.members().containsKey(m)) && fresh.add(m)) {
                  members.add(r.arg(i));
                }
              }
              if (!members.isEmpty()) {
                n.apply(new Mutation.SetAdd(s.keyspace, r.arg(1), members));
              }
              return Reply.integer(members.size());
            }));
    t.register(
        cmd(
            "srem",
            -3,
            "write fast",
            1,
            1,
            1,
            "set",
            "Removes one or more members from a set.",
            (n, s, r) -> {
              SetValue set = n.set(s.keyspace, Bytes.of(r.arg(1)));
              if (set == null) {
                return Reply.integer(0);
              }
              List<byte[]> members = new ArrayList<>();
              Set<Bytes> seen = new HashSet<>();
              for (int i = 2; i < r.argc(); i++) {
                Bytes m = Bytes.of(r.arg(i));
                if (set.members().containsKey(m) && seen.add(m)) {
                  members.add(r.arg(i));
                }
              }
              if (!members.isEmpty()) {
                n.apply(new Mutation.SetRemove(s.keyspace, r.arg(1), members));
              }
              return Reply.integer(members.size());
            }));
    t.register(
        cmd(
            "smembers",
            2,
            "readonly",
            1,
            1,
            1,
            "set",
            "Returns all members of a set.",
            (n, s, r) -> {
              SetValue set = n.set(s.keyspace, Bytes.of(r.arg(1)));
              List<Reply> out = new ArrayList<>();
              if (set != null) {
                set.members().forEach((m, unused) -> out.add(Reply.bulk(m.array())));
              }
              return Reply.set(out);
            }));
    t.register(
        cmd(
            "sismember",
            3,
            "readonly fast",
            1,
            1,
            1,
            "set",
            "Determines whether a member belongs to a set.",
            (n, s, r) -> {
              SetValue set = n.set(s.keyspace, Bytes.of(r.arg(1)));
              return Reply.integer(
                  set != null && set.members().containsKey(Bytes.of(r.arg(2))) ? 1 : 0);
            }));
    t.register(
        cmd(
            "smismember",
            -3,
            "readonly fast",
            1,
            1,
            1,
            "set",
            "Determines whether multiple members belong to a set.",
            (n, s, r) -> {
              SetValue set = n.set(s.keyspace, Bytes.of(r.arg(1)));
              List<Reply> out = new ArrayList<>();
              for (int i = 2; i < r.argc(); i++) {
                out.add(
                    Reply.integer(
                        set != null && set.members().containsKey(Bytes.of(r.arg(i))) ? 1 : 0));
              }
              return Reply.array(out);
            }));
    t.register(
        cmd(
            "scard",
            2,
            "readonly fast",
            1,
            1,
            1,
            "set",
            "Returns the number of members in a set.",
            (n, s, r) -> {
              SetValue set = n.set(s.keyspace, Bytes.of(r.arg(1)));
              return Reply.integer(set == null ? 0 : set.members().size());
            }));
    t.register(
        cmd(
            "spop",
            -2,
            "write fast",
            1,
            1,
            1,
            "set",
            "Returns one or more random members from a set after removing them.",
            SetCommands::spop));
    t.register(
        cmd(
            "srandmember",
            -2,
            "readonly",
            1,
            1,
            1,
            "set",
            "Get one or multiple random members from a set.",
            SetCommands::srandmember));
    t.register(
        cmd(
            "sscan",
            -3,
            "readonly",
            1,
            1,
            1,
            "set",
            "Iterates over members of a set.",
            (n, s, r) -> {
              long cursor = KeyCommands.parseCursor(r.arg(2));
              KeyCommands.ScanOptions o = KeyCommands.ScanOptions.parse(r, 3, false, false);
              SetValue set = n.set(s.keyspace, Bytes.of(r.arg(1)));
              List<byte[]> out = new ArrayList<>();
              long next = 0;
              if (set != null) {
                next =
                    set.members()
                        .scan(
                            cursor,
                            o.count(),
                            (m, unused) -> {
                              if (o.matches(m.array())) {
                                out.add(m.array());
                              }
                            });
              }
              return Reply.array(
                  List.of(Reply.bulk(Long.toUnsignedString(next)), Reply.bulkArray(out)));
            }));
  }

  private static Reply spop(Node n, Session s, RespRequest r) {
    if (r.argc() > 3) {
      throw CommandError.syntax();
    }
    boolean withCount = r.argc() == 3;
    long count = 1;
    if (withCount) {
      // Redis's getPositiveLong gives this one text for a negative count and for a non-integer
      count = Args.parseLongOr(r.arg(2), -1, true);
      if (count < 0) {
        throw new CommandError("ERR value is out of range, must be positive");
      }
    }
    SetValue set = n.set(s.keyspace, Bytes.of(r.arg(1)));
    if (set == null) {
      return withCount ? Reply.set(List.of()) : Reply.nil();
    }
    List<byte[]> chosen = distinctSample(set.members(), count, n);
    if (!chosen.isEmpty()) {
      n.apply(new Mutation.SetRemove(s.keyspace, r.arg(1), chosen));
    }
    if (!withCount) {
      return Reply.bulk(chosen.get(0));
    }
    List<Reply> out = new ArrayList<>(chosen.size());
    chosen.forEach(m -> out.add(Reply.bulk(m)));
    return Reply.set(out);
  }

  /** Up to {@code count} distinct random members. */
  private static List<byte[]> distinctSample(Dict<Bytes, Boolean> members, long count, Node n) {
    int size = members.size();
    List<byte[]> out = new ArrayList<>();
    if (count >= size) {
      members.forEach((m, unused) -> out.add(m.array()));
      return out;
    }
    if (count * 3 > size) {
      // many of them: take all, then drop random ones
      List<byte[]> all = new ArrayList<>(size);
      members.forEach((m, unused) -> all.add(m.array()));
      while (all.size() > count) {
        int i = n.random.nextInt(all.size());
        all.set(i, all.get(all.size() - 1));
        all.remove(all.size() - 1);
      }
      return all;
    }
    Set<Bytes> picked = new LinkedHashSet<>();
    while (picked.size() < count) {
      Map.Entry<Bytes, Boolean> e = members.randomEntry(n.random);
      picked.add(e.getKey());
    }
    picked.forEach(b -> out.add(b.array()));
    return out;
  }

  private static Reply srandmember(Node n, Session s, RespRequest r) {
    if (r.argc() > 3) {
      throw CommandError.syntax();
    }
    SetValue set = n.set(s.keyspace, Bytes.of(r.arg(1)));
    if (r.argc() == 2) {
      if (set == null) {
        return Reply.nil();
      }
      return Reply.bulk(set.members().randomEntry(n.random).getKey().array());
    }
    long count = Args.parseLong(r.arg(2));
    if (count == Long.MIN_VALUE || Math.abs(count) > Integer.MAX_VALUE) {
      throw new CommandError("ERR value is out of range");
    }
    if (-count > SRANDMEMBER_REPEATS_MAX) {
      throw new CommandError(
          "ERR count is larger than " + SRANDMEMBER_REPEATS_MAX + " members with repetition");
    }
    if (set == null || count == 0) {
      return Reply.array(List.of());
    }
    List<Reply> out = new ArrayList<>();
    if (count < 0) {
      for (long i = 0; i < -count; i++) {
        out.add(Reply.bulk(set.members().randomEntry(n.random).getKey().array()));
      }
      return Reply.array(out);
    }
    distinctSample(set.members(), count, n).forEach(m -> out.add(Reply.bulk(m)));
    return Reply.array(out);
  }
}
