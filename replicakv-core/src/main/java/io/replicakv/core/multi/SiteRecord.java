package io.replicakv.core.multi;

import io.replicakv.core.PersistRecord;
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
          default -> throw new CorruptEncodingException("unknown site record kind " + kind);
        };
    reader.finish();
    return result;
  }
}
