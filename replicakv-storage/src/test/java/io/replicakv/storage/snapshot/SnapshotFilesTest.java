package io.replicakv.storage.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotFilesTest {
  @TempDir Path dir;

  private static List<byte[]> randomEntries(Random random, int count) {
    return randomEntries(random, count, 50_000);
  }

  private static List<byte[]> randomEntries(Random random, int count, int largeBytes) {
    List<byte[]> entries = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      int size = random.nextInt(10) == 0 ? random.nextInt(largeBytes) : random.nextInt(100);
      byte[] entry = new byte[size];
      random.nextBytes(entry);
      entries.add(entry);
    }
    return entries;
  }

  private SnapshotInfo write(long sequence, List<byte[]> entries) throws IOException {
    try (SnapshotWriter writer =
        SnapshotWriter.create(dir, sequence, 1_700_000_000_000L + sequence)) {
      for (byte[] entry : entries) {
        writer.append(entry);
      }
      return writer.finish();
    }
  }

  private static List<byte[]> readAll(Path path) throws IOException {
    List<byte[]> out = new ArrayList<>();
    SnapshotFiles.read(path, out::add);
    return out;
  }

  private List<String> names() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void writtenSnapshotReadsBackWithItsSequenceAndEntries() throws IOException {
    List<byte[]> entries = randomEntries(new Random(7), 300);
    entries.add(new byte[0]);
    SnapshotInfo info = write(1234, entries);
    assertThat(info.path()).isEqualTo(dir.resolve("00000000000000001234.snapshot"));
    assertThat(info.lastIncludedSequence()).isEqualTo(1234);
    assertThat(info.entryCount()).isEqualTo(301);
    assertThat(info.sizeBytes()).isEqualTo(Files.size(info.path()));
    assertThat(names()).containsExactly("00000000000000001234.snapshot");

    List<byte[]> read = new ArrayList<>();
    SnapshotInfo again = SnapshotFiles.read(info.path(), read::add);
    assertThat(again).isEqualTo(info);
    assertThat(read).containsExactlyElementsOf(entries);
    assertThat(SnapshotFiles.newestValid(dir)).contains(info);
  }

  @Test
  void anEmptySnapshotIsValid() throws IOException {
    SnapshotInfo info = write(0, List.of());
    assertThat(readAll(info.path())).isEmpty();
    assertThat(SnapshotFiles.newestValid(dir)).contains(info);
  }

  @Test
  void closingAnUnfinishedWriterLeavesNoFile() throws IOException {
    try (SnapshotWriter writer = SnapshotWriter.create(dir, 5, 0)) {
      writer.append(new byte[] {1, 2, 3});
    }
    assertThat(names()).isEmpty();
    assertThat(SnapshotFiles.newestValid(dir)).isEmpty();
    assertThat(SnapshotFiles.newestValid(dir.resolve("missing"))).isEmpty();
  }

  @Test
  void everyTruncationIsRejected() throws IOException {
    SnapshotInfo info = write(10, randomEntries(new Random(3), 20, 300));
    byte[] whole = Files.readAllBytes(info.path());
    Path cut = dir.resolve("cut");
    for (int length = 0; length < whole.length; length++) {
      Files.write(cut, java.util.Arrays.copyOf(whole, length));
      int at = length;
      assertThatThrownBy(() -> SnapshotFiles.read(cut, e -> {}))
          .as("truncated to %d of %d bytes", at, whole.length)
          .isInstanceOf(CorruptSnapshotException.class);
    }
  }

  @Test
  void everySingleBitFlipIsRejected() throws IOException {
    SnapshotInfo info = write(10, randomEntries(new Random(4), 8, 300));
    byte[] whole = Files.readAllBytes(info.path());
    Path flipped = dir.resolve("flipped");
    Random random = new Random(5);
    for (int offset = 0; offset < whole.length; offset++) {
      byte[] copy = whole.clone();
      copy[offset] ^= (byte) (1 << random.nextInt(8));
      Files.write(flipped, copy);
      int at = offset;
      assertThatThrownBy(() -> SnapshotFiles.read(flipped, e -> {}))
          .as("bit flipped at offset %d", at)
          .isInstanceOf(CorruptSnapshotException.class);
    }
  }

  @Test
  void newestValidFallsBackPastCorruptAndIncompleteSnapshots() throws IOException {
    SnapshotInfo oldest = write(100, randomEntries(new Random(1), 50));
    SnapshotInfo middle = write(200, randomEntries(new Random(2), 50));
    SnapshotInfo newest = write(300, randomEntries(new Random(3), 50));
    assertThat(SnapshotFiles.newestValid(dir)).contains(newest);

    flipOneBit(newest.path(), newest.sizeBytes() / 2);
    assertThat(SnapshotFiles.newestValid(dir)).contains(middle);

    try (FileChannel channel = FileChannel.open(middle.path(), StandardOpenOption.WRITE)) {
      channel.truncate(middle.sizeBytes() - 3);
    }
    assertThat(SnapshotFiles.newestValid(dir)).contains(oldest);

    // An unfinished temp file of a newer snapshot is never picked.
    SnapshotWriter unfinished = SnapshotWriter.create(dir, 400, 0);
    unfinished.append(new byte[10]);
    assertThat(SnapshotFiles.newestValid(dir)).contains(oldest);
    unfinished.close();
  }

  @Test
  void deleteAllExceptKeepsOnlyTheGivenSnapshot() throws IOException {
    write(100, List.of(new byte[] {1}));
    SnapshotInfo keep = write(200, List.of(new byte[] {2}));
    write(300, List.of(new byte[] {3}));
    Files.write(dir.resolve("unrelated.txt"), new byte[] {1});
    SnapshotFiles.deleteAllExcept(dir, keep.path());
    assertThat(names()).containsExactly("00000000000000000200.snapshot", "unrelated.txt");
    assertThat(SnapshotFiles.newestValid(dir)).contains(keep);
  }

  private static void flipOneBit(Path path, long offset) throws IOException {
    try (FileChannel channel =
        FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer one = ByteBuffer.allocate(1);
      channel.read(one, offset);
      one.put(0, (byte) (one.get(0) ^ 0x10));
      one.rewind();
      channel.write(one, offset);
    }
  }
}
