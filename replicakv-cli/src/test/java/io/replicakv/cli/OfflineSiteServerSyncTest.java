package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.client.OfflineKeyspace;
import io.replicakv.client.OfflineRead;
import io.replicakv.client.OfflineSite;
import io.replicakv.client.ReplicaKvClient;
import io.replicakv.client.SyncStatus;
import io.replicakv.net.fault.FaultProxy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.HostAndPort;

/**
 * Library mode against a real server site process, through the client API only: an offline site
 * embedded in this JVM ("phone") and a server site ("hq") are linked through a fault proxy in each
 * direction; the phone declares a {@code siblings} and a {@code crdt} keyspace, which hq creates
 * from the announcement. Both edit the same keys while the proxies hold every byte, the link
 * returns, and the two sides converge key by key: concurrent notes as siblings (and a resolving
 * write settles them at hq too), the cart, counter and map merged. The phone's sync status goes
 * from disconnected with changes pending to connected with nothing pending, and hq's lag towards
 * the phone drains.
 */
class OfflineSiteServerSyncTest {
  /** Generous: five helpers share two cores, and a cut shows once the last contact is old. */
  private static final Duration DEADLINE = Duration.ofMinutes(4);

  private static final Duration POLL = Duration.ofMillis(200);

  @TempDir Path dir;

  @Test
  void phoneAndServerSiteEditThroughACutLinkAndConvergeKeyByKey() throws Exception {
    int[] ports = ServerProcess.freePorts(5);
    int respPort = ports[0];
    int hqPeerPort = ports[2];
    int phonePort = ports[4];
    try (ServerProcess hq =
            ServerProcess.start(
                dir.resolve("hq"),
                respPort,
                ports[1],
                "--set=node-id=hq",
                "--set=site=hq",
                "--set=cluster-voters=hq@127.0.0.1:" + ports[3],
                "--set=peer-port=" + hqPeerPort,
                "--set=metadata-port=" + ports[3]);
        FaultProxy toHq = FaultProxy.start(hqPeerPort);
        FaultProxy toPhone = FaultProxy.start(phonePort);
        ReplicaKvClient admin =
            new ReplicaKvClient(
                List.of(new HostAndPort("127.0.0.1", respPort)),
                ReplicaKvClient.Options.defaults());
        OfflineSite phone =
            OfflineSite.open(
                OfflineSite.Options.of(dir.resolve("phone"), "phone")
                    .withPeerPort(phonePort)
                    .withLink("hq", "127.0.0.1", toHq.port())
                    .withKeyspace("notes", Map.of("conflicts", "siblings"))
                    .withKeyspace("carts", Map.of("conflicts", "crdt")))) {
      await("hq links back to the phone")
          .atMost(DEADLINE)
          .pollInterval(POLL)
          .ignoreExceptions()
          .until(
              () ->
                  "OK"
                      .equals(
                          admin.command(
                              "SITE", "LINK", "ADD", "phone", "127.0.0.1:" + toPhone.port())));
      long notesNumber = number(admin, "notes");
      long cartsNumber = number(admin, "carts");
      try (ReplicaKvClient hqNotes = client(respPort, notesNumber);
          ReplicaKvClient hqCarts = client(respPort, cartsNumber)) {
        OfflineKeyspace notes = phone.keyspace("notes").orElseThrow();
        OfflineKeyspace carts = phone.keyspace("carts").orElseThrow();

        notes.set("title", "draft");
        carts.add("cart", "bread");
        carts.add("cart", "milk");
        await("hq serves the keyspaces and takes writes")
            .atMost(DEADLINE)
            .pollInterval(POLL)
            .ignoreExceptions()
            .until(() -> Long.valueOf(1).equals(hqCarts.command("INCRBY", "visits", "1")));
        awaitConverged(phone, hqNotes, hqCarts, List.of("title"), List.of("cart", "visits"));

        toHq.blackhole(true);
        toPhone.blackhole(true);
        await("the phone sees the link down")
            .atMost(DEADLINE)
            .pollInterval(POLL)
            .until(() -> !phone.syncStatus().connected());

        notes.set("title", "phone edit");
        notes.set("phone-only", "p");
        carts.remove("cart", "bread");
        carts.add("cart", "apples");
        carts.increment("visits", 2);
        carts.putField("profile", "name", "Alice");
        hqNotes.command("SET", "title", "hq edit");
        hqCarts.command("SADD", "cart", "eggs");
        hqCarts.command("INCRBY", "visits", "3");
        hqCarts.command("HSET", "profile", "city", "Oslo");

        SyncStatus cut = phone.syncStatus();
        assertThat(cut.connected()).isFalse();
        assertThat(cut.pendingOut()).isEqualTo(6);
        assertThat(carts.members("cart")).containsExactly("apples", "milk");
        assertThat(members(hqCarts, "cart")).containsExactly("bread", "eggs", "milk");
        await("hq counts what the phone has not acknowledged")
            .atMost(DEADLINE)
            .pollInterval(POLL)
            .until(() -> changesTowardsPhone(respPort, "carts") == 3);

        toHq.blackhole(false);
        toPhone.blackhole(false);
        List<String> noteKeys = List.of("title", "phone-only");
        List<String> cartKeys = List.of("cart", "visits", "profile");
        awaitConverged(phone, hqNotes, hqCarts, noteKeys, cartKeys);

        OfflineRead title = notes.read("title");
        assertThat(title.values()).containsExactlyInAnyOrder("phone edit", "hq edit");
        assertThat(title.conflicted()).isTrue();
        assertThat(carts.members("cart")).containsExactly("apples", "eggs", "milk");
        assertThat(carts.counter("visits")).isEqualTo(6);
        assertThat(carts.fields("profile"))
            .containsExactly(Map.entry("city", "Oslo"), Map.entry("name", "Alice"));
        // hq's SITE LAG is a snapshot refreshed every few ticks
        await("hq's lag towards the phone drains")
            .atMost(DEADLINE)
            .pollInterval(POLL)
            .until(
                () ->
                    changesTowardsPhone(respPort, "carts") == 0
                        && changesTowardsPhone(respPort, "notes") == 0);

        notes.set("title", "phone and hq", title.context());
        await("hq reads the resolved title")
            .atMost(DEADLINE)
            .pollInterval(POLL)
            .until(() -> siblings(hqNotes, "title").equals(List.of("phone and hq")));
        await("the phone has nothing pending")
            .atMost(DEADLINE)
            .pollInterval(POLL)
            .until(() -> phone.syncStatus().inSync());
      }
    }
  }

