package io.replicakv.server.command;

import static io.replicakv.server.command.CommandTable.cmd;

import io.replicakv.core.ring.Slots;
import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Redis Cluster view of the ring, so cluster clients (redis-cli -c, JedisCluster, Lettuce) can
 * route by themselves. Each contiguous run of slots with one owner is one range; with many virtual
 * nodes per node the ranges are many and short, which these clients handle.
 */
final class ClusterCommands {
  private ClusterCommands() {}

  /**
   * CLUSTER REPLICALEADER slot: the member that leads the replica group holding {@code slot} in the
   * selected keyspace, as this node knows it; an empty string while none is known; an error when
   * the keyspace is not replicated.
   */
  private static Reply replicaLeader(Node n, Session s, RespRequest r) {
    if (r.argc() != 3) {
      throw new CommandError("ERR wrong number of arguments for 'cluster|replicaleader' command");
    }
    int slot;
    try {
      slot = Integer.parseInt(new String(r.arg(2), java.nio.charset.StandardCharsets.UTF_8));
    } catch (NumberFormatException e) {
      throw new CommandError("ERR slot is not an integer");
    }
    if (slot < 0 || slot >= io.replicakv.core.ring.Slots.SLOT_COUNT) {
      throw new CommandError("ERR slot out of range");
    }
    io.replicakv.server.replication.ReplicationLoop replication = n.replication;
    io.replicakv.server.replication.ReplicationLoop.Target target =
        replication == null ? null : replication.target(s.keyspace, slot);
    if (target == null) {
      throw new CommandError("ERR keyspace " + s.keyspace + " is not replicated single-leader");
    }
    return Reply.bulk(target.leader() == null ? "" : target.leader());
  }

  static void register(CommandTable t) {
    t.register(
        new Command(
            "cluster",
            -2,
            java.util.Set.of(),
            0,
            0,
            0,
            "cluster",
            "A container for Redis Cluster commands.",
            ClusterCommands::cluster,
            List.of(
                "keyslot",
                "myid",
                "info",
                "slots",
                "shards",
                "nodes",
                "plan",
                "commit",
                "leave",
                "movestatus",
                "moveprogress",
                "countkeysinslot",
                "getkeysinslot",
                "voters",
                "replicaleader",
                "cancel")));
    t.register(
        new Command(
            "keyspace",
            -2,
            java.util.Set.of("admin"),
            0,
            0,
            0,
            "cluster",
            "Creates, alters, drops and lists keyspaces (ReplicaKV).",
            ClusterCommands::keyspace,
            List.of("create", "alter", "drop", "list")));
    t.register(
        new Command(
            "localget",
            -2,
            java.util.Set.of("readonly", "admin"),
            0,
            0,
            0,
            "cluster",
            "The string value this node itself holds for a key of the selected keyspace, without"
                + " routing to the key's leader: for checking that followers apply what the leader"
                + " wrote (ReplicaKV). LOCALGET key EXPIREAT answers the key's expiry deadline"
                + " in ms instead (0 none, -2 no key).",
            (n, s, r) -> {
              io.replicakv.storage.data.Bytes key = io.replicakv.storage.data.Bytes.of(r.arg(1));
              io.replicakv.storage.data.StringValue value = n.string(s.keyspace, key);
              if (r.argc() > 2) {
                return Reply.integer(value == null ? -2 : n.expireAt(s.keyspace, key));
              }
              return value == null ? Reply.nil() : Reply.bulk(value.bytes());
            },
            List.of()));
    t.register(
        cmd(
            "asking",
            1,
            "fast",
            0,
            0,
            0,
            "cluster",
            "Lets the next command run on a slot this node is importing (after an -ASK redirect).",
            (n, s, r) -> {
              s.askingPending = true;
              return Reply.ok();
            }));
    t.register(
        cmd(
            "readonly",
            1,
            "fast",
            0,
            0,
            0,
            "cluster",
            "Enables read-only queries for a connection to a replica.",
            (n, s, r) -> Reply.ok()));
    t.register(
        cmd(
            "readwrite",
            1,
            "fast",
            0,
            0,
            0,
            "cluster",
            "Enables read-write queries for a connection to a replica.",
            (n, s, r) -> Reply.ok()));
  }

