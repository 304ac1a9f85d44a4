package io.replicakv.storage.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The crash model at the log level: after random appends, the byte stream of the log (segments
 * concatenated in order) is cut at a random offset, or one bit near its tail is flipped. Reopening
 * must recover exactly the records that lay wholly before the damage: none past it, none corrupt,
 * no gaps. The expected prefix is computed by this test's own parser of the format, not by the
 * reader under test. Each seed replays exactly.
 */
class CrashRecoveryTest {
  private static final long[] SEGMENT_SIZES = {1024, 4096, 65_536};
  private static final int LARGE_PAYLOAD_BYTES = 20_000;

  @TempDir Path dir;

  static Stream<Long> seeds() {
    return LongStream.rangeClosed(1, 40).boxed();
  }

  /** Where one record lies in the concatenated byte stream of all segments. */
  private record Span(long sequence, int segment, long start, long end) {}

  private record Layout(
      List<Path> segments, List<Long> segmentStarts, List<Span> records, long total) {}

  private LogOptions options(long segmentSizeBytes) {
    return LogOptions.defaults(dir)
        .withFsync(FsyncPolicy.NEVER)
        .withSegmentSizeBytes(segmentSizeBytes);
  }

  /** Real files, no fsync: this test damages bytes itself, and real fsyncs only cost time. */
  private static SegmentedLog open(LogOptions options) throws IOException {
    return SegmentedLog.open(options, TestDisk.withoutFsync(), System::nanoTime, 50);
  }

  private List<Records> writeRandomLog(Random random, LogOptions options) throws IOException {
    List<Records> appended = new ArrayList<>();
    try (SegmentedLog log = open(options)) {
      int count = 20 + random.nextInt(200);
      for (int i = 0; i < count; i++) {
        byte[] payload = Records.randomPayload(random, LARGE_PAYLOAD_BYTES);
        int partition = random.nextInt();
        appended.add(new Records(log.append(partition, payload), partition, payload));
        if (random.nextInt(5) == 0) {
          log.flush();
        }
      }
    }
    return appended;
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void cutAtARandomByteRecoversExactlyTheWholeRecordsBeforeIt(long seed) throws IOException {
    Random random = new Random(seed);
    LogOptions options = options(SEGMENT_SIZES[random.nextInt(SEGMENT_SIZES.length)]);
    List<Records> appended = writeRandomLog(random, options);
    Layout layout = layout();
    long cut = random.nextLong(layout.total() + 1);
    for (int i = 0; i < layout.segments().size(); i++) {
      Path segment = layout.segments().get(i);
      long start = layout.segmentStarts().get(i);
      if (start > cut || (start == cut && i > 0 && random.nextBoolean())) {
        Files.delete(segment);
      } else if (start + Files.size(segment) > cut) {
        truncate(segment, cut - start);
      }
    }
    List<Records> expected = new ArrayList<>();
    for (Span span : layout.records()) {
      if (span.end() <= cut) {
        expected.add(appended.get((int) span.sequence() - 1));
      }
    }
    assertRecoversExactly(options, expected, "seed " + seed + " cut at " + cut);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void aFlippedBitNearTheTailCutsTheLogBeforeTheDamagedRecord(long seed) throws IOException {
    Random random = new Random(seed);
    LogOptions options = options(SEGMENT_SIZES[random.nextInt(SEGMENT_SIZES.length)]);
    List<Records> appended = writeRandomLog(random, options);
    Layout layout = layout();
    List<Span> tail = new ArrayList<>();
    for (Span span : layout.records()) {
      if (span.end() > layout.total() - 2000) {
        tail.add(span);
      }
    }
    Span damaged = tail.get(random.nextInt(tail.size()));
    long offsetInRecord = random.nextLong(damaged.end() - damaged.start());
    long offsetInSegment =
        damaged.start() + offsetInRecord - layout.segmentStarts().get(damaged.segment());
    flipBit(layout.segments().get(damaged.segment()), offsetInSegment, random.nextInt(8));
    List<Records> expected = appended.subList(0, (int) damaged.sequence() - 1);
    String context =
        "seed " + seed + " flipped record " + damaged.sequence() + " at +" + offsetInRecord;
    RecoveryReport report = assertRecoversExactly(options, expected, context);
    assertThat(report.truncatedBytes())
        .as(context)
        .isGreaterThanOrEqualTo(damaged.end() - damaged.start());
    assertThat(report.truncationReason()).as(context).isNotNull();
  }

  private RecoveryReport assertRecoversExactly(
      LogOptions options, List<Records> expected, String context) throws IOException {
    RecoveryReport report;
    try (SegmentedLog log = open(options)) {
      report = log.recovery();
      assertThat(report.lastSequence()).as(context).isEqualTo(expected.size());
      assertThat(report.recordCount()).as(context).isEqualTo(expected.size());
      assertThat(Records.replayAll(log, 0)).as(context).containsExactlyElementsOf(expected);
      // The log goes on from the cut without a gap.
      assertThat(log.append(5, new byte[] {9})).as(context).isEqualTo(expected.size() + 1);
    }
    try (SegmentedLog log = open(options)) {
      assertThat(log.recovery().truncationReason()).as(context).isNull();
      List<Records> again = Records.replayAll(log, 0);
      assertThat(again).as(context).hasSize(expected.size() + 1);
      assertThat(again.subList(0, expected.size())).as(context).containsExactlyElementsOf(expected);
    }
    return report;
  }

  /** Parses the segments with the documented format, independently of SegmentReader. */
  private Layout layout() throws IOException {
    List<Path> segments;
    try (Stream<Path> files = Files.list(dir)) {
      segments = files.filter(p -> p.toString().endsWith(".log")).sorted().toList();
    }
    List<Long> starts = new ArrayList<>();
    List<Span> records = new ArrayList<>();
    long global = 0;
    for (int i = 0; i < segments.size(); i++) {
      ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(segments.get(i)));
      starts.add(global);
      int offset = LogFormat.HEADER_BYTES;
      while (offset < bytes.limit()) {
        int length = bytes.getInt(offset);
        long sequence = bytes.getLong(offset + 8);
        int end = offset + 8 + length;
        records.add(new Span(sequence, i, global + offset, global + end));
        offset = end;
      }
      assertThat(offset).isEqualTo(bytes.limit());
      global += bytes.limit();
    }
    for (int i = 0; i < records.size(); i++) {
      assertThat(records.get(i).sequence()).isEqualTo(i + 1);
    }
    return new Layout(segments, starts, records, global);
  }

  private static void truncate(Path path, long size) throws IOException {
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE)) {
      channel.truncate(size);
    }
  }

  private static void flipBit(Path path, long offset, int bit) throws IOException {
    try (FileChannel channel =
        FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer one = ByteBuffer.allocate(1);
      channel.read(one, offset);
      one.put(0, (byte) (one.get(0) ^ (1 << bit)));
      one.rewind();
      channel.write(one, offset);
    }
  }
}