  private static ReplicaKvClient client(int respPort, long keyspace) {
    return new ReplicaKvClient(
        List.of(new HostAndPort("127.0.0.1", respPort)),
        ReplicaKvClient.Options.defaults().withKeyspace((int) keyspace));
  }

  private static long number(ReplicaKvClient admin, String keyspace) {
    List<Long> found = new ArrayList<>();
    await("hq creates keyspace " + keyspace + " from the phone's announcement")
        .atMost(DEADLINE)
        .pollInterval(POLL)
        .until(
            () -> {
              Long number = ShoppingCartExample.keyspaceNumber(admin, keyspace);
              if (number != null) {
                found.add(number);
              }
              return number != null;
            });
    return found.get(0);
  }

  /** Waits until every listed key reads the same at both sides and nothing is pending. */
  private static void awaitConverged(
      OfflineSite phone,
      ReplicaKvClient hqNotes,
      ReplicaKvClient hqCarts,
      List<String> noteKeys,
      List<String> cartKeys) {
    await("phone and hq converge key by key")
        .atMost(DEADLINE)
        .pollInterval(POLL)
        .until(
            () -> {
              OfflineKeyspace notes = phone.keyspace("notes").orElseThrow();
              OfflineKeyspace carts = phone.keyspace("carts").orElseThrow();
              for (String key : noteKeys) {
                List<String> mine = new ArrayList<>(notes.read(key).values());
                List<String> theirs = new ArrayList<>(siblings(hqNotes, key));
                mine.sort(null);
                theirs.sort(null);
                if (!mine.equals(theirs)) {
                  return false;
                }
              }
              for (String key : cartKeys) {
                if (!carts.members(key).equals(members(hqCarts, key))
                    || !carts.fields(key).equals(fields(hqCarts, key))
                    || (key.equals("visits")
                        && !String.valueOf(carts.counter(key))
                            .equals(String.valueOf(hqCarts.command("GET", key))))) {
                  return false;
                }
              }
              return phone.syncStatus().inSync();
            });
  }

  /** KV.GET's values (the first element is the context). */
  private static List<String> siblings(ReplicaKvClient hq, String key) {
    List<String> values = new ArrayList<>();
    if (hq.command("KV.GET", key) instanceof List<?> reply) {
      reply.stream().skip(1).forEach(v -> values.add(String.valueOf(v)));
    }
    return values;
  }

  private static TreeSet<String> members(ReplicaKvClient hq, String key) {
    TreeSet<String> members = new TreeSet<>();
    if (!key.equals("cart")) {
      return members;
    }
    if (hq.command("SMEMBERS", key) instanceof List<?> reply) {
      reply.forEach(m -> members.add(String.valueOf(m)));
    }
    return members;
  }

  private static SortedMap<String, String> fields(ReplicaKvClient hq, String key) {
    TreeMap<String, String> fields = new TreeMap<>();
    if (!key.equals("profile")) {
      return fields;
    }
    if (hq.command("HGETALL", key) instanceof List<?> reply) {
      for (int i = 0; i + 1 < reply.size(); i += 2) {
        fields.put(String.valueOf(reply.get(i)), String.valueOf(reply.get(i + 1)));
      }
    }
    return fields;
  }

  /** hq's unacknowledged changes towards the phone in {@code keyspace}, from SITE LAG. */
  private static long changesTowardsPhone(int respPort, String keyspace) {
    String lag = LocalCluster.query(respPort, "SITE LAG " + keyspace);
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("to=phone,changes=(\\d+)").matcher(lag);
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }
}
