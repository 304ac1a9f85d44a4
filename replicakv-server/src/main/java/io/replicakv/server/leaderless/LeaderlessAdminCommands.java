package io.replicakv.server.leaderless;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespEncoder;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.KeyspaceEntry;
import io.replicakv.server.command.Command;
import io.replicakv.server.command.Dispatcher;
import io.replicakv.server.command.Node;
import io.replicakv.server.command.Session;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Operator commands for leaderless keyspaces, on any keyspace (they name the one they act on).
 *
 * <ul>
 *   <li>{@code KV.REPAIR [keyspace]} (name or number; the selected keyspace when omitted) runs an
 *       anti-entropy pass over every member now ({@link LeaderlessRepair}) and answers, when it is
 *       over, a map: keyspace, rounds, exchanges_started, pairs_skipped, keys_compared,
 *       differing_keys, keys_repaired, bytes_shipped, partitions_differing, converged (1/0),
 *       unreachable (member ids, comma separated), millis. It can take seconds to minutes; the
 *       client waits.
 *   <li>{@code KV.HINTS [keyspace]} answers a map of owner member id to the number of keys this
 *       node holds hints for, owners with none left out (empty when all are handed off).
 * </ul>
 */
public final class LeaderlessAdminCommands {
  private LeaderlessAdminCommands() {}

  /** The command table entries. */
  public static List<Command> commands() {
    return List.of(
        new Command(
            "kv.repair",
            -1,
            Set.of("admin"),
            0,
            0,
            0,
            "leaderless",
            "Runs an anti-entropy pass over a leaderless keyspace now and reports what it repaired.",
            LeaderlessAdminCommands::repair,
            List.of()),
        new Command(
            "kv.hints",
            -1,
            Set.of("admin", "readonly"),
            0,
            0,
            0,
            "leaderless",
            "Hints this node holds for other members of a leaderless keyspace, per owner.",
            LeaderlessAdminCommands::hints,
            List.of()));
  }

  private static Reply repair(Node node, Session session, io.replicakv.net.resp.RespRequest r) {
    LeaderlessKeyspaces keyspaces = node.leaderless;
    if (keyspaces == null) {
      return Reply.error("ERR KV.REPAIR needs a cluster node with leaderless keyspaces");
    }
    int keyspace;
    try {
      keyspace = keyspaceArgument(node, session, r);
    } catch (IllegalArgumentException e) {
      return Reply.error("ERR " + e.getMessage());
    }
    if (!keyspaces.serves(keyspace)) {
      return Reply.error(
          "ERR keyspace " + keyspace + " is not a leaderless keyspace served on this node");
    }
    int protocol = session.protocol;
    session.forwarded =
        keyspaces
            .repair(keyspace)
            .handle(
                (report, error) ->
                    encode(
                        error != null
                            ? Reply.error("ERR repair failed: " + error.getMessage())
                            : asMap(report.fields()),
                        protocol));
    return Dispatcher.FORWARDED;
  }

  private static Reply hints(Node node, Session session, io.replicakv.net.resp.RespRequest r) {
    LeaderlessKeyspaces keyspaces = node.leaderless;
    if (keyspaces == null) {
      return Reply.error("ERR KV.HINTS needs a cluster node with leaderless keyspaces");
    }
    int keyspace;
    try {
      keyspace = keyspaceArgument(node, session, r);
    } catch (IllegalArgumentException e) {
      return Reply.error("ERR " + e.getMessage());
    }
    LeaderlessService service = keyspaces.service(keyspace);
    if (service == null) {
      return Reply.error(
          "ERR keyspace " + keyspace + " is not a leaderless keyspace served on this node");
    }
    Map<String, Object> fields = new TreeMap<>();
    service.hintsByOwner().forEach((owner, count) -> fields.put(owner, (long) count));
    return asMap(fields);
  }

  /** The keyspace named by argument 1 (name or number), or the session's. */
  static int keyspaceArgument(Node node, Session session, io.replicakv.net.resp.RespRequest r) {
    if (r.argc() < 2) {
      return session.keyspace;
    }
    String name = new String(r.arg(1), StandardCharsets.UTF_8);
    ClusterView view = node.clusterView.get();
    if (view != null) {
      for (KeyspaceEntry entry : view.keyspaces().values()) {
        if (entry.name().equals(name)) {
          return entry.number();
        }
      }
    }
    try {
      return Integer.parseInt(name);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("no keyspace named '" + name + "'");
    }
  }

  private static Reply asMap(Map<String, Object> fields) {
    List<Reply> flat = new ArrayList<>();
    fields.forEach(
        (name, value) -> {
          flat.add(Reply.bulk(name));
          flat.add(
              value instanceof Long number ? Reply.integer(number) : Reply.bulk(value.toString()));
        });
    return Reply.map(flat);
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
