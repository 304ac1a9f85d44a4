package io.replicakv.server.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.replicakv.server.command.Node;
import io.replicakv.server.replication.ReplicationAdmin;
import io.replicakv.server.replication.ReplicationLoop;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The HTTP face of {@link ReplicationAdmin}, run on the node loop:
 *
 * <ul>
 *   <li>{@code POST /admin/replication/switchover?keyspace=K&slot=S|all[&to=NODE]} or {@code
 *       ?drain=NODE}: answers once every switchover finished, {@code 200} when all succeeded,
 *       {@code 409} otherwise, with {@code {"ok":..., "outcomes":[{"ok":...,"text":...}]}}.
 *   <li>{@code GET /admin/replication/divergent[?keyspace=K]}: {@code {"divergent":[{node,
 *       keyspace, group, epoch, offset, key, operation}], "unreachable":[{node, reason}]}} over
 *       every member.
 * </ul>
 */
final class ReplicationHttp {
  private ReplicationHttp() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  static void switchover(Node node, ChannelHandlerContext ctx, FullHttpRequest request) {
    ReplicationLoop replication = node.replication;
    Map<String, List<String>> q = new QueryStringDecoder(request.uri()).parameters();
    if (!request.method().equals(HttpMethod.POST) || replication == null) {
      error(
          ctx,
          HttpResponseStatus.BAD_REQUEST,
          "use POST /admin/replication/switchover?keyspace=K&slot=S|all[&to=NODE] or ?drain=NODE"
              + " on a cluster node with replication on");
      return;
    }
    CompletableFuture<List<ReplicationAdmin.Outcome>> running;
    try {
      if (q.containsKey("drain")) {
        running = ReplicationAdmin.drain(replication, false, one(q, "drain"));
      } else {
        int keyspace = ReplicationAdmin.keyspace(node, one(q, "keyspace"));
        String slot = one(q, "slot");
        running =
            ReplicationAdmin.switchover(
                replication,
                false,
                keyspace,
                slot.equalsIgnoreCase("all") ? null : Integer.parseInt(slot),
                q.containsKey("to") ? one(q, "to") : null);
      }
    } catch (IllegalArgumentException e) {
      error(ctx, HttpResponseStatus.BAD_REQUEST, e.getMessage());
      return;
    }
    running.whenComplete(
        (outcomes, failure) -> {
          if (failure != null) {
            error(ctx, HttpResponseStatus.INTERNAL_SERVER_ERROR, String.valueOf(failure));
            return;
          }
          boolean ok = outcomes.stream().allMatch(ReplicationAdmin.Outcome::ok);
          List<Map<String, Object>> list = new ArrayList<>();
          for (ReplicationAdmin.Outcome o : outcomes) {
            list.add(Map.of("ok", o.ok(), "text", o.text()));
          }
          Map<String, Object> body = new LinkedHashMap<>();
          body.put("ok", ok);
          body.put("outcomes", list);
          json(ctx, ok ? HttpResponseStatus.OK : HttpResponseStatus.CONFLICT, body);
        });
  }

  static void divergent(Node node, ChannelHandlerContext ctx, FullHttpRequest request) {
    ReplicationLoop replication = node.replication;
    if (replication == null) {
      error(ctx, HttpResponseStatus.BAD_REQUEST, "replication is off on this node");
      return;
    }
    Map<String, List<String>> q = new QueryStringDecoder(request.uri()).parameters();
    Integer keyspace;
    try {
      keyspace =
          q.containsKey("keyspace") ? ReplicationAdmin.keyspace(node, one(q, "keyspace")) : null;
    } catch (IllegalArgumentException e) {
      error(ctx, HttpResponseStatus.BAD_REQUEST, e.getMessage());
      return;
    }
    ReplicationAdmin.divergent(replication, keyspace)
        .whenComplete(
            (rows, failure) -> {
              if (failure != null) {
                error(ctx, HttpResponseStatus.INTERNAL_SERVER_ERROR, String.valueOf(failure));
                return;
              }
              List<Map<String, Object>> writes = new ArrayList<>();
              List<Map<String, Object>> unreachable = new ArrayList<>();
              for (List<String> row : rows) {
                Map<String, Object> one = new LinkedHashMap<>();
                if (row.size() == 7) {
                  one.put("node", row.get(0));
                  one.put("keyspace", Integer.parseInt(row.get(1)));
                  one.put("group", Integer.parseInt(row.get(2)));
                  one.put("epoch", Long.parseLong(row.get(3)));
                  one.put("offset", Long.parseLong(row.get(4)));
                  one.put("key", row.get(5));
                  one.put("operation", row.get(6));
                  writes.add(one);
                } else {
                  one.put("node", row.get(0));
                  one.put("reason", row.size() > 2 ? row.get(2) : String.join(" ", row));
                  unreachable.add(one);
                }
              }
              Map<String, Object> body = new LinkedHashMap<>();
              body.put("divergent", writes);
              body.put("unreachable", unreachable);
              json(ctx, HttpResponseStatus.OK, body);
            });
  }

  private static String one(Map<String, List<String>> q, String name) {
    List<String> values = q.get(name);
    if (values == null || values.size() != 1) {
      throw new IllegalArgumentException("give exactly one '" + name + "' parameter");
    }
    return values.get(0);
  }

  private static void error(ChannelHandlerContext ctx, HttpResponseStatus status, String message) {
    json(ctx, status, Map.of("error", message));
  }

  private static void json(ChannelHandlerContext ctx, HttpResponseStatus status, Object body) {
    String text;
    try {
      text = JSON.writerWithDefaultPrettyPrinter().writeValueAsString(body) + "\n";
    } catch (java.io.IOException e) {
      text = "{}\n";
    }
    HttpAdmin.respond(ctx, status, "application/json", text);
  }
}
