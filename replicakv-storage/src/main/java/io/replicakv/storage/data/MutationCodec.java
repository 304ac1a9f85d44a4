package io.replicakv.storage.data;

import io.replicakv.core.util.Check;
import java.util.List;

/**
 * The binary form of a {@link Mutation}, as the write-ahead log and the replication stream carry
 * it.
 *
 * <h2>Format (version 1)</h2>
 *
 * <pre>
 *   byte     format version (1)
 *   byte     type tag (below)
 *   varint   keyspace                     (all but FlushAll)
 *   then, by type:
 *   1 StringSet      key, value, varint expireAtMillis
 *   2 Delete         key
 *   3 Expire         key, varint expireAtMillis
 *   4 HashSet        key, list (f1, v1, f2, v2...)
 *   5 HashDelete     key, list (fields)
 *   6 SetAdd         key, list (members)
 *   7 SetRemove      key, list (members)
 *   8 Rename         from, to
 *   9 FlushKeyspace  -
 *  10 FlushAll       -
 * </pre>
 *
 * A varint is unsigned LEB128 and must be minimal; a byte string is a varint length then the bytes;
 * a list is a varint count then byte strings. The encoding is canonical: a decoded record encodes
 * back to the same bytes, which lets tests check decoding of arbitrary input exactly.
 *
 * <h2>Failures</h2>
 *
 * The log's per-record CRC32C catches torn and corrupt records before they reach here; this codec
 * is the second line: an unknown version or tag, a length past the end, a non-minimal varint,
 * trailing bytes or an invalid record (odd HashSet list, keyspace past {@code int}) all fail with
 * {@link IllegalArgumentException}. A newer format version must get a new version byte; this
 * decoder refuses it rather than guess.
 */
public final class MutationCodec {
  /** Current format version, the first byte of every encoding. */
  public static final int FORMAT_VERSION = 1;

  static final int TAG_STRING_SET = 1;
  static final int TAG_DELETE = 2;
  static final int TAG_EXPIRE = 3;
  static final int TAG_HASH_SET = 4;
  static final int TAG_HASH_DELETE = 5;
  static final int TAG_SET_ADD = 6;
  static final int TAG_SET_REMOVE = 7;
  static final int TAG_RENAME = 8;
  static final int TAG_FLUSH_KEYSPACE = 9;
  static final int TAG_FLUSH_ALL = 10;
  static final int TAG_BATCH = 11;

  private static final int HEADER_BYTES = 2;

  private MutationCodec() {}

  /** The version-1 encoding of {@code m}. */
  public static byte[] encode(Mutation m) {
    Check.notNull(m, "mutation");
    ByteWriter out = new ByteWriter(encodedSize(m));
    out.writeByte(FORMAT_VERSION);
    out.writeByte(tag(m));
    if (m instanceof Mutation.Batch b) {
      out.writeVarLong(b.parts().size());
      for (Mutation part : b.parts()) {
        out.writeByteString(encode(part));
      }
      return out.finish();
    }
    if (!(m instanceof Mutation.FlushAll)) {
      out.writeVarLong(m.keyspace());
    }
    switch (m) {
      case Mutation.StringSet s -> {
        out.writeByteString(s.key());
        out.writeByteString(s.value());
        out.writeVarLong(s.expireAtMillis());
      }
      case Mutation.Delete d -> out.writeByteString(d.key());
      case Mutation.Expire e -> {
        out.writeByteString(e.key());
        out.writeVarLong(e.expireAtMillis());
      }
      case Mutation.HashSet h -> writeKeyAndList(out, h.key(), h.fieldsAndValues());
      case Mutation.HashDelete h -> writeKeyAndList(out, h.key(), h.fields());
      case Mutation.SetAdd s -> writeKeyAndList(out, s.key(), s.members());
      case Mutation.SetRemove s -> writeKeyAndList(out, s.key(), s.members());
      case Mutation.Rename r -> {
        out.writeByteString(r.from());
        out.writeByteString(r.to());
      }
      case Mutation.FlushKeyspace f -> {}
      case Mutation.FlushAll f -> {}
      case Mutation.Batch b -> throw new IllegalStateException("handled above");
    }
    return out.finish();
  }

  /** Size in bytes of {@link #encode}'s result, without encoding. */
  public static int encodedSize(Mutation m) {
    int size = HEADER_BYTES;
    if (m instanceof Mutation.Batch b) {
      size += ByteWriter.varLongSize(b.parts().size());
      for (Mutation part : b.parts()) {
        int partSize = encodedSize(part);
        size = Math.addExact(size, ByteWriter.varLongSize(partSize) + partSize);
      }
      return size;
    }
    if (!(m instanceof Mutation.FlushAll)) {
      size += ByteWriter.varLongSize(m.keyspace());
    }
    int body =
        switch (m) {
          case Mutation.StringSet s ->
              ByteWriter.byteStringSize(s.key())
                  + ByteWriter.byteStringSize(s.value())
                  + ByteWriter.varLongSize(s.expireAtMillis());
          case Mutation.Delete d -> ByteWriter.byteStringSize(d.key());
          case Mutation.Expire e ->
              ByteWriter.byteStringSize(e.key()) + ByteWriter.varLongSize(e.expireAtMillis());
          case Mutation.HashSet h -> keyAndListSize(h.key(), h.fieldsAndValues());
          case Mutation.HashDelete h -> keyAndListSize(h.key(), h.fields());
          case Mutation.SetAdd s -> keyAndListSize(s.key(), s.members());
          case Mutation.SetRemove s -> keyAndListSize(s.key(), s.members());
          case Mutation.Rename r ->
              ByteWriter.byteStringSize(r.from()) + ByteWriter.byteStringSize(r.to());
          case Mutation.FlushKeyspace f -> 0;
          case Mutation.FlushAll f -> 0;
          case Mutation.Batch b -> throw new IllegalStateException("handled above");
        };
    return Math.addExact(size, body);
  }

