package io.replicakv.core.crdt;

/**
 * A state-based conflict-free replicated data type (CvRDT; Shapiro, Preguiça, Baquero, Zawirski,
 * "Conflict-free Replicated Data Types", SSS 2011).
 *
 * <p>Replicas apply operations locally and ship whole states; {@link #merge} is the join of a
 * semilattice, so it is commutative, associative and idempotent, and replicas that have received
 * the same updates, in any order, any number of times, hold equal states. That is what lets a
 * multi-leader or leaderless keyspace with {@code conflicts=crdt} resolve every conflict without
 * coordination. Delta-state shipping is a later optimisation; the join is the same.
 *
 * <p>All implementations are immutable: operations return a new state.
 *
 * @param <T> the implementing type, so that merge takes and returns the same type
 */
public sealed interface Crdt<T extends Crdt<T>>
    permits GCounter, PNCounter, LwwRegister, MvRegister, AwOrSet, OrMap {

  /** The least upper bound of this state and {@code other}. */
  T merge(T other);

  /** The compact binary form; its first byte is the type's format version. */
  byte[] toBytes();

  /** Which CRDT this is, for tagged encodings such as the values of an {@link OrMap}. */
  CrdtType type();
}
