package io.replicakv.storage.snapshot;

import io.replicakv.storage.SequenceFileNames;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * The snapshot file layout. All integers are big-endian.
 *
 * <pre>
 * file    = header entry* end trailer
 * header  = [u32 magic "RKVS"][u8 version][3 bytes zero][u64 lastIncludedSequence]
 *           [u64 createdMillis]                                                 (24 bytes)
 * entry   = [u32 length][u32 CRC32C of the entry bytes][entry bytes]
 * end     = [u32 0xFFFFFFFF]
 * trailer = [u64 entryCount][u32 CRC32C of every byte of the file before this field]
 * </pre>
 *
 * <p>The per-entry CRC catches damage close to where it is; the whole-file CRC also covers the
 * header, the lengths and the count, so any single flipped bit anywhere is caught. A file whose
 * trailer is missing was never finished. The name is the last included sequence as 20 digits plus
 * {@code .snapshot}; it appears only through an atomic rename after the file was fsynced, so a
 * crash leaves either the old set of snapshots or the new one, plus perhaps a temporary file.
 */
final class SnapshotFormat {
  private SnapshotFormat() {}

  static final int MAGIC = 0x524B5653; // "RKVS"
  static final byte VERSION = 1;
  static final int HEADER_BYTES = 24;
  static final int END_MARKER = 0xFFFFFFFF;
  static final int TRAILER_BYTES = 12;

  /** Largest entry accepted; Redis's default proto-max-bulk-len, so any storable value fits. */
  static final int ENTRY_MAX_BYTES = 512 << 20;

  static final String SUFFIX = ".snapshot";
  static final String TEMP_SUFFIX = ".snapshot.tmp";

  static String fileName(long lastIncludedSequence) {
    return SequenceFileNames.format(lastIncludedSequence, SUFFIX);
  }

  static OptionalLong parseFileName(Path path) {
    return SequenceFileNames.parse(path, SUFFIX);
  }
}
