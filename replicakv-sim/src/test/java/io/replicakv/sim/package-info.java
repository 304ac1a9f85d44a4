/**
 * The deterministic simulator, its toy replicas and the history checkers (test scope only).
 *
 * <p>{@link io.replicakv.sim.Simulation} drives real {@link io.replicakv.core.Replica} objects
 * through a simulated network ({@link io.replicakv.sim.SimNetwork}), clocks ({@link
 * io.replicakv.sim.SimClock}) and disks ({@link io.replicakv.sim.SimDisk}) from one event queue and
 * one seeded PRNG, checking {@link io.replicakv.sim.Invariant}s after every event. Checkers ({@link
 * io.replicakv.sim.LinearizabilityChecker}, {@link io.replicakv.sim.LostWriteChecker}, {@link
 * io.replicakv.sim.ConvergenceChecker}, {@link io.replicakv.sim.SessionChecker}, {@link
 * io.replicakv.sim.SiblingsChecker}) judge the recorded client history afterwards.
 *
 * <p>Replaying a failure: every failing seed is printed with one command, either {@code -Dtest=
 * Class#method -Dsim.seed=N} for a test, or {@code -Dtest=ScenarioReplayTest -Dsim.scenario=NAME
 * -Dsim.seed=N} for a seed found by {@link io.replicakv.sim.SimRunner} (long campaigns; see its
 * Javadoc and {@code replicakv-sim/run-sim.sh}).
 */
package io.replicakv.sim;
