package io.replicakv.core.leaderless;

import io.replicakv.core.ReadyBuffer;
import io.replicakv.core.msg.LeaderlessMessage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * One node's side of tombstone garbage collection for a leaderless keyspace: a delete is a
 * tombstone state, and this class decides when every copy of it may be forgotten without the
 * deleted values ever coming back (DESIGN.md, "Deletes are tombstones, collected only after every
 * replica has them"; LESSONS.md 10; Cassandra's gc_grace_seconds and Riak's delete_mode are the
 * same trade-off with a clock instead of confirmation rounds).
 *
 * <p><b>What can bring a deleted value back.</b> A tombstone T covers older values; once a replica
 * forgets T, any state older than T that still reaches it is merged as if new. Such states live in
 * four places: (1) replicas that have not received T yet; (2) messages in flight and requests a
 * coordinator still tracks (read answers it will repair with, versions it will replicate), all of
 * them older than the request timeout plus one message delay; (3) hints kept by sloppy-quorum
 * substitutes, which wait for their owner indefinitely; (4) causal contexts held by clients, for
 * ever. A fifth hazard is the replica's own dot counter: it lives in the key's state, so a replica
 * that forgot the key would number its next write {@code node:1} again, and a client context or old
 * state that saw the old {@code node:1} would silently cover the new write.
 *
 * <p><b>Protocol.</b> Every {@link LeaderlessConfig#tombstoneGcIntervalTicks()} the first owner of
 * a key in the preference list (only it, so rounds do not multiply) starts a <i>confirmation
 * round</i> for each tombstone it holds whose holders are all unsuspected: it syncs its own copy
 * and sends {@link LeaderlessMessage.TombstoneCheck} with T to every other owner and, with sloppy
 * quorums, to every other node of the partition's ring order (any of them may keep a hint). An
 * owner merges T, syncs, and answers {@code holds} when its state is now exactly T; a hint holder
 * drops (synced) every hint for the key that T covers and answers {@code holds} unless a hint holds
 * something T does not cover. A round completes when every holder said {@code holds} and the
 * initiator still holds T. Confirmations must be spaced: a round counts only if it started at least
 * {@link LeaderlessConfig#tombstoneGraceTicks()} after the previous confirmation. After two
 * confirmations (three with sloppy quorums) the initiator drops its copy and sends {@link
 * LeaderlessMessage.TombstoneDrop} with T's digest; an owner drops the key only if its state still
 * has that digest. Any {@code holds = false} or a changed state resets the count.
 *
 * <p><b>Why that is safe.</b> The first confirmation is the moment every owner holds T durably, so
 * hazard (1) is gone from then on (merges only grow, T was synced before each answer). The grace
 * period is chosen longer than the request timeout plus the longest message delay, so by the start
 * of the second round every message of hazard (2) has landed: at an owner it merged into a state
 * that already covers it; at a hint holder it may have become a hint older than T, which the second
 * round finds and drops (or, if it is a write T does not cover, refuses the collection). Strict
 * quorums keep no hints, so two rounds suffice. With sloppy quorums a handoff sent just before the
 * second round may still carry an old hint, so a third round, one more grace later, waits for it to
 * land on an owner that still holds T. For hazards (4) and the dot counter, collecting a key raises
 * the node's persistent <i>dot floor</i> to its own counter in T (and an HLC floor to T's stamp in
 * LWW mode); a version this node creates for a key whose state holds no live value of its own is
 * numbered above the floor, so no dot is ever reused and no remembered context covers a new write.
 * The floor is written in the same record as the drop, so a recovered drop always has its floor.
 *
 * <p><b>What it does not survive.</b> A message delayed longer than the grace period minus the
 * request timeout (the server's grace is a minute; the simulator's is above its longest delay). A
 * holder that stays unreachable blocks collection of its partitions' tombstones, as it must. CRDT
 * keyspaces are not collected: their sets and maps number elements with dots of their own, which
 * would need the same floor inside the CRDT; an empty set is kept. A drop message that is lost
 * leaves that owner with T, which anti-entropy copies back to the others; the next rounds collect
 * it again, so collection is eventually complete, not atomic.
 *
 * <p><b>Bounds.</b> At most {@link #ROUNDS_PER_INTERVAL_MAX} rounds start per interval; the rest
 * wait for the next one. Round state is kept only for tombstones this node holds.
 */
final class TombstoneCollector {
  /** Confirmation rounds one node starts per interval; more tombstones wait their turn. */
  static final int ROUNDS_PER_INTERVAL_MAX = 1_024;

  /** What the collector needs from its node. */
  interface Host {
    long ticks();

    long nextRoundId();

    boolean suspects(int node);

    /** Merges {@code state} into the owned key and syncs the result before anything is sent. */
    void mergeDurably(String key, KeyState state);

    /** Drops the hint for {@code owner}'s key if it still has {@code digest}, synced. */
    void dropHintDurably(int owner, String key, long digest);

    /** Rewrites the key's current state with a sync, so an answer about it is durable. */
    void syncKey(String key, KeyState state);

    /** Forgets the key, raising and persisting the dot and stamp floors in the same record. */
    void dropTombstone(String key, KeyState tombstone);

    /** Lets the node's HLC see a stamp carried by {@code state}. */
    void observe(KeyState state);
  }

  private static final class Round {
    final long id;
    final long digest;
    final long startedTick;
    final TreeSet<Integer> awaiting;

    Round(long id, long digest, long startedTick, TreeSet<Integer> awaiting) {
      this.id = id;
      this.digest = digest;
      this.startedTick = startedTick;
      this.awaiting = awaiting;
    }
  }

  private record Progress(long digest, int confirmations, long lastConfirmedTick) {}

  private final int nodeId;
  private final Placement placement;
  private final LeaderlessConfig config;
  private final LeaderlessStore store;
  private final LeaderlessCounters counters;
  private final ReadyBuffer out;
  private final Host host;
  private final Map<String, Round> rounds = new HashMap<>();
  private final Map<String, Progress> progress = new HashMap<>();

  TombstoneCollector(
      int nodeId,
      Placement placement,
      LeaderlessConfig config,
      LeaderlessStore store,
      LeaderlessCounters counters,
      ReadyBuffer out,
      Host host) {
    this.nodeId = nodeId;
    this.placement = placement;
    this.config = config;
    this.store = store;
    this.counters = counters;
    this.out = out;
    this.host = host;
  }

  /** Confirmations a tombstone needs before it is dropped (see the class comment). */
  int confirmationsNeeded() {
    return config.sloppyQuorum() ? 3 : 2;
  }

  /** Called every tick; starts rounds on this node's interval. */
  void tick() {
    int interval = config.tombstoneGcIntervalTicks();
    if (interval == 0 || config.conflicts() == ConflictMode.CRDT) {
      return;
    }
    if ((host.ticks() + nodeId) % interval != 0) {
      return;
    }
    rounds.clear(); // unanswered rounds ended with their interval (a lost message)
    progress.keySet().removeIf(key -> !store.tombstoneKeys().contains(key));
    for (String key : store.tombstoneKeys()) {
      if (rounds.size() >= ROUNDS_PER_INTERVAL_MAX) {
        break;
      }
      startRound(key);
    }
  }

  private void startRound(String key) {
    int partition = placement.partitionOf(key);
    if (placement.owners(partition).get(0) != nodeId) {
      return;
    }
    List<Integer> holders = holders(partition);
    if (holders.stream().anyMatch(host::suspects)) {
      return;
    }
    KeyState tombstone = store.get(key);
    long digest = store.digest(key);
    Progress seen = progress.get(key);
    if (seen != null && seen.digest() != digest) {
      progress.remove(key);
      seen = null;
    }
    if (seen != null && host.ticks() < seen.lastConfirmedTick() + config.tombstoneGraceTicks()) {
      return;
    }
    host.syncKey(key, tombstone);
    counters.tombstoneGcRounds++;
    Round round = new Round(host.nextRoundId(), digest, host.ticks(), new TreeSet<>(holders));
    rounds.put(key, round);
    for (int holder : holders) {
      out.send(
          new LeaderlessMessage.TombstoneCheck(nodeId, holder, round.id, key, tombstone.encoded()));
    }
    if (holders.isEmpty()) {
      complete(key, round);
    }
  }

  /** Every other node that may hold a copy of the partition's keys: owners, and hint holders. */
  private List<Integer> holders(int partition) {
    List<Integer> holders =
        new ArrayList<>(
            config.sloppyQuorum() ? placement.ringOrder(partition) : placement.owners(partition));
    holders.remove(Integer.valueOf(nodeId));
    return holders;
  }

  void onCheck(LeaderlessMessage.TombstoneCheck check) {
    KeyState tombstone = KeyState.decode(check.state());
    host.observe(tombstone);
    boolean holds = true;
    if (placement.owns(nodeId, placement.partitionOf(check.key()))) {
      host.mergeDurably(check.key(), tombstone);
      holds = store.digest(check.key()) == tombstone.digest();
    }
    for (int owner : List.copyOf(store.hintedOwners())) {
      KeyState hint = store.hint(owner, check.key());
      if (hint == null) {
        continue;
      }
      KeyState merged = hint.merge(tombstone, config.lwwTieBreak()).state();
      if (merged.digest() == tombstone.digest()) {
        host.dropHintDurably(owner, check.key(), hint.digest());
        counters.tombstoneHintsDropped++;
      } else {
        holds = false;
      }
    }
    out.send(
        new LeaderlessMessage.TombstoneCheckAck(
            nodeId, check.from(), check.round(), check.key(), holds));
  }

  void onCheckAck(LeaderlessMessage.TombstoneCheckAck ack) {
    Round round = rounds.get(ack.key());
    if (round == null || round.id != ack.round() || !round.awaiting.contains(ack.from())) {
      return;
    }
    if (!ack.holds()) {
      rounds.remove(ack.key());
      progress.remove(ack.key());
      return;
    }
    round.awaiting.remove(ack.from());
    if (round.awaiting.isEmpty()) {
      complete(ack.key(), round);
    }
  }

  private void complete(String key, Round round) {
    rounds.remove(key);
    KeyState current = store.get(key);
    if (current == null || !current.isTombstone() || store.digest(key) != round.digest) {
      progress.remove(key);
      return;
    }
    Progress seen = progress.get(key);
    if (seen == null || seen.digest() != round.digest) {
      seen = new Progress(round.digest, 1, host.ticks());
    } else if (round.startedTick >= seen.lastConfirmedTick() + config.tombstoneGraceTicks()) {
      seen = new Progress(round.digest, seen.confirmations() + 1, host.ticks());
    } else {
      return;
    }
    counters.tombstoneGcConfirmations++;
    if (seen.confirmations() < confirmationsNeeded()) {
      progress.put(key, seen);
      return;
    }
    progress.remove(key);
    for (int owner : placement.owners(placement.partitionOf(key))) {
      if (owner != nodeId) {
        out.send(new LeaderlessMessage.TombstoneDrop(nodeId, owner, key, round.digest));
      }
    }
    host.dropTombstone(key, current);
  }

  void onDrop(LeaderlessMessage.TombstoneDrop drop) {
    if (!placement.owns(nodeId, placement.partitionOf(drop.key()))) {
      return;
    }
    KeyState current = store.get(drop.key());
    if (current != null && current.isTombstone() && store.digest(drop.key()) == drop.digest()) {
      host.dropTombstone(drop.key(), current);
    }
  }
}
