package io.replicakv.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.server.testing.InProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/** FLUSHDB and FLUSHALL wait while members join or leave, so they cannot race the key copies. */
class FlushDuringMoveTest {
  @TempDir Path dir;

  @Test
  void flushIsRefusedWhileAMemberIsJoiningAndWorksAfterwards() throws Exception {
    try (InProcessCluster cluster =
            InProcessCluster.builder(dir).nodes(1).set("replication", "off").start();
        Jedis j = cluster.jedis(0)) {
      InMemoryMetadataStore metadata = cluster.metadata();
      j.set("a", "1");
      Member ghost =
          new Member("ghost", "127.0.0.1", 11, 12, 13, 0, "site-1", "", MemberState.JOINING, false);
      metadata.propose(new MetadataChange.AddMember(ghost)).get(5, TimeUnit.SECONDS);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> j.clusterNodes().contains("ghost"));
      assertThatThrownBy(j::flushDB)
          .isInstanceOf(JedisDataException.class)
          .hasMessageStartingWith("TRYAGAIN");
      assertThatThrownBy(j::flushAll)
          .isInstanceOf(JedisDataException.class)
          .hasMessageStartingWith("TRYAGAIN");
      metadata.propose(new MetadataChange.RemoveMember("ghost")).get(5, TimeUnit.SECONDS);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> !j.clusterNodes().contains("ghost"));
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .ignoreExceptions()
          .until(() -> "OK".equals(j.flushDB()));
      assertThat(j.dbSize()).isZero();
    }
  }
}
