package io.replicakv.core;

/**
 * The physical time a replica may consult (for a hybrid logical clock, a lease), handed in by its
 * caller. The server passes the wall clock; the simulator passes a clock with offset, drift and
 * jumps. The value may go backwards; a replica must not assume otherwise.
 */
@FunctionalInterface
public interface PhysicalClock {
  /** Milliseconds since the epoch as this node's clock currently reads them. */
  long physicalMillis();
}
