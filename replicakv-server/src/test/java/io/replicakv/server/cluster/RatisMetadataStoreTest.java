package io.replicakv.server.cluster;

import static io.replicakv.server.cluster.Members.member;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.cluster.MetadataChange.AddMember;
import io.replicakv.server.cluster.MetadataChange.CreateKeyspace;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RatisMetadataStoreTest {
  /**
   * Long enough for a lost leader to be noticed and replaced (election timeout 1-2 s, so up to
   * about 4 s): the proposal right after a voter is closed must commit through the new leader.
   */
  private static final long REQUEST_TIMEOUT_MILLIS = 6_000;

  private static final Duration WAIT = Duration.ofSeconds(15);

  @TempDir Path directory;

  private final List<RatisMetadataStore> open = new ArrayList<>();

  @AfterEach
  void closeAll() {
    open.forEach(RatisMetadataStore::close);
  }

  @Test
  void threeVotersCommitEverywhereSurviveOneLossRefuseWithoutMajorityAndRecover()
      throws IOException {
    List<VoterAddress> voters = voters(3);
    List<RatisMetadataStore> stores = new ArrayList<>();
    List<List<Long>> seen = new ArrayList<>();
    for (VoterAddress voter : voters) {
      RatisMetadataStore store = startVoter(voter.id(), voters);
      List<Long> versions = new CopyOnWriteArrayList<>();
      store.addListener(view -> versions.add(view.version()));
      stores.add(store);
      seen.add(versions);
    }
    stores.forEach(RatisMetadataStoreTest::awaitReady);
    // A proposal from any member commits everywhere, in the same order.
    for (int i = 0; i < 3; i++) {
      ClusterView view =
          stores.get(i).propose(new AddMember(member("n" + i, i, MemberState.UP))).join();
      assertThat(view.members()).containsKey("n" + i);
      assertThat(stores.get(i).current().version()).isGreaterThanOrEqualTo(view.version());
    }
    ClusterView withKeyspace = stores.get(2).propose(new CreateKeyspace("carts", Map.of())).join();
    assertThat(withKeyspace.version()).isEqualTo(4);
    await().atMost(WAIT).until(() -> stores.stream().allMatch(s -> s.current().version() == 4));
    await().atMost(WAIT).until(() -> seen.stream().allMatch(v -> v.size() == 5));
    for (List<Long> versions : seen) {
      assertThat(versions).containsExactlyElementsOf(versionsUpTo(4));
    }
    assertThat(stores.get(0).current()).isEqualTo(stores.get(1).current());
    assertThat(stores.get(0).current()).isEqualTo(stores.get(2).current());

    // A refused change comes back with its reason from the replicated state machine.
    assertThatThrownBy(() -> stores.get(1).propose(new CreateKeyspace("carts", Map.of())).join())
        .isInstanceOf(CompletionException.class)
        .hasCauseInstanceOf(MetadataRejectedException.class)
        .hasMessageContaining("already exists");

    // Lose one voter of three: proposals still commit.
    stores.get(2).close();
    ClusterView afterLoss = stores.get(0).propose(new CreateKeyspace("orders", Map.of())).join();
    assertThat(afterLoss.version()).isEqualTo(5);

    // Lose a second: no majority, so proposals fail in bounded time and reads keep the last view.
    stores.get(1).close();
    ClusterView last = stores.get(0).current();
    long startNanos = System.nanoTime();
    assertThatThrownBy(() -> stores.get(0).propose(new CreateKeyspace("lost", Map.of())).join())
        .hasCauseInstanceOf(MetadataUnavailableException.class)
        .hasMessageContaining("metadata quorum unavailable");
    long elapsedMillis = (System.nanoTime() - startNanos) / 1_000_000;
    assertThat(elapsedMillis).isLessThan(REQUEST_TIMEOUT_MILLIS + 1_500);
    assertThat(stores.get(0).current()).isEqualTo(last);
    stores.get(0).close();

    // Restart all three from their directories: version, members and keyspaces come back.
    List<RatisMetadataStore> restarted = new ArrayList<>();
    for (VoterAddress voter : voters) {
      restarted.add(startVoter(voter.id(), voters));
    }
    await().atMost(WAIT).until(() -> restarted.stream().allMatch(s -> s.current().version() >= 5));
    ClusterView recovered = restarted.get(1).current();
    assertThat(recovered.members().keySet()).containsExactly("n0", "n1", "n2");
    assertThat(recovered.keyspace("carts")).isNotNull();
    assertThat(recovered.keyspace("orders")).isNotNull();
    assertThat(recovered.members()).isEqualTo(last.members());
    // The group works again after the restart.
    ClusterView next = restarted.get(2).propose(new CreateKeyspace("again", Map.of())).join();
    assertThat(next.keyspace("again")).isNotNull();
    assertThat(next.keyspace("lost") == null || next.version() >= 7).isTrue();
  }

  @Test
  void nonVoterFollowsTheVotersViewInOrder() throws IOException {
    List<VoterAddress> voters = voters(1);
    RatisMetadataStore voter = startVoter(voters.get(0).id(), voters);
    RatisMetadataStore follower =
        track(
            RatisMetadataStore.start(
                new RatisOptions(
                    "f1",
                    directory.resolve("f1"),
                    voters,
                    false,
                    "test-cluster",
                    REQUEST_TIMEOUT_MILLIS)));
    awaitReady(voter);
    awaitReady(follower);
    List<Long> seen = new CopyOnWriteArrayList<>();
    follower.addListener(view -> seen.add(view.version()));
    voter.propose(new AddMember(member("v0", 0, MemberState.UP))).join();
    voter.propose(new CreateKeyspace("k1", Map.of())).join();
    await().atMost(WAIT).until(() -> follower.current().version() == 2);
    // The follower's own proposal goes through the voters and is visible locally at once.
    ClusterView mine = follower.propose(new CreateKeyspace("k2", Map.of())).join();
    assertThat(mine.version()).isEqualTo(3);
    assertThat(follower.current().version()).isGreaterThanOrEqualTo(3);
    assertThat(follower.current()).isEqualTo(voter.current());
    voter.propose(new CreateKeyspace("k3", Map.of())).join();
    assertThat(follower.sync().join().version()).isEqualTo(4);
    await().atMost(WAIT).until(() -> seen.size() == 5);
    assertThat(seen).containsExactlyElementsOf(versionsUpTo(4));
  }

  /** A freshly started group needs a leader election before it answers. */
  private static void awaitReady(RatisMetadataStore store) {
    await().atMost(WAIT).ignoreExceptions().until(() -> store.sync().join() != null);
  }

  private RatisMetadataStore startVoter(String id, List<VoterAddress> voters) throws IOException {
    return track(
        RatisMetadataStore.start(
            new RatisOptions(
                id, directory.resolve(id), voters, true, "test-cluster", REQUEST_TIMEOUT_MILLIS)));
  }

  private RatisMetadataStore track(RatisMetadataStore store) {
    open.add(store);
    return store;
  }

  private static List<VoterAddress> voters(int count) throws IOException {
    List<VoterAddress> voters = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      voters.add(new VoterAddress("n" + i, "127.0.0.1", freePort()));
    }
    return voters;
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private static List<Long> versionsUpTo(long last) {
    return LongStream.rangeClosed(0, last).boxed().toList();
  }
}
