package io.replicakv.storage.snapshot;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Consumer;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finding, verifying and pruning snapshot files (format in {@link SnapshotFormat}).
 *
 * <p>{@link #read} streams entries to its consumer as it verifies them, so when it throws the
 * consumer may already have seen entries of a bad file: load into fresh state and drop it on
 * failure, or pick the file with {@link #newestValid} first, which verifies every byte.
 */
public final class SnapshotFiles {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotFiles.class);

  private static final int READ_BUFFER_BYTES = 256 << 10;

  private SnapshotFiles() {}

  /**
   * The newest snapshot in {@code directory} that passes full verification; corrupt or incomplete
   * ones are skipped with a warning. Empty when there is none (or no directory).
   */
  public static Optional<SnapshotInfo> newestValid(Path directory) {
    List<Path> candidates;
    try {
      candidates = listSnapshots(directory);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      LOG.warn("cannot list snapshots in {}: {}", directory, e.toString());
      return Optional.empty();
    }
    for (Path path : candidates.reversed()) {
      try {
        return Optional.of(read(path, entry -> {}));
      } catch (IOException e) {
        LOG.warn("skipping invalid snapshot {}: {}", path, e.getMessage());
      }
    }
    return Optional.empty();
  }

  /**
   * Reads and verifies a whole snapshot, handing each entry to {@code entries} in order.
   *
   * @throws CorruptSnapshotException on any mismatch: magic, version, name, lengths, checksums,
   *     count, missing trailer or bytes after it
   */
  public static SnapshotInfo read(Path path, Consumer<byte[]> entries) throws IOException {
    Objects.requireNonNull(entries, "entries");
    long sizeBytes = Files.size(path);
    CRC32C fileCrc = new CRC32C();
    try (InputStream raw = new BufferedInputStream(Files.newInputStream(path), READ_BUFFER_BYTES)) {
      DataInputStream in = new DataInputStream(new CheckedInputStream(raw, fileCrc));
      int magic = in.readInt();
      if (magic != SnapshotFormat.MAGIC) {
        throw corrupt(path, String.format("bad magic 0x%08x", magic));
      }
      byte version = in.readByte();
      in.skipNBytes(3);
      if (version != SnapshotFormat.VERSION) {
        throw corrupt(path, "unsupported format version " + version);
      }
      long lastIncludedSequence = in.readLong();
      long createdMillis = in.readLong();
      long position = SnapshotFormat.HEADER_BYTES;
      long count = 0;
      CRC32C entryCrc = new CRC32C();
      while (true) {
        int length = in.readInt();
        if (length == SnapshotFormat.END_MARKER) {
          break;
        }
        long remaining = sizeBytes - position - 8 - SnapshotFormat.TRAILER_BYTES - 4;
        if (length < 0 || length > SnapshotFormat.ENTRY_MAX_BYTES || length > remaining) {
          throw corrupt(path, "invalid entry length " + length + " at offset " + position);
        }
        int storedCrc = in.readInt();
        byte[] entry = in.readNBytes(length);
        entryCrc.reset();
        entryCrc.update(entry, 0, entry.length);
        if ((int) entryCrc.getValue() != storedCrc) {
          throw corrupt(path, "entry checksum mismatch at offset " + position);
        }
        entries.accept(entry);
        count++;
        position += 8L + length;
      }
      long storedCount = in.readLong();
      int expectedCrc = (int) fileCrc.getValue();
      int storedCrc = new DataInputStream(raw).readInt();
      if (storedCount != count) {
        throw corrupt(path, "trailer counts " + storedCount + " entries, file holds " + count);
      }
      if (storedCrc != expectedCrc) {
        throw corrupt(path, "file checksum mismatch");
      }
      if (raw.read() != -1) {
        throw corrupt(path, "bytes after the trailer");
      }
      OptionalLong named = SnapshotFormat.parseFileName(path);
      if (named.isPresent() && named.getAsLong() != lastIncludedSequence) {
        throw corrupt(path, "header says sequence " + lastIncludedSequence);
      }
      return new SnapshotInfo(path, lastIncludedSequence, count, sizeBytes, createdMillis);
    } catch (EOFException e) {
      throw new CorruptSnapshotException(path + ": truncated (no complete trailer)", e);
    }
  }

  /**
   * Deletes every snapshot in {@code directory} except {@code keep}, plus leftover temporary files
   * of snapshots no newer than {@code keep}.
   */
  public static void deleteAllExcept(Path directory, Path keep) throws IOException {
    Path kept = keep.toAbsolutePath().normalize();
    OptionalLong keptSequence = SnapshotFormat.parseFileName(keep);
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory)) {
      for (Path path : stream) {
        String name = path.getFileName().toString();
        boolean snapshot = SnapshotFormat.parseFileName(path).isPresent();
        // A temp file of a newer snapshot may belong to a writer still running; leave it alone.
        boolean staleTemp =
            name.endsWith(SnapshotFormat.TEMP_SUFFIX)
                && keptSequence.isPresent()
                && tempSequence(name) <= keptSequence.getAsLong();
        if ((snapshot || staleTemp) && !path.toAbsolutePath().normalize().equals(kept)) {
          Files.deleteIfExists(path);
          LOG.info("deleted old snapshot file {}", path);
        }
      }
    }
  }

  private static long tempSequence(String name) {
    try {
      return Long.parseLong(name.substring(0, 20));
    } catch (RuntimeException e) {
      return Long.MAX_VALUE;
    }
  }

  private static List<Path> listSnapshots(Path directory) throws IOException {
    List<Path> found = new ArrayList<>();
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory)) {
      for (Path path : stream) {
        if (SnapshotFormat.parseFileName(path).isPresent() && Files.isRegularFile(path)) {
          found.add(path);
        }
      }
    }
    found.sort(Comparator.comparingLong(p -> SnapshotFormat.parseFileName(p).getAsLong()));
    return found;
  }

  private static CorruptSnapshotException corrupt(Path path, String reason) {
    return new CorruptSnapshotException(path + ": " + reason);
  }
}
