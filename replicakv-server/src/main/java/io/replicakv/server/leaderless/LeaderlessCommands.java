package io.replicakv.server.leaderless;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.leaderless.KvRequest;
import io.replicakv.core.leaderless.KvResult;
import io.replicakv.core.leaderless.Write;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespEncoder;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.server.command.Command;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The commands a client may send after {@code SELECT n} on a leaderless keyspace, each turned into
 * one or more {@link KvRequest}s coordinated by this node (any node coordinates; nothing is
 * forwarded to a slot owner).
 *
 * <ul>
 *   <li>{@code KV.GET key [R n]} → array: the causal context (base64, "" when none), then every
 *       sibling value. {@code KV.PUT key context value [W n]} → OK: writes with that context, so it
 *       replaces exactly the siblings the context covers.
 *   <li>{@code GET key} (R override: KV.GET): nil, the value, or, when the key has siblings, the
 *       error {@code CONFLICT} naming KV.GET (a plain GET never picks a winner silently); each
 *       refusal is counted ({@code sibling_reads_refused}).
 *   <li>{@code SET key value [W n]} and {@code DEL key}: a read at the keyspace's R for the
 *       context, then a write with it, so a client that writes after its own writes overwrites
 *       rather than adds siblings (two round trips, not atomic: two concurrent SETs still become
 *       siblings, which is the point of the keyspace). DEL answers 1 when the read saw a value.
 *   <li>{@code INCR, DECR, INCRBY, DECRBY} (conflicts=crdt): a PN-counter increment, answering the
 *       counter of the merge of the created state and the states the W acknowledging owners held
 *       after merging it (each owner returns its state with the ack when it knew more). So the
 *       answer counts this increment and every increment any acknowledging owner had merged; when
 *       this write's W plus an earlier write's W exceed N (the default 2 + 2 &gt; 3) and no
 *       substitute (sloppy quorum) acknowledged, the quorums share an owner and the answer counts
 *       every increment acknowledged before this one was sent. Concurrent increments may or may not
 *       be counted; the answer is a value the counter really passes through only when there are
 *       none. {@code SADD, SREM} (conflicts=crdt): one write per member, answering the number of
 *       members written (not, as Redis, only the new ones: the add-wins set does not say). {@code
 *       SMEMBERS}.
 *   <li>Hashes (conflicts=crdt, an observed-remove map): {@code HSET key field value [field value
 *       ...]} one write per field, answering the number of fields written (as SADD, not only the
 *       new ones); {@code HINCRBY key field n} answering the field's counter with the same
 *       guarantee as INCR (concurrent HINCRBYs add up; HSET fields are LWW strings); {@code HDEL
 *       key field ...} reads first and removes the named fields the read saw, answering how many;
 *       {@code HGET}, {@code HGETALL}, {@code HLEN}, {@code HEXISTS}.
 *   <li>{@code SET}/{@code GET} on a crdt keyspace: an LWW register (HLC timestamps, ties by node
 *       id), so concurrent SETs converge on one value without siblings. A crdt key keeps the type
 *       of its first write; a command of another type, reads included, answers {@code WRONGTYPE}.
 *       {@code DEL} empties a set or hash and deletes a register's value, keeping the type.
 * </ul>
 *
 * {@code DEL} on a key that no replica read holds answers 0 and writes nothing.
 *
 * <p>Errors: {@code NOREPLICAS} (fewer than the quorum reachable; nothing was sent), {@code
 * TIMEOUT} (the quorum did not answer in time; a write may have been applied), {@code ERR}/{@code
 * WRONGTYPE} for refusals. Every other keyed command on a leaderless keyspace is refused with an
 * error saying it is not supported there yet.
 */
public final class LeaderlessCommands {
  private static final Set<String> SUPPORTED =
      Set.of(
          "get",
          "set",
          "del",
          "incr",
          "decr",
          "incrby",
          "decrby",
          "sadd",
          "srem",
          "smembers",
          "hset",
          "hdel",
          "hget",
          "hgetall",
          "hincrby",
          "hlen",
          "hexists",
          "kv.get",
          "kv.put");

  private LeaderlessCommands() {}

