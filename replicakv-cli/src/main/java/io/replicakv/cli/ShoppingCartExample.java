package io.replicakv.cli;

import io.replicakv.server.multi.EmbeddedSite;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.SortedSet;
import java.util.function.BooleanSupplier;

/**
 * Library mode, shown with a shopping cart: a phone embeds a one-node site ({@link EmbeddedSite})
 * with its own storage, edits the cart while offline, and syncs both ways with a server site when
 * it comes back online. The cart is a {@code conflicts=crdt} set (add-wins), so an item added on
 * one side survives a concurrent removal of other items on the other, and nothing is lost.
 *
 * <pre>
 * bin/replicakv up                      # a server site (site-1) on 6379, peer port 26379
 * java -cp 'replicakv-cli/target/replicakv-cli-0.1.0-SNAPSHOT.jar:replicakv-cli/target/lib/*' \
 *     io.replicakv.cli.ShoppingCartExample 6379 26379 /tmp/phone
 * </pre>
 *
 * Steps: link the server site to the phone ({@code SITE LINK ADD phone 127.0.0.1:port}) and the
 * phone to the server, create the keyspace {@code carts} at the server (announced to the phone),
 * add bread and milk online; go offline; at the phone remove bread and add apples, at the server
 * add eggs; go online; wait until both sides hold the same cart.
 */
public final class ShoppingCartExample {
  /** How long each step may take to reach the other side. */
  static final long STEP_DEADLINE_MILLIS = 120_000;

  /** Polling pace while waiting for the other side. */
  static final long POLL_MILLIS = 100;

  /** Both sides' carts at the end; equal when the sync worked. */
  record Result(SortedSet<String> phone, String server, long keyspaceNumber) {}

  private ShoppingCartExample() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println(
          "usage: ShoppingCartExample <server-resp-port> <server-peer-port> <data-dir>");
      System.exit(2);
    }
    run(Integer.parseInt(args[0]), Integer.parseInt(args[1]), Path.of(args[2]), System.out);
  }

  /** Runs the example against the server site at 127.0.0.1:{@code respPort}/{@code peerPort}. */
  static Result run(int respPort, int peerPort, Path dataDir, PrintStream out) throws Exception {
    // a server answers PING before its cluster part (and SITE) is up
    String serverSite =
        field(
            until(() -> LocalCluster.query(respPort, "SITE INFO"), r -> r.contains("site:")),
            "site");
    try (EmbeddedSite phone =
        EmbeddedSite.open(dataDir, "phone", 0, serverSite + "@127.0.0.1:" + peerPort)) {
      out.println(
          "phone site listens on 127.0.0.1:" + phone.peerPort() + ", server site " + serverSite);
      expect(
          LocalCluster.query(respPort, "SITE LINK ADD phone 127.0.0.1:" + phone.peerPort()), "+OK");
      String created =
          until(
              () ->
                  LocalCluster.query(
                      respPort, "KEYSPACE CREATE carts style multi-leader conflicts crdt"),
              reply -> reply.startsWith(":") || reply.contains("exists"));
      long number =
          created.startsWith(":")
              ? Long.parseLong(created.substring(1).trim())
              : keyspaceNumber(respPort);
      waitFor("the phone learns keyspace carts", () -> phone.keyspace("carts").isPresent());
      EmbeddedSite.Keyspace carts = phone.keyspace("carts").orElseThrow();

      carts.add("cart:alice", "bread");
      carts.add("cart:alice", "milk");
      waitFor(
          "the server sees the phone's cart", () -> server(respPort, number).equals("bread,milk"));
      out.println(
          "online:  phone " + carts.members("cart:alice") + "  server " + server(respPort, number));

      phone.setOnline(false);
      carts.remove("cart:alice", "bread");
      carts.add("cart:alice", "apples");
      expect(String.valueOf(query(respPort, number, "SADD", "cart:alice", "eggs")), ":1");
      out.println(
          "offline: phone " + carts.members("cart:alice") + "  server " + server(respPort, number));

      phone.setOnline(true);
      waitFor(
          "both sides hold the same cart",
          () -> String.join(",", carts.members("cart:alice")).equals(server(respPort, number)));
      Result result = new Result(carts.members("cart:alice"), server(respPort, number), number);
      out.println("synced:  phone " + result.phone() + "  server " + result.server());
      return result;
    }
  }

  /** The server's cart, members sorted and comma-joined. */
  static String server(int respPort, long keyspace) {
    Object reply = query(respPort, keyspace, "SMEMBERS", "cart:alice");
    java.util.TreeSet<String> members = new java.util.TreeSet<>();
    if (reply instanceof java.util.List<?> list) {
      list.forEach(m -> members.add(String.valueOf(m)));
    }
    return String.join(",", members);
  }

  private static Object query(int respPort, long keyspace, String... command) {
    return RespCalls.once(respPort, keyspace, command);
  }

  private static long keyspaceNumber(int respPort) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("number\r\n:(\\d+)\r\n\\$4\r\nname\r\n\\$5\r\ncarts\r\n")
            .matcher(LocalCluster.query(respPort, "KEYSPACE LIST"));
    if (!m.find()) {
      throw new IllegalStateException("keyspace carts not listed");
    }
    return Long.parseLong(m.group(1));
  }

  private static String field(String info, String name) {
    for (String line : info.split("\r?\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).replaceAll("^txt:", "").equals(name)) {
        return line.substring(colon + 1).trim();
      }
    }
    throw new IllegalStateException("no " + name + " in " + info);
  }

  private static void expect(String reply, String prefix) {
    if (!reply.startsWith(prefix)) {
      throw new IllegalStateException("expected " + prefix + ", got " + reply.trim());
    }
  }

  private static String until(
      java.util.function.Supplier<String> call, java.util.function.Predicate<String> done)
      throws InterruptedException {
    long deadline = System.currentTimeMillis() + STEP_DEADLINE_MILLIS;
    String reply = call.get();
    while (!done.test(reply)) {
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException(
            "gave up after " + STEP_DEADLINE_MILLIS + " ms: " + reply.trim());
      }
      Thread.sleep(POLL_MILLIS); // polling pace; the deadline bounds the wait
      reply = call.get();
    }
    return reply;
  }

  private static void waitFor(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.currentTimeMillis() + STEP_DEADLINE_MILLIS;
    while (!condition.getAsBoolean()) {
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException("gave up waiting until " + what);
      }
      Thread.sleep(POLL_MILLIS); // polling pace; the deadline bounds the wait
    }
  }
}
