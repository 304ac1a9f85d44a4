package io.replicakv.server.cluster;

import static io.replicakv.server.cluster.Members.member;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.cluster.MetadataChange.AddMember;
import io.replicakv.server.cluster.MetadataChange.CreateKeyspace;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class InMemoryMetadataStoreTest {
  @Test
  void proposalsCompleteWithTheViewThatIncludesThem() {
    try (InMemoryMetadataStore store = new InMemoryMetadataStore("c1")) {
      ClusterView v1 = store.propose(new AddMember(member("a", 0, MemberState.UP))).join();
      assertThat(v1.version()).isEqualTo(1);
      assertThat(v1.members()).containsKey("a");
      assertThat(store.current()).isSameAs(v1);
      ClusterView v2 = store.propose(new CreateKeyspace("k", Map.of())).join();
      assertThat(v2.version()).isEqualTo(2);
      assertThat(v2.keyspace("k").number()).isEqualTo(16);
    }
  }

  @Test
  void rejectionLeavesTheVersionAlone() {
    try (InMemoryMetadataStore store = new InMemoryMetadataStore("c1")) {
      store.propose(new AddMember(member("a", 0, MemberState.UP))).join();
      assertThatThrownBy(() -> store.propose(new CreateKeyspace("default", Map.of())).join())
          .isInstanceOf(CompletionException.class)
          .hasCauseInstanceOf(MetadataRejectedException.class)
          .hasMessageContaining("already exists");
      assertThat(store.current().version()).isEqualTo(1);
    }
  }

  @Test
  void unavailableStoreRefusesProposalsButKeepsItsView() {
    try (InMemoryMetadataStore store = new InMemoryMetadataStore("c1")) {
      ClusterView v1 = store.propose(new AddMember(member("a", 0, MemberState.UP))).join();
      store.setAvailable(false);
      assertThatThrownBy(() -> store.propose(new CreateKeyspace("k", Map.of())).join())
          .hasCauseInstanceOf(MetadataUnavailableException.class)
          .hasMessageContaining("metadata quorum unavailable");
      assertThat(store.current()).isSameAs(v1);
      store.setAvailable(true);
      assertThat(store.propose(new CreateKeyspace("k", Map.of())).join().version()).isEqualTo(2);
    }
  }

  @Test
  void listenersSeeEveryVersionInOrderOnceEach() {
    try (InMemoryMetadataStore store = new InMemoryMetadataStore("c1")) {
      store.propose(new AddMember(member("a", 0, MemberState.UP))).join();
      List<Long> early = new CopyOnWriteArrayList<>();
      List<String> threads = new CopyOnWriteArrayList<>();
      store.addListener(
          view -> {
            early.add(view.version());
            threads.add(Thread.currentThread().getName());
          });
      for (int i = 0; i < 20; i++) {
        store.propose(new CreateKeyspace("k" + i, Map.of())).join();
      }
      List<Long> late = new CopyOnWriteArrayList<>();
      store.addListener(view -> late.add(view.version()));
      store.propose(new CreateKeyspace("last", Map.of())).join();
      await().atMost(Duration.ofSeconds(5)).until(() -> early.size() == 22 && late.size() == 2);
      assertThat(early).containsExactlyElementsOf(range(1, 22));
      assertThat(late).containsExactly(21L, 22L);
      assertThat(threads).allMatch(name -> name.equals("replicakv-metadata-listeners"));
    }
  }

  @Test
  void synchronousStoreCallsListenersOnTheProposingThread() {
    try (InMemoryMetadataStore store = InMemoryMetadataStore.synchronous(ClusterView.empty("c1"))) {
      List<Long> seen = new CopyOnWriteArrayList<>();
      store.addListener(view -> seen.add(view.version()));
      store.propose(new AddMember(member("a", 0, MemberState.UP))).join();
      assertThat(seen).containsExactly(0L, 1L);
    }
  }

  private static List<Long> range(long first, long last) {
    return java.util.stream.LongStream.rangeClosed(first, last).boxed().toList();
  }
}