  /**
   * The KV.GET / KV.PUT entries of the command table; outside a leaderless keyspace they refuse.
   */
  public static List<Command> commands() {
    Command.Handler refuse =
        (node, session, request) ->
            Reply.error(
                "ERR "
                    + new String(request.arg(0), StandardCharsets.UTF_8).toUpperCase(Locale.ROOT)
                    + " works only on a leaderless keyspace; keyspace "
                    + session.keyspace
                    + " is not one");
    return List.of(
        new Command(
            "kv.get",
            -2,
            Set.of("readonly"),
            1,
            1,
            1,
            "leaderless",
            "Reads a leaderless key: its causal context and every sibling.",
            refuse,
            List.of()),
        new Command(
            "kv.put",
            -4,
            Set.of("write", "denyoom"),
            1,
            1,
            1,
            "leaderless",
            "Writes a leaderless key with the causal context of an earlier KV.GET.",
            refuse,
            List.of()));
  }

  /** Whether this layer answers {@code command} on a leaderless keyspace (every keyed command). */
  public static boolean applies(Command command) {
    return command.firstKey() > 0 || SUPPORTED.contains(command.name());
  }

  /** Runs {@code request} on {@code service}; the future holds the RESP-encoded reply. */
  public static CompletableFuture<byte[]> run(
      LeaderlessKeyspaces keyspaces,
      LeaderlessService service,
      Command command,
      RespRequest request,
      int protocol) {
    CompletableFuture<Reply> reply;
    if (service == null) {
      return CompletableFuture.completedFuture(
          encode(
              Reply.error(
                  "CLUSTERDOWN this leaderless keyspace is not served on this node yet (fewer"
                      + " members than N, or the node has not seen it); see the node's log"),
              protocol));
    }
    try {
      reply = dispatch(keyspaces, service, command.name(), request);
    } catch (IllegalArgumentException e) {
      reply = CompletableFuture.completedFuture(Reply.error("ERR " + e.getMessage()));
    }
    return reply
        .exceptionally(
            error ->
                Reply.error(
                    "ERR leaderless request failed ("
                        + error.getMessage()
                        + "); a write may or may not have been applied"))
        .thenApply(r -> encode(r, protocol));
  }

