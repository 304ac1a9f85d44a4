package io.replicakv.storage.log;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recovery of a log directory on open: scan the segments in sequence order, check each header and
 * record (bounds, CRC32C, consecutive sequences, consecutive segments) and cut everything from the
 * first invalid byte on. The cut is physical (truncate the file, delete later segments, fsync) so
 * that a second crash during recovery, or the next open, sees the same log.
 *
 * <p>A torn header of the very first segment is rewritten rather than deleted, so that a log whose
 * older segments were deleted after a snapshot does not restart its numbering at 1.
 */
final class LogRecovery {
  private static final Logger LOG = LoggerFactory.getLogger(LogRecovery.class);

  private LogRecovery() {}

  /** The segments kept, the report, and the sequence the next append receives. */
  record Result(List<Segment> segments, RecoveryReport report, long nextSequence) {}

  private record SegmentFile(long firstSequence, Path path) {}

  static Result recover(Path directory) throws IOException {
    Files.createDirectories(directory);
    List<SegmentFile> files = listSegments(directory);
    List<Segment> kept = new ArrayList<>();
    long next = files.isEmpty() ? 1 : files.getFirst().firstSequence();
    long firstRecord = -1;
    long records = 0;
    long truncatedBytes = 0;
    String reason = null;
    for (SegmentFile file : files) {
      long fileBytes = Files.size(file.path());
      if (reason != null) {
        truncatedBytes += fileBytes;
        Files.delete(file.path());
        continue;
      }
      if (file.firstSequence() != next) {
        reason =
            String.format(
                "segment %s starts at sequence %d but %d was expected; cut at offset 0, %d bytes",
                file.path().getFileName(), file.firstSequence(), next, fileBytes);
        truncatedBytes += fileBytes;
        Files.delete(file.path());
        continue;
      }
      try (SegmentReader reader = SegmentReader.open(file.path())) {
        if (!reader.readHeader(file.firstSequence())) {
          reason =
              String.format(
                  "segment %s: %s; cut at offset 0, %d bytes",
                  file.path().getFileName(), reader.problem(), fileBytes);
          truncatedBytes += fileBytes;
          if (kept.isEmpty()) {
            rewriteHeader(file);
            kept.add(new Segment(file.firstSequence(), file.path(), LogFormat.HEADER_BYTES));
          } else {
            Files.delete(file.path());
          }
          continue;
        }
        long validEnd = LogFormat.HEADER_BYTES;
        String problem = null;
        for (LogRecord record = reader.next(); record != null; record = reader.next()) {
          if (record.sequence() != next) {
            problem = "record sequence " + record.sequence() + " where " + next + " was expected";
            break;
          }
          if (firstRecord < 0) {
            firstRecord = record.sequence();
          }
          records++;
          next++;
          validEnd = record.endOffset();
        }
        if (problem == null) {
          problem = reader.problem();
        }
        if (problem != null) {
          long cut = fileBytes - validEnd;
          reason =
              String.format(
                  "segment %s: %s; cut at offset %d, %d bytes",
                  file.path().getFileName(), problem, validEnd, cut);
          truncatedBytes += cut;
          truncate(file.path(), validEnd);
        }
        kept.add(new Segment(file.firstSequence(), file.path(), validEnd));
      }
    }
    if (reason != null) {
      forceDirectory(directory);
      LOG.warn(
          "log recovery in {} cut a torn or corrupt tail: {} ({} bytes in total)",
          directory,
          reason,
          truncatedBytes);
    }
    long last = next - 1;
    RecoveryReport report =
        new RecoveryReport(
            firstRecord < 0 ? last + 1 : firstRecord,
            last,
            records,
            kept.size(),
            truncatedBytes,
            reason);
    return new Result(kept, report, next);
  }

  private static List<SegmentFile> listSegments(Path directory) throws IOException {
    List<SegmentFile> files = new ArrayList<>();
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory)) {
      for (Path path : stream) {
        OptionalLong first = LogFormat.parseFileName(path);
        if (first.isPresent() && Files.isRegularFile(path)) {
          files.add(new SegmentFile(first.getAsLong(), path));
        }
      }
    }
    files.sort((a, b) -> Long.compare(a.firstSequence(), b.firstSequence()));
    return files;
  }

  private static void truncate(Path path, long sizeBytes) throws IOException {
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE)) {
      channel.truncate(sizeBytes);
      channel.force(true);
    }
  }

  private static void rewriteHeader(SegmentFile file) throws IOException {
    try (FileChannel channel =
        FileChannel.open(
            file.path(), StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      var header = LogFormat.header(file.firstSequence());
      while (header.hasRemaining()) {
        channel.write(header, header.position());
      }
      channel.force(true);
    }
  }

  static void forceDirectory(Path directory) throws IOException {
    LogDisk.REAL.forceDirectory(directory);
  }
}
