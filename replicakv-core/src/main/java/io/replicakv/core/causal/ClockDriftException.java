package io.replicakv.core.causal;

/**
 * A remote timestamp ran further ahead of the local physical clock than {@link HybridLogicalClock}
 * allows. The message is refused rather than letting one node with a broken clock drag every other
 * node's timestamps (and so every LWW decision) into the future.
 */
public final class ClockDriftException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final long aheadMillis;

  /** Creates the exception; {@code aheadMillis} is how far the remote ran ahead. */
  public ClockDriftException(Hlc remote, long localPhysicalMillis, long maxAheadMillis) {
    super(
        "remote timestamp "
            + remote
            + " is "
            + (remote.physicalMillis() - localPhysicalMillis)
            + " ms ahead of local physical time "
            + localPhysicalMillis
            + ", bound is "
            + maxAheadMillis
            + " ms");
    this.aheadMillis = remote.physicalMillis() - localPhysicalMillis;
  }

  /** How many milliseconds the remote timestamp was ahead of local physical time. */
  public long aheadMillis() {
    return aheadMillis;
  }
}
