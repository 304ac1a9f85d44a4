package io.replicakv.server.replication;

import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import java.util.ArrayList;
import java.util.List;

/**
 * The envelope every replication protocol's peer frame shares: {@code [u8 version][varint count]
 * item*}, bounded in items and bytes. Each protocol supplies how one item is written and read; the
 * bounds, the version check and turning any refused field into a {@link CorruptEncodingException}
 * live here once.
 */
public final class BatchFrame {
  private BatchFrame() {}

  /** Writes one item of a frame. */
  @FunctionalInterface
  public interface ItemWriter<T> {
    void write(ByteWriter out, T item);
  }

  /** Reads one item of a frame; throws (any exception of the codec) on malformed input. */
  @FunctionalInterface
  public interface ItemReader<T> {
    T read(ByteReader in);
  }

  /**
   * Encodes {@code items} as one frame.
   *
   * @throws IllegalArgumentException past {@code itemsMax} items or {@code frameBytesMax} bytes
   */
  public static <T> byte[] encode(
      int version, int itemsMax, int frameBytesMax, List<T> items, ItemWriter<T> writer) {
    Check.argument(
        items.size() <= itemsMax, "%s messages over %s per frame", items.size(), itemsMax);
    ByteWriter out = new ByteWriter().writeByte(version).writeVarInt(items.size());
    for (T item : items) {
      writer.write(out, item);
    }
    byte[] frame = out.toByteArray();
    Check.argument(
        frame.length <= frameBytesMax, "frame of %s bytes over %s", frame.length, frameBytesMax);
    return frame;
  }

  /**
   * Decodes one frame.
   *
   * @throws CorruptEncodingException for any input {@link #encode} with the same arguments did not
   *     produce
   */
  public static <T> List<T> decode(
      String frameName,
      int version,
      int itemsMax,
      int frameBytesMax,
      byte[] frame,
      ItemReader<T> reader) {
    if (frame.length > frameBytesMax) {
      throw new CorruptEncodingException(
          "frame of " + frame.length + " bytes over " + frameBytesMax);
    }
    ByteReader in = ByteReader.open(frame, version, frameName);
    try {
      int count = in.readCount(itemsMax);
      List<T> items = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        items.add(reader.read(in));
      }
      in.finish();
      return items;
    } catch (IllegalArgumentException | IllegalStateException | NullPointerException e) {
      // a field a record constructor refuses (an epoch below 1, lists of different sizes, ...)
      throw new CorruptEncodingException(frameName + ": " + e.getMessage());
    }
  }
}
