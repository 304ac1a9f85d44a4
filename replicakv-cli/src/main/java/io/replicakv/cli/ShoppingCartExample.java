package io.replicakv.cli;

import io.replicakv.client.OfflineKeyspace;
import io.replicakv.client.OfflineRead;
import io.replicakv.client.OfflineSite;
import io.replicakv.client.ReplicaKvClient;
import io.replicakv.client.SyncStatus;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import redis.clients.jedis.HostAndPort;

/**
 * Library mode, shown with a shopping cart, written against the {@code replicakv-client} API only
 * ({@link OfflineSite}, {@link ReplicaKvClient}): a phone embeds a one-node site with its own
 * storage, edits the cart while offline, and syncs both ways with the shop's site when it comes
 * back online.
 *
 * <p>Two keyspaces show two conflict strategies: {@code carts} ({@code conflicts=crdt}: the cart is
 * an add-wins set, so an item added on one side survives a concurrent removal of other items on the
 * other, and nothing is lost) and {@code cart-notes} ({@code conflicts=siblings}: a delivery note
 * written on both sides while apart comes back as two siblings, which the phone resolves with a
 * write that carries the read's causal context).
 *
 * <p>The shop is either a second offline site in this JVM (the default, so the example runs with
 * one command and no server), or a running server site reached over RESP ({@code --server}), which
 * creates both keyspaces when the phone announces them:
 *
 * <pre>
 * bin/replicakv example shopping-cart
 * bin/replicakv up &amp;&amp; bin/replicakv example shopping-cart --server 127.0.0.1:6379
 * </pre>
 *
 * Steps: the phone adds bread and milk online; goes offline; removes bread, adds apples and writes
 * a note, while the shop adds eggs and writes its own note; comes back online; both sides converge
 * (cart apples, eggs, milk; the note with two siblings); the phone resolves the note.
 */
public final class ShoppingCartExample {
  /** How long each step may take to reach the other side. */
  static final long STEP_DEADLINE_MILLIS = 180_000;

  /** Polling pace while waiting for the other side. */
  static final long POLL_MILLIS = 100;

  /** Both sides at the end; equal when the sync worked. */
  record Result(
      SortedSet<String> phoneCart,
      SortedSet<String> shopCart,
      List<String> notesAfterSync,
      String phoneNote,
      String shopNote,
      SyncStatus phoneStatus) {}

  /** The shop's side of the example: a second offline site, or a server site over RESP. */
  interface Shop extends AutoCloseable {
    String site();

    void add(String key, String item);

    SortedSet<String> cart(String key);

    /** A blind write of the note (no context: it meets concurrent notes as a sibling). */
    void note(String key, String text);

    /** The note's single value, or null when the key holds none or several. */
    String note(String key);

    @Override
    void close();
  }

  private ShoppingCartExample() {}

  /**
   * {@code [<data-dir> [<server host:port>]]}: without a server both sites run here, in {@code
   * data-dir} or a new temporary folder; with one, the phone's data lives in {@code data-dir}
   * (default {@code .replicakv/example-phone}).
   */
  public static void main(String[] args) throws Exception {
    if (args.length > 2) {
      System.err.println("usage: ShoppingCartExample [<data-dir> [<server host:port>]]");
      System.exit(2);
    }
    String run = Long.toString(System.currentTimeMillis() / 1000);
    if (args.length == 2) {
      runWithServer(HostAndPort.from(args[1]), Path.of(args[0]), run, System.out);
    } else {
      Path dir = args.length == 1 ? Path.of(args[0]) : Files.createTempDirectory("replicakv-cart-");
      runStandalone(dir, run, System.out);
    }
  }

  /** The phone and a shop site, both embedded in this JVM, linked over 127.0.0.1. */
  static Result runStandalone(Path dataDir, String run, PrintStream out) throws Exception {
    int[] ports = freePorts(2);
    OfflineSite shop =
        OfflineSite.open(
            declare(
                OfflineSite.Options.of(dataDir.resolve("shop"), "shop")
                    .withPeerPort(ports[1])
                    .withLink("phone", "127.0.0.1", ports[0])));
    try (Shop embeddedShop = new EmbeddedShop(shop);
        OfflineSite phone =
            OfflineSite.open(
                declare(
                    OfflineSite.Options.of(dataDir.resolve("phone"), "phone")
                        .withPeerPort(ports[0])
                        .withLink("shop", "127.0.0.1", ports[1])))) {
      return run(phone, embeddedShop, run, out);
    }
  }

