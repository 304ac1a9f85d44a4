package io.replicakv.core.multi;

import io.replicakv.core.causal.Dot;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.util.Check;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Changes that arrived before a change they depend on, held until their dependencies are applied
 * (causal delivery; "update before insert" never happens). Bounded by {@link #capacity}: when full
 * the site stops accepting from the link, which resends later, so a long outage costs time, not
 * memory. In memory only: after a restart the upstream sites resend from the applied position.
 */
final class CausalBuffer {
  /** One held change and the upstream site whose log it came from. */
  record Pending(String upstream, SiteMessage.Entry entry) {}

  private final int capacity;
  private final Map<Dot, Pending> pending = new LinkedHashMap<>();

  CausalBuffer(int capacity) {
    Check.argument(capacity >= 1, "capacity %s", capacity);
    this.capacity = capacity;
  }

  boolean isFull() {
    return pending.size() >= capacity;
  }

  int size() {
    return pending.size();
  }

  boolean contains(Dot dot) {
    return pending.containsKey(dot);
  }

  void add(String upstream, SiteMessage.Entry entry) {
    Check.state(!isFull(), "causal buffer over %s", capacity);
    Pending previous = pending.putIfAbsent(entry.change().dot(), new Pending(upstream, entry));
    Check.state(previous == null, "%s buffered twice", entry.change().dot());
  }

  /** Held changes in arrival order; a copy. */
  List<Pending> all() {
    return List.copyOf(pending.values());
  }

  void remove(Pending held) {
    Check.state(
        pending.remove(held.entry().change().dot()) != null,
        "not buffered: %s",
        held.entry().change().dot());
  }

  /** The lowest position held from {@code upstream}'s log. */
  OptionalLong lowestPosition(String upstream) {
    return pending.values().stream()
        .filter(held -> held.upstream().equals(upstream))
        .mapToLong(held -> held.entry().position())
        .min();
  }
}
