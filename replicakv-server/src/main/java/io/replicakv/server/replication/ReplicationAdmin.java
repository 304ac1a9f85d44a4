package io.replicakv.server.replication;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.single.PartitionReplica;
import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespEncoder;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.KeyspaceEntry;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.command.Command;
import io.replicakv.server.command.Dispatcher;
import io.replicakv.server.command.Node;
import io.replicakv.server.command.Session;
import io.replicakv.server.replication.ReplicationLoop.GroupKey;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.MutationCodec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Operator commands of single-leader replication, on any cluster node:
 *
 * <ul>
 *   <li>{@code REPLICATION SWITCHOVER <keyspace> <slot|ALL> [TO <node>]}: a planned switchover
 *       ({@link Switchover}) of the group holding {@code slot}, or of every group of the keyspace
 *       (with {@code TO}: every group listing that node and not led by it). One group: a status
 *       line once the new leader serves, or an error that says what happened. {@code ALL}: an array
 *       of such lines, each starting with {@code OK} or an error code.
 *   <li>{@code REPLICATION DRAIN <node>}: switches every group that {@code node} leads, in every
 *       replicated keyspace, to another in-sync replica (maintenance); lines as for {@code ALL}.
 *       The preferred-leader return leaves a drained node alone until it has been seen not UP
 *       (restarted) or is named as a switchover target.
 *   <li>{@code REPLICATION DIVERGENT [keyspace|ALL] [LOCAL]}: the divergent writes (writes a
 *       returning old leader truncated from its log because the group's new leader never received
 *       them; possible with {@code acks=none}) of every member, or of this node with {@code LOCAL}:
 *       rows {@code [node, keyspace, group, epoch, offset, key, operation]}; a member that could
 *       not be asked gives a row {@code [node, "unreachable", reason]}. Each node keeps the newest
 *       {@link DivergentWritesFile#KEPT_MAX} on disk (they survive compaction, a replica that
 *       starts over, a re-formed group and restarts); the metric counts all.
 *   <li>{@code REPLICATION GROUPS [keyspace [slot]]}: rows {@code [keyspace, group, replicas,
 *       leader, epoch]}, replicas comma separated in preference order (the first is the preferred
 *       leader).
 *   <li>{@code REPLICATION SERVING <keyspace> <group> <epoch>} (between nodes): 1 when this node
 *       leads the group in that epoch with a valid lease and its epoch start committed.
 * </ul>
 *
 * <p>Controllers live on the metadata leader, which a node cannot name; a switchover asked
 * elsewhere is sent to every other member as a forwarded command ({@link PeerCommands}); members
 * that host no controllers answer {@code NOTCONTROLLER} and the one that does runs it.
 */
public final class ReplicationAdmin {
  private ReplicationAdmin() {}

  /** Characters of a key or a value shown in a divergent-writes row; longer ones are cut. */
  static final int SHOWN_CHARS_MAX = 256;

  /** The command table entry. */
  public static List<Command> commands() {
    return List.of(
        new Command(
            "replication",
            -2,
            Set.of("admin"),
            0,
            0,
            0,
            "server",
            "Single-leader replication: planned switchover, drain a node, divergent writes.",
            ReplicationAdmin::run,
            List.of("switchover", "drain", "divergent", "groups", "serving")));
  }