  private static Reply cluster(Node n, Session s, RespRequest r) {
    String sub = Args.upper(r.arg(1));
    if (sub.equals("KEYSLOT")) {
      if (r.argc() != 3) {
        throw CommandError.arity("cluster|keyslot");
      }
      return Reply.integer(Slots.slot(r.arg(2)));
    }
    if (sub.equals("COUNTKEYSINSLOT")) {
      return countKeysInSlot(n, s, r);
    }
    if (sub.equals("GETKEYSINSLOT")) {
      return getKeysInSlot(n, s, r);
    }
    ClusterView v = n.clusterView.get();
    if (v == null) {
      throw new CommandError("ERR This instance has cluster support disabled");
    }
    return switch (sub) {
      case "MYID" -> Reply.bulk(n.selfId);
      case "REPLICALEADER" -> replicaLeader(n, s, r);
      case "STATUS" -> Reply.verbatim("txt", status(n, v));
      case "INFO" -> Reply.verbatim("txt", info(n, v));
      case "SLOTS" -> slots(v);
      case "SHARDS" -> shards(v);
      case "NODES" -> Reply.verbatim("txt", nodes(n, v));
      case "PLAN" -> plan(n, s, r, v);
      case "LEAVE" -> leave(n, s, r);
      case "COMMIT" -> commit(n, s, r);
      case "CANCEL" -> cancel(n, s, r, v);
      case "MOVESTATUS" -> Reply.verbatim("txt", moveStatus(n));
      case "MOVEPROGRESS" -> Reply.verbatim("txt", moveProgress(n, r, v));
      case "VOTERS" -> Reply.bulk(voters(v));
      default ->
          throw new CommandError(
              "ERR unknown subcommand '" + Args.text(r.arg(1)) + "'. Try CLUSTER HELP.");
    };
  }

  /**
   * CLUSTER PLAN JOIN id | LEAVE id | REPLACE old new: the slot ranges that would move, between
   * which nodes, and how many keys each source holds in them (asked of every source, so the answer
   * comes later).
   */
  private static Reply plan(Node n, Session s, RespRequest r, ClusterView v) {
    if (r.argc() < 4 || n.mover == null) {
      throw CommandError.arity("cluster|plan");
    }
    String kind = Args.upper(r.arg(2));
    boolean replace = kind.equals("REPLACE");
    if (!(kind.equals("JOIN") || kind.equals("LEAVE")) && !replace
        || r.argc() != (replace ? 5 : 4)) {
      throw new CommandError("ERR CLUSTER PLAN JOIN id | LEAVE id | REPLACE old new");
    }
    String id = replace ? Args.text(r.arg(3)) + " " + Args.text(r.arg(4)) : Args.text(r.arg(3));
    boolean join = kind.equals("JOIN");
    java.util.concurrent.CompletableFuture<List<io.replicakv.server.move.KeyMover.PlannedMove>>
        planned;
    try {
      planned =
          replace
              ? n.mover.planReplaceWithCounts(v, Args.text(r.arg(3)), Args.text(r.arg(4)))
              : n.mover.planWithCounts(v, id, join);
    } catch (IllegalArgumentException e) {
      throw new CommandError("ERR cannot plan: " + e.getMessage());
    }
    int protocol = s.protocol;
    s.forwarded =
        planned.handle(
            (moves, error) -> {
              Reply reply;
              if (error != null) {
                reply = Reply.error("ERR plan failed: " + error.getMessage());
              } else {
                reply = Reply.verbatim("txt", planText(v, kind, id, moves));
              }
              return encode(reply, protocol);
            });
    return Dispatcher.FORWARDED;
  }

