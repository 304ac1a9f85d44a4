package io.replicakv.sim;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The outcome of one simulated run.
 *
 * @param seed the seed that produced it
 * @param traceDigest SHA-256 of the whole trace; equal for equal seeds and code
 * @param events events processed
 * @param observation history and final states, for the checkers
 * @param violation the first invariant violation or exception, empty when none
 * @param traceTail the last trace lines, for failure reports
 * @param fullTrace the whole trace when it was asked for, else empty
 * @param counters fault and traffic counts (messages sent and dropped, crashes, ...)
 */
public record SimResult(
    long seed,
    String traceDigest,
    long events,
    Observation observation,
    Optional<String> violation,
    List<String> traceTail,
    String fullTrace,
    Map<String, Long> counters) {}
