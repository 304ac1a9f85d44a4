package io.replicakv.core.multi;

import io.replicakv.core.causal.Dot;
import io.replicakv.core.causal.Hlc;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.util.Check;
import java.util.Comparator;
import java.util.List;

/**
 * What a site holds for one key: the live versions (one, or several concurrent ones) and the
 * context, the join of every change to the key the site has applied.
 *
 * @param context every change to this key applied here
 * @param live versions no applied change has overwritten, in dot order
 */
public record KeyState(VersionVector context, List<Version> live) {
  /** A key never written. */
  public static final KeyState EMPTY = new KeyState(VersionVector.EMPTY, List.of());

  /** One surviving write: its identity, timestamp, value and (lock writes) fencing token. */
  public record Version(Dot dot, Hlc timestamp, Mutation value, long fencingToken) {
    /** A version written without a lock. */
    public Version(Dot dot, Hlc timestamp, Mutation value) {
      this(dot, timestamp, value, 0);
    }

    public Version {
      Check.notNull(dot, "dot");
      Check.notNull(timestamp, "timestamp");
      Check.notNull(value, "value");
    }

    /** The version a change writes. */
    public static Version of(Change change) {
      return new Version(
          change.dot(), change.timestamp(), change.mutation(), change.fencingToken());
    }
  }

  /** Versions one key may hold when decoded (siblings are capped far below it). */
  public static final int VERSIONS_MAX = 4_096;

  /** One key and its state, as a catch-up or a checkpoint carries it. */
  public record Entry(String key, KeyState state) {
    public Entry {
      Check.notNull(key, "key");
      Check.notNull(state, "state");
    }
  }

  /** Approximate encoded size, for page bounds. */
  public long sizeBytes() {
    long bytes = 16L * (1 + context.entries().size());
    for (Version version : live) {
      bytes += 40 + version.value().sizeBytes();
    }
    return bytes;
  }

  /** Writes the state without a version byte: context, then each live version. */
  public void writeTo(io.replicakv.core.util.ByteWriter writer) {
    context.writeTo(writer);
    writer.writeVarInt(live.size());
    for (Version version : live) {
      version.dot().writeTo(writer);
      version.timestamp().writeTo(writer);
      version.value().writeTo(writer);
      writer.writeVarLong(version.fencingToken());
    }
  }

  /** Reads what {@link #writeTo} wrote. */
  public static KeyState readFrom(io.replicakv.core.util.ByteReader reader) {
    VersionVector context = VersionVector.readFrom(reader);
    int count = reader.readCount(VERSIONS_MAX);
    List<Version> live = new java.util.ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      Dot dot = Dot.readFrom(reader);
      Hlc timestamp = Hlc.readFrom(reader);
      Mutation value = Mutation.readFrom(reader);
      live.add(new Version(dot, timestamp, value, reader.readVarLong()));
    }
    try {
      return new KeyState(context, live);
    } catch (IllegalStateException | IllegalArgumentException e) {
      throw new io.replicakv.core.util.CorruptEncodingException("key state: " + e.getMessage());
    }
  }

  public KeyState {
    Check.notNull(context, "context");
    live = live.stream().sorted(Comparator.comparing(Version::dot)).toList();
    for (Version version : live) {
      Check.state(
          context.contains(version.dot()), "live %s outside context %s", version.dot(), context);
    }
  }
}