  private static CompletableFuture<Reply> dispatch(
      LeaderlessKeyspaces keyspaces, LeaderlessService service, String name, RespRequest request) {
    String key = arg(request, 1);
    return switch (name) {
      case "kv.get" ->
          read(service, key, quorumOption(request, 2, "R"))
              .thenApply(r -> ok(r) ? withContext(r) : error(r, false));
      case "kv.put" -> {
        VersionVector context = decodeContext(arg(request, 2));
        yield write(
                service,
                key,
                new Write.Value(arg(request, 3)),
                context,
                quorumOption(request, 4, "W"))
            .thenApply(r -> ok(r) ? Reply.ok() : error(r, true));
      }
      case "get" ->
          read(service, key, quorumOption(request, 2, "R"))
              .thenApply(
                  r -> {
                    if (!ok(r)) {
                      return error(r, false);
                    }
                    if (r.type().equals("set") || r.type().equals("hash")) {
                      return wrongType();
                    }
                    if (r.values().size() > 1) {
                      keyspaces.countSiblingReadRefused();
                      return Reply.error(
                          "CONFLICT key has "
                              + r.values().size()
                              + " siblings; read them with KV.GET and resolve with KV.PUT");
                    }
                    return r.values().isEmpty() ? Reply.nil() : Reply.bulk(r.values().get(0));
                  });
      case "set" -> {
        int w = quorumOption(request, 3, "W");
        yield readThenWrite(service, key, new Write.Value(arg(request, 2)), w)
            .thenApply(r -> ok(r) ? Reply.ok() : error(r, true));
      }
      case "del" -> {
        if (request.argc() != 2) {
          throw new IllegalArgumentException("DEL on a leaderless keyspace takes one key");
        }
        yield read(service, key, KvRequest.DEFAULT_QUORUM)
            .thenCompose(
                seen ->
                    !ok(seen) || seen.type().isEmpty()
                        ? CompletableFuture.completedFuture(
                            ok(seen) ? Reply.integer(0) : error(seen, false))
                        : write(service, key, new Write.Delete(), seen.context(), 0)
                            .thenApply(
                                r ->
                                    !ok(r)
                                        ? error(r, true)
                                        : Reply.integer(seen.values().isEmpty() ? 0 : 1)));
      }
      case "incr", "decr", "incrby", "decrby" -> {
        long delta = name.startsWith("incr") ? 1 : -1;
        if (name.endsWith("by")) {
          delta *= parseLong(arg(request, 2));
        }
        yield write(service, key, new Write.Increment(delta), VersionVector.EMPTY, 0)
            .thenApply(r -> ok(r) ? Reply.integer(parseLong(r.values().get(0))) : error(r, true));
      }
      case "sadd", "srem" -> {
        List<Write> writes = new ArrayList<>();
        for (int i = 2; i < request.argc(); i++) {
          writes.add(
              name.equals("sadd")
                  ? new Write.SetAdd(arg(request, i))
                  : new Write.SetRemove(arg(request, i)));
        }
        yield writeAll(service, key, writes, 0);
      }
      case "hset" -> {
        if (request.argc() < 4 || request.argc() % 2 != 0) {
          throw new IllegalArgumentException("wrong number of arguments for 'hset' command");
        }
        List<Write> writes = new ArrayList<>();
        for (int i = 2; i < request.argc(); i += 2) {
          writes.add(new Write.HashSet(arg(request, i), arg(request, i + 1)));
        }
        yield writeAll(service, key, writes, 0);
      }
      case "hincrby" -> {
        if (request.argc() != 4) {
          throw new IllegalArgumentException("wrong number of arguments for 'hincrby' command");
        }
        String field = arg(request, 2);
        yield write(
                service,
                key,
                new Write.HashIncrement(field, parseLong(arg(request, 3))),
                VersionVector.EMPTY,
                0)
            .thenApply(
                r -> ok(r) ? Reply.integer(parseLong(fields(r).get(field))) : error(r, true));
      }
      case "hdel" -> {
        if (request.argc() < 3) {
          throw new IllegalArgumentException("wrong number of arguments for 'hdel' command");
        }
        yield readHash(service, key)
            .thenCompose(
                seen -> {
                  if (!ok(seen) || !isHashOrAbsent(seen)) {
                    return CompletableFuture.completedFuture(
                        ok(seen) ? wrongType() : error(seen, false));
                  }
                  java.util.Map<String, String> present = fields(seen);
                  List<Write> removes = new ArrayList<>();
                  for (int i = 2; i < request.argc(); i++) {
                    String field = arg(request, i);
                    if (present.containsKey(field)
                        && removes.stream()
                            .noneMatch(w -> ((Write.HashDelete) w).field().equals(field))) {
                      removes.add(new Write.HashDelete(field));
                    }
                  }
                  return writeAll(service, key, removes, 0);
                });
      }
      case "hget", "hexists" -> {
        if (request.argc() != 3) {
          throw new IllegalArgumentException("wrong number of arguments for '" + name + "'");
        }
        String field = arg(request, 2);
        yield readHash(service, key)
            .thenApply(
                r -> {
                  if (!ok(r)) {
                    return error(r, false);
                  }
                  if (!isHashOrAbsent(r)) {
                    return wrongType();
                  }
                  String value = fields(r).get(field);
                  if (name.equals("hexists")) {
                    return Reply.integer(value == null ? 0 : 1);
                  }
                  return value == null ? Reply.nil() : Reply.bulk(value);
                });
      }
      case "hgetall", "hlen" ->
          readHash(service, key)
              .thenApply(
                  r -> {
                    if (!ok(r)) {
                      return error(r, false);
                    }
                    if (!isHashOrAbsent(r)) {
                      return wrongType();
                    }
                    if (name.equals("hlen")) {
                      return Reply.integer(r.values().size() / 2);
                    }
                    List<Reply> items = new ArrayList<>();
                    for (String item : r.values()) {
                      items.add(Reply.bulk(item));
                    }
                    return Reply.array(items);
                  });
      case "smembers" ->
          read(service, key, KvRequest.DEFAULT_QUORUM)
              .thenApply(
                  r -> {
                    if (!ok(r)) {
                      return error(r, false);
                    }
                    if (!r.type().isEmpty() && !r.type().equals("set")) {
                      return wrongType();
                    }
                    List<Reply> members = new ArrayList<>();
                    for (String v : r.values()) {
                      members.add(Reply.bulk(v));
                    }
                    return Reply.array(members);
                  });
      default ->
          CompletableFuture.completedFuture(
              Reply.error(
                  "ERR command '"
                      + name.toUpperCase(Locale.ROOT)
                      + "' is not supported on a leaderless keyspace yet; supported: GET SET DEL"
                      + " INCR DECR INCRBY DECRBY SADD SREM SMEMBERS HSET HDEL HGET HGETALL"
                      + " HINCRBY HLEN HEXISTS KV.GET KV.PUT"));
    };
  }