  static String planText(
      ClusterView v,
      String kind,
      String id,
      List<io.replicakv.server.move.KeyMover.PlannedMove> moves) {
    long slots = 0;
    long keys = 0;
    long bytes = 0;
    boolean unknownKeys = false;
    boolean unknownBytes = false;
    Map<String, long[]> byPair = new java.util.TreeMap<>();
    StringBuilder lines = new StringBuilder();
    for (io.replicakv.server.move.KeyMover.PlannedMove m : moves) {
      slots += m.slotCount();
      // slots, keys, bytes, ranges with unknown keys, ranges with unknown bytes
      long[] pair = byPair.computeIfAbsent(m.fromNode() + " -> " + m.toNode(), k -> new long[5]);
      pair[0] += m.slotCount();
      if (m.keys() < 0) {
        unknownKeys = true;
        pair[3]++;
      } else {
        keys += m.keys();
        pair[1] += m.keys();
      }
      if (m.bytes() < 0) {
        unknownBytes = true;
        pair[4]++;
      } else {
        bytes += m.bytes();
        pair[2] += m.bytes();
      }
      lines
          .append(m.firstSlot())
          .append('-')
          .append(m.lastSlot())
          .append(' ')
          .append(m.fromNode())
          .append(" -> ")
          .append(m.toNode())
          .append(' ')
          .append(m.slotCount())
          .append(" slots ")
          .append(m.keys() < 0 ? "?" : Long.toString(m.keys()))
          .append(" keys ")
          .append(m.bytes() < 0 ? "? bytes" : formatBytes(m.bytes()))
          .append('\n');
    }
    StringBuilder totals = new StringBuilder();
    for (Map.Entry<String, long[]> e : byPair.entrySet()) {
      long[] t = e.getValue();
      totals
          .append("total ")
          .append(e.getKey())
          .append(' ')
          .append(t[0])
          .append(" slots ")
          .append(t[1])
          .append(t[3] > 0 ? "+" : "")
          .append(" keys ")
          .append(formatBytes(t[2]))
          .append(t[4] > 0 ? "+" : "")
          .append('\n');
    }
    return "plan "
        + kind.toLowerCase(java.util.Locale.ROOT)
        + " "
        + id
        + " at metadata version "
        + v.version()
        + ": "
        + moves.size()
        + " ranges, "
        + slots
        + " of "
        + Slots.SLOT_COUNT
        + " slots, "
        + keys
        + (unknownKeys ? "+ (some sources did not answer)" : "")
        + " keys move, "
        + formatBytes(bytes)
        + (unknownBytes ? "+" : "")
        + " ("
        + bytes
        + (unknownBytes ? "+" : "")
        + " bytes of keys and values)\n"
        + totals
        + lines;
  }

  private static String formatBytes(long bytes) {
    return io.replicakv.server.move.MoveProgress.formatBytes(bytes);
  }

  /** CLUSTER LEAVE id: starts moving the member's slots away (it becomes LEAVING, then LEFT). */
  private static Reply leave(Node n, Session s, RespRequest r) {
    if (r.argc() != 3 || n.proposer == null) {
      throw CommandError.arity("cluster|leave");
    }
    return proposeMemberState(
        n,
        s,
        Args.text(r.arg(2)),
        io.replicakv.server.cluster.MemberState.LEAVING,
        "ERR leave not started: ");
  }

  /**
   * CLUSTER COMMIT JOIN id (a STAGED member becomes JOINING: its data starts to move) | LEAVE id
   * (as CLUSTER LEAVE) | REPLACE old new (STAGED new takes over UP old's slots and data).
   */
  private static Reply commit(Node n, Session s, RespRequest r) {
    if (r.argc() < 4 || n.proposer == null) {
      throw CommandError.arity("cluster|commit");
    }
    String kind = Args.upper(r.arg(2));
    return switch (kind) {
      case "JOIN" -> {
        requireArgs(r, 4);
        yield proposeMemberState(
            n, s, Args.text(r.arg(3)), MemberState.JOINING, "ERR join not committed: ");
      }
      case "LEAVE" -> {
        requireArgs(r, 4);
        yield proposeMemberState(
            n, s, Args.text(r.arg(3)), MemberState.LEAVING, "ERR leave not started: ");
      }
      case "REPLACE" -> {
        requireArgs(r, 5);
        yield propose(
            n,
            s,
            new io.replicakv.server.cluster.MetadataChange.ReplaceMember(
                Args.text(r.arg(3)), Args.text(r.arg(4))),
            "ERR replace not committed: ");
      }
      default -> throw new CommandError(COMMIT_USAGE);
    };
  }

  static final String COMMIT_USAGE = "ERR CLUSTER COMMIT JOIN id | LEAVE id | REPLACE old new";

  private static void requireArgs(RespRequest r, int argc) {
    if (r.argc() != argc) {
      throw new CommandError(COMMIT_USAGE);
    }
  }

  /** Proposes a member's new state; the client gets OK once it is committed, else the reason. */
  private static Reply proposeMemberState(
      Node n, Session s, String id, io.replicakv.server.cluster.MemberState state, String failure) {
    return propose(
        n, s, new io.replicakv.server.cluster.MetadataChange.SetMemberState(id, state), failure);
  }

