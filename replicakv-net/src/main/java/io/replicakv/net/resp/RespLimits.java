package io.replicakv.net.resp;

import io.replicakv.core.util.Check;

/**
 * Bounds the RESP decoder enforces on client input before it buffers or allocates anything.
 *
 * @param maxBulkBytes largest bulk argument accepted ({@code $<len>} header); a larger header is
 *     refused with "invalid bulk length" before any payload is read (Redis {@code
 *     proto-max-bulk-len})
 * @param maxArguments largest argument count accepted in a {@code *<count>} header; a larger count
 *     is refused with "invalid multibulk length"
 * @param maxInlineBytes longest inline command line, and longest {@code *}/{@code $} header line,
 *     accepted (Redis {@code PROTO_INLINE_MAX_SIZE})
 */
public record RespLimits(long maxBulkBytes, int maxArguments, int maxInlineBytes) {

  /** Redis's default {@code proto-max-bulk-len}: 512 MiB. */
  public static final long DEFAULT_MAX_BULK_BYTES = 512L * 1024 * 1024;

  /** Redis's historical cap on a multibulk count (1024 * 1024). */
  public static final int DEFAULT_MAX_ARGUMENTS = 1_048_576;

  /** Redis's {@code PROTO_INLINE_MAX_SIZE}: 64 KiB. */
  public static final int DEFAULT_MAX_INLINE_BYTES = 65_536;

  /**
   * A decoded bulk argument becomes one Java {@code byte[]}, so no bulk can be larger than the
   * largest array the JVM reliably allocates.
   */
  public static final long MAX_BULK_BYTES_CEILING = Integer.MAX_VALUE - 8;

  public RespLimits {
    Check.argument(
        maxBulkBytes >= 0 && maxBulkBytes <= MAX_BULK_BYTES_CEILING,
        "maxBulkBytes %s outside [0, %s]",
        maxBulkBytes,
        MAX_BULK_BYTES_CEILING);
    Check.argument(maxArguments >= 1, "maxArguments %s below 1", maxArguments);
    Check.argument(maxInlineBytes >= 1, "maxInlineBytes %s below 1", maxInlineBytes);
  }

  /** Redis's defaults: 512 MiB bulks, 1,048,576 arguments, 64 KiB inline lines. */
  public static RespLimits defaults() {
    return new RespLimits(DEFAULT_MAX_BULK_BYTES, DEFAULT_MAX_ARGUMENTS, DEFAULT_MAX_INLINE_BYTES);
  }

  /** A copy with a different bulk limit (CONFIG SET proto-max-bulk-len). */
  public RespLimits withMaxBulkBytes(long bytes) {
    return new RespLimits(bytes, maxArguments, maxInlineBytes);
  }
}
