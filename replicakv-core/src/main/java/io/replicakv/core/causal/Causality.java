package io.replicakv.core.causal;

/** How two version vectors (or the events they summarise) relate in the happened-before order. */
public enum Causality {
  /** This one happened before the other: the other has seen everything this one has, and more. */
  BEFORE,
  /** This one happened after the other. */
  AFTER,
  /** Both have seen exactly the same events. */
  EQUAL,
  /** Each has seen something the other has not: a conflict. */
  CONCURRENT
}
