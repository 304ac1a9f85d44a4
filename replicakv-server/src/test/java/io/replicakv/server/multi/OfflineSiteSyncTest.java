package io.replicakv.server.multi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.replicakv.client.OfflineKeyspace;
import io.replicakv.client.OfflineRead;
import io.replicakv.client.OfflineSite;
import io.replicakv.client.SyncStatus;
import io.replicakv.net.fault.FaultProxy;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Library mode through the {@code replicakv-client} API only ({@link OfflineSite}, found with
 * ServiceLoader): an offline site ("phone") and a remote site ("office") linked through a fault
 * proxy in each direction edit the same keys while the link is cut, the link returns, and both
 * converge key by key with each keyspace's strategy: {@code siblings} keeps both concurrent values
 * (and a resolving write with the read's context settles them), {@code crdt} merges sets, counters
 * and maps. The sync status goes from disconnected with changes pending to connected with nothing
 * pending.
 */
class OfflineSiteSyncTest {
  /** Generous: the machine is shared, and a cut shows only once the last contact grows old. */
  private static final Duration DEADLINE = Duration.ofMinutes(3);

  private static final Duration POLL = Duration.ofMillis(100);

  @TempDir Path dir;

  @Test
  void bothSidesEditWhileTheLinkIsCutAndConvergeKeyByKeyWhenItReturns() throws Exception {
    int[] ports = freePorts(2);
    int phonePort = ports[0];
    int officePort = ports[1];
    try (FaultProxy toOffice = FaultProxy.start(officePort);
        FaultProxy toPhone = FaultProxy.start(phonePort);
        OfflineSite office = open("office", officePort, "phone", toPhone.port());
        OfflineSite phone = open("phone", phonePort, "office", toOffice.port())) {
      assertThat(phone.keyspaces()).containsExactly("carts", "notes", "prefs");
      OfflineKeyspace phoneNotes = phone.keyspace("notes").orElseThrow();
      OfflineKeyspace officeNotes = office.keyspace("notes").orElseThrow();
      OfflineKeyspace phoneCarts = phone.keyspace("carts").orElseThrow();
      OfflineKeyspace officeCarts = office.keyspace("carts").orElseThrow();
      assertThat(phoneNotes.conflicts()).isEqualTo("siblings");
      assertThat(phoneCarts.conflicts()).isEqualTo("crdt");

      // online: edits on either side reach the other
      phoneNotes.set("title", "draft");
      phoneCarts.add("cart", "bread");
      phoneCarts.add("cart", "milk");
      officeCarts.increment("visits", 1);
      awaitConverged(phone, office);
      assertThat(officeNotes.get("title")).contains("draft");
      await("the phone records its last sync")
          .atMost(DEADLINE)
          .pollInterval(POLL)
          .until(() -> phone.syncStatus().lastSync().isPresent());

      // the link is cut both ways: bytes are held, requests time out
      toOffice.blackhole(true);
      toPhone.blackhole(true);
      await("both sides see the link down")
          .atMost(DEADLINE)
          .pollInterval(POLL)
          .until(() -> !phone.syncStatus().connected() && !office.syncStatus().connected());

      phoneNotes.set("title", "phone edit");
      phoneNotes.set("phone-only", "p");
      phoneCarts.remove("cart", "bread");
      phoneCarts.add("cart", "apples");
      phoneCarts.increment("visits", 2);
      phoneCarts.putField("profile", "name", "Alice");

      officeNotes.set("title", "office edit");
      officeCarts.add("cart", "eggs");
      officeCarts.increment("visits", 3);
      officeCarts.putField("profile", "city", "Oslo");
      phone.keyspace("prefs").orElseThrow().set("theme", "dark");
      office.keyspace("prefs").orElseThrow().set("theme", "light");

      SyncStatus phoneCut = phone.syncStatus();
      assertThat(phoneCut.connected()).isFalse();
      assertThat(phoneCut.pendingOut()).isEqualTo(7);
      assertThat(phoneNotes.syncStatus().pendingOut()).isEqualTo(2);
      assertThat(phoneCarts.syncStatus().pendingOut()).isEqualTo(4);
      assertThat(office.syncStatus().pendingOut()).isEqualTo(5);
      // each side reads its own edits while cut off
      assertThat(phoneNotes.get("title")).contains("phone edit");
      assertThat(phoneCarts.members("cart")).containsExactly("apples", "milk");
      assertThat(officeCarts.members("cart")).containsExactly("bread", "eggs", "milk");
      assertThat(phoneCarts.counter("visits")).isEqualTo(3);

      Instant healed = Instant.now().truncatedTo(ChronoUnit.MILLIS);
      toOffice.blackhole(false);
      toPhone.blackhole(false);
      awaitConverged(phone, office);
      await("both sides record a sync after the heal")
          .atMost(DEADLINE)
          .pollInterval(POLL)
          .until(
              () ->
                  syncedSince(phone.syncStatus(), healed)
                      && syncedSince(office.syncStatus(), healed));

      // siblings: both concurrent titles kept on both sides, flagged, the overwritten draft gone
      for (OfflineKeyspace notes : List.of(phoneNotes, officeNotes)) {
        OfflineRead title = notes.read("title");
        assertThat(title.values()).containsExactlyInAnyOrder("phone edit", "office edit");
        assertThat(title.hasSiblings()).isTrue();
        assertThat(title.conflicted()).isTrue();
        assertThatThrownBy(() -> notes.get("title")).hasMessageContaining("siblings");
        assertThat(notes.get("phone-only")).contains("p");
      }
      // crdt: the removal of bread at the phone wins only over the bread it had seen, every add
      // survives, the counter sums all increments, the map keeps both fields
      for (OfflineKeyspace carts : List.of(phoneCarts, officeCarts)) {
        assertThat(carts.members("cart")).containsExactly("apples", "eggs", "milk");
        assertThat(carts.counter("visits")).isEqualTo(6);
        assertThat(carts.fields("profile"))
            .containsExactly(Map.entry("city", "Oslo"), Map.entry("name", "Alice"));
      }

      // lww: the same one of the concurrent themes wins at both sides
      OfflineRead phoneTheme = phone.keyspace("prefs").orElseThrow().read("theme");
      OfflineRead officeTheme = office.keyspace("prefs").orElseThrow().read("theme");
      assertThat(phoneTheme.values()).hasSize(1).isEqualTo(officeTheme.values());
      assertThat(phoneTheme.values().get(0)).isIn("dark", "light");
      // nothing resolved silently: the overwritten theme is counted at one side at least, the
      // siblings and crdt joins too
      await("the counters catch up")
          .atMost(DEADLINE)
          .pollInterval(POLL)
          .until(
              () ->
                  counted(phone, office, "prefs", "multi_lww_overwrites_total") >= 1
                      && counted(phone, office, "notes", "multi_siblings_created_total") >= 1
                      && counted(phone, office, "carts", "multi_crdt_joins_total") >= 1);

      // a resolving write with the read's context settles the siblings everywhere
      OfflineRead seen = phoneNotes.read("title");
      phoneNotes.set("title", "phone and office", seen.context());
      awaitConverged(phone, office);
      for (OfflineKeyspace notes : List.of(phoneNotes, officeNotes)) {
        OfflineRead title = notes.read("title");
        assertThat(title.values()).containsExactly("phone and office");
        assertThat(title.hasSiblings()).isFalse();
      }
    }
  }

  @Test
  void anOfflineSiteKeepsItsEditsAcrossARestartAndSyncsThemLater() throws Exception {
    int[] ports = freePorts(2);
    int officePort = ports[1];
    try (FaultProxy toOffice = FaultProxy.start(officePort);
        OfflineSite office = open("office", officePort, "phone", ports[0])) {
      toOffice.refuse(true);
      try (OfflineSite phone = open("phone", ports[0], "office", toOffice.port())) {
        phone.keyspace("carts").orElseThrow().add("cart", "tea");
        phone.keyspace("notes").orElseThrow().set("todo", "call office");
        assertThat(phone.syncStatus().pendingOut()).isEqualTo(2);
        assertThat(phone.syncStatus().connected()).isFalse();
      }
      // the application restarts, still without a network
      try (OfflineSite phone = open("phone", ports[0], "office", toOffice.port())) {
        assertThat(phone.keyspace("carts").orElseThrow().members("cart")).containsExactly("tea");
        assertThat(phone.syncStatus().pendingOut()).isEqualTo(2);
        toOffice.refuse(false);
        await("the office holds the phone's edits")
            .atMost(DEADLINE)
            .pollInterval(POLL)
            .until(
                () ->
                    office
                            .keyspace("notes")
                            .orElseThrow()
                            .get("todo")
                            .orElse("")
                            .equals("call office")
                        && office.keyspace("carts").orElseThrow().members("cart").contains("tea"));
        await("the phone hears every acknowledgement")
            .atMost(DEADLINE)
            .pollInterval(POLL)
            .until(() -> phone.syncStatus().pendingOut() == 0);
      }
    }
  }

  @Test
  void openRefusesOptionsThatDisagreeWithTheKeyspaceTheSiteHolds() throws Exception {
    try (OfflineSite phone = open("phone", 0, "office", 1)) {
      assertThat(phone.keyspace("notes").orElseThrow().conflicts()).isEqualTo("siblings");
    }
    OfflineSite.Options other =
        OfflineSite.Options.of(dir.resolve("phone"), "phone")
            .withLink("office", "127.0.0.1", 1)
            .withKeyspace("notes", Map.of("conflicts", "lww"));
    assertThatThrownBy(() -> OfflineSite.open(other).close())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("keyspace notes is");
  }

  @Test
  void aLinkedSiteThatHoldsTheKeyspaceWithOtherOptionsRefusesItVisibly() throws Exception {
    int[] ports = freePorts(2);
    try (OfflineSite office = open("office", ports[1], "phone", ports[0]);
        OfflineSite phone =
            OfflineSite.open(
                OfflineSite.Options.of(dir.resolve("phone"), "phone")
                    .withPeerPort(ports[0])
                    .withLink("office", "127.0.0.1", ports[1])
                    .withKeyspace("notes", Map.of("conflicts", "lww")))) {
      await("the office's refusal reaches the phone")
          .atMost(DEADLINE)
          .pollInterval(POLL)
          .until(() -> phone.refusals().containsKey("notes"));
      assertThat(phone.refusals().get("notes")).startsWith("office: ").contains("siblings");
      assertThat(phone.refusals()).doesNotContainKey("carts");
      await("the phone's refusal reaches the office")
          .atMost(DEADLINE)
          .pollInterval(POLL)
          .until(() -> office.refusals().containsKey("notes"));
      assertThat(office.refusals().get("notes")).contains("lww");
    }
  }

  @Test
  void aSecondSiteCannotOpenAFolderInUse() throws Exception {
    try (OfflineSite phone = open("phone", 0, "office", 1)) {
      assertThatThrownBy(() -> open("phone", 0, "office", 1).close())
          .isInstanceOf(IOException.class)
          .hasMessageContaining("in use");
      assertThat(phone.keyspace("notes")).isPresent();
    }
    // released by close
    open("phone", 0, "office", 1).close();
  }

  private OfflineSite open(String name, int port, String link, int linkPort) throws IOException {
    return OfflineSite.open(
        OfflineSite.Options.of(dir.resolve(name), name)
            .withPeerPort(port)
            .withLink(link, "127.0.0.1", linkPort)
            .withKeyspace("notes", Map.of("conflicts", "siblings"))
            .withKeyspace("carts", Map.of("conflicts", "crdt"))
            .withKeyspace("prefs", Map.of("conflicts", "lww")));
  }

  /** Waits until both sites hold the same keys and values and report nothing pending. */
  private static void awaitConverged(OfflineSite a, OfflineSite b) {
    await("both sites converge and report nothing pending")
        .atMost(DEADLINE)
        .pollInterval(POLL)
        .until(
            () ->
                same(a, b, "notes")
                    && same(a, b, "carts")
                    && same(a, b, "prefs")
                    && inSync(a::syncStatus)
                    && inSync(b::syncStatus));
  }

  private static boolean same(OfflineSite a, OfflineSite b, String keyspace) {
    Map<String, List<String>> left = a.keyspace(keyspace).orElseThrow().entries();
    Map<String, List<String>> right = b.keyspace(keyspace).orElseThrow().entries();
    return left.equals(right);
  }

  private static long counted(OfflineSite a, OfflineSite b, String keyspace, String counter) {
    return a.keyspace(keyspace).orElseThrow().conflictCounters().getOrDefault(counter, 0L)
        + b.keyspace(keyspace).orElseThrow().conflictCounters().getOrDefault(counter, 0L);
  }

  private static boolean syncedSince(SyncStatus status, Instant since) {
    return status.lastSync().map(t -> !t.isBefore(since)).orElse(false);
  }

  private static boolean inSync(Supplier<SyncStatus> status) {
    SyncStatus now = status.get();
    return now.connected() && now.pendingOut() == 0 && now.pendingIn() == 0 && now.inSync();
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
