package io.replicakv.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The library-mode API without a provider: options, reads and status as plain values. */
class OfflineSiteTest {
  @Test
  void openWithoutTheServerOnTheClasspathSaysWhatIsMissing() {
    assertThatThrownBy(() -> OfflineSite.open(OfflineSite.Options.of(Path.of("unused"), "phone")))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("replicakv-server jar");
  }

  @Test
  void optionsCollectLinksAndKeyspacesAndRefuseBadNames() {
    OfflineSite.Options options =
        OfflineSite.Options.of(Path.of("data"), "phone")
            .withPeerPort(7000)
            .withLink("hq", "127.0.0.1", 26379)
            .withKeyspace("carts", Map.of("conflicts", "crdt"));
    assertThat(options.links()).containsExactly("hq@127.0.0.1:26379");
    assertThat(options.keyspaces()).containsOnlyKeys("carts");
    assertThat(options.keyspaces().get("carts")).containsEntry("conflicts", "crdt");
    assertThat(options.peerPort()).isEqualTo(7000);
    assertThatThrownBy(() -> OfflineSite.Options.of(Path.of("data"), "my phone"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> options.withLink("phone", "127.0.0.1", 1))
        .hasMessageContaining("cannot link to itself");
    assertThatThrownBy(() -> options.withPeerPort(70_000)).hasMessageContaining("outside");
  }

  @Test
  void aReadWithSiblingsRefusesToPickOneValue() {
    OfflineRead single = new OfflineRead(List.of("a"), new CausalContext("hq=1"), false);
    assertThat(single.value()).contains("a");
    assertThat(new OfflineRead(List.of(), CausalContext.EMPTY, false).value()).isEmpty();
    OfflineRead siblings = new OfflineRead(List.of("a", "b"), new CausalContext("hq=1"), true);
    assertThat(siblings.hasSiblings()).isTrue();
    assertThatThrownBy(siblings::value).hasMessageContaining("2 siblings");
  }

  @Test
  void inSyncNeedsAConnectionAndNothingPendingEitherWay() {
    Optional<Instant> never = Optional.empty();
    assertThat(new SyncStatus(true, 0, 0, never, new TreeMap<>()).inSync()).isTrue();
    assertThat(new SyncStatus(false, 0, 0, never, new TreeMap<>()).inSync()).isFalse();
    assertThat(new SyncStatus(true, 1, 0, never, new TreeMap<>()).inSync()).isFalse();
    assertThat(new SyncStatus(true, 0, 2, never, new TreeMap<>()).inSync()).isFalse();
    assertThatThrownBy(() -> new SyncStatus(true, -1, 0, never, new TreeMap<>()))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
