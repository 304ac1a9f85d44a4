package io.replicakv.server.command;

import static io.replicakv.server.command.CommandTable.cmd;

import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.server.Version;
import io.replicakv.server.config.ConfigException;
import io.replicakv.server.config.ServerConfig;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.snapshot.SnapshotInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Connection and server commands: PING, HELLO, SELECT, CLIENT, COMMAND, INFO, CONFIG and more. */
final class ServerCommands {
  private ServerCommands() {}

  static void register(CommandTable t) {
    t.register(
        cmd(
            "ping",
            -1,
            "fast",
            0,
            0,
            0,
            "connection",
            "Returns the server's liveliness response.",
            (n, s, r) -> {
              if (r.argc() > 2) {
                throw CommandError.arity("ping");
              }
              return r.argc() == 2 ? Reply.bulk(r.arg(1)) : Reply.simple("PONG");
            }));
    t.register(
        cmd(
            "echo",
            2,
            "fast",
            0,
            0,
            0,
            "connection",
            "Returns the given string.",
            (n, s, r) -> Reply.bulk(r.arg(1))));
    t.register(
        cmd(
            "hello",
            -1,
            "fast",
            0,
            0,
            0,
            "connection",
            "Handshakes with the server.",
            ServerCommands::hello));
    t.register(
        cmd(
            "auth",
            -2,
            "fast",
            0,
            0,
            0,
            "connection",
            "Authenticates the connection.",
            (n, s, r) -> {
              throw new CommandError(
                  "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
            }));
    t.register(
        cmd(
            "select",
            2,
            "fast",
            0,
            0,
            0,
            "connection",
            "Changes the selected keyspace (database).",
            (n, s, r) -> {
              int db = Args.parseInt(r.arg(1));
              if (db < 0 || db >= n.state().keyspaceCount()) {
                throw new CommandError("ERR DB index is out of range");
              }
              io.replicakv.server.cluster.ClusterView view = n.clusterView.get();
              if (view != null
                  && db >= io.replicakv.server.cluster.ClusterView.BUILT_IN_KEYSPACES
                  && !view.keyspaces().containsKey(db)) {
                throw new CommandError(
                    "ERR DB index is out of range (no keyspace " + db + "; see KEYSPACE LIST)");
              }
              s.keyspace = db;
              return Reply.ok();
            }));
    t.register(
        cmd(
            "quit",
            -1,
            "fast",
            0,
            0,
            0,
            "connection",
            "Closes the connection.",
            (n, s, r) -> {
              s.closeAfterReply = true;
              return Reply.ok();
            }));
    t.register(
        cmd(
            "reset",
            1,
            "fast",
            0,
            0,
            0,
            "connection",
            "Resets the connection.",
            (n, s, r) -> {
              s.keyspace = 0;
              s.protocol = 2;
              s.name = "";
              return Reply.simple("RESET");
            }));
    t.register(
        container(
            cmd(
                "client",
                -2,
                "",
                0,
                0,
                0,
                "connection",
                "A container for client connection commands.",
                ServerCommands::client),
            "setname",
            "getname",
            "id",
            "info",
            "list",
            "setinfo",
            "kill"));
    t.register(
        container(
            cmd(
                "command",
                -1,
                "",
                0,
                0,
                0,
                "server",
                "Returns detailed information about all commands.",
                ServerCommands::command),
            "count",
            "docs",
            "info",
            "list"));
    t.register(
        cmd(
            "info",
            -1,
            "",
            0,
            0,
            0,
            "server",
            "Returns information and statistics about the server.",
            (n, s, r) -> {
              List<String> sections = new ArrayList<>();
              for (int i = 1; i < r.argc(); i++) {
                sections.add(Args.text(r.arg(i)).toLowerCase(Locale.ROOT));
              }
              return Reply.verbatim("txt", Info.render(n, sections));
            }));
    t.register(
        container(
            cmd(
                "config",
                -2,
                "",
                0,
                0,
                0,
                "server",
                "A container for server configuration commands.",
                ServerCommands::config),
            "get",
            "set",
            "resetstat"));
    t.register(
        cmd(
            "time",
            1,
            "fast",
            0,
            0,
            0,
            "server",
            "Returns the server time.",
            (n, s, r) -> {
              long micros = n.now() * 1000;
              return Reply.array(
                  List.of(
                      Reply.bulk(Long.toString(micros / 1_000_000)),
                      Reply.bulk(Long.toString(micros % 1_000_000))));
            }));
    t.register(
        cmd(
            "dbsize",
            1,
            "readonly fast",
            0,
            0,
            0,
            "server",
            "Returns the number of keys in the database.",
            (n, s, r) -> Reply.integer(n.state().size(s.keyspace))));
    t.register(
        cmd(
            "flushdb",
            -1,
            "write",
            0,
            0,
            0,
            "server",
            "Removes all keys from the current database.",
            (n, s, r) -> {
              checkFlushOptions(r);
              refuseDuringMoves(n);
              n.apply(new Mutation.FlushKeyspace(s.keyspace));
              return Reply.ok();
            }));
    t.register(
        cmd(
            "flushall",
            -1,
            "write",
            0,
            0,
            0,
            "server",
            "Removes all keys from all databases.",
            (n, s, r) -> {
              checkFlushOptions(r);
              refuseDuringMoves(n);
              n.apply(new Mutation.FlushAll());
              return Reply.ok();
            }));
    t.register(
        cmd(
            "save",
            1,
            "admin",
            0,
            0,
            0,
            "server",
            "Takes a snapshot now and waits for it.",
            (n, s, r) -> {
              try {
                SnapshotInfo info = n.engine.snapshotNow(n.now());
                return info == null ? Reply.error("ERR snapshot failed") : Reply.ok();
              } catch (IOException e) {
                return Reply.error("ERR snapshot failed: " + e.getMessage());
              }
            }));
    t.register(
        cmd(
            "bgsave",
            -1,
            "admin",
            0,
            0,
            0,
            "server",
            "Takes a snapshot in the background.",
            (n, s, r) -> {
              if (n.engine.snapshotInProgress()) {
                return Reply.error("ERR Background save already in progress");
              }
              return n.engine.startSnapshot(n.now())
                  ? Reply.simple("Background saving started")
                  : Reply.error("ERR snapshot could not start: " + n.engine.lastSnapshotError());
            }));
    t.register(
        cmd(
            "shutdown",
            -1,
            "admin",
            0,
            0,
            0,
            "server",
            "Stops the server: stops accepting, answers what it read, syncs the log, exits.",
            (n, s, r) -> {
              boolean save = false;
              for (int i = 1; i < r.argc(); i++) {
                String option =
                    new String(r.arg(i), java.nio.charset.StandardCharsets.UTF_8)
                        .toUpperCase(java.util.Locale.ROOT);
                switch (option) {
                  case "SAVE" -> save = true;
                  case "NOSAVE", "NOW", "FORCE" -> {}
                  case "ABORT" -> throw new CommandError("ERR No shutdown in progress.");
                  default -> throw new CommandError("ERR syntax error");
                }
              }
              Runnable stop = n.shutdownRequest;
              if (stop == null) {
                throw new CommandError(
                    "ERR SHUTDOWN is not available on an embedded node; stop its program instead");
              }
              if (save) {
                try {
                  if (n.engine.snapshotNow(n.now()) == null) {
                    return Reply.error("ERR Errors trying to SHUTDOWN. Check logs.");
                  }
                } catch (IOException e) {
                  return Reply.error("ERR Errors trying to SHUTDOWN: " + e.getMessage());
                }
              }
              // The log is synced by the stop itself (as for SIGTERM), so NOSAVE loses nothing.
              Thread stopper = new Thread(stop, "replicakv-shutdown");
              stopper.start();
              return Reply.ok();
            }));
    t.register(
        cmd(
            "lastsave",
            1,
            "fast",
            0,
            0,
            0,
            "server",
            "Returns the Unix time of the last successful snapshot.",
            (n, s, r) -> {
              SnapshotInfo info = n.engine.lastSnapshot();
              return Reply.integer(
                  info == null ? n.startedMillis / 1000 : info.createdMillis() / 1000);
            }));
  }

  private static Command container(Command c, String... subcommands) {
    return new Command(
        c.name(),
        c.arity(),
        c.flags(),
        c.firstKey(),
        c.lastKey(),
        c.keyStep(),
        c.group(),
        c.summary(),
        c.handler(),
        List.of(subcommands));
  }

  /**
   * A flush while members join or leave would race the key copies (a key flushed at the source
   * after it was copied would come back from the target; one flushed at the target before the flip
   * would be lost), so it waits until the cluster has no data movement.
   */
  private static void refuseDuringMoves(Node n) {
    io.replicakv.server.cluster.ClusterView view = n.clusterView.get();
    if (view != null
        && view.members().values().stream()
            .anyMatch(
                m ->
                    m.state() == io.replicakv.server.cluster.MemberState.JOINING
                        || m.state() == io.replicakv.server.cluster.MemberState.LEAVING)) {
      throw new CommandError(
          "TRYAGAIN members are joining or leaving; flush again when the data movement is done");
    }
  }

  private static void checkFlushOptions(RespRequest r) {
    if (r.argc() > 2
        || (r.argc() == 2 && !Args.is(r.arg(1), "ASYNC") && !Args.is(r.arg(1), "SYNC"))) {
      throw CommandError.syntax();
    }
  }

  private static Reply hello(Node n, Session s, RespRequest r) {
    int protocol = s.protocol;
    int i = 1;
    if (r.argc() >= 2) {
      long v = Args.parseLongOr(r.arg(1), -1, true);
      if (v == -1) {
        throw new CommandError("ERR Protocol version is not an integer or out of range");
      }
      if (v != 2 && v != 3) {
        throw new CommandError("NOPROTO unsupported protocol version");
      }
      protocol = (int) v;
      i = 2;
    }
    String name = null;
    for (; i < r.argc(); i++) {
      byte[] a = r.arg(i);
      if (Args.is(a, "AUTH") && r.argc() - i - 1 >= 2) {
        throw new CommandError("WRONGPASS invalid username-password pair or user is disabled.");
      } else if (Args.is(a, "SETNAME") && r.argc() - i - 1 >= 1) {
        name = checkClientName(r.arg(++i));
      } else {
        throw new CommandError("ERR Syntax error in HELLO option '" + Args.text(a) + "'");
      }
    }
    s.protocol = protocol;
    if (name != null) {
      s.name = name;
    }
    List<Reply> map = new ArrayList<>();
    map.add(Reply.bulk("server"));
    map.add(Reply.bulk("replicakv"));
    map.add(Reply.bulk("version"));
    map.add(Reply.bulk(Version.REDIS_COMPATIBLE));
    map.add(Reply.bulk("replicakv-version"));
    map.add(Reply.bulk(Version.VERSION));
    map.add(Reply.bulk("proto"));
    map.add(Reply.integer(protocol));
    map.add(Reply.bulk("id"));
    map.add(Reply.integer(s.id));
    map.add(Reply.bulk("mode"));
    map.add(Reply.bulk("standalone"));
    map.add(Reply.bulk("role"));
    map.add(Reply.bulk("master"));
    map.add(Reply.bulk("modules"));
    map.add(Reply.array(List.of()));
    return Reply.map(map);
  }

  private static String checkClientName(byte[] raw) {
    for (byte b : raw) {
      if (b < '!' || b > '~') {
        throw new CommandError(
            "ERR Client names cannot contain spaces, newlines or special characters.");
      }
    }
    return new String(raw, StandardCharsets.UTF_8);
  }

  private static Reply client(Node n, Session s, RespRequest r) {
    String sub = Args.upper(r.arg(1));
    switch (sub) {
      case "SETNAME" -> {
        arity(r, 3, "client|setname");
        s.name = checkClientName(r.arg(2));
        return Reply.ok();
      }
      case "GETNAME" -> {
        arity(r, 2, "client|getname");
        return s.name.isEmpty() ? Reply.nil() : Reply.bulk(s.name);
      }
      case "ID" -> {
        arity(r, 2, "client|id");
        return Reply.integer(s.id);
      }
      case "INFO" -> {
        arity(r, 2, "client|info");
        return Reply.verbatim("txt", s.describe(n.now()) + "\n");
      }
      case "LIST" -> {
        StringBuilder out = new StringBuilder();
        List<Long> ids = null;
        for (int i = 2; i < r.argc(); i++) {
          if (Args.is(r.arg(i), "TYPE") && i + 1 < r.argc()) {
            i++; // every client of ours is a normal client
          } else if (Args.is(r.arg(i), "ID")) {
            ids = new ArrayList<>();
            for (i = i + 1; i < r.argc(); i++) {
              ids.add(Args.parseLong(r.arg(i)));
            }
          } else {
            throw CommandError.syntax();
          }
        }
        for (Session other : n.sessions.values()) {
          if (ids == null || ids.contains(other.id)) {
            out.append(other.describe(n.now())).append('\n');
          }
        }
        return Reply.verbatim("txt", out.toString());
      }
      case "SETINFO" -> {
        arity(r, 4, "client|setinfo");
        String attr = Args.upper(r.arg(2));
        String value = Args.text(r.arg(3));
        if (value.chars().anyMatch(c -> c < '!' || c > '~')) {
          throw new CommandError(
              "ERR " + attr + " cannot contain spaces, newlines or special characters.");
        }
        switch (attr) {
          case "LIB-NAME" -> s.libraryName = value;
          case "LIB-VER" -> s.libraryVersion = value;
          default ->
              throw new CommandError("ERR Unrecognized option '" + Args.text(r.arg(2)) + "'");
        }
        return Reply.ok();
      }
      case "KILL" -> {
        if (r.argc() == 4 && Args.is(r.arg(2), "ID")) {
          long id = Args.parseLong(r.arg(3));
          Session victim = n.sessions.get(id);
          if (victim == null) {
            throw new CommandError("ERR No such client");
          }
          if (victim == s) {
            s.closeAfterReply = true;
          } else {
            victim.channel.close();
          }
          return Reply.integer(1);
        }
        throw CommandError.syntax();
      }
      default ->
          throw new CommandError(
              "ERR unknown subcommand '" + Args.text(r.arg(1)) + "'. Try CLIENT HELP.");
    }
  }

  private static void arity(RespRequest r, int expected, String name) {
    if (r.argc() != expected) {
      throw CommandError.arity(name);
    }
  }

  private static Reply command(Node n, Session s, RespRequest r) {
    if (r.argc() == 1) {
      List<Reply> all = new ArrayList<>();
      n.commands.all().forEach(c -> all.add(commandInfo(c)));
      return Reply.array(all);
    }
    String sub = Args.upper(r.arg(1));
    switch (sub) {
      case "COUNT" -> {
        if (r.argc() != 2) {
          throw CommandError.arity("command|count");
        }
        return Reply.integer(n.commands.size());
      }
      case "LIST" -> {
        List<Reply> names = new ArrayList<>();
        n.commands.all().forEach(c -> names.add(Reply.bulk(c.name())));
        return Reply.array(names);
      }
      case "INFO" -> {
        List<Reply> out = new ArrayList<>();
        if (r.argc() == 2) {
          n.commands.all().forEach(c -> out.add(commandInfo(c)));
        }
        for (int i = 2; i < r.argc(); i++) {
          Command c = n.commands.find(r.arg(i));
          out.add(c == null ? Reply.nilArray() : commandInfo(c));
        }
        return Reply.array(out);
      }
      case "DOCS" -> {
        List<Reply> out = new ArrayList<>();
        if (r.argc() == 2) {
          n.commands.all().forEach(c -> docs(c, out));
        }
        for (int i = 2; i < r.argc(); i++) {
          Command c = n.commands.find(r.arg(i));
          if (c != null) {
            docs(c, out);
          }
        }
        return Reply.map(out);
      }
      default ->
          throw new CommandError(
              "ERR unknown subcommand '" + Args.text(r.arg(1)) + "'. Try COMMAND HELP.");
    }
  }

  private static Reply commandInfo(Command c) {
    List<Reply> flags = new ArrayList<>();
    c.flags().forEach(f -> flags.add(Reply.simple(f)));
    List<Reply> subs = new ArrayList<>();
    for (String sub : c.subcommands()) {
      subs.add(
          Reply.array(
              List.of(
                  Reply.bulk(c.name() + "|" + sub),
                  Reply.integer(-2),
                  Reply.set(List.of()),
                  Reply.integer(0),
                  Reply.integer(0),
                  Reply.integer(0),
                  Reply.set(List.of()),
                  Reply.set(List.of()),
                  Reply.array(List.of()),
                  Reply.array(List.of()))));
    }
    return Reply.array(
        List.of(
            Reply.bulk(c.name()),
            Reply.integer(c.arity()),
            Reply.set(flags),
            Reply.integer(c.firstKey()),
            Reply.integer(c.lastKey()),
            Reply.integer(c.keyStep()),
            Reply.set(List.of(Reply.simple("@" + c.group()))),
            Reply.set(List.of()),
            Reply.array(List.of()),
            Reply.array(subs)));
  }

  private static void docs(Command c, List<Reply> out) {
    out.add(Reply.bulk(c.name()));
    out.add(
        Reply.map(
            List.of(
                Reply.bulk("summary"), Reply.bulk(c.summary()),
                Reply.bulk("since"), Reply.bulk("0.1.0"),
                Reply.bulk("group"),
                    Reply.bulk(c.group().equals("keyspace") ? "generic" : c.group()))));
  }

  private static Reply config(Node n, Session s, RespRequest r) {
    String sub = Args.upper(r.arg(1));
    switch (sub) {
      case "GET" -> {
        if (r.argc() < 3) {
          throw CommandError.arity("config|get");
        }
        Map<String, String> matched = new LinkedHashMap<>();
        Map<String, String> all = n.config.all();
        for (int i = 2; i < r.argc(); i++) {
          byte[] pattern = r.arg(i);
          all.forEach(
              (k, v) -> {
                if (Glob.matches(pattern, k.getBytes(StandardCharsets.UTF_8), true)) {
                  matched.put(k, v);
                }
              });
        }
        List<Reply> out = new ArrayList<>();
        matched.forEach(
            (k, v) -> {
              out.add(Reply.bulk(k));
              out.add(Reply.bulk(v));
            });
        return Reply.map(out);
      }
      case "SET" -> {
        if (r.argc() < 4 || r.argc() % 2 != 0) {
          throw CommandError.arity("config|set");
        }
        // check every pair before applying any, so a bad one changes nothing
        for (int i = 2; i < r.argc(); i += 2) {
          String name = Args.text(r.arg(i)).toLowerCase(Locale.ROOT);
          if (ServerConfig.setting(name) == null) {
            throw new CommandError(
                "ERR Unknown option or number of arguments for CONFIG SET - '" + name + "'");
          }
          try {
            ServerConfig.setting(name).canonical(Args.text(r.arg(i + 1)));
          } catch (ConfigException e) {
            throw new CommandError(
                "ERR CONFIG SET failed (possibly related to argument '"
                    + name
                    + "') - "
                    + e.getMessage());
          }
        }
        for (int i = 2; i < r.argc(); i += 2) {
          String name = Args.text(r.arg(i)).toLowerCase(Locale.ROOT);
          try {
            n.config.set(name, Args.text(r.arg(i + 1)));
          } catch (ConfigException e) {
            throw new CommandError("ERR " + e.getMessage());
          }
          n.onConfigChanged(name);
        }
        return Reply.ok();
      }
      case "RESETSTAT" -> {
        n.metrics.commands.clear();
        return Reply.ok();
      }
      default ->
          throw new CommandError(
              "ERR unknown subcommand '" + Args.text(r.arg(1)) + "'. Try CONFIG HELP.");
    }
  }
}
