package io.replicakv.core.crdt;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Limits;
import java.util.Collections;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * An add-wins observed-remove set (Shapiro et al. 2011, §3.3.5 "OR-Set"; optimised with dots and a
 * causal context as in Bieniusa et al., "An Optimized Conflict-free Replicated Set", 2012). What
 * {@code SADD} and {@code SREM} build under {@code conflicts=crdt}.
 *
 * <p><b>Model.</b> Each add tags the element with a fresh dot and drops the element's older dots
 * that this replica has seen; a remove drops the dots it has seen. An element is present while it
 * has a dot. A remove cannot drop a dot it has not seen, so when an add and a remove of the same
 * element are concurrent, the add wins. Removed elements leave no tombstone beyond the context,
 * whose size is one counter per replica.
 *
 * <p>Binary form: version byte 1, context, varint count, then per element its dot and bytes.
 */
public final class AwOrSet implements Crdt<AwOrSet> {
  /** The empty set. */
  public static final AwOrSet EMPTY = new AwOrSet(DotStore.empty());

  private static final int FORMAT_VERSION = 1;

  private final DotStore<Bytes> store;

  private AwOrSet(DotStore<Bytes> store) {
    this.store = store;
  }

  /** The set after {@code replicaId} adds {@code element}. */
  public AwOrSet add(String replicaId, Bytes element) {
    return new AwOrSet(store.replace(replicaId, element::equals, element));
  }

  /** The set after removing every observed instance of {@code element}. */
  public AwOrSet remove(Bytes element) {
    return new AwOrSet(store.remove(element::equals));
  }

  /** True when {@code element} is present. */
  public boolean contains(Bytes element) {
    return store.payloads().containsValue(element);
  }

  /** The present elements, in unsigned byte order. */
  public SortedSet<Bytes> elements() {
    return Collections.unmodifiableSortedSet(new TreeSet<>(store.payloads().values()));
  }

  /** Every add this set has seen. */
  public VersionVector context() {
    return store.context();
  }

  @Override
  public AwOrSet merge(AwOrSet other) {
    return new AwOrSet(store.merge(other.store));
  }

  @Override
  public CrdtType type() {
    return CrdtType.AW_OR_SET;
  }

  @Override
  public byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(FORMAT_VERSION);
    store.writeTo(writer, (out, element) -> out.writeBytes(element.toByteArray()));
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}. */
  public static AwOrSet fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "AwOrSet");
    DotStore<Bytes> store =
        DotStore.readFrom(reader, in -> Bytes.of(in.readBytes(Limits.VALUE_MAX_BYTES)));
    reader.finish();
    return new AwOrSet(store);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof AwOrSet that && store.equals(that.store);
  }

  @Override
  public int hashCode() {
    return store.hashCode();
  }

  @Override
  public String toString() {
    return "AwOrSet" + elements();
  }
}
