package io.replicakv.core.crdt;

import io.replicakv.core.causal.Dot;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Limits;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;

/**
 * A multi-value register: an assignment replaces every value its replica has seen, and values
 * assigned concurrently are all kept, as siblings, until a later assignment that saw them replaces
 * them (Shapiro et al. 2011, §3.2.2; the register of Amazon's shopping cart in the Dynamo paper).
 *
 * <p>Built on a dot store: each assignment is a fresh dot, so the number of values is bounded by
 * the number of concurrent assignments, never by the number of replicas or of merges.
 *
 * <p>Binary form: version byte 1, context, varint count, then per value its dot and bytes.
 */
public final class MvRegister implements Crdt<MvRegister> {
  /** The register that was never assigned. */
  public static final MvRegister EMPTY = new MvRegister(DotStore.empty());

  private static final int FORMAT_VERSION = 1;

  private final DotStore<Bytes> store;

  private MvRegister(DotStore<Bytes> store) {
    this.store = store;
  }

  /** The register after {@code replicaId} assigns {@code value}, replacing all values seen. */
  public MvRegister assign(String replicaId, Bytes value) {
    return new MvRegister(store.replace(replicaId, seen -> true, value));
  }

  /** The current values: one normally, several after concurrent assignments. Dot order. */
  public List<Bytes> values() {
    return new ArrayList<>(store.payloads().values());
  }

  /** The values keyed by the dot of the assignment that wrote them. */
  public SortedMap<Dot, Bytes> dottedValues() {
    return store.payloads();
  }

  /** Every assignment this register has seen. */
  public VersionVector context() {
    return store.context();
  }

  @Override
  public MvRegister merge(MvRegister other) {
    return new MvRegister(store.merge(other.store));
  }

  @Override
  public CrdtType type() {
    return CrdtType.MV_REGISTER;
  }

  @Override
  public byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(FORMAT_VERSION);
    store.writeTo(writer, (out, value) -> out.writeBytes(value.toByteArray()));
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}. */
  public static MvRegister fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "MvRegister");
    DotStore<Bytes> store =
        DotStore.readFrom(reader, in -> Bytes.of(in.readBytes(Limits.VALUE_MAX_BYTES)));
    reader.finish();
    return new MvRegister(store);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof MvRegister that && store.equals(that.store);
  }

  @Override
  public int hashCode() {
    return store.hashCode();
  }

  @Override
  public String toString() {
    return "MvRegister" + store;
  }
}
