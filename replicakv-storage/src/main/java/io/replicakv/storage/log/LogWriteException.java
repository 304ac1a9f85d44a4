package io.replicakv.storage.log;

import java.io.IOException;

/**
 * Thrown by {@link SegmentedLog#append} while the disk refuses writes (or after the log was
 * closed); the record was not appended. The cause is the I/O error the writer thread last saw.
 */
public final class LogWriteException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public LogWriteException(String message, IOException cause) {
    super(message, cause);
  }
}