  /**
   * The phone against the server site at {@code server} (RESP): links the server back to the phone
   * ({@code SITE LINK ADD}) and lets the phone's announcements create the keyspaces there.
   */
  static Result runWithServer(HostAndPort server, Path dataDir, String run, PrintStream out)
      throws Exception {
    try (ReplicaKvClient admin =
        new ReplicaKvClient(List.of(server), ReplicaKvClient.Options.defaults())) {
      // a server answers PING before its cluster part (and SITE) is up
      String info = until("the server site answers SITE INFO", () -> siteInfo(admin));
      String serverSite = field(info, "site");
      int serverPeerPort = until("the server lists its peer port", () -> peerPort(admin));
      try (OfflineSite phone =
          OfflineSite.open(
              declare(
                  OfflineSite.Options.of(dataDir, "phone")
                      .withLink(serverSite, server.getHost(), serverPeerPort)))) {
        admin.command("SITE", "LINK", "ADD", "phone", "127.0.0.1:" + phone.peerPort());
        out.println(
            "phone site listens on 127.0.0.1:"
                + phone.peerPort()
                + ", server site "
                + serverSite
                + " at "
                + server);
        long carts = until("the server creates carts", () -> keyspaceNumber(admin, "carts"));
        long notes =
            until("the server creates cart-notes", () -> keyspaceNumber(admin, "cart-notes"));
        try (Shop shop = new ServerShop(serverSite, server, carts, notes)) {
          return run(phone, shop, run, out);
        }
      }
    }
  }

  private static OfflineSite.Options declare(OfflineSite.Options options) {
    return options
        .withKeyspace("carts", Map.of("conflicts", "crdt"))
        .withKeyspace("cart-notes", Map.of("conflicts", "siblings"));
  }

  /** The example's steps, the same whichever the shop is. */
  static Result run(OfflineSite phone, Shop shop, String run, PrintStream out) throws Exception {
    String cartKey = "cart:alice:" + run;
    String noteKey = "note:alice:" + run;
    OfflineKeyspace carts = phone.keyspace("carts").orElseThrow();
    OfflineKeyspace notes = phone.keyspace("cart-notes").orElseThrow();

    carts.add(cartKey, "bread");
    carts.add(cartKey, "milk");
    waitFor(
        "the shop sees the phone's cart and the phone has nothing pending",
        () -> shop.cart(cartKey).equals(carts.members(cartKey)) && phone.syncStatus().inSync());
    out.println("online:  phone " + carts.members(cartKey) + "  shop " + shop.cart(cartKey));

    phone.setOnline(false);
    carts.remove(cartKey, "bread");
    carts.add(cartKey, "apples");
    notes.set(noteKey, "ring twice");
    shop.add(cartKey, "eggs");
    shop.note(noteKey, "leave at the door");
    SyncStatus offline = phone.syncStatus();
    out.println(
        "offline: phone "
            + carts.members(cartKey)
            + "  shop "
            + shop.cart(cartKey)
            + "  (phone connected="
            + offline.connected()
            + ", pending out="
            + offline.pendingOut()
            + ")");

    phone.setOnline(true);
    waitFor(
        "both sides hold the same cart and the phone has nothing pending",
        () ->
            carts.members(cartKey).equals(shop.cart(cartKey))
                && notes.read(noteKey).values().size() == 2
                && phone.syncStatus().inSync());
    OfflineRead note = notes.read(noteKey);
    out.println(
        "synced:  phone "
            + carts.members(cartKey)
            + "  shop "
            + shop.cart(cartKey)
            + "  note siblings "
            + note.values());

    List<String> siblings = note.values();
    notes.set(noteKey, String.join("; ", siblings), note.context());
    waitFor(
        "the resolved note reaches the shop and the phone has nothing pending",
        () ->
            notes.read(noteKey).values().size() == 1
                && shop.note(noteKey) != null
                && phone.syncStatus().inSync());
    SyncStatus status = phone.syncStatus();
    out.println(
        "resolved: note "
            + notes.get(noteKey).orElse("")
            + "  (phone in sync="
            + status.inSync()
            + ", pending out="
            + status.pendingOut()
            + ", in="
            + status.pendingIn()
            + ")");
    return new Result(
        carts.members(cartKey),
        shop.cart(cartKey),
        siblings,
        notes.get(noteKey).orElse(""),
        shop.note(noteKey),
        status);
  }

  /** The shop as a second offline site. */
  private record EmbeddedShop(OfflineSite offline) implements Shop {
    @Override
    public String site() {
      return offline.name();
    }

    @Override
    public void add(String key, String item) {
      offline.keyspace("carts").orElseThrow().add(key, item);
    }

    @Override
    public SortedSet<String> cart(String key) {
      return offline.keyspace("carts").orElseThrow().members(key);
    }

    @Override
    public void note(String key, String text) {
      offline
          .keyspace("cart-notes")
          .orElseThrow()
          .set(key, text, io.replicakv.client.CausalContext.EMPTY);
    }

