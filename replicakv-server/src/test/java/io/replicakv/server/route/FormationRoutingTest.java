package io.replicakv.server.route;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespRequest;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.InMemoryMetadataStore;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.cluster.MetadataChange;
import io.replicakv.server.command.Dispatcher;
import io.replicakv.server.command.Session;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A node that is still forming must not run keyed commands of a replicated keyspace on its own
 * copy: before registration every keyed command is refused, and keyspace 0 counts as replicated
 * whatever the node's view holds yet.
 */
class FormationRoutingTest {
  private static RespRequest request(String... args) {
    byte[][] bytes = new byte[args.length][];
    for (int i = 0; i < args.length; i++) {
      bytes[i] = args[i].getBytes(StandardCharsets.UTF_8);
    }
    return RespRequest.of(bytes);
  }

  @Test
  void beforeRegistrationKeyedCommandsAnswerClusterDownAndOthersRunHere() {
    Session client = new Session(1, null, 0);
    Router.Decision set =
        Router.STARTING.route(
            client, Dispatcher.allCommands().find("set"), request("SET", "k", "v"));
    assertThat(set).isInstanceOf(Router.Decision.Answer.class);
    assertThat(((Reply.ErrorReply) ((Router.Decision.Answer) set).reply()).text())
        .startsWith("CLUSTERDOWN");
    Router.Decision get =
        Router.STARTING.route(client, Dispatcher.allCommands().find("get"), request("GET", "k"));
    assertThat(get).isInstanceOf(Router.Decision.Answer.class);
    assertThat(
            Router.STARTING.route(client, Dispatcher.allCommands().find("ping"), request("PING")))
        .as("PING runs here, so a starting process can be probed")
        .isNull();
  }

  @Test
  void keyspaceZeroIsReplicatedEvenBeforeTheViewDefinesIt() throws Exception {
    ClusterView empty = ClusterView.empty("test");
    assertThat(empty.keyspaces()).isEmpty();
    assertThat(ClusterRouter.replicatedKeyspace(empty, 0)).isTrue();
    assertThat(ClusterRouter.replicatedKeyspace(null, 0)).isTrue();
    assertThat(ClusterRouter.replicatedKeyspace(empty, 1)).isFalse();

    InMemoryMetadataStore store = new InMemoryMetadataStore("test");
    store
        .propose(
            new MetadataChange.AddMember(
                new Member("n1", "127.0.0.1", 1, 1, 0, 0, "site-1", "", MemberState.UP, false)))
        .get(5, TimeUnit.SECONDS);
    ClusterView one = store.current();
    store.close();
    assertThat(ClusterRouter.replicatedKeyspace(one, 0)).isTrue();
    assertThat(ClusterRouter.replicatedKeyspace(one, 1))
        .as("db1 to db15 live on their ring owner alone")
        .isFalse();
  }
}
