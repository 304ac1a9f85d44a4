package io.replicakv.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.server.cluster.InMemoryMetadataStore;
import io.replicakv.server.config.ConfigException;
import io.replicakv.server.config.ServerConfig;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A joining node learns the metadata voters from any member with CLUSTER VOTERS. */
class JoinVotersTest {
  @TempDir Path dir;

  @Test
  void aMemberNamesTheVotersInTheFormOfClusterVoters() throws Exception {
    InMemoryMetadataStore metadata = new InMemoryMetadataStore("test");
    ServerConfig config =
        ServerConfig.load(
            null,
            Map.of(
                "port", "0",
                "http-port", "0",
                "peer-port", "0",
                "data-dir", dir.resolve("n1").toString(),
                "node-id", "n1",
                "cluster-voters", "n1@127.0.0.1:7001"));
    try (ReplicaKvServer server = new ReplicaKvServer(config).withMetadataStore(metadata).start()) {
      assertThat(ClusterNode.fetchVoters("127.0.0.1:" + server.port()))
          .isEqualTo("n1@127.0.0.1:7001");
    } finally {
      metadata.close();
    }
    assertThatThrownBy(() -> ClusterNode.fetchVoters("no-port"))
        .isInstanceOf(ConfigException.class);
  }
}
