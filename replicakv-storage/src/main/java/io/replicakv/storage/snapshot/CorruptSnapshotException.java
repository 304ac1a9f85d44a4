package io.replicakv.storage.snapshot;

import java.io.IOException;

/** A snapshot file failed verification: truncated, bit-flipped, or not a snapshot at all. */
public final class CorruptSnapshotException extends IOException {
  private static final long serialVersionUID = 1L;

  public CorruptSnapshotException(String message) {
    super(message);
  }

  public CorruptSnapshotException(String message, Throwable cause) {
    super(message, cause);
  }
}