  /** Proposes a metadata change; the client gets OK once it is committed, else the reason. */
  private static Reply propose(
      Node n, Session s, io.replicakv.server.cluster.MetadataChange change, String failure) {
    int protocol = s.protocol;
    s.forwarded =
        n.proposer
            .apply(change)
            .handle(
                (view, error) ->
                    encode(
                        error == null
                            ? Reply.ok()
                            : Reply.error(
                                failure
                                    + (error.getCause() == null ? error : error.getCause())
                                        .getMessage()),
                        protocol));
    return Dispatcher.FORWARDED;
  }

  /**
   * CLUSTER CANCEL id: stops a join (JOINING or STAGED to LEFT; the joiner must then be removed) or
   * a leave (LEAVING to UP); sources lift their write fence and keep their keys. Refused once a
   * source handed its slots over (the metadata says which sources it still waits for).
   */
  private static Reply cancel(Node n, Session s, RespRequest r, ClusterView v) {
    if (r.argc() != 3 || n.proposer == null) {
      throw CommandError.arity("cluster|cancel");
    }
    String id = Args.text(r.arg(2));
    io.replicakv.server.cluster.Member m = v.members().get(id);
    if (m == null) {
      throw new CommandError("ERR no member " + id);
    }
    io.replicakv.server.cluster.MemberState to =
        switch (m.state()) {
          case JOINING, STAGED -> io.replicakv.server.cluster.MemberState.LEFT;
          case LEAVING -> io.replicakv.server.cluster.MemberState.UP;
          default ->
              throw new CommandError("ERR " + id + " is " + m.state() + ": nothing to cancel");
        };
    return proposeMemberState(n, s, id, to, "ERR not cancelled: ");
  }

  /** The metadata voters as id@host:metadata-port,... (the form of cluster-voters), for joiners. */
  static String voters(ClusterView v) {
    StringBuilder b = new StringBuilder();
    for (io.replicakv.server.cluster.Member m : v.members().values()) {
      if (m.voter()) {
        if (b.length() > 0) {
          b.append(',');
        }
        b.append(m.id()).append('@').append(m.host()).append(':').append(m.metadataPort());
      }
    }
    return b.toString();
  }

  static String moveStatus(Node n) {
    io.replicakv.server.move.KeyMover m = n.mover;
    if (m == null) {
      return "no mover (single node)\n";
    }
    return "status: "
        + m.status()
        + "\nkeys_sent: "
        + m.keysSent()
        + "\nbytes_sent: "
        + m.bytesSent()
        + "\nkeys_remaining_estimate: "
        + m.keysRemainingEstimate()
        + "\nkeys_received: "
        + m.keysReceived()
        + "\nkeys_deleted: "
        + m.keysDeleted()
        + "\nmoves_completed: "
        + m.movesCompleted()
        + "\nfence_timeouts: "
        + m.fenceTimeouts()
        + "\n";
  }

  /**
   * CLUSTER MOVEPROGRESS [id]: the move this node runs as a source ("field:value" lines, as CLUSTER
   * INFO), then what its metadata view says of member {@code id} (default: the member of its move,
   * else the first member in motion): its state and the sources of its move.
   */
  static String moveProgress(Node n, RespRequest r, ClusterView v) {
    if (r.argc() > 3) {
      throw CommandError.arity("cluster|moveprogress");
    }
    io.replicakv.server.move.KeyMover mover = n.mover;
    if (mover == null) {
      throw new CommandError("ERR no data mover on this node (it runs alone)");
    }
    io.replicakv.server.move.MoveProgress.Snapshot snapshot = mover.progress().snapshot();
    StringBuilder moving = new StringBuilder();
    String firstMoving = "";
    for (Member m : v.members().values()) {
      if (m.state() == MemberState.JOINING || m.state() == MemberState.LEAVING) {
        moving.append(moving.isEmpty() ? "" : ",").append(m.id()).append('=').append(m.state());
        firstMoving = firstMoving.isEmpty() ? m.id() : firstMoving;
      }
    }
    String watched =
        r.argc() == 3
            ? Args.text(r.arg(2))
            : snapshot.member().isEmpty() ? firstMoving : snapshot.member();
    Member member = v.members().get(watched);
    String sources = "";
    if (member != null
        && (member.state() == MemberState.JOINING || member.state() == MemberState.LEAVING)) {
      try {
        java.util.TreeSet<String> from = new java.util.TreeSet<>();
        io.replicakv.server.move.KeyMover.plan(v, watched, member.state() == MemberState.JOINING)
            .forEach(m -> from.add(m.fromNode()));
        sources = String.join(",", from);
      } catch (RuntimeException e) {
        sources = "?";
      }
    }
    return io.replicakv.server.move.MoveProgress.render(n.selfId, snapshot)
        + "moving_members:"
        + moving
        + "\r\nwatched:"
        + watched
        + "\r\nwatched_state:"
        + (member == null ? (watched.isEmpty() ? "" : "UNKNOWN") : member.state().name())
        + "\r\nwatched_sources:"
        + sources
        + "\r\nmetadata_version:"
        + v.version()
        + "\r\n";
  }

