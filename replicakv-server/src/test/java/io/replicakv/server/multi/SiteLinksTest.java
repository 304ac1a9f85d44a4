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
  void malformedLinksAndSelfLinksAreRefusedWithTheReason() {
    assertThatThrownBy(() -> new SiteLinks("a", "b@host", null))
        .hasMessageContaining("not name@host:port");
    assertThatThrownBy(() -> new SiteLinks("a", "b@host:x", null)).hasMessageContaining("bad port");
    assertThatThrownBy(() -> new SiteLinks("a", "a@host:1", null))
        .hasMessageContaining("cannot link to itself");
    assertThatThrownBy(() -> new SiteLinks("a b", "", null)).hasMessageContaining("bad site name");
  }
}
