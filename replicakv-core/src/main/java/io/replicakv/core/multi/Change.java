package io.replicakv.core.multi;

import io.replicakv.core.causal.Dot;
import io.replicakv.core.causal.Hlc;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;

/**
 * One write accepted by one site, as it travels between sites.
 *
 * @param dot the write's identity: the origin site and that site's write counter
 * @param dependencies the origin's version vector when it accepted the write: every change this one
 *     may depend on. A receiver applies the change only after all of them (causal delivery)
 * @param keyContext the changes to this key that the writer had seen (the site's, or the client's
 *     causal context for siblings); live values whose dots it covers are overwritten, the others
 *     are concurrent with this write
 * @param timestamp the origin's HLC timestamp, used by last-writer-wins only
 * @param key the key written
 * @param mutation what the write does
 * @param fencingToken for {@code conflicts=lock}: the token of the lock the write was made under,
 *     checked by every site when it applies the write; 0 for writes made without a lock
 */
public record Change(
    Dot dot,
    VersionVector dependencies,
    VersionVector keyContext,
    Hlc timestamp,
    String key,
    Mutation mutation,
    long fencingToken) {

  public Change {
    Check.argument(fencingToken >= 0, "fencing token %s < 0", fencingToken);
    Check.notNull(dot, "dot");
    Check.notNull(dependencies, "dependencies");
    Check.notNull(keyContext, "keyContext");
    Check.notNull(timestamp, "timestamp");
    Check.notNull(key, "key");
    Check.notNull(mutation, "mutation");
    Check.argument(
        dependencies.get(dot.replicaId()) == dot.counter() - 1,
        "change %s depends on %s of its own site, expected counter - 1",
        dot,
        dependencies.get(dot.replicaId()));
    Check.argument(
        dependencies.descends(keyContext),
        "key context %s not within dependencies %s",
        keyContext,
        dependencies);
  }

  /** A write made without a lock. */
  public Change(
      Dot dot,
      VersionVector dependencies,
      VersionVector keyContext,
      Hlc timestamp,
      String key,
      Mutation mutation) {
    this(dot, dependencies, keyContext, timestamp, key, mutation, 0);
  }

  /** The site that accepted the write. */
  public String origin() {
    return dot.replicaId();
  }

  /** Approximate encoded size, for lag in bytes. */
  public int sizeBytes() {
    return key.length() + mutation.sizeBytes() + 16 * (1 + dependencies.entries().size()) + 12;
  }

  /** Writes the change without a version byte. */
  public void writeTo(ByteWriter writer) {
    dot.writeTo(writer);
    dependencies.writeTo(writer);
    keyContext.writeTo(writer);
    timestamp.writeTo(writer);
    writer.writeString(key);
    mutation.writeTo(writer);
    writer.writeVarLong(fencingToken);
  }

  /** Reads what {@link #writeTo} wrote. */
  public static Change readFrom(ByteReader reader) {
    Dot dot = Dot.readFrom(reader);
    VersionVector dependencies = VersionVector.readFrom(reader);
    VersionVector keyContext = VersionVector.readFrom(reader);
    Hlc timestamp = Hlc.readFrom(reader);
    String key = reader.readString(4 * io.replicakv.core.msg.Operation.KEY_CHARS_MAX);
    Mutation mutation = Mutation.readFrom(reader);
    return new Change(
        dot, dependencies, keyContext, timestamp, key, mutation, reader.readVarLong());
  }
}
