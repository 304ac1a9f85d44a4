package io.replicakv.server.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.config.ConfigException;
import org.junit.jupiter.api.Test;

/** The {@code peer-routes} setting: parsing, refusals, and which address a member gets. */
class PeerRoutesTest {
  private static Member member(String id, String host, int peerPort) {
    return new Member(
        id, host, 7000, peerPort, 0, 0, "site-1", "", MemberState.UP, /* voter= */ false);
  }

  @Test
  void routedMembersGetTheirRouteOthersTheirMetadataAddress() {
    PeerRoutes routes = PeerRoutes.parse(" n2=127.0.0.2:41001 , n3=localhost:41002");
    assertThat(routes.of(member("n2", "127.0.0.1", 27001)))
        .isEqualTo(new PeerRoutes.Address("127.0.0.2", 41001));
    assertThat(routes.host(member("n3", "127.0.0.1", 27002))).isEqualTo("localhost");
    assertThat(routes.port(member("n3", "127.0.0.1", 27002))).isEqualTo(41002);
    Member unrouted = member("n4", "127.0.0.9", 27004);
    assertThat(routes.of(unrouted)).isEqualTo(new PeerRoutes.Address("127.0.0.9", 27004));
    assertThat(routes.host(unrouted)).isEqualTo("127.0.0.9");
    assertThat(routes.port(unrouted)).isEqualTo(27004);
    assertThat(routes).hasToString("n2=127.0.0.2:41001,n3=localhost:41002");
  }

  @Test
  void blankMeansDirect() {
    assertThat(PeerRoutes.parse("")).isSameAs(PeerRoutes.DIRECT);
    assertThat(PeerRoutes.parse(" , ")).isSameAs(PeerRoutes.DIRECT);
    assertThat(PeerRoutes.DIRECT.port(member("n1", "127.0.0.1", 27001))).isEqualTo(27001);
  }

  @Test
  void badEntriesAreRefusedNamingTheSettingAndTheEntry() {
    assertThatThrownBy(() -> PeerRoutes.parse("n2:127.0.0.1:1"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("peer-routes")
        .hasMessageContaining("is not id=host:port");
    assertThatThrownBy(() -> PeerRoutes.parse("n2=127.0.0.1:"))
        .hasMessageContaining("is not id=host:port");
    assertThatThrownBy(() -> PeerRoutes.parse("n2=127.0.0.1:x"))
        .hasMessageContaining("not a number");
    assertThatThrownBy(() -> PeerRoutes.parse("n2=127.0.0.1:70000"))
        .hasMessageContaining("outside 1..65535");
    assertThatThrownBy(() -> PeerRoutes.parse("n2=127.0.0.1:1,n2=127.0.0.1:2"))
        .hasMessageContaining("a second time");
  }
}
