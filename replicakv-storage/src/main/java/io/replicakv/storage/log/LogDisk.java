package io.replicakv.storage.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The seam through which the writer thread touches the disk: creating segment files, write(2) and
 * fsync. Production uses {@link #REAL}; tests substitute an implementation that fails (ENOSPC) or
 * counts fsyncs. Reads during recovery and replay do not go through here.
 */
interface LogDisk {
  /** Opens an existing or new segment file for writing at explicit positions. */
  FileChannel openForWrite(Path path, boolean create) throws IOException;

  /** One positional write; may write fewer bytes than remain, like write(2). */
  int write(FileChannel channel, ByteBuffer source, long position) throws IOException;

  /** fsync of a segment file's data. */
  void force(FileChannel channel) throws IOException;

  /** fsync of the directory, so that created or deleted file names survive a crash. */
  void forceDirectory(Path directory) throws IOException;

  LogDisk REAL =
      new LogDisk() {
        @Override
        public FileChannel openForWrite(Path path, boolean create) throws IOException {
          return create
              ? FileChannel.open(
                  path,
                  StandardOpenOption.CREATE,
                  StandardOpenOption.TRUNCATE_EXISTING,
                  StandardOpenOption.WRITE)
              : FileChannel.open(path, StandardOpenOption.WRITE);
        }

        @Override
        public int write(FileChannel channel, ByteBuffer source, long position) throws IOException {
          return channel.write(source, position);
        }

        @Override
        public void force(FileChannel channel) throws IOException {
          channel.force(false);
        }

        @Override
        public void forceDirectory(Path directory) throws IOException {
          try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
            dir.force(true);
          }
        }
      };
}