  /** CLUSTER COUNTKEYSINSLOT slot: keys of the selected keyspace in the slot held here. */
  private static Reply countKeysInSlot(Node n, Session s, RespRequest r) {
    if (r.argc() != 3) {
      throw CommandError.arity("cluster|countkeysinslot");
    }
    long slot = Args.parseLong(r.arg(2));
    if (slot < 0 || slot >= Slots.SLOT_COUNT) {
      throw new CommandError("ERR Invalid slot");
    }
    return Reply.integer(n.state().keysInSlot(s.keyspace, (int) slot));
  }

  /**
   * CLUSTER GETKEYSINSLOT slot count: up to count keys of the selected keyspace in the slot held
   * here. The slot counter bounds the walk: an empty slot answers at once (see {@link
   * io.replicakv.storage.data.MemoryState#keysInSlot(int, int, int)}).
   */
  private static Reply getKeysInSlot(Node n, Session s, RespRequest r) {
    if (r.argc() != 4) {
      throw CommandError.arity("cluster|getkeysinslot");
    }
    long count = Args.parseLong(r.arg(3));
    long slot = Args.parseLong(r.arg(2));
    if (count < 0 || slot < 0 || slot >= Slots.SLOT_COUNT) {
      throw new CommandError("ERR Invalid slot or number of keys");
    }
    int bounded = (int) Math.min(count, Integer.MAX_VALUE);
    List<byte[]> keys = new ArrayList<>();
    for (io.replicakv.storage.data.Bytes key :
        n.state().keysInSlot(s.keyspace, (int) slot, bounded)) {
      keys.add(key.array());
    }
    return Reply.bulkArray(keys);
  }

  private static byte[] encode(Reply reply, int protocol) {
    io.netty.buffer.ByteBuf b = io.netty.buffer.Unpooled.buffer();
    io.replicakv.net.resp.RespEncoder.encode(reply, protocol, b);
    byte[] bytes = io.netty.buffer.ByteBufUtil.getBytes(b);
    b.release();
    return bytes;
  }

