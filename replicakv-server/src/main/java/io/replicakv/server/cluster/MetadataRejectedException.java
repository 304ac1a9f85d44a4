package io.replicakv.server.cluster;

/**
 * A metadata change was refused because it does not fit the current view (duplicate name, invalid
 * replication config, unknown member, forbidden state transition). The message is the reason,
 * written for the operator. Refusal is deterministic: every replica refuses the same change at the
 * same version, so the view never diverges.
 */
public final class MetadataRejectedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with the reason the change was refused. */
  public MetadataRejectedException(String reason) {
    super(reason);
  }
}
