/**
 * State-based CRDTs for {@code conflicts=crdt}: counters, registers, an add-wins set and a map of
 * CRDT fields. Every type is immutable, merges by a semilattice join and has a versioned binary
 * form.
 */
package io.replicakv.core.crdt;