  /** KEYSPACE CREATE name [option value]... | ALTER name [option value]... | DROP name | LIST. */
  private static Reply keyspace(Node n, Session s, RespRequest r) {
    String sub = Args.upper(r.arg(1));
    ClusterView v = n.clusterView.get();
    if (sub.equals("LIST")) {
      List<Reply> out = new ArrayList<>();
      if (v != null) {
        v.keyspaces()
            .values()
            .forEach(
                k ->
                    out.add(
                        Reply.map(
                            List.of(
                                Reply.bulk("number"), Reply.integer(k.number()),
                                Reply.bulk("name"), Reply.bulk(k.name()),
                                Reply.bulk("config"), Reply.bulk(String.valueOf(k.config()))))));
      } else {
        out.add(
            Reply.map(
                List.of(
                    Reply.bulk("number"),
                    Reply.integer(0),
                    Reply.bulk("name"),
                    Reply.bulk("default"),
                    Reply.bulk("config"),
                    Reply.bulk(
                        "single node: keyspaces 0-"
                            + (n.state().keyspaceCount() - 1)
                            + " hold one copy"))));
      }
      return Reply.array(out);
    }
    if (v == null || n.proposer == null) {
      throw new CommandError("ERR keyspaces are created in a cluster; this node runs alone");
    }
    if (r.argc() < 3) {
      throw CommandError.arity("keyspace|" + sub.toLowerCase(java.util.Locale.ROOT));
    }
    String name = Args.text(r.arg(2));
    Map<String, String> options = new LinkedHashMap<>();
    if ((r.argc() - 3) % 2 != 0) {
      throw new CommandError(
          "ERR options come in pairs: KEYSPACE " + sub + " name option value ...");
    }
    for (int i = 3; i < r.argc(); i += 2) {
      options.put(Args.text(r.arg(i)).toLowerCase(java.util.Locale.ROOT), Args.text(r.arg(i + 1)));
    }
    io.replicakv.server.cluster.MetadataChange change =
        switch (sub) {
          case "CREATE" ->
              new io.replicakv.server.cluster.MetadataChange.CreateKeyspace(name, options);
          case "ALTER" ->
              new io.replicakv.server.cluster.MetadataChange.AlterKeyspace(name, options);
          case "DROP" -> new io.replicakv.server.cluster.MetadataChange.DropKeyspace(name);
          default ->
              throw new CommandError(
                  "ERR unknown subcommand '" + Args.text(r.arg(1)) + "'. Try KEYSPACE LIST.");
        };
    int protocol = s.protocol;
    s.forwarded =
        n.proposer
            .apply(change)
            .handle(
                (view, error) -> {
                  Reply reply;
                  if (error == null) {
                    io.replicakv.server.cluster.KeyspaceEntry entry = view.keyspace(name);
                    reply =
                        sub.equals("DROP") || entry == null
                            ? Reply.ok()
                            : Reply.integer(entry.number());
                  } else {
                    Throwable cause =
                        error instanceof java.util.concurrent.CompletionException
                            ? error.getCause()
                            : error;
                    reply =
                        Reply.error(
                            cause instanceof io.replicakv.server.cluster.MetadataRejectedException
                                ? "ERR " + cause.getMessage()
                                : "CLUSTERDOWN metadata change not committed: "
                                    + cause.getMessage());
                  }
                  io.netty.buffer.ByteBuf b = io.netty.buffer.Unpooled.buffer();
                  io.replicakv.net.resp.RespEncoder.encode(reply, protocol, b);
                  byte[] bytes = io.netty.buffer.ByteBufUtil.getBytes(b);
                  b.release();
                  return bytes;
                });
    return Dispatcher.FORWARDED;
  }

  private static String status(Node n, ClusterView v) {
    StringBuilder b = new StringBuilder();
    b.append("cluster ")
        .append(v.clusterId())
        .append(", metadata version ")
        .append(v.version())
        .append(", this node ")
        .append(n.selfId)
        .append('\n');
    Map<String, Integer> slots = new LinkedHashMap<>();
    for (Range range : ranges(v)) {
      slots.merge(range.owner().id(), range.last() - range.first() + 1, Integer::sum);
    }
    for (Member m : v.members().values()) {
      b.append(
          String.format(
              java.util.Locale.ROOT,
              "  %-10s %-8s %s:%d  peer %d  http %d  slots %5d (%.1f%%)%s%n",
              m.id(),
              m.state(),
              m.host(),
              m.clientPort(),
              m.peerPort(),
              m.httpPort(),
              slots.getOrDefault(m.id(), 0),
              100.0 * slots.getOrDefault(m.id(), 0) / Slots.SLOT_COUNT,
              m.voter() ? "  metadata voter" : ""));
    }
    b.append("keyspaces:\n");
    v.keyspaces()
        .values()
        .forEach(
            k ->
                b.append("  ")
                    .append(k.number())
                    .append(' ')
                    .append(k.name())
                    .append(' ')
                    .append(k.config())
                    .append('\n'));
    return b.toString();
  }

  /** Contiguous slot ranges with one owner, in slot order: [first, last, ownerId]. */
  record Range(int first, int last, Member owner) {}

