package io.replicakv.server.multi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SiteLinksTest {
  @TempDir Path dir;

  @Test
  void theSettingSeedsTheLinksUntilARuntimeChangeSavesTheFileWhichThenWins() throws Exception {
    Path file = dir.resolve("multi").resolve("site-links");
    SiteLinks links = new SiteLinks("b", "a@127.0.0.1:7001, c@10.0.0.3:7003", file);
    assertThat(links.sitesWithSelf()).containsExactly("a", "b", "c");
    assertThat(Files.exists(file)).isFalse();

    links.add(SiteLinks.parse("d@127.0.0.1:7004"));
    assertThat(links.remove("a")).isTrue();
    assertThat(links.remove("a")).isFalse();

    SiteLinks restarted = new SiteLinks("b", "a@127.0.0.1:7001", file);
    assertThat(restarted.all().keySet()).containsExactly("c", "d");
    assertThat(restarted.get("c")).isEqualTo(new SiteLinks.Link("c", "10.0.0.3", 7003));
    assertThat(restarted.sitesWithSelf()).isEqualTo(List.of("b", "c", "d"));
  }

  @Test
  void aLinkNamesEveryNodeOfASiteAndTheFileKeepsThemAll() throws Exception {
    Path file = dir.resolve("multi").resolve("site-links");
    SiteLinks links = new SiteLinks("b", "a@h1:7001|h2:7002|h3:7003", file);
    SiteLinks.Link a = links.get("a");
    assertThat(a.addresses())
        .containsExactly(
            new SiteLinks.Address("h1", 7001),
            new SiteLinks.Address("h2", 7002),
            new SiteLinks.Address("h3", 7003));
    assertThat(a.address(0).port()).isEqualTo(7001);
    assertThat(a.address(4).port()).isEqualTo(7002);
    assertThat(a.address(-1).port()).isEqualTo(7003);
    assertThat(a).hasToString("a@h1:7001|h2:7002|h3:7003");

    links.add(SiteLinks.parse("c@h4:7004|h5:7005"));
    SiteLinks restarted = new SiteLinks("b", "", file);
    assertThat(restarted.get("a")).isEqualTo(a);
    assertThat(restarted.get("c").addressText()).isEqualTo("h4:7004|h5:7005");
    assertThatThrownBy(() -> SiteLinks.parse("a@h1:7001|h2")).hasMessageContaining("not name@");
  }

  @Test
  void malformedLinksAndSelfLinksAreRefusedWithTheReason() {
    assertThatThrownBy(() -> new SiteLinks("a", "b@host", null))
        .hasMessageContaining("not name@host:port");
    assertThatThrownBy(() -> new SiteLinks("a", "b@host:x", null)).hasMessageContaining("bad port");
    assertThatThrownBy(() -> new SiteLinks("a", "a@host:1", null))
        .hasMessageContaining("cannot link to itself");
    assertThatThrownBy(() -> new SiteLinks("a b", "", null)).hasMessageContaining("bad site name");
  }
}
