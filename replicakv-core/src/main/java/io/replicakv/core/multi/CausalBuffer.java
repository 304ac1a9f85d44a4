package io.replicakv.core.multi;

import io.replicakv.core.causal.Dot;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;

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
  private final List<Pending> pending = new ArrayList<>();
  private final Set<Dot> dots = new HashSet<>();

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
    return dots.contains(dot);
  }

  void add(String upstream, SiteMessage.Entry entry) {
    Check.state(!isFull(), "causal buffer over %s", capacity);
    Check.state(dots.add(entry.change().dot()), "%s buffered twice", entry.change().dot());
    pending.add(new Pending(upstream, entry));
  }

  /** Held changes in arrival order; a copy. */
  List<Pending> all() {
    return List.copyOf(pending);
  }

  void remove(Pending held) {
    Check.state(pending.remove(held), "not buffered: %s", held.entry().change().dot());
    dots.remove(held.entry().change().dot());
  }

  /** The lowest position held from {@code upstream}'s log. */
  OptionalLong lowestPosition(String upstream) {
    return pending.stream()
        .filter(held -> held.upstream().equals(upstream))
        .mapToLong(held -> held.entry().position())
        .min();
  }
}