  private static CompletableFuture<KvResult> readHash(LeaderlessService service, String key) {
    return read(service, key, KvRequest.DEFAULT_QUORUM);
  }

  private static boolean isHashOrAbsent(KvResult result) {
    return result.type().isEmpty() || result.type().equals("hash");
  }

  /** A hash's fields and values from a result whose values alternate field, value. */
  static java.util.Map<String, String> fields(KvResult result) {
    java.util.Map<String, String> fields = new java.util.LinkedHashMap<>();
    List<String> values = result.values();
    for (int i = 0; i + 1 < values.size(); i += 2) {
      fields.put(values.get(i), values.get(i + 1));
    }
    return fields;
  }

  private static Reply wrongType() {
    return Reply.error("WRONGTYPE Operation against a key holding the wrong kind of value");
  }

  private static CompletableFuture<Reply> writeAll(
      LeaderlessService service, String key, List<Write> writes, int index) {
    if (index == writes.size()) {
      return CompletableFuture.completedFuture(Reply.integer(writes.size()));
    }
    return write(service, key, writes.get(index), VersionVector.EMPTY, 0)
        .thenCompose(
            r ->
                ok(r)
                    ? writeAll(service, key, writes, index + 1)
                    : CompletableFuture.completedFuture(error(r, true)));
  }

  private static CompletableFuture<KvResult> readThenWrite(
      LeaderlessService service, String key, Write write, int writeQuorum) {
    return read(service, key, KvRequest.DEFAULT_QUORUM)
        .thenCompose(
            seen ->
                ok(seen)
                    ? write(service, key, write, seen.context(), writeQuorum)
                    : CompletableFuture.completedFuture(seen));
  }

  private static CompletableFuture<KvResult> read(
      LeaderlessService service, String key, int readQuorum) {
    return service.submit(new KvRequest.Get(0, 0, key, readQuorum));
  }

  private static CompletableFuture<KvResult> write(
      LeaderlessService service, String key, Write write, VersionVector context, int writeQuorum) {
    return service.submit(new KvRequest.Put(0, 0, key, write, context, writeQuorum));
  }

  private static boolean ok(KvResult result) {
    return result.outcome() == KvResult.Outcome.OK;
  }

  /** The error reply for a result that is not OK; {@code write}: the request could change data. */
  static Reply error(KvResult result, boolean write) {
    return switch (result.outcome()) {
      case OK -> throw new IllegalStateException("not an error: " + result);
      case NOT_ENOUGH_REPLICAS -> Reply.error("NOREPLICAS " + result.detail() + "; nothing sent");
      case TIMEOUT ->
          Reply.error(
              "TIMEOUT "
                  + result.detail()
                  + (write ? "; the write may have been applied" : "; retry the read"));
      case REFUSED ->
          Reply.error(
              result.detail().startsWith("WRONGTYPE") || result.detail().startsWith("ERR ")
                  ? result.detail()
                  : "ERR refused: " + result.detail());
    };
  }

  private static Reply withContext(KvResult result) {
    List<Reply> items = new ArrayList<>();
    items.add(Reply.bulk(encodeContext(result.context())));
    for (String value : result.values()) {
      items.add(Reply.bulk(value));
    }
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

  /** {@code [R n]} / {@code [W n]} at {@code index}, or the keyspace default. */
  private static int quorumOption(RespRequest request, int index, String option) {
    if (request.argc() == index) {
      return KvRequest.DEFAULT_QUORUM;
    }
    if (request.argc() != index + 2 || !arg(request, index).equalsIgnoreCase(option)) {
      throw new IllegalArgumentException(
          "syntax error: expected nothing or '" + option + " <n>' at argument " + index);
    }
    int quorum = (int) parseLong(arg(request, index + 1));
    if (quorum < 1) {
      throw new IllegalArgumentException(option + " must be at least 1");
    }
    return quorum;
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
    return bytes;
  }
}