  private static Reply run(Node node, Session session, RespRequest r) {
    ReplicationLoop replication = node.replication;
    if (replication == null) {
      return Reply.error("ERR REPLICATION needs a cluster node with replication on");
    }
    String sub = r.argString(1).toLowerCase(Locale.ROOT);
    boolean forwarded = session.remoteReply != null;
    try {
      switch (sub) {
        case "switchover" -> {
          if (r.argc() != 4 && !(r.argc() == 6 && r.argEqualsIgnoreCase(4, "TO"))) {
            return Reply.error(
                "ERR usage: REPLICATION SWITCHOVER <keyspace> <slot|ALL> [TO <node-id>]");
          }
          int keyspace = keyspace(node, r.argString(2));
          String where = r.argString(3);
          Integer slot = where.equalsIgnoreCase("ALL") ? null : Integer.parseInt(where);
          String to = r.argc() == 6 ? r.argString(5) : null;
          return pending(
              session,
              switchover(replication, forwarded, keyspace, slot, to)
                  .thenApply(outcomes -> outcomesReply(outcomes, slot != null)));
        }
        case "drain" -> {
          if (r.argc() != 3) {
            return Reply.error("ERR usage: REPLICATION DRAIN <node-id>");
          }
          return pending(
              session,
              drain(replication, forwarded, r.argString(2))
                  .thenApply(outcomes -> outcomesReply(outcomes, false)));
        }
        case "divergent" -> {
          Integer keyspace = null;
          boolean local = false;
          for (int i = 2; i < r.argc(); i++) {
            String arg = r.argString(i);
            if (arg.equalsIgnoreCase("LOCAL")) {
              local = true;
            } else if (!arg.equalsIgnoreCase("ALL")) {
              keyspace = keyspace(node, arg);
            }
          }
          List<List<String>> rows = localDivergent(replication, keyspace);
          if (local) {
            return rowsReply(rows);
          }
          return pending(
              session, divergent(replication, keyspace).thenApply(ReplicationAdmin::rowsReply));
        }
        case "groups" -> {
          Integer keyspace = r.argc() > 2 ? keyspace(node, r.argString(2)) : null;
          Integer slot = r.argc() > 3 ? Integer.parseInt(r.argString(3)) : null;
          return rowsReply(groups(replication, keyspace, slot));
        }
        case "serving" -> {
          if (r.argc() != 5) {
            return Reply.error("ERR usage: REPLICATION SERVING <keyspace> <group> <epoch>");
          }
          PartitionReplica replica =
              replication.replicaOf(
                  new GroupKey(Integer.parseInt(r.argString(2)), Integer.parseInt(r.argString(3))));
          return Reply.integer(
              replica != null && Switchover.serves(replica, Long.parseLong(r.argString(4)))
                  ? 1
                  : 0);
        }
        default -> {
          return Reply.error(
              "ERR unknown REPLICATION subcommand '"
                  + sub
                  + "': SWITCHOVER, DRAIN, DIVERGENT, GROUPS or SERVING");
        }
      }
    } catch (NumberFormatException e) {
      return Reply.error("ERR not a number: " + e.getMessage());
    } catch (IllegalArgumentException e) {
      return Reply.error("ERR " + e.getMessage());
    }
  }

  private static Reply pending(Session session, CompletableFuture<Reply> reply) {
    int protocol = session.protocol;
    session.forwarded =
        reply.handle(
            (answer, error) ->
                encode(
                    error != null ? Reply.error("ERR " + rootMessage(error)) : answer, protocol));
    return Dispatcher.FORWARDED;
  }

  // ---------------------------------------------------------------- switchover

  /** One group's outcome as the operator reads it (the text carries the group). */
  public record Outcome(boolean ok, String text) {}

  /**
   * Switches the group of {@code slot} (null: every group) of {@code keyspace} over, to {@code to}
   * or the best follower; runs on the controller host, reached from here when needed. Loop thread;
   * completes on any thread.
   */
  public static CompletableFuture<List<Outcome>> switchover(
      ReplicationLoop replication, boolean forwarded, int keyspace, Integer slot, String to) {
    ReplicaGroups groups = replication.groupsOf(keyspace);
    if (groups == null) {
      return single(false, "ERR keyspace " + keyspace + " is not replicated single-leader");
    }
    if (slot != null && (slot < 0 || slot >= io.replicakv.core.ring.Slots.SLOT_COUNT)) {
      return single(
          false,
          "ERR slot " + slot + " outside 0.." + (io.replicakv.core.ring.Slots.SLOT_COUNT - 1));
    }
    if (replication.controlledGroups().isEmpty()) {
      List<String> args = new ArrayList<>(List.of("REPLICATION", "SWITCHOVER"));
      args.add(Integer.toString(keyspace));
      args.add(slot == null ? "ALL" : Integer.toString(slot));
      if (to != null) {
        args.add("TO");
        args.add(to);
      }
      return onControllerHost(replication, forwarded, keyspace, args);
    }
    List<CompletableFuture<Switchover.Outcome>> started = new ArrayList<>();
    if (slot != null) {
      ReplicaGroups.Group group = groups.groupOfSlot(slot);
      if (group == null) {
        return single(false, "ERR slot " + slot + " is in no replica group yet");
      }
      started.add(replication.switchover().start(new GroupKey(keyspace, group.id()), to));
    } else {
      for (ReplicaGroups.Group group : groups.groups().values()) {
        GroupKey key = new GroupKey(keyspace, group.id());
        if (to != null) {
          var controller = replication.controllerOf(key);
          if (!group.replicas().contains(to)
              || (controller != null && controller.leader() == ReplicaIds.of(to))) {
            continue;
          }
        }
        started.add(replication.switchover().start(key, to));
      }
    }
    return collect(started);
  }

