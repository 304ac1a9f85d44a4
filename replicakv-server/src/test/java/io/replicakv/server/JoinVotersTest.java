package io.replicakv.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.server.config.ConfigException;
import io.replicakv.server.testing.InProcessCluster;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A joining node learns the metadata voters from any member with CLUSTER VOTERS. */
class JoinVotersTest {
  @TempDir Path dir;

  @Test
  void aMemberNamesTheVotersInTheFormOfClusterVoters() throws Exception {
    try (InProcessCluster cluster =
        InProcessCluster.builder(dir).nodes(1).set("cluster-voters", "n1@127.0.0.1:7001").start()) {
      assertThat(ClusterNode.fetchVoters("127.0.0.1:" + cluster.server(0).port()))
          .isEqualTo("n1@127.0.0.1:7001");
    }
    assertThatThrownBy(() -> ClusterNode.fetchVoters("no-port"))
        .isInstanceOf(ConfigException.class);
  }
}
