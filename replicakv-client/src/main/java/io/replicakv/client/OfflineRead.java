package io.replicakv.client;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One key as an offline site holds it.
 *
 * @param values the value, or the siblings (concurrent values, in the site's deterministic order),
 *     or nothing; a crdt set reads as its members, a counter as its number, a map as {@code
 *     field=value} entries
 * @param context what to send back with a write that replaces exactly these values
 * @param conflicted true when concurrent writes are live (siblings) or were merged into the value,
 *     so that an application can show the conflict instead of hiding it
 */
public record OfflineRead(List<String> values, CausalContext context, boolean conflicted) {
  public OfflineRead {
    values = List.copyOf(values);
    Objects.requireNonNull(context, "context");
  }

  /** Whether concurrent values are kept side by side. */
  public boolean hasSiblings() {
    return values.size() > 1;
  }

  /**
   * The single value, or nothing.
   *
   * @throws IllegalStateException when the key holds siblings (resolve them with a write that
   *     carries {@link #context()})
   */
  public Optional<String> value() {
    if (values.size() > 1) {
      throw new IllegalStateException(
          values.size() + " siblings " + values + "; write with this read's context to resolve");
    }
    return values.stream().findFirst();
  }
}
