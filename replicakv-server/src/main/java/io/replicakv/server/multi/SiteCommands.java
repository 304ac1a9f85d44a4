package io.replicakv.server.multi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.crdt.AwOrSet;
import io.replicakv.core.crdt.Crdt;
import io.replicakv.core.crdt.OrMap;
import io.replicakv.core.crdt.PNCounter;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.multi.CrdtResolver;
import io.replicakv.core.multi.KeyState;
import io.replicakv.core.multi.LinkLag;
import io.replicakv.core.multi.LostWrite;
import io.replicakv.core.multi.Mutation;
import io.replicakv.core.multi.SiteCommand;
import io.replicakv.core.multi.SiteRead;
import io.replicakv.core.multi.SiteReplica;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespEncoder;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.server.command.Command;
import io.replicakv.server.command.Dispatcher;
import io.replicakv.server.command.Glob;
import io.replicakv.server.command.Node;
import io.replicakv.server.command.Session;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * RESP on multi-leader keyspaces, and the {@code SITE} admin command.
 *
 * <p>After {@code SELECT n} on a multi-leader keyspace every keyed command is answered here, from
 * this site's replica (all keys of a site are at the node that runs it: the one node of a one-node
 * site, or the keyspace's gateway on a site of several nodes, to which the other nodes forward the
 * command; a write there is refused with {@code NOREPLICAS} while fewer than {@code site-acks}
 * other nodes hold the site log, and answered {@code TRYAGAIN} when the gateway did not answer):
 *
 * <ul>
 *   <li>{@code GET key}: nil or the value; a key with siblings answers {@code CONFLICT} naming
 *       KV.GET (a plain GET never picks a winner silently). {@code SET key value}: writes with the
 *       context of what this site holds, so it overwrites it (a concurrent write at another site
 *       still conflicts, by the keyspace's strategy). {@code DEL key...}: a tombstone with that
 *       context for each key that has a value; answers how many had one. {@code EXISTS key...}.
 *   <li>{@code KV.GET key} → the causal context (base64, "" when none) then every live value;
 *       {@code KV.PUT key context value} writes with that context, replacing exactly the siblings
 *       it covers (the same shape as on leaderless keyspaces).
 *   <li>{@code conflicts=crdt}: {@code INCR DECR INCRBY DECRBY} (PN-counter, answers the counter as
 *       this site sees it after the write), {@code SADD SREM} (add-wins set; answers the number of
 *       members written), {@code SMEMBERS SISMEMBER SCARD}, {@code HSET HDEL HINCRBY HGET HGETALL}
 *       (a map of LWW registers and counters), {@code SET}/{@code GET} (an LWW register).
 * </ul>
 *
 * Errors: {@code ERR} with the core's reason for a refused write, {@code TIMEOUT} when a write's
 * outcome is unknown (a home-site forward unanswered, or no outcome within {@link
 * #WRITE_TIMEOUT_MILLIS}, e.g. a lock site unreachable), {@code CLUSTERDOWN} when the keyspace is
 * not served here (with the reason). Other keyed commands are refused with the list above.
 *
 * <p>Keyless: {@code DBSIZE}, {@code KEYS}, {@code SCAN} (MATCH, COUNT) over the keys with a live
 * value at this site; {@code FLUSHDB} as a replicated tombstone per live key (at most {@link
 * #FLUSHDB_KEYS_MAX}). Expiry commands ({@code EXPIRE}, {@code TTL}, ...) are refused with the
 * reason: expiry is not replicated between sites.
 *
 * <p>{@code SITE} (any keyspace): {@code SITE INFO}, {@code SITE LINKS}, {@code SITE LINK ADD name
 * host:peer-port}, {@code SITE LINK REMOVE name}, {@code SITE LAG [keyspace]}, {@code SITE
 * CONFLICTS [keyspace]}, {@code SITE LOST keyspace [count]} (the writes lww discarded, newest last,
 * at most {@code ConflictMetrics.LOST_WRITES_WINDOW_MAX} kept), {@code SITE DOWN|UP site}
 * (home-site: an operator declares a site down, so its keys' writes go to the next site; answers
 * the number of keyspaces told; kept in memory only, until this node restarts).
 */
public final class SiteCommands {
  /** A client write without an outcome after this long answers TIMEOUT (the write may apply). */
  public static final long WRITE_TIMEOUT_MILLIS = 30_000;

  /** Lost writes SITE LOST lists when no count is given. */
  static final int LOST_LISTED_DEFAULT = 100;

  private static final Set<String> SUPPORTED =
      Set.of(
          "get",
          "set",
          "del",
          "exists",
          "incr",
          "decr",
          "incrby",
          "decrby",
          "sadd",
          "srem",
          "smembers",
          "sismember",
          "scard",
          "hset",
          "hdel",
          "hget",
          "hgetall",
          "hincrby",
          "kv.get",
          "kv.put",
          "dbsize",
          "keys",
          "scan",
          "flushdb");

  /** Commands of key expiry: refused, with the reason, on a multi-leader keyspace. */
  private static final Set<String> EXPIRY =
      Set.of(
          "expire",
          "pexpire",
          "expireat",
          "pexpireat",
          "ttl",
          "pttl",
          "persist",
          "expiretime",
          "pexpiretime",
          "setex",
          "psetex",
          "getex");

  /**
   * Live keys FLUSHDB deletes at once (one replicated tombstone each, all in flight together); past
   * it FLUSHDB is refused and DEL in batches is the way.
   */
  static final int FLUSHDB_KEYS_MAX = SiteService.IN_FLIGHT_WRITES_MAX;

  /** Keys SCAN visits per call when COUNT is not given, and the most COUNT may ask. */
  static final int SCAN_COUNT_DEFAULT = 10;

  static final int SCAN_COUNT_MAX = 10_000;

  private SiteCommands() {}

  /** The SITE admin command for the command table. */
  public static List<Command> commands() {
    return List.of(
        new Command(
            "site",
            -2,
            Set.of("admin"),
            0,
            0,
            0,
            "multi-leader",
            "Site links, link lag, conflict counters and lost writes of multi-leader keyspaces.",
            SiteCommands::admin,
            List.of("info", "links", "link", "lag", "conflicts", "lost", "down", "up")));
  }

  /** Whether this layer answers {@code command} on a multi-leader keyspace. */
  public static boolean applies(Command command) {
    return command.firstKey() > 0
        || SUPPORTED.contains(command.name())
        || EXPIRY.contains(command.name());
  }

  /** Runs {@code request} on keyspace {@code keyspace}; the future holds the RESP reply. */
  public static CompletableFuture<byte[]> run(
      SiteKeyspaces keyspaces, int keyspace, Command command, RespRequest request, int protocol) {
    return run(keyspaces, keyspace, command, request, protocol, 0);
  }

  /**
   * As above for a command that was forwarded {@code hops} times already (0: from a client): on a
   * site of several nodes, a node that is not the keyspace's gateway forwards it there.
   */
  public static CompletableFuture<byte[]> run(
      SiteKeyspaces keyspaces,
      int keyspace,
      Command command,
      RespRequest request,
      int protocol,
      int hops) {
    SiteService service = keyspaces.service(keyspace);
    if (service == null) {
      CompletableFuture<byte[]> forwarded =
          keyspaces.forwardToGateway(keyspace, protocol, request, hops);
      if (forwarded != null) {
        return forwarded.exceptionally(
            error -> {
              Throwable cause =
                  error instanceof java.util.concurrent.CompletionException
                          && error.getCause() != null
                      ? error.getCause()
                      : error;
              String text = String.valueOf(cause.getMessage());
              return encode(
                  Reply.error(
                      text.startsWith("TRYAGAIN")
                          ? text
                          : "TRYAGAIN the site's gateway of keyspace "
                              + keyspace
                              + " did not answer ("
                              + text
                              + "); a write may or may not have been applied"),
                  protocol);
            });
      }
    }
    if (service != null && command.isWrite() && service.writeRefusal() != null) {
      return CompletableFuture.completedFuture(
          encode(Reply.error(service.writeRefusal()), protocol));
    }
    if (service == null) {
      String reason = keyspaces.refusal(keyspace);
      return CompletableFuture.completedFuture(
          encode(
              Reply.error(
                  "CLUSTERDOWN multi-leader keyspace "
                      + keyspace
                      + " is not served at this site"
                      + (reason == null ? " yet" : ": " + reason)),
              protocol));
    }
    CompletableFuture<Reply> reply;
    try {
      reply = dispatch(service, command.name(), request);
    } catch (IllegalArgumentException e) {
      reply = CompletableFuture.completedFuture(Reply.error("ERR " + e.getMessage()));
    }
    return reply
        .orTimeout(WRITE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)
        .exceptionally(
            error ->
                Reply.error(
                    (error instanceof java.util.concurrent.TimeoutException
                                || error.getCause() instanceof java.util.concurrent.TimeoutException
                            ? "TIMEOUT no outcome within " + WRITE_TIMEOUT_MILLIS + " ms"
                            : "ERR multi-leader request failed (" + error.getMessage() + ")")
                        + "; a write may or may not have been applied"))
        .thenApply(r -> encode(r, protocol));
  }

  private static CompletableFuture<Reply> dispatch(
      SiteService service, String name, RespRequest request) {
    if (EXPIRY.contains(name)) {
      return CompletableFuture.completedFuture(
          Reply.error(
              "ERR "
                  + name.toUpperCase(Locale.ROOT)
                  + " is refused on a multi-leader keyspace: expiry is not replicated between"
                  + " sites yet, so a key would expire at one site and live on at the others"));
    }
    switch (name) {
      case "dbsize" -> {
        return service.query(r -> Reply.integer(liveKeys(r).size()));
      }
      case "keys" -> {
        byte[] pattern = arg(request, 1).getBytes(StandardCharsets.UTF_8);
        return service.query(
            r -> {
              List<Reply> out = new ArrayList<>();
              for (String key : liveKeys(r)) {
                if (Glob.matches(pattern, key.getBytes(StandardCharsets.UTF_8), false)) {
                  out.add(Reply.bulk(key));
                }
              }
              return Reply.array(out);
            });
      }
      case "scan" -> {
        return scan(service, request);
      }
      case "flushdb" -> {
        return flush(service);
      }
      default -> {}
    }
    String key = arg(request, 1);
    return switch (name) {
      case "get" -> service.query(r -> get(r, key));
      case "kv.get" -> service.query(r -> withContext(r.read(key)));
      case "kv.put" -> {
        VersionVector context = decodeContext(arg(request, 2));
        String value = arg(request, 3);
        yield write(
            service,
            r -> new SiteCommand.Assign(key, value, Optional.of(context)),
            written -> Reply.ok());
      }
      case "set" -> {
        if (request.argc() != 3) {
          throw new IllegalArgumentException(
              "SET on a multi-leader keyspace takes a key and a value (no options)");
        }
        String value = arg(request, 2);
        yield write(
            service,
            r -> new SiteCommand.Assign(key, value, Optional.of(r.read(key).context())),
            written -> Reply.ok());
      }
      case "del" -> deleteAll(service, request, 1, 0);
      case "exists" ->
          service.query(
              r -> {
                long found = 0;
                for (int i = 1; i < request.argc(); i++) {
                  found += r.read(arg(request, i)).values().isEmpty() ? 0 : 1;
                }
                return Reply.integer(found);
              });
      case "incr", "decr", "incrby", "decrby" -> {
        long delta = name.startsWith("incr") ? 1 : -1;
        if (name.endsWith("by")) {
          delta = Math.multiplyExact(delta, parseLong(arg(request, 2)));
        }
        long by = delta;
        yield write(
            service,
            r -> new SiteCommand.Increment(key, by),
            r -> Reply.integer(parseLong(r.read(key).values().get(0))));
      }
      case "sadd", "srem" -> {
        List<SiteCommand> writes = new ArrayList<>();
        for (int i = 2; i < request.argc(); i++) {
          writes.add(new SiteCommand.SetMember(key, arg(request, i), name.equals("sadd")));
        }
        yield writeAll(service, writes, 0);
      }
      case "smembers" ->
          service.query(r -> crdtRead(r, key, AwOrSet.class, set -> bulks(r.read(key).values())));
      case "scard" ->
          service.query(
              r -> crdtRead(r, key, AwOrSet.class, set -> Reply.integer(set.elements().size())));
      case "sismember" -> {
        String member = arg(request, 2);
        yield service.query(
            r ->
                crdtRead(
                    r,
                    key,
                    AwOrSet.class,
                    set -> Reply.integer(set.elements().contains(Bytes.utf8(member)) ? 1 : 0)));
      }
      case "hset", "hdel" -> {
        List<SiteCommand> writes = new ArrayList<>();
        if (name.equals("hset")) {
          if (request.argc() % 2 != 0) {
            throw new IllegalArgumentException("wrong number of arguments for 'hset' command");
          }
          for (int i = 2; i < request.argc(); i += 2) {
            writes.add(
                new SiteCommand.MapField(key, arg(request, i), Optional.of(arg(request, i + 1))));
          }
        } else {
          for (int i = 2; i < request.argc(); i++) {
            writes.add(new SiteCommand.MapField(key, arg(request, i), Optional.empty()));
          }
        }
        yield writeAll(service, writes, 0);
      }
      case "hincrby" -> {
        String field = arg(request, 2);
        long delta = parseLong(arg(request, 3));
        yield write(
            service,
            r -> new SiteCommand.MapIncrement(key, field, delta),
            r -> {
              Crdt<?> value = field(r, key, field);
              return Reply.integer(value instanceof PNCounter c ? c.value() : 0);
            });
      }
      case "hget" -> {
        String field = arg(request, 2);
        yield service.query(
            r ->
                crdtRead(
                    r,
                    key,
                    OrMap.class,
                    map -> {
                      Crdt<?> value = field(r, key, field);
                      return value == null
                          ? Reply.nil()
                          : Reply.bulk(String.join(",", CrdtResolver.render(value)));
                    }));
      }
      case "hgetall" ->
          service.query(
              r ->
                  crdtRead(
                      r,
                      key,
                      OrMap.class,
                      map -> {
                        List<Reply> flat = new ArrayList<>();
                        for (Map.Entry<Bytes, Crdt<?>> e : map.entries().entrySet()) {
                          flat.add(Reply.bulk(e.getKey().toUtf8()));
                          flat.add(Reply.bulk(String.join(",", CrdtResolver.render(e.getValue()))));
                        }
                        return Reply.map(flat);
                      }));
      default ->
          CompletableFuture.completedFuture(
              Reply.error(
                  "ERR command '"
                      + name.toUpperCase(Locale.ROOT)
                      + "' is not supported on a multi-leader keyspace yet; supported: "
                      + SUPPORTED.stream().sorted().map(s -> s.toUpperCase(Locale.ROOT)).toList()));
    };
  }

  private static Reply get(SiteReplica replica, String key) {
    Crdt<?> crdt = crdtOf(replica.keyState(key));
    if (crdt != null
        && !(crdt instanceof PNCounter)
        && !(crdt instanceof io.replicakv.core.crdt.LwwRegister)) {
      return Reply.error(io.replicakv.server.command.CommandError.WRONG_TYPE);
    }
    SiteRead read = replica.read(key);
    if (read.values().size() > 1) {
      return Reply.error(
          "CONFLICT key has "
              + read.values().size()
              + " siblings; read them with KV.GET and resolve with KV.PUT");
    }
    return read.values().isEmpty() ? Reply.nil() : Reply.bulk(read.values().get(0));
  }

  /** The key's CRDT, or null when it holds none (not a crdt keyspace, or never written). */
  private static Crdt<?> crdtOf(KeyState state) {
    if (state.live().size() == 1 && state.live().get(0).value() instanceof Mutation.CrdtState c) {
      return c.state();
    }
    return null;
  }

  private static <T extends Crdt<?>> Reply crdtRead(
      SiteReplica replica, String key, Class<T> type, java.util.function.Function<T, Reply> read) {
    Crdt<?> crdt = crdtOf(replica.keyState(key));
    if (crdt == null) {
      if (!replica.read(key).values().isEmpty()) {
        return Reply.error(io.replicakv.server.command.CommandError.WRONG_TYPE);
      }
      return type == OrMap.class ? Reply.map(List.of()) : read.apply(emptyOf(type));
    }
    if (!type.isInstance(crdt)) {
      return Reply.error(io.replicakv.server.command.CommandError.WRONG_TYPE);
    }
    return read.apply(type.cast(crdt));
  }

  @SuppressWarnings("unchecked")
  private static <T extends Crdt<?>> T emptyOf(Class<T> type) {
    return (T) AwOrSet.EMPTY;
  }

  private static Crdt<?> field(SiteReplica replica, String key, String field) {
    Crdt<?> crdt = crdtOf(replica.keyState(key));
    return crdt instanceof OrMap map ? map.entries().get(Bytes.utf8(field)) : null;
  }

  private static CompletableFuture<Reply> write(
      SiteService service,
      java.util.function.Function<SiteReplica, SiteCommand> command,
      java.util.function.Function<SiteReplica, Reply> onWritten) {
    return service
        .submit(command)
        .thenCompose(
            reply ->
                reply instanceof io.replicakv.core.msg.Reply.Written
                    ? service.query(onWritten)
                    : CompletableFuture.completedFuture(error(reply)));
  }

  private static CompletableFuture<Reply> writeAll(
      SiteService service, List<SiteCommand> writes, int index) {
    if (index == writes.size()) {
      return CompletableFuture.completedFuture(Reply.integer(writes.size()));
    }
    SiteCommand next = writes.get(index);
    return service
        .submit(r -> next)
        .thenCompose(
            reply ->
                reply instanceof io.replicakv.core.msg.Reply.Written
                    ? writeAll(service, writes, index + 1)
                    : CompletableFuture.completedFuture(error(reply)));
  }

  /** DEL of keys {@code index..}: a tombstone for each key with a value; counts them. */
  private static CompletableFuture<Reply> deleteAll(
      SiteService service, RespRequest request, int index, long deleted) {
    if (index == request.argc()) {
      return CompletableFuture.completedFuture(Reply.integer(deleted));
    }
    String key = arg(request, index);
    return service
        .submit(
            r -> {
              SiteRead read = r.read(key);
              return read.values().isEmpty()
                  ? null
                  : new SiteCommand.Delete(key, Optional.of(read.context()));
            })
        .thenCompose(
            reply -> {
              if (reply == null) {
                return deleteAll(service, request, index + 1, deleted);
              }
              return reply instanceof io.replicakv.core.msg.Reply.Written
                  ? deleteAll(service, request, index + 1, deleted + 1)
                  : CompletableFuture.completedFuture(error(reply));
            });
  }

  /** Keys with a live value at this site, sorted (tombstoned keys left out). */
  private static List<String> liveKeys(SiteReplica replica) {
    List<String> live = new ArrayList<>();
    replica
        .visibleState()
        .forEach(
            (key, values) -> {
              if (!values.isEmpty()) {
                live.add(key);
              }
            });
    return live;
  }

  /**
   * SCAN over the replica's key map in sorted order; the cursor is a position in that map. A key's
   * entry is never removed (a delete leaves a tombstone in it), so positions only shift right when
   * new keys arrive: a key present for the whole scan is returned at least once, a new key may be
   * missed or a key returned twice, as Redis's SCAN allows.
   */
  private static CompletableFuture<Reply> scan(SiteService service, RespRequest request) {
    long cursor = parseLong(arg(request, 1));
    if (cursor < 0) {
      throw new IllegalArgumentException("invalid cursor");
    }
    byte[] pattern = null;
    int count = SCAN_COUNT_DEFAULT;
    for (int i = 2; i < request.argc(); i += 2) {
      String option = arg(request, i).toLowerCase(Locale.ROOT);
      if (i + 1 >= request.argc()) {
        throw new IllegalArgumentException("syntax error");
      }
      switch (option) {
        case "match" -> pattern = arg(request, i + 1).getBytes(StandardCharsets.UTF_8);
        case "count" -> {
          long asked = parseLong(arg(request, i + 1));
          if (asked < 1) {
            throw new IllegalArgumentException("syntax error");
          }
          count = (int) Math.min(asked, SCAN_COUNT_MAX);
        }
        case "type" -> throw new IllegalArgumentException("SCAN TYPE is not supported here");
        default -> throw new IllegalArgumentException("syntax error");
      }
    }
    byte[] match = pattern;
    int visit = count;
    return service.query(
        r -> {
          SortedMap<String, List<String>> all = r.visibleState();
          List<Reply> keys = new ArrayList<>();
          long position = 0;
          long next = 0;
          for (Map.Entry<String, List<String>> entry : all.entrySet()) {
            if (position++ < cursor) {
              continue;
            }
            if (!entry.getValue().isEmpty()
                && (match == null
                    || Glob.matches(
                        match, entry.getKey().getBytes(StandardCharsets.UTF_8), false))) {
              keys.add(Reply.bulk(entry.getKey()));
            }
            if (position - cursor >= visit) {
              next = position;
              break;
            }
          }
          if (next >= all.size()) {
            next = 0;
          }
          return Reply.array(List.of(Reply.bulk(Long.toString(next)), Reply.array(keys)));
        });
  }

  /**
   * FLUSHDB as a replicated delete of every key that has a value here: each one a tombstone with
   * the context this site holds, so the other sites drop exactly what this site saw (a value
   * written concurrently elsewhere survives, by the keyspace's strategy, as after a DEL). Refused
   * past {@link #FLUSHDB_KEYS_MAX} keys and wherever DEL is refused (lock, home-site, crdt
   * counters).
   */
  private static CompletableFuture<Reply> flush(SiteService service) {
    return service
        .query(SiteCommands::liveKeys)
        .thenCompose(
            keys -> {
              if (keys.size() > FLUSHDB_KEYS_MAX) {
                return CompletableFuture.completedFuture(
                    Reply.error(
                        "ERR FLUSHDB on a multi-leader keyspace deletes at most "
                            + FLUSHDB_KEYS_MAX
                            + " keys at once (it has "
                            + keys.size()
                            + "); DEL them in batches"));
              }
              List<CompletableFuture<io.replicakv.core.msg.Reply>> deletes = new ArrayList<>();
              for (String key : keys) {
                deletes.add(
                    service.submit(
                        r -> {
                          SiteRead read = r.read(key);
                          return read.values().isEmpty()
                              ? null
                              : new SiteCommand.Delete(key, Optional.of(read.context()));
                        }));
              }
              return CompletableFuture.allOf(deletes.toArray(CompletableFuture[]::new))
                  .thenApply(
                      done -> {
                        for (CompletableFuture<io.replicakv.core.msg.Reply> delete : deletes) {
                          io.replicakv.core.msg.Reply reply = delete.join();
                          if (reply != null
                              && !(reply instanceof io.replicakv.core.msg.Reply.Written)) {
                            return error(reply);
                          }
                        }
                        return Reply.ok();
                      });
            });
  }

  /** The RESP error for a core reply that is not {@code Written}. */
  static Reply error(io.replicakv.core.msg.Reply reply) {
    return switch (reply) {
      case io.replicakv.core.msg.Reply.Rejected r ->
          Reply.error(r.reason().startsWith("WRONGTYPE") ? r.reason() : "ERR " + r.reason());
      case io.replicakv.core.msg.Reply.Uncertain u -> Reply.error("TIMEOUT " + u.reason());
      default -> Reply.error("ERR unexpected reply " + reply);
    };
  }

  private static Reply withContext(SiteRead read) {
    List<Reply> items = new ArrayList<>();
    items.add(Reply.bulk(encodeContext(read.context())));
    for (String value : read.values()) {
      items.add(Reply.bulk(value));
    }
    return Reply.array(items);
  }

  private static Reply bulks(List<String> values) {
    List<Reply> items = new ArrayList<>();
    values.forEach(v -> items.add(Reply.bulk(v)));
    return Reply.array(items);
  }

  /** The context as KV.GET shows it: base64 of its binary form, "" when empty. */
  static String encodeContext(VersionVector context) {
    return context.equals(VersionVector.EMPTY)
        ? ""
        : Base64.getEncoder().encodeToString(context.toBytes());
  }

  static VersionVector decodeContext(String text) {
    if (text.isEmpty()) {
      return VersionVector.EMPTY;
    }
    try {
      return VersionVector.fromBytes(Base64.getDecoder().decode(text));
    } catch (IllegalArgumentException | CorruptEncodingException e) {
      throw new IllegalArgumentException("context is not one KV.GET returned: " + e.getMessage());
    }
  }

  // ---- SITE ----------------------------------------------------------------------------------

  private static Reply admin(Node node, Session session, RespRequest request) {
    SiteKeyspaces keyspaces = node.multi;
    if (keyspaces == null) {
      return Reply.error("ERR SITE needs a clustered node (cluster-voters set)");
    }
    String sub = arg(request, 1).toLowerCase(Locale.ROOT);
    try {
      return switch (sub) {
        case "info" -> Reply.verbatim("txt", info(keyspaces));
        case "links" -> {
          List<Reply> out = new ArrayList<>();
          keyspaces.links().all().values().forEach(l -> out.add(Reply.bulk(l.toString())));
          yield Reply.array(out);
        }
        case "link" -> link(keyspaces, request);
        case "lag" -> Reply.verbatim("txt", lag(keyspaces, optionalArg(request, 2)));
        case "conflicts" -> Reply.verbatim("txt", conflicts(keyspaces, optionalArg(request, 2)));
        case "lost" -> lost(keyspaces, session, request);
        case "down", "up" -> {
          if (request.argc() != 3) {
            throw new IllegalArgumentException("usage: SITE DOWN|UP site");
          }
          String site = arg(request, 2);
          long declared = 0;
          for (SiteService.Status status : keyspaces.statuses().values()) {
            SiteService service = keyspaces.service(status.keyspace());
            if (service != null && service.sites().contains(site)) {
              service.declareDown(site, sub.equals("down"));
              declared++;
            }
          }
          yield Reply.integer(declared);
        }
        default ->
            Reply.error(
                "ERR unknown SITE subcommand '"
                    + sub
                    + "'; try INFO, LINKS, LINK ADD|REMOVE, LAG, CONFLICTS, LOST, DOWN, UP");
      };
    } catch (IllegalArgumentException e) {
      return Reply.error("ERR " + e.getMessage());
    }
  }

  private static Reply link(SiteKeyspaces keyspaces, RespRequest request) {
    String action = optionalArg(request, 2).toLowerCase(Locale.ROOT);
    if (action.equals("add") && request.argc() == 5) {
      keyspaces.links().add(SiteLinks.parse(arg(request, 3) + "@" + arg(request, 4)));
      return Reply.ok();
    }
    if (action.equals("remove") && request.argc() == 4) {
      return Reply.integer(keyspaces.links().remove(arg(request, 3)) ? 1 : 0);
    }
    throw new IllegalArgumentException(
        "usage: SITE LINK ADD name host:peer-port | SITE LINK REMOVE name");
  }

  /** The text of SITE INFO (and the INFO section {@code multileader}). */
  public static String info(SiteKeyspaces keyspaces) {
    StringBuilder b = new StringBuilder();
    b.append("site:").append(keyspaces.links().self()).append("\r\n");
    b.append("site_links:")
        .append(
            String.join(
                ",", keyspaces.links().all().values().stream().map(Object::toString).toList()))
        .append("\r\n");
    b.append("site_frames_send_failed:").append(keyspaces.framesSendFailed()).append("\r\n");
    b.append("site_items_refused:").append(keyspaces.itemsRefused()).append("\r\n");
    for (SiteService.Status s : keyspaces.statuses().values()) {
      b.append("multi_keyspace:")
          .append(s.keyspace())
          .append(",conflicts=")
          .append(s.strategy())
          .append(",sites=")
          .append(String.join("|", s.sites()))
          .append(",log_changes=")
          .append(s.logChanges())
          .append(",causal_buffered=")
          .append(s.causalBuffered())
          .append(",retained_changes=")
          .append(s.retainedChanges())
          .append(",retained_bytes=")
          .append(s.retainedBytes())
          .append(",file_records=")
          .append(s.fileRecords())
          .append(",file_bytes=")
          .append(s.fileBytes())
          .append(",compactions=")
          .append(s.compactions())
          .append(",catch_ups_sent=")
          .append(counter(s, io.replicakv.core.multi.ConflictMetrics.CATCH_UPS_SENT))
          .append(",catch_ups_received=")
          .append(counter(s, io.replicakv.core.multi.ConflictMetrics.CATCH_UPS_RECEIVED))
          .append("\r\n");
      s.catchUps()
          .forEach(
              (to, progress) ->
                  b.append("multi_catch_up:keyspace=")
                      .append(s.keyspace())
                      .append(",to=")
                      .append(to)
                      .append(',')
                      .append(progress)
                      .append("\r\n"));
      for (LinkLag lag : s.lag().values()) {
        b.append("multi_link:").append(lagLine(s.keyspace(), lag)).append("\r\n");
      }
    }
    io.replicakv.server.cluster.ClusterView view = keyspaces.view();
    if (view != null) {
      for (io.replicakv.server.cluster.KeyspaceEntry entry : view.keyspaces().values()) {
        if (entry.config().style() == io.replicakv.core.quorum.Style.MULTI_LEADER) {
          String line = keyspaces.gatewayLine(entry);
          if (line != null) {
            b.append("multi_gateway:").append(line).append("\r\n");
          }
        }
      }
    }
    b.append("site_items_relayed:").append(keyspaces.itemsRelayed()).append("\r\n");
    return b.toString();
  }

  /** A core counter of {@code status} by its bare name (the map's keys carry the strategy). */
  private static long counter(SiteService.Status status, String name) {
    return status.counters().entrySet().stream()
        .filter(entry -> entry.getKey().startsWith(name + "{"))
        .mapToLong(java.util.Map.Entry::getValue)
        .sum();
  }

  static String lagLine(String keyspace, LinkLag lag) {
    return "keyspace="
        + keyspace
        + ",to="
        + lag.downstream()
        + ",changes="
        + lag.changes()
        + ",bytes="
        + lag.bytes()
        + ",ms="
        + lag.ticks() * SiteService.TICK_PERIOD_MILLIS
        + ",acknowledged="
        + lag.acknowledged();
  }

  private static String lag(SiteKeyspaces keyspaces, String keyspace) {
    StringBuilder b = new StringBuilder();
    for (SiteService.Status s : keyspaces.statuses().values()) {
      if (keyspace.isEmpty() || keyspace.equals(s.keyspace())) {
        s.lag().values().forEach(lag -> b.append(lagLine(s.keyspace(), lag)).append("\n"));
      }
    }
    return b.toString();
  }

  private static String conflicts(SiteKeyspaces keyspaces, String keyspace) {
    StringBuilder b = new StringBuilder();
    for (SiteService.Status s : keyspaces.statuses().values()) {
      if (keyspace.isEmpty() || keyspace.equals(s.keyspace())) {
        s.counters()
            .forEach(
                (name, value) ->
                    b.append("keyspace=")
                        .append(s.keyspace())
                        .append(' ')
                        .append(name)
                        .append(' ')
                        .append(value)
                        .append('\n'));
      }
    }
    return b.toString();
  }

  private static Reply lost(SiteKeyspaces keyspaces, Session session, RespRequest request) {
    if (request.argc() < 3 || request.argc() > 4) {
      throw new IllegalArgumentException("usage: SITE LOST keyspace [count]");
    }
    SiteService service = keyspaces.service(arg(request, 2));
    if (service == null) {
      throw new IllegalArgumentException("no multi-leader keyspace '" + arg(request, 2) + "' here");
    }
    int count = request.argc() == 4 ? (int) parseLong(arg(request, 3)) : LOST_LISTED_DEFAULT;
    if (count < 1) {
      throw new IllegalArgumentException("count must be at least 1");
    }
    int protocol = session.protocol;
    session.forwarded =
        service
            .lostWrites(count)
            .handle(
                (lost, error) -> {
                  if (error != null) {
                    return encode(Reply.error("ERR " + error.getMessage()), protocol);
                  }
                  List<Reply> rows = new ArrayList<>();
                  for (LostWrite w : lost) {
                    rows.add(
                        Reply.array(
                            List.of(
                                Reply.bulk(w.key()),
                                Reply.bulk(w.lost().toString()),
                                Reply.bulk(w.lostTimestamp().toString()),
                                Reply.bulk(w.lostValue()),
                                Reply.bulk(w.winner().toString()))));
                  }
                  return encode(Reply.array(rows), protocol);
                });
    return Dispatcher.FORWARDED;
  }

  private static String optionalArg(RespRequest request, int index) {
    return request.argc() > index ? arg(request, index) : "";
  }

  private static long parseLong(String text) {
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("value is not an integer or out of range");
    }
  }

  private static String arg(RespRequest request, int index) {
    return new String(request.arg(index), StandardCharsets.UTF_8);
  }

  private static byte[] encode(Reply reply, int protocol) {
    ByteBuf buffer = Unpooled.buffer(64);
    RespEncoder.encode(reply, protocol, buffer);
    byte[] bytes = new byte[buffer.readableBytes()];
    buffer.readBytes(bytes);
    buffer.release();
    return bytes;
  }
}
