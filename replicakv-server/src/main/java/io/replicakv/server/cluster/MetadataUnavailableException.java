package io.replicakv.server.cluster;

/**
 * The metadata quorum could not be reached in time: fewer than a majority of voters answer, or the
 * request timed out. The outcome of a proposal that fails this way is unknown (it may still commit
 * later), so a caller that retries should check the current view first. Reads of the last known
 * view keep working.
 */
public final class MetadataUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message starts with "metadata quorum unavailable: ". */
  public MetadataUnavailableException(String detail) {
    super("metadata quorum unavailable: " + detail);
  }

  /** Creates the exception with its cause. */
  public MetadataUnavailableException(String detail, Throwable cause) {
    super("metadata quorum unavailable: " + detail, cause);
  }
}
