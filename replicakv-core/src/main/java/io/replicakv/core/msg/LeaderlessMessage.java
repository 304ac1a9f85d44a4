package io.replicakv.core.msg;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.util.Check;
import java.util.List;

/**
 * Messages between the nodes of a leaderless (Dynamo-style) keyspace: failure detection, the put
 * and get paths of a request coordinator, read repair, hinted handoff and Merkle-tree anti-entropy.
 * Key states travel as the canonical binary form of {@code io.replicakv.core.leaderless.KeyState},
 * so a receiver merges them without trusting their origin's interpretation. Leaderless replication
 * has no leader and so no epoch: {@link #epoch()} is always 0.
 *
 * <p>Every request carries the coordinator's request id; answers to a request the coordinator no
 * longer tracks (timed out, node restarted) are ignored, so loss, duplication and reordering only
 * cost time. {@code hintFor} names the preference-list owner a sloppy-quorum substitute stands in
 * for, or {@link #NO_HINT} when the receiver is an owner itself.
 */
public sealed interface LeaderlessMessage extends PeerMessage
    permits LeaderlessMessage.Ping,
        LeaderlessMessage.Pong,
        LeaderlessMessage.CoordinatePut,
        LeaderlessMessage.CoordinatePutAck,
        LeaderlessMessage.Replicate,
        LeaderlessMessage.ReplicateAck,
        LeaderlessMessage.Read,
        LeaderlessMessage.ReadReply,
        LeaderlessMessage.TreeLevel,
        LeaderlessMessage.KeyDigests,
        LeaderlessMessage.KeyStates,
        LeaderlessMessage.Handoff,
        LeaderlessMessage.HandoffAck,
        LeaderlessMessage.TombstoneCheck,
        LeaderlessMessage.TombstoneCheckAck,
        LeaderlessMessage.TombstoneDrop {

  /** {@code hintFor} of a message addressed to an owner of the key. */
  int NO_HINT = -1;

  /** Request id of a replicate that wants no acknowledgement (background read repair). */
  long NO_ACK = -1;

  /** Entries (tree nodes, keys, hints) one message may carry; more go in later rounds. */
  int ENTRIES_PER_MESSAGE_MAX = 4_096;

  /**
   * State bytes one anti-entropy {@link KeyStates} message carries at most (past it the rest waits
   * for the next exchange), unless its first state alone is larger.
   */
  int STATE_BYTES_PER_MESSAGE_MAX = 4 << 20;

  @Override
  default long epoch() {
    return 0;
  }

  /** Liveness probe; any message from a peer counts as a sign of life. */
  record Ping(int from, int to) implements LeaderlessMessage {}

  /** Answer to {@link Ping}. */
  record Pong(int from, int to) implements LeaderlessMessage {}

  /**
   * Asks an owner of the key to apply a client write: it creates the new version (a dot of its own,
   * or an HLC timestamp), stores it durably and answers with the resulting state. Only owners
   * create versions (never a substitute), so dots stay unique. {@code write} is the encoded write
   * ({@code io.replicakv.core.leaderless.Write}).
   */
  record CoordinatePut(
      int from, int to, long requestId, String key, Bytes write, VersionVector context)
      implements LeaderlessMessage {
    public CoordinatePut {
      Check.notNull(key, "key");
      Check.notNull(write, "write");
      Check.notNull(context, "context");
    }
  }

  /**
   * Answer to {@link CoordinatePut}: {@code state} is the key's state after the write, or null when
   * the replica refused it ({@code refusal} says why).
   */
  record CoordinatePutAck(int from, int to, long requestId, String key, Bytes state, String refusal)
      implements LeaderlessMessage {
    public CoordinatePutAck {
      Check.argument((state == null) != (refusal == null), "exactly one of state and refusal");
    }
  }

  /** Merge {@code state} into the key (or into the hint for {@code hintFor}). */
  record Replicate(int from, int to, long requestId, String key, Bytes state, int hintFor)
      implements LeaderlessMessage {
    public Replicate {
      Check.notNull(key, "key");
      Check.notNull(state, "state");
    }
  }

  /**
   * Answer to {@link Replicate}: the state is durable there, or was refused (hint store full). In a
   * {@code conflicts=crdt} keyspace an owner also returns {@code merged}, its state for the key
   * after the merge, when that differs from the state it was sent (it knew writes the coordinator
   * did not); otherwise {@code merged} is null.
   */
  record ReplicateAck(int from, int to, long requestId, boolean accepted, Bytes merged)
      implements LeaderlessMessage {}

  /** Asks for the key's state (or the hint held for {@code hintFor}). */
  record Read(int from, int to, long requestId, String key, int hintFor)
      implements LeaderlessMessage {
    public Read {
      Check.notNull(key, "key");
    }
  }

  /** Answer to {@link Read}: the state, or null when the replica has nothing for the key. */
  record ReadReply(int from, int to, long requestId, String key, Bytes state)
      implements LeaderlessMessage {}

  /**
   * One step down two Merkle trees of one partition: the sender's hashes of the tree nodes {@code
   * nodeIndexes} at {@code level} (0 is the root; levels below the kept leaves are hashed on
   * demand). The receiver compares with its own and answers, for each differing node, with its
   * children's hashes one level down, or with {@link KeyDigests} when it holds few keys there.
   */
  record TreeLevel(
      int from, int to, int partition, int level, List<Integer> nodeIndexes, List<Long> hashes)
      implements LeaderlessMessage {
    public TreeLevel {
      nodeIndexes = List.copyOf(nodeIndexes);
      hashes = List.copyOf(hashes);
      Check.argument(nodeIndexes.size() == hashes.size(), "indexes and hashes differ in size");
      Check.argument(
          nodeIndexes.size() <= ENTRIES_PER_MESSAGE_MAX, "%s tree nodes", nodeIndexes.size());
    }
  }

  /**
   * The sender's keys and their state digests in the ranges of the differing tree nodes {@code
   * nodeIndexes} at {@code level} of one partition, in tree-path order. Every range is listed
   * whole, except that a single range holding more than {@link #ENTRIES_PER_MESSAGE_MAX} keys is
   * cut there.
   */
  record KeyDigests(
      int from,
      int to,
      int partition,
      int level,
      List<Integer> nodeIndexes,
      List<String> keys,
      List<Long> digests)
      implements LeaderlessMessage {
    public KeyDigests {
      nodeIndexes = List.copyOf(nodeIndexes);
      keys = List.copyOf(keys);
      digests = List.copyOf(digests);
      Check.argument(level >= 0, "level %s < 0", level);
      Check.argument(keys.size() == digests.size(), "keys and digests differ in size");
      Check.argument(keys.size() <= ENTRIES_PER_MESSAGE_MAX, "%s keys", keys.size());
      Check.argument(
          nodeIndexes.size() <= ENTRIES_PER_MESSAGE_MAX, "%s tree nodes", nodeIndexes.size());
    }
  }

  /**
   * States of differing keys, to be merged on arrival; {@code wanted} lists keys the receiver
   * should send back (the sender lacks them or holds another version).
   */
  record KeyStates(
      int from, int to, int partition, List<String> keys, List<Bytes> states, List<String> wanted)
      implements LeaderlessMessage {
    public KeyStates {
      keys = List.copyOf(keys);
      states = List.copyOf(states);
      wanted = List.copyOf(wanted);
      Check.argument(keys.size() == states.size(), "keys and states differ in size");
      Check.argument(keys.size() <= ENTRIES_PER_MESSAGE_MAX, "%s keys", keys.size());
      Check.argument(wanted.size() <= ENTRIES_PER_MESSAGE_MAX, "%s wanted", wanted.size());
    }
  }

  /** Hinted handoff: states a substitute held for the receiver while it was unreachable. */
  record Handoff(int from, int to, List<String> keys, List<Bytes> states)
      implements LeaderlessMessage {
    public Handoff {
      keys = List.copyOf(keys);
      states = List.copyOf(states);
      Check.argument(keys.size() == states.size(), "keys and states differ in size");
      Check.argument(keys.size() <= ENTRIES_PER_MESSAGE_MAX, "%s keys", keys.size());
    }
  }

  /**
   * The owner holds (durably) the handed-off states with these digests; the substitute drops each
   * hint whose state is still the one it sent.
   */
  record HandoffAck(int from, int to, List<String> keys, List<Long> digests)
      implements LeaderlessMessage {
    public HandoffAck {
      keys = List.copyOf(keys);
      digests = List.copyOf(digests);
      Check.argument(keys.size() == digests.size(), "keys and digests differ in size");
    }
  }

  /**
   * Tombstone collection, one confirmation round: the key's first owner asks every node that could
   * hold the key (its owners, and with sloppy quorums every possible hint holder) to merge the
   * tombstone {@code state} and say whether what it holds for the key is now exactly that state,
   * durably. See {@code io.replicakv.core.leaderless.TombstoneCollector}.
   */
  record TombstoneCheck(int from, int to, long round, String key, Bytes state)
      implements LeaderlessMessage {
    public TombstoneCheck {
      Check.notNull(key, "key");
      Check.notNull(state, "state");
    }
  }

  /**
   * Answer to {@link TombstoneCheck}: {@code holds} when the sender's state (or every hint) for the
   * key equals the tombstone, synced; false when it holds something the tombstone does not cover.
   */
  record TombstoneCheckAck(int from, int to, long round, String key, boolean holds)
      implements LeaderlessMessage {
    public TombstoneCheckAck {
      Check.notNull(key, "key");
    }
  }

  /**
   * Drop the key if its state still has {@code digest} (the confirmed tombstone): every holder
   * confirmed it in rounds spaced by the grace period.
   */
  record TombstoneDrop(int from, int to, String key, long digest) implements LeaderlessMessage {
    public TombstoneDrop {
      Check.notNull(key, "key");
    }
  }
}
