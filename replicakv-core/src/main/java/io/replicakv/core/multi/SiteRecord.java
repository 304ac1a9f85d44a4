package io.replicakv.core.multi;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.util.ArrayList;
import java.util.List;

/**
 * What a site persists: each change it applies, in apply order (which is also its outgoing log
 * order, so positions survive a restart), and its position in each upstream site's log.
 *
 * <p>Binary form: version byte 1, kind byte (1 applied, 2 link position), then the body: for
 * applied, the change and its path (varint count, site ids); for a link position, the upstream site
 * id and the applied-through position (varint).
 */
public sealed interface SiteRecord {
  /** Longest key accepted when decoding, in UTF-8 bytes. */
  int KEY_BYTES_MAX = 4 * io.replicakv.core.msg.Operation.KEY_CHARS_MAX;

  /** A change applied here, local or received, with the sites it passed (this one last). */
  record Applied(Change change, List<String> path) implements SiteRecord {
    public Applied {
      Check.notNull(change, "change");
      path = List.copyOf(path);
    }
  }

  /** Everything up to {@code appliedThrough} of {@code upstream}'s log is applied here. */
  record LinkPosition(String upstream, long appliedThrough) implements SiteRecord {
    public LinkPosition {
      Check.notNull(upstream, "upstream");
      Check.argument(appliedThrough >= 0, "appliedThrough %s < 0", appliedThrough);
    }
  }

  /** Lock site: {@code holder} holds the lock on {@code key} under {@code fencingToken}. */
  record LockGranted(String key, String holder, long fencingToken) implements SiteRecord {}

  /** Lock site: the lock on {@code key} under {@code fencingToken} is free; what was written. */
  record LockFreed(String key, long fencingToken, VersionVector written) implements SiteRecord {}

  /**
   * Holder: the release of {@code fencingToken} must reach {@code lockSite}; resend until acked.
   */
  record ReleasePending(String key, String lockSite, long fencingToken, VersionVector written)
      implements SiteRecord {}

  /** Holder: the lock site acknowledged the release of {@code fencingToken}. */
  record ReleaseDone(String key, long fencingToken) implements SiteRecord {}

  /** The durable form. */
  default PersistRecord toRecord() {
    ByteWriter writer = new ByteWriter().writeByte(1);
    switch (this) {
      case Applied applied -> {
        writer.writeByte(1);
        applied.change().writeTo(writer);
        writer.writeVarInt(applied.path().size());
        applied.path().forEach(writer::writeString);
      }
      case LinkPosition position ->
          writer
              .writeByte(2)
              .writeString(position.upstream())
              .writeVarLong(position.appliedThrough());
      case LockGranted granted ->
          writer
              .writeByte(3)
              .writeString(granted.key())
              .writeString(granted.holder())
              .writeVarLong(granted.fencingToken());
      case LockFreed freed -> {
        writer.writeByte(4).writeString(freed.key()).writeVarLong(freed.fencingToken());
        freed.written().writeTo(writer);
      }
      case ReleasePending pending -> {
        writer.writeByte(5).writeString(pending.key()).writeString(pending.lockSite());
        writer.writeVarLong(pending.fencingToken());
        pending.written().writeTo(writer);
      }
      case ReleaseDone done ->
          writer.writeByte(6).writeString(done.key()).writeVarLong(done.fencingToken());
    }
    return new PersistRecord(writer.toByteArray());
  }

  /** Decodes {@link #toRecord()}. */
  static SiteRecord fromRecord(PersistRecord record) {
    ByteReader reader = ByteReader.open(record.payload(), 1, "SiteRecord");
    int kind = reader.readByte();
    SiteRecord result =
        switch (kind) {
          case 1 -> {
            Change change = Change.readFrom(reader);
            int count = reader.readCount(Limits.REPLICAS_MAX);
            List<String> path = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
              path.add(reader.readString(Limits.ID_MAX_BYTES));
            }
            yield new Applied(change, path);
          }
          case 2 -> new LinkPosition(reader.readString(Limits.ID_MAX_BYTES), reader.readVarLong());
          case 3 ->
              new LockGranted(
                  reader.readString(KEY_BYTES_MAX),
                  reader.readString(Limits.ID_MAX_BYTES),
                  reader.readVarLong());
          case 4 ->
              new LockFreed(
                  reader.readString(KEY_BYTES_MAX),
                  reader.readVarLong(),
                  VersionVector.readFrom(reader));
          case 5 ->
              new ReleasePending(
                  reader.readString(KEY_BYTES_MAX),
                  reader.readString(Limits.ID_MAX_BYTES),
                  reader.readVarLong(),
                  VersionVector.readFrom(reader));
          case 6 -> new ReleaseDone(reader.readString(KEY_BYTES_MAX), reader.readVarLong());
          default -> throw new CorruptEncodingException("unknown site record kind " + kind);
        };
    reader.finish();
    return result;
  }
}