    @Override
    public String note(String key) {
      List<String> values = offline.keyspace("cart-notes").orElseThrow().read(key).values();
      return values.size() == 1 ? values.get(0) : null;
    }

    @Override
    public void close() {
      offline.close();
    }
  }

  /** The shop as a server site, over RESP with the session-carrying client. */
  private static final class ServerShop implements Shop {
    private final String site;
    private final ReplicaKvClient carts;
    private final ReplicaKvClient notes;

    ServerShop(String site, HostAndPort server, long cartsNumber, long notesNumber) {
      this.site = site;
      this.carts =
          new ReplicaKvClient(
              List.of(server), ReplicaKvClient.Options.defaults().withKeyspace((int) cartsNumber));
      this.notes =
          new ReplicaKvClient(
              List.of(server), ReplicaKvClient.Options.defaults().withKeyspace((int) notesNumber));
    }

    @Override
    public String site() {
      return site;
    }

    @Override
    public void add(String key, String item) {
      carts.command("SADD", key, item);
    }

    @Override
    public SortedSet<String> cart(String key) {
      TreeSet<String> members = new TreeSet<>();
      if (carts.command("SMEMBERS", key) instanceof List<?> list) {
        list.forEach(m -> members.add(String.valueOf(m)));
      }
      return members;
    }

    @Override
    public void note(String key, String text) {
      notes.command("SET", key, text);
    }

    @Override
    public String note(String key) {
      try {
        return notes.command("GET", key) instanceof String text ? text : null;
      } catch (redis.clients.jedis.exceptions.JedisDataException e) {
        if (e.getMessage() != null && e.getMessage().startsWith("CONFLICT")) {
          return null; // siblings: GET refuses to pick one
        }
        throw e;
      }
    }

    @Override
    public void close() {
      carts.close();
      notes.close();
    }
  }

  private static String siteInfo(ReplicaKvClient admin) {
    try {
      String info = String.valueOf(admin.command("SITE", "INFO"));
      return info.contains("site:") ? info : null;
    } catch (RuntimeException e) {
      return null; // not up yet
    }
  }

  /** The peer port of the node answering, from its CLUSTER NODES line ("myself"). */
  private static Integer peerPort(ReplicaKvClient admin) {
    try {
      for (String line : String.valueOf(admin.command("CLUSTER", "NODES")).split("\r?\n")) {
        String[] fields = line.split(" ");
        if (fields.length > 2 && fields[2].contains("myself")) {
          return Integer.parseInt(fields[1].substring(fields[1].indexOf('@') + 1));
        }
      }
    } catch (RuntimeException e) {
      // not up yet
    }
    return null;
  }

  /** The number of keyspace {@code name} at the server, from KEYSPACE LIST; null if absent. */
  static Long keyspaceNumber(ReplicaKvClient admin, String name) {
    Object listed;
    try {
      listed = admin.command("KEYSPACE", "LIST");
    } catch (RuntimeException e) {
      return null;
    }
    List<List<?>> entries = new ArrayList<>();
    collect(listed, entries);
    for (List<?> entry : entries) {
      int nameAt = entry.indexOf("name");
      int numberAt = entry.indexOf("number");
      if (nameAt >= 0
          && numberAt >= 0
          && nameAt + 1 < entry.size()
          && numberAt + 1 < entry.size()
          && name.equals(entry.get(nameAt + 1))
          && entry.get(numberAt + 1) instanceof Long number) {
        return number;
      }
    }
    return null;
  }

  private static void collect(Object reply, List<List<?>> entries) {
    if (reply instanceof List<?> list) {
      if (list.contains("name") && list.contains("number")) {
        entries.add(list);
      }
      list.forEach(item -> collect(item, entries));
    }
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

  private static <T> T until(String what, Supplier<T> call) throws InterruptedException {
    long deadline = System.currentTimeMillis() + STEP_DEADLINE_MILLIS;
    T value = call.get();
    while (value == null) {
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException("gave up after " + STEP_DEADLINE_MILLIS + " ms: " + what);
      }
      Thread.sleep(POLL_MILLIS); // polling pace; the deadline bounds the wait
      value = call.get();
    }
    return value;
  }

  private static void waitFor(String what, BooleanSupplier condition) throws InterruptedException {
    until(what, () -> condition.getAsBoolean() ? Boolean.TRUE : null);
  }

  private static int[] freePorts(int count) throws IOException {
    ServerSocket[] held = new ServerSocket[count];
    int[] ports = new int[count];
    try {
      for (int i = 0; i < count; i++) {
        held[i] = new ServerSocket();
        held[i].bind(new InetSocketAddress("127.0.0.1", 0));
        ports[i] = held[i].getLocalPort();
      }
      return ports;
    } finally {
      for (ServerSocket socket : held) {
        if (socket != null) {
          socket.close();
        }
      }
    }
  }
}