  /** Switches every group {@code member} leads to another replica. */
  public static CompletableFuture<List<Outcome>> drain(
      ReplicationLoop replication, boolean forwarded, String member) {
    ClusterView view = replication.view();
    if (view == null || !view.members().containsKey(member)) {
      return single(false, "ERR no member " + member);
    }
    if (replication.controlledGroups().isEmpty()) {
      return onControllerHost(replication, forwarded, 0, List.of("REPLICATION", "DRAIN", member));
    }
    return collect(replication.switchover().drain(member));
  }

  private static CompletableFuture<List<Outcome>> collect(
      List<CompletableFuture<Switchover.Outcome>> started) {
    return CompletableFuture.allOf(started.toArray(new CompletableFuture<?>[0]))
        .thenApply(
            done -> {
              List<Outcome> out = new ArrayList<>();
              for (CompletableFuture<Switchover.Outcome> one : started) {
                Switchover.Outcome o = one.join();
                out.add(new Outcome(o.ok(), o.text()));
              }
              return out;
            });
  }

  private static CompletableFuture<List<Outcome>> single(boolean ok, String text) {
    return CompletableFuture.completedFuture(List.of(new Outcome(ok, text)));
  }

  /** Error code of a member that does not host the controllers. */
  static final String NOT_CONTROLLER = "NOTCONTROLLER";

  /**
   * Sends {@code args} to every other member and keeps the answer of the one that hosts the
   * controllers. A forwarded request is not sent on: this node answers NOTCONTROLLER.
   */
  private static CompletableFuture<List<Outcome>> onControllerHost(
      ReplicationLoop replication, boolean forwarded, int keyspace, List<String> args) {
    if (forwarded) {
      return single(
          false, NOT_CONTROLLER + " " + replication.selfId() + " hosts no replication controllers");
    }
    ClusterView view = replication.view();
    if (view == null) {
      return single(false, "TRYAGAIN this node has no cluster view yet");
    }
    List<CompletableFuture<Object>> asked = new ArrayList<>();
    List<String> members = new ArrayList<>();
    for (Member m : view.members().values()) {
      if (m.id().equals(replication.selfId()) || m.state() == MemberState.LEFT) {
        continue;
      }
      members.add(m.id());
      asked.add(
          PeerCommands.call(replication, view, m.id(), keyspace, args.toArray(String[]::new))
              .exceptionally(
                  error -> new PeerCommands.Error("unreachable: " + rootMessage(error))));
    }
    return CompletableFuture.allOf(asked.toArray(new CompletableFuture<?>[0]))
        .thenApply(
            done -> {
              List<String> notes = new ArrayList<>();
              for (int i = 0; i < asked.size(); i++) {
                Object answer = asked.get(i).join();
                String passed = notControllerNote(answer);
                if (passed != null) {
                  notes.add(members.get(i) + ": " + passed);
                  continue;
                }
                return outcomesOf(answer);
              }
              return List.of(
                  new Outcome(
                      false,
                      "TRYAGAIN no member hosts the replication controllers now (metadata leader"
                          + " unknown or changing): "
                          + String.join("; ", notes)));
            });
  }

  /**
   * Why a member's answer is not the controller host's, or null when it is: it was unreachable, or
   * it answered NOTCONTROLLER (an error for a one-group request, the only line of a many-group
   * answer).
   */
  private static String notControllerNote(Object answer) {
    String text = null;
    if (answer instanceof PeerCommands.Error e) {
      text = e.message();
    } else if (answer instanceof String line) {
      text = line;
    } else if (answer instanceof List<?> lines && lines.size() == 1) {
      text = String.valueOf(lines.get(0));
    }
    if (text != null && (text.startsWith(NOT_CONTROLLER) || text.startsWith("unreachable"))) {
      return text;
    }
    return null;
  }

  /** Reads back what {@link #outcomesReply} wrote on another node. */
  private static List<Outcome> outcomesOf(Object answer) {
    List<Outcome> out = new ArrayList<>();
    if (answer instanceof PeerCommands.Error e) {
      out.add(new Outcome(false, e.message()));
    } else if (answer instanceof String s) {
      out.add(new Outcome(true, s));
    } else if (answer instanceof List<?> lines) {
      for (Object line : lines) {
        String text = String.valueOf(line);
        boolean ok = text.startsWith("OK ");
        out.add(new Outcome(ok, ok ? text.substring(3) : text));
      }
    } else {
      out.add(new Outcome(false, "ERR unexpected answer " + answer));
    }
    return out;
  }