  static List<Range> ranges(ClusterView v) {
    List<Range> out = new ArrayList<>();
    Member current = null;
    int start = 0;
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
      Member m = v.ownerOf(slot);
      if (slot == 0) {
        current = m;
        continue;
      }
      if (m == null ? current != null : current == null || !m.id().equals(current.id())) {
        if (current != null) {
          out.add(new Range(start, slot - 1, current));
        }
        current = m;
        start = slot;
      }
    }
    if (current != null) {
      out.add(new Range(start, Slots.SLOT_COUNT - 1, current));
    }
    return out;
  }

  private static String info(Node n, ClusterView v) {
    boolean allUp =
        v.members().values().stream()
            .filter(
                m ->
                    m.state() != MemberState.LEFT
                        && m.state() != MemberState.JOINING
                        && m.state() != MemberState.STAGED)
            .allMatch(m -> m.state() == MemberState.UP);
    long owners = v.ring().nodes().size();
    return "cluster_enabled:1\r\n"
        + "cluster_state:"
        + (allUp && owners > 0 && !n.clusterStarting ? "ok" : "fail")
        + "\r\n"
        + "cluster_slots_assigned:"
        + (owners > 0 ? Slots.SLOT_COUNT : 0)
        + "\r\n"
        + "cluster_slots_ok:"
        + (owners > 0 ? Slots.SLOT_COUNT : 0)
        + "\r\n"
        + "cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\n"
        + "cluster_known_nodes:"
        + v.members().size()
        + "\r\n"
        + "cluster_size:"
        + owners
        + "\r\n"
        + "cluster_current_epoch:"
        + v.version()
        + "\r\n"
        + "cluster_my_epoch:"
        + v.version()
        + "\r\n"
        + "replicakv_metadata_version:"
        + v.version()
        + "\r\n";
  }

  private static Reply slots(ClusterView v) {
    List<Reply> out = new ArrayList<>();
    for (Range range : ranges(v)) {
      Member m = range.owner();
      out.add(
          Reply.array(
              List.of(
                  Reply.integer(range.first()),
                  Reply.integer(range.last()),
                  Reply.array(
                      List.of(
                          Reply.bulk(m.host()),
                          Reply.integer(m.clientPort()),
                          Reply.bulk(m.id()),
                          Reply.map(List.of()))))));
    }
    return Reply.array(out);
  }

  private static Reply shards(ClusterView v) {
    Map<String, List<Reply>> slotsByOwner = new LinkedHashMap<>();
    for (Range range : ranges(v)) {
      List<Reply> l = slotsByOwner.computeIfAbsent(range.owner().id(), k -> new ArrayList<>());
      l.add(Reply.integer(range.first()));
      l.add(Reply.integer(range.last()));
    }
    List<Reply> out = new ArrayList<>();
    for (Member m : v.members().values()) {
      List<Reply> slots = slotsByOwner.getOrDefault(m.id(), List.of());
      Reply node =
          Reply.map(
              List.of(
                  Reply.bulk("id"), Reply.bulk(m.id()),
                  Reply.bulk("port"), Reply.integer(m.clientPort()),
                  Reply.bulk("ip"), Reply.bulk(m.host()),
                  Reply.bulk("endpoint"), Reply.bulk(m.host()),
                  Reply.bulk("role"), Reply.bulk("master"),
                  Reply.bulk("replication-offset"), Reply.integer(0),
                  Reply.bulk("health"),
                      Reply.bulk(m.state() == MemberState.UP ? "online" : "failed")));
      out.add(
          Reply.map(
              List.of(
                  Reply.bulk("slots"),
                  Reply.array(slots),
                  Reply.bulk("nodes"),
                  Reply.array(List.of(node)))));
    }
    return Reply.array(out);
  }

  private static String nodes(Node n, ClusterView v) {
    Map<String, StringBuilder> slotText = new LinkedHashMap<>();
    for (Range range : ranges(v)) {
      StringBuilder b = slotText.computeIfAbsent(range.owner().id(), k -> new StringBuilder());
      b.append(' ').append(range.first());
      if (range.last() != range.first()) {
        b.append('-').append(range.last());
      }
    }
    StringBuilder out = new StringBuilder();
    for (Member m : v.members().values()) {
      String flags =
          (m.id().equals(n.selfId) ? "myself," : "")
              + "master"
              + (m.state() == MemberState.DOWN ? ",fail" : "");
      out.append(m.id())
          .append(' ')
          .append(m.host())
          .append(':')
          .append(m.clientPort())
          .append('@')
          .append(m.peerPort())
          .append(' ')
          .append(flags)
          .append(" - 0 0 ")
          .append(v.version())
          .append(' ')
          .append(m.state() == MemberState.DOWN ? "disconnected" : "connected")
          .append(slotText.getOrDefault(m.id(), new StringBuilder()))
          .append('\n');
    }
    return out.toString();
  }
}
