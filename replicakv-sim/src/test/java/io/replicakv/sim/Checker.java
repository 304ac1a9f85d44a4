package io.replicakv.sim;

/** Judges an {@link Observation}: a recorded history and, where available, final node states. */
public interface Checker {
  /** The verdict, with one line per problem found. */
  CheckResult check(Observation observation);
}