  private static Reply outcomesReply(List<Outcome> outcomes, boolean oneGroup) {
    if (oneGroup && outcomes.size() == 1) {
      Outcome o = outcomes.get(0);
      return o.ok() ? Reply.simple(o.text()) : Reply.error(o.text());
    }
    List<Reply> lines = new ArrayList<>();
    for (Outcome o : outcomes) {
      lines.add(Reply.bulk(o.ok() ? "OK " + o.text() : o.text()));
    }
    return Reply.array(lines);
  }

  // ---------------------------------------------------------------- groups

  /**
   * Every replica group of the replicated keyspaces (or of one): keyspace, group id, replicas in
   * preference order (the first is the preferred leader), leader and epoch as this node knows them
   * (its own replica's view, else the metadata record). Loop thread.
   */
  static List<List<String>> groups(ReplicationLoop replication, Integer keyspace, Integer slot) {
    List<List<String>> rows = new ArrayList<>();
    ClusterView view = replication.view();
    for (int ks : new java.util.TreeSet<>(replication.replicatedKeyspaces())) {
      ReplicaGroups groups = replication.groupsOf(ks);
      if ((keyspace != null && ks != keyspace) || groups == null) {
        continue;
      }
      for (ReplicaGroups.Group group : groups.groups().values()) {
        if (slot != null && groups.groupOfSlot(slot) != group) {
          continue;
        }
        GroupKey key = new GroupKey(ks, group.id());
        PartitionReplica replica = replication.replicaOf(key);
        String leader = "";
        long epoch = 0;
        if (replica != null) {
          leader =
              replica.leaderId() < 0
                  ? ""
                  : String.valueOf(replication.memberOf(replica.leaderId()));
          epoch = replica.epoch();
        } else if (view != null && view.replicaLeader(ks, group.id()) != null) {
          leader = view.replicaLeader(ks, group.id()).leader();
          epoch = view.replicaLeader(ks, group.id()).epoch();
        }
        rows.add(
            List.of(
                Integer.toString(ks),
                Integer.toString(group.id()),
                String.join(",", group.replicas()),
                leader,
                Long.toString(epoch)));
      }
    }
    return rows;
  }

  // ---------------------------------------------------------------- divergent writes

  /** Divergent writes kept by this node's replicas: rows as in the class comment. Loop thread. */
  public static List<List<String>> localDivergent(ReplicationLoop replication, Integer keyspace) {
    List<List<String>> rows = new ArrayList<>();
    for (DivergentWritesFile.Row row : replication.divergentRows()) {
      if (keyspace != null && row.keyspace() != keyspace) {
        continue;
      }
      String[] keyAndText = describe(row.write());
      rows.add(
          List.of(
              replication.selfId(),
              Integer.toString(row.keyspace()),
              Integer.toString(row.group()),
              Long.toString(row.epoch()),
              Long.toString(row.offset()),
              keyAndText[0],
              keyAndText[1]));
    }
    return rows;
  }

  /** This node's rows and every other member's ({@code LOCAL} on each). Loop thread. */
  public static CompletableFuture<List<List<String>>> divergent(
      ReplicationLoop replication, Integer keyspace) {
    List<List<String>> own = localDivergent(replication, keyspace);
    ClusterView view = replication.view();
    List<CompletableFuture<List<List<String>>>> asked = new ArrayList<>();
    if (view != null) {
      for (Member m : view.members().values()) {
        if (m.id().equals(replication.selfId()) || m.state() == MemberState.LEFT) {
          continue;
        }
        String id = m.id();
        asked.add(
            PeerCommands.call(
                    replication,
                    view,
                    id,
                    keyspace == null ? 0 : keyspace,
                    "REPLICATION",
                    "DIVERGENT",
                    keyspace == null ? "ALL" : Integer.toString(keyspace),
                    "LOCAL")
                .handle(
                    (answer, error) -> {
                      if (error != null || !(answer instanceof List<?> list)) {
                        String why = error != null ? rootMessage(error) : "answered " + answer;
                        return List.of(List.of(id, "unreachable", why));
                      }
                      List<List<String>> rows = new ArrayList<>();
                      for (Object row : list) {
                        List<String> fields = new ArrayList<>();
                        for (Object field : (List<?>) row) {
                          fields.add(String.valueOf(field));
                        }
                        rows.add(fields);
                      }
                      return rows;
                    }));
      }
    }
    return CompletableFuture.allOf(asked.toArray(new CompletableFuture<?>[0]))
        .thenApply(
            done -> {
              List<List<String>> all = new ArrayList<>(own);
              asked.forEach(one -> all.addAll(one.join()));
              return all;
            });
  }

