package io.replicakv.core.causal;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.core.model.Bytes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/**
 * DVV set properties checked against an independent model of the history: which writes each replica
 * has heard of, and which writes each write's client had seen (its causal past).
 */
class DvvSetTest {
  private static final int REPLICAS = 3;
  private static final int CLIENTS = 3;

  /** A history step, decoded from one generated integer. */
  @Provide
  Arbitrary<List<Integer>> histories() {
    return Arbitraries.integers().between(0, 1_000_000).list().ofMaxSize(60);
  }

  /** Ground truth and implementation, advanced side by side. */
  private static final class History {
    final DvvSet[] states = new DvvSet[REPLICAS];
    final List<Set<Integer>> known = new ArrayList<>();
    final Map<Integer, Set<Integer>> pastOf = new HashMap<>();
    final VersionVector[] clientContext = new VersionVector[CLIENTS];
    final List<Set<Integer>> clientSeen = new ArrayList<>();
    int writes;

    History() {
      for (int r = 0; r < REPLICAS; r++) {
        states[r] = DvvSet.EMPTY;
        known.add(new HashSet<>());
      }
      for (int c = 0; c < CLIENTS; c++) {
        clientContext[c] = VersionVector.EMPTY;
        clientSeen.add(new HashSet<>());
      }
    }

    void read(int client, int replica) {
      clientContext[client] = states[replica].context();
      clientSeen.set(client, new HashSet<>(known.get(replica)));
    }

    void write(int client, int replica) {
      int id = writes++;
      states[replica] =
          states[replica].update(clientContext[client], "r" + replica, Bytes.utf8("w" + id));
      pastOf.put(id, clientSeen.get(client));
      known.get(replica).addAll(clientSeen.get(client));
      known.get(replica).add(id);
    }

    void sync(int into, int from) {
      states[into] = states[into].sync(states[from]);
      known.get(into).addAll(known.get(from));
    }

    /** The writes replica r has heard of that no write it has heard of saw. */
    Set<String> expectedLive(int replica) {
      Set<Integer> heard = known.get(replica);
      Set<String> live = new TreeSet<>();
      for (int w : heard) {
        boolean covered = heard.stream().anyMatch(other -> pastOf.get(other).contains(w));
        if (!covered) {
          live.add("w" + w);
        }
      }
      return live;
    }

    Set<String> actualLive(int replica) {
      List<Bytes> values = states[replica].values();
      Set<String> live = new TreeSet<>();
      values.forEach(value -> live.add(value.toUtf8()));
      assertThat(live).hasSize(values.size());
      return live;
    }

    void syncAll() {
      for (int round = 0; round < 2; round++) {
        for (int r = 0; r < REPLICAS; r++) {
          sync(r, (r + 1) % REPLICAS);
        }
      }
    }
  }

  /**
   * Clients read from any replica and write through any replica. At every step every replica's
   * siblings are exactly the writes it has heard of that no other such write covered: nothing
   * uncovered is lost, nothing covered survives.
   */
  @Property(seed = "2012", tries = 400)
  void siblingsAreExactlyTheUncoveredWrites(@ForAll("histories") List<Integer> steps) {
    History history = new History();
    for (int step : steps) {
      int client = step % CLIENTS;
      int a = (step / 3) % REPLICAS;
      int b = (step / 9) % REPLICAS;
      switch ((step / 27) % 3) {
        case 0 -> history.read(client, a);
        case 1 -> history.write(client, a);
        default -> history.sync(a, b);
      }
      for (int r = 0; r < REPLICAS; r++) {
        assertThat(history.actualLive(r)).isEqualTo(history.expectedLive(r));
      }
    }
    history.syncAll();
    Set<String> converged = history.actualLive(0);
    for (int r = 0; r < REPLICAS; r++) {
      assertThat(history.states[r]).isEqualTo(history.states[0]);
    }
    assertThat(converged).isEqualTo(history.expectedLive(0));
  }

  /**
   * Each client reads its home replica before each write, so its own writes are causally ordered.
   * Then the siblings on any replica are pairwise-concurrent writes, at most one per client.
   */
  @Property(seed = "2014", tries = 400)
  void siblingsNeverExceedConcurrentWriters(@ForAll("histories") List<Integer> steps) {
    History history = new History();
    for (int step : steps) {
      int client = step % CLIENTS;
      int home = client % REPLICAS;
      int from = (step / 3) % REPLICAS;
      if ((step / 9) % 2 == 0) {
        history.read(client, home);
        history.write(client, home);
      } else {
        history.sync(home, from);
      }
      for (int r = 0; r < REPLICAS; r++) {
        assertThat(history.states[r].siblingCount()).isLessThanOrEqualTo(CLIENTS);
      }
    }
    history.syncAll();
    assertThat(history.states[0].siblingCount()).isLessThanOrEqualTo(CLIENTS);
    assertThat(history.actualLive(0)).isEqualTo(history.expectedLive(0));
  }

  @Property(seed = "2016", tries = 300)
  void syncIsCommutativeAssociativeIdempotent(@ForAll("histories") List<Integer> steps) {
    History history = new History();
    for (int step : steps) {
      int a = (step / 3) % REPLICAS;
      int b = (step / 9) % REPLICAS;
      switch ((step / 27) % 3) {
        case 0 -> history.read(step % CLIENTS, a);
        case 1 -> history.write(step % CLIENTS, a);
        default -> history.sync(a, b);
      }
    }
    DvvSet x = history.states[0];
    DvvSet y = history.states[1];
    DvvSet z = history.states[2];
    assertThat(x.sync(y)).isEqualTo(y.sync(x));
    assertThat(x.sync(y).sync(z)).isEqualTo(x.sync(y.sync(z)));
    assertThat(x.sync(x)).isEqualTo(x);
    assertThat(DvvSet.fromBytes(x.toBytes())).isEqualTo(x);
  }

  @Test
  void readModifyWriteReplacesAndBlindWriteBecomesSibling() {
    DvvSet set = DvvSet.EMPTY.update(VersionVector.EMPTY, "a", Bytes.utf8("v1"));
    VersionVector context = set.context();
    DvvSet blind = set.update(VersionVector.EMPTY, "a", Bytes.utf8("v2"));
    assertThat(blind.values()).containsExactly(Bytes.utf8("v2"), Bytes.utf8("v1"));
    DvvSet replaced = blind.update(context, "b", Bytes.utf8("v3"));
    assertThat(replaced.values()).containsExactly(Bytes.utf8("v2"), Bytes.utf8("v3"));
    DvvSet resolved = replaced.update(replaced.context(), "a", Bytes.utf8("v4"));
    assertThat(resolved.values()).containsExactly(Bytes.utf8("v4"));
    assertThat(resolved.context()).isEqualTo(VersionVector.of(Map.of("a", 3L, "b", 1L)));
  }
}