  /** Decodes one mutation; throws {@link IllegalArgumentException} on anything malformed. */
  public static Mutation decode(byte[] bytes) {
    ByteReader in = new ByteReader(bytes);
    int version = in.readByte();
    if (version != FORMAT_VERSION) {
      throw new IllegalArgumentException("unsupported mutation format version " + version);
    }
    int tag = in.readByte();
    if (tag == TAG_FLUSH_ALL) {
      in.expectEnd();
      return new Mutation.FlushAll();
    }
    if (tag == TAG_BATCH) {
      int count = in.readVarInt("batch parts", Mutation.Batch.PARTS_MAX);
      List<Mutation> parts = new java.util.ArrayList<>(Math.min(count, 1024));
      for (int i = 0; i < count; i++) {
        Mutation part = decode(in.readByteString());
        if (part instanceof Mutation.Batch) {
          throw new IllegalArgumentException("nested batch");
        }
        parts.add(part);
      }
      in.expectEnd();
      if (parts.isEmpty()) {
        throw new IllegalArgumentException("empty batch");
      }
      return new Mutation.Batch(parts);
    }
    if (tag < TAG_STRING_SET || tag > TAG_FLUSH_ALL) {
      throw new IllegalArgumentException("unknown mutation type tag " + tag);
    }
    int keyspace = in.readVarInt("keyspace", Integer.MAX_VALUE);
    Mutation m =
        switch (tag) {
          case TAG_STRING_SET ->
              new Mutation.StringSet(
                  keyspace, in.readByteString(), in.readByteString(), readExpireAt(in));
          case TAG_DELETE -> new Mutation.Delete(keyspace, in.readByteString());
          case TAG_EXPIRE -> new Mutation.Expire(keyspace, in.readByteString(), readExpireAt(in));
          case TAG_HASH_SET -> {
            byte[] key = in.readByteString();
            List<byte[]> pairs = in.readByteStringList();
            if (pairs.size() % 2 != 0) {
              throw new IllegalArgumentException("HashSet with odd element count " + pairs.size());
            }
            yield new Mutation.HashSet(keyspace, key, pairs);
          }
          case TAG_HASH_DELETE ->
              new Mutation.HashDelete(keyspace, in.readByteString(), in.readByteStringList());
          case TAG_SET_ADD ->
              new Mutation.SetAdd(keyspace, in.readByteString(), in.readByteStringList());
          case TAG_SET_REMOVE ->
              new Mutation.SetRemove(keyspace, in.readByteString(), in.readByteStringList());
          case TAG_RENAME ->
              new Mutation.Rename(keyspace, in.readByteString(), in.readByteString());
          case TAG_FLUSH_KEYSPACE -> new Mutation.FlushKeyspace(keyspace);
          default -> throw new IllegalStateException("tag " + tag + " passed the range check");
        };
    in.expectEnd();
    return m;
  }

  private static long readExpireAt(ByteReader in) {
    return in.readVarLong("expireAtMillis", Long.MAX_VALUE);
  }

  static int tag(Mutation m) {
    return switch (m) {
      case Mutation.StringSet s -> TAG_STRING_SET;
      case Mutation.Delete d -> TAG_DELETE;
      case Mutation.Expire e -> TAG_EXPIRE;
      case Mutation.HashSet h -> TAG_HASH_SET;
      case Mutation.HashDelete h -> TAG_HASH_DELETE;
      case Mutation.SetAdd s -> TAG_SET_ADD;
      case Mutation.SetRemove s -> TAG_SET_REMOVE;
      case Mutation.Rename r -> TAG_RENAME;
      case Mutation.FlushKeyspace f -> TAG_FLUSH_KEYSPACE;
      case Mutation.FlushAll f -> TAG_FLUSH_ALL;
      case Mutation.Batch b -> TAG_BATCH;
    };
  }

  private static int keyAndListSize(byte[] key, List<byte[]> elements) {
    return Math.addExact(ByteWriter.byteStringSize(key), ByteWriter.byteStringListSize(elements));
  }

  private static void writeKeyAndList(ByteWriter out, byte[] key, List<byte[]> elements) {
    out.writeByteString(key);
    out.writeByteStringList(elements);
  }
}