  private static Reply rowsReply(List<List<String>> rows) {
    List<Reply> out = new ArrayList<>(rows.size());
    for (List<String> row : rows) {
      List<Reply> fields = new ArrayList<>(row.size());
      row.forEach(field -> fields.add(Reply.bulk(field)));
      out.add(Reply.array(fields));
    }
    return Reply.array(out);
  }

  /** The key and the operation as text of one log entry. */
  static String[] describe(Operation.Mutation operation) {
    return switch (operation) {
      case Operation.Put put -> new String[] {put.key(), "SET " + put.key() + " " + put.value()};
      case Operation.Write write -> {
        Mutation mutation;
        try {
          mutation = MutationCodec.decode(write.payload());
        } catch (RuntimeException e) {
          yield new String[] {write.key(), "(undecodable: " + e.getMessage() + ")"};
        }
        yield new String[] {write.key(), text(mutation)};
      }
    };
  }

  /** A mutation as the command that makes it, values cut at {@link #SHOWN_CHARS_MAX}. */
  static String text(Mutation mutation) {
    return switch (mutation) {
      case Mutation.StringSet m ->
          "SET "
              + shown(m.key())
              + " "
              + shown(m.value())
              + (m.expireAtMillis() > 0 ? " PXAT " + m.expireAtMillis() : "");
      case Mutation.Delete m -> "DEL " + shown(m.key());
      case Mutation.Expire m -> "PEXPIREAT " + shown(m.key()) + " " + m.expireAtMillis();
      case Mutation.HashSet m -> "HSET " + shown(m.key()) + joined(m.fieldsAndValues());
      case Mutation.HashDelete m -> "HDEL " + shown(m.key()) + joined(m.fields());
      case Mutation.SetAdd m -> "SADD " + shown(m.key()) + joined(m.members());
      case Mutation.SetRemove m -> "SREM " + shown(m.key()) + joined(m.members());
      case Mutation.Rename m -> "RENAME " + shown(m.from()) + " " + shown(m.to());
      case Mutation.FlushKeyspace m -> "FLUSHDB";
      case Mutation.FlushAll m -> "FLUSHALL";
      case Mutation.Batch m -> {
        List<String> parts = new ArrayList<>();
        m.parts().forEach(part -> parts.add(text(part)));
        yield String.join("; ", parts);
      }
    };
  }

  private static String joined(List<byte[]> items) {
    StringBuilder b = new StringBuilder();
    for (byte[] item : items) {
      b.append(' ').append(shown(item));
      if (b.length() > SHOWN_CHARS_MAX * 4) {
        return b.append(" ...").toString();
      }
    }
    return b.toString();
  }

  private static String shown(byte[] bytes) {
    String s = new String(bytes, StandardCharsets.UTF_8);
    return s.length() <= SHOWN_CHARS_MAX ? s : s.substring(0, SHOWN_CHARS_MAX) + "...";
  }

  // ---------------------------------------------------------------- helpers

  /** A keyspace by name or number. */
  public static int keyspace(Node node, String text) {
    ClusterView view = node.clusterView.get();
    if (view != null) {
      for (KeyspaceEntry entry : view.keyspaces().values()) {
        if (entry.name().equals(text)) {
          return entry.number();
        }
      }
    }
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("no keyspace named '" + text + "'");
    }
  }

  static String rootMessage(Throwable error) {
    Throwable t = error;
    while (t.getCause() != null
        && (t instanceof java.util.concurrent.CompletionException
            || t instanceof java.util.concurrent.ExecutionException)) {
      t = t.getCause();
    }
    return String.valueOf(t.getMessage());
  }

  private static byte[] encode(Reply reply, int protocol) {
    ByteBuf buffer = Unpooled.buffer(256);
    RespEncoder.encode(reply, protocol, buffer);
    byte[] bytes = new byte[buffer.readableBytes()];
    buffer.readBytes(bytes);
    buffer.release();
    return bytes;
  }
}
