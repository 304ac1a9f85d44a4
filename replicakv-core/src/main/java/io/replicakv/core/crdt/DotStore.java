package io.replicakv.core.crdt;

import io.replicakv.core.causal.Dot;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.util.Collections;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The shared engine of the dot-based CRDTs ({@link MvRegister}, {@link AwOrSet}, {@link OrMap}): a
 * map from dots to payloads plus a causal context (Almeida, Shoker, Baquero, "Delta State
 * Replicated Data Types", 2018, §5, "causal CRDTs").
 *
 * <p><b>Model.</b> Every update creates a fresh dot at the updating replica and adds it to the
 * context; removing a payload drops its dot from the map but keeps it in the context. A dot in the
 * context but not in the map therefore means "seen and removed". Merge keeps a dot when both sides
 * have it, or when one side has it and the other has not seen it; a dot one side has seen and
 * dropped stays dropped. That rule is what makes concurrent adds win over removes: a remove can
 * only drop dots it has seen.
 *
 * <p><b>Invariants.</b> Every dot in the map is in the context. A dot names one payload everywhere
 * (checked on merge). Contexts are version vectors, which is exact because each replica creates its
 * dots in sequence and every state carries everything it has seen (whole-state shipping).
 */
final class DotStore<V> {
  private final VersionVector context;
  private final SortedMap<Dot, V> payloads;

  DotStore(VersionVector context, SortedMap<Dot, V> payloads) {
    this.context = context;
    this.payloads = Collections.unmodifiableSortedMap(new TreeMap<>(payloads));
    for (Dot dot : this.payloads.keySet()) {
      Check.state(context.contains(dot), "dot %s missing from context %s", dot, context);
    }
  }

  static <V> DotStore<V> empty() {
    return new DotStore<>(VersionVector.EMPTY, new TreeMap<>());
  }

  VersionVector context() {
    return context;
  }

  SortedMap<Dot, V> payloads() {
    return payloads;
  }

  /** Drops the payloads matching {@code observed} and adds {@code payload} at a fresh dot. */
  DotStore<V> replace(String replicaId, Predicate<V> observed, V payload) {
    Dot dot = context.nextDot(Check.notNull(replicaId, "replicaId"));
    TreeMap<Dot, V> next = new TreeMap<>(payloads);
    next.values().removeIf(observed);
    next.put(dot, Check.notNull(payload, "payload"));
    return new DotStore<>(context.with(dot), next);
  }

  /** Drops the payloads matching {@code observed}; their dots stay in the context. */
  DotStore<V> remove(Predicate<V> observed) {
    TreeMap<Dot, V> next = new TreeMap<>(payloads);
    next.values().removeIf(observed);
    return new DotStore<>(context, next);
  }

  DotStore<V> merge(DotStore<V> other) {
    TreeMap<Dot, V> next = new TreeMap<>();
    payloads.forEach(
        (dot, payload) -> {
          V theirs = other.payloads.get(dot);
          if (theirs != null) {
            Check.state(theirs.equals(payload), "dot %s names two payloads", dot);
            next.put(dot, payload);
          } else if (!other.context.contains(dot)) {
            next.put(dot, payload);
          }
        });
    other.payloads.forEach(
        (dot, payload) -> {
          if (!payloads.containsKey(dot) && !context.contains(dot)) {
            next.put(dot, payload);
          }
        });
    return new DotStore<>(context.merge(other.context), next);
  }

  /** Writes the context, then each dot with its payload, in dot order. */
  void writeTo(ByteWriter writer, BiConsumer<ByteWriter, V> payloadWriter) {
    context.writeTo(writer);
    writer.writeVarInt(payloads.size());
    payloads.forEach(
        (dot, payload) -> {
          dot.writeTo(writer);
          payloadWriter.accept(writer, payload);
        });
  }

  /** Reads what {@link #writeTo} wrote, refusing dots outside the context. */
  static <V> DotStore<V> readFrom(ByteReader reader, Function<ByteReader, V> payloadReader) {
    VersionVector context = VersionVector.readFrom(reader);
    int count = reader.readCount(Limits.ELEMENTS_MAX);
    TreeMap<Dot, V> payloads = new TreeMap<>();
    for (int i = 0; i < count; i++) {
      Dot dot = Dot.readFrom(reader);
      if (!context.contains(dot) || payloads.put(dot, payloadReader.apply(reader)) != null) {
        throw new CorruptEncodingException("dot store: bad dot " + dot);
      }
    }
    return new DotStore<>(context, payloads);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof DotStore<?> that
        && context.equals(that.context)
        && payloads.equals(that.payloads);
  }

  @Override
  public int hashCode() {
    return 31 * context.hashCode() + payloads.hashCode();
  }

  @Override
  public String toString() {
    return payloads + " ctx " + context;
  }
}
