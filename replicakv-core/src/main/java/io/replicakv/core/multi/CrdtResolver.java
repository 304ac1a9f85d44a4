package io.replicakv.core.multi;

import io.replicakv.core.causal.Hlc;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.crdt.AwOrSet;
import io.replicakv.core.crdt.Crdt;
import io.replicakv.core.crdt.GCounter;
import io.replicakv.core.crdt.LwwRegister;
import io.replicakv.core.crdt.MvRegister;
import io.replicakv.core.crdt.OrMap;
import io.replicakv.core.crdt.PNCounter;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.quorum.ConflictStrategy;
import io.replicakv.core.util.Check;
import java.util.List;

/**
 * {@code conflicts=crdt}: each key holds one CRDT, typed by the command that first wrote it
 * (INCR/DECR make a PN-counter, SADD/SREM an add-wins set, SET an LWW register), and every change
 * carries the origin's state after its command, which receivers join into theirs. The join is a
 * semilattice, so no conflict needs resolving; concurrent joins are still counted.
 *
 * <p>Failure case: concurrent first writes of different types (INCR at one site, SADD at another)
 * have no common join. The state with the higher type tag wins on every site, so sites converge,
 * and {@link ConflictMetrics#CRDT_TYPE_CONFLICTS} counts the discarded state.
 */
public final class CrdtResolver implements ConflictResolver {
  @Override
  public ConflictStrategy strategy() {
    return ConflictStrategy.CRDT;
  }

  @Override
  public KeyState apply(String key, KeyState current, Change change, ConflictMetrics metrics) {
    Check.argument(
        change.mutation() instanceof Mutation.CrdtState,
        "crdt keyspace got %s for %s",
        change.mutation(),
        key);
    Crdt<?> incoming = ((Mutation.CrdtState) change.mutation()).state();
    Crdt<?> joined = incoming;
    if (!current.live().isEmpty()) {
      Crdt<?> held = ((Mutation.CrdtState) current.live().get(0).value()).state();
      if (!ConflictResolver.concurrentWith(current, change).isEmpty()) {
        metrics.increment(ConflictMetrics.CONCURRENT_WRITES);
        metrics.increment(ConflictMetrics.CRDT_JOINS);
      }
      if (held.type() != incoming.type()) {
        metrics.increment(ConflictMetrics.CRDT_TYPE_CONFLICTS);
      }
      joined = join(held, incoming);
    }
    // One version whose dot is the newest change, so that every write to the key covers it.
    KeyState.Version version =
        new KeyState.Version(change.dot(), change.timestamp(), new Mutation.CrdtState(joined));
    return new KeyState(
        current.context().merge(change.keyContext()).with(change.dot()), List.of(version));
  }

  /**
   * Joins another site's state of the key: the two CRDT states join (a semilattice, so the order of
   * changes and catch-ups does not matter), held by one version whose dot is the larger live dot,
   * so that the next write to the key covers it.
   */
  @Override
  public KeyState merge(String key, KeyState mine, KeyState theirs, ConflictMetrics metrics) {
    VersionVector context = mine.context().merge(theirs.context());
    if (mine.live().isEmpty() || theirs.live().isEmpty()) {
      List<KeyState.Version> live = mine.live().isEmpty() ? theirs.live() : mine.live();
      return new KeyState(context, live);
    }
    KeyState.Version own = mine.live().get(0);
    KeyState.Version other = theirs.live().get(0);
    // The same last dot does not mean the same state: each side joined whatever else it applied
    // into that version, so the states join whatever the dots say.
    Crdt<?> held = ((Mutation.CrdtState) own.value()).state();
    Crdt<?> incoming = ((Mutation.CrdtState) other.value()).state();
    boolean concurrent =
        !own.dot().equals(other.dot())
            && !theirs.context().contains(own.dot())
            && !mine.context().contains(other.dot());
    if (concurrent) {
      metrics.increment(ConflictMetrics.CONCURRENT_WRITES);
      metrics.increment(ConflictMetrics.CRDT_JOINS);
    }
    if (held.type() != incoming.type()) {
      metrics.increment(ConflictMetrics.CRDT_TYPE_CONFLICTS);
    }
    KeyState.Version newer = own.dot().compareTo(other.dot()) >= 0 ? own : other;
    return new KeyState(
        context,
        List.of(
            new KeyState.Version(
                newer.dot(), newer.timestamp(), new Mutation.CrdtState(join(held, incoming)))));
  }

  @Override
  public SiteRead read(KeyState state) {
    if (state.live().isEmpty()) {
      return new SiteRead(List.of(), state.context(), false);
    }
    Crdt<?> crdt = ((Mutation.CrdtState) state.live().get(0).value()).state();
    return new SiteRead(render(crdt), state.context(), false);
  }

  /** What a client sees of a CRDT. */
  public static List<String> render(Crdt<?> crdt) {
    return switch (crdt) {
      case PNCounter counter -> List.of(Long.toString(counter.value()));
      case GCounter counter -> List.of(Long.toString(counter.value()));
      case AwOrSet set -> set.elements().stream().map(Bytes::toUtf8).toList();
      case LwwRegister register -> register.value().map(Bytes::toUtf8).stream().toList();
      case MvRegister register -> register.values().stream().map(Bytes::toUtf8).toList();
      case OrMap map ->
          map.entries().entrySet().stream()
              .map(
                  entry ->
                      entry.getKey().toUtf8() + "=" + String.join(",", render(entry.getValue())))
              .toList();
    };
  }

  /** The join of two states; of different types, the higher type tag wins. */
  public static Crdt<?> join(Crdt<?> a, Crdt<?> b) {
    if (a.type() != b.type()) {
      return a.type().tag() > b.type().tag() ? a : b;
    }
    return switch (a) {
      case PNCounter x -> x.merge((PNCounter) b);
      case GCounter x -> x.merge((GCounter) b);
      case AwOrSet x -> x.merge((AwOrSet) b);
      case LwwRegister x -> x.merge((LwwRegister) b);
      case MvRegister x -> x.merge((MvRegister) b);
      case OrMap x -> x.merge((OrMap) b);
    };
  }

  /** The state after a counter command at {@code site}, starting from {@code held} or empty. */
  public static Crdt<?> increment(Crdt<?> held, String site, long delta) {
    PNCounter counter = held instanceof PNCounter existing ? existing : PNCounter.EMPTY;
    return counter.add(site, delta);
  }

  /** The state after SADD ({@code add}) or SREM at {@code site}. */
  public static Crdt<?> setCommand(Crdt<?> held, String site, String element, boolean add) {
    AwOrSet set = held instanceof AwOrSet existing ? existing : AwOrSet.EMPTY;
    return add ? set.add(site, Bytes.utf8(element)) : set.remove(Bytes.utf8(element));
  }

  /** The state after SET at {@code site}. */
  public static Crdt<?> assign(Crdt<?> held, String site, Hlc timestamp, String value) {
    LwwRegister register = held instanceof LwwRegister existing ? existing : LwwRegister.EMPTY;
    return register.assign(timestamp, site, Bytes.utf8(value));
  }

  /** The state after HSET (value present) or HDEL at {@code site}. */
  public static Crdt<?> mapField(
      Crdt<?> held, String site, Hlc timestamp, String field, java.util.Optional<String> value) {
    OrMap map = held instanceof OrMap existing ? existing : OrMap.EMPTY;
    Bytes name = Bytes.utf8(field);
    if (value.isEmpty()) {
      return map.remove(name);
    }
    LwwRegister register = map.get(name, LwwRegister.class).orElse(LwwRegister.EMPTY);
    return map.put(site, name, register.assign(timestamp, site, Bytes.utf8(value.get())));
  }

  /**
   * The state after DEL: a set without every element, a hash without every field this site has
   * observed (an element or field added concurrently elsewhere survives: add-wins).
   */
  public static Crdt<?> clear(Crdt<?> held) {
    return switch (held) {
      case AwOrSet set -> {
        AwOrSet cleared = set;
        for (Bytes element : set.elements()) {
          cleared = cleared.remove(element);
        }
        yield cleared;
      }
      case OrMap map -> {
        OrMap cleared = map;
        for (Bytes field : map.entries().keySet()) {
          cleared = cleared.remove(field);
        }
        yield cleared;
      }
      default -> throw new IllegalArgumentException("DEL cannot clear a " + held.type());
    };
  }

  /** Why DEL of a key holding {@code held} is refused, if it is. */
  static java.util.Optional<String> clearRefusal(Crdt<?> held, String key) {
    if (held == null) {
      return java.util.Optional.of("key " + key + " holds nothing to delete");
    }
    return held instanceof AwOrSet || held instanceof OrMap
        ? java.util.Optional.empty()
        : java.util.Optional.of(
            "DEL of a "
                + held.type()
                + " is not supported with conflicts=crdt (a counter or register cannot be reset"
                + " without losing concurrent updates); key "
                + key);
  }

  /** The state after HINCRBY at {@code site}. */
  public static Crdt<?> mapIncrement(Crdt<?> held, String site, String field, long delta) {
    OrMap map = held instanceof OrMap existing ? existing : OrMap.EMPTY;
    Bytes name = Bytes.utf8(field);
    PNCounter counter = map.get(name, PNCounter.class).orElse(PNCounter.EMPTY);
    return map.put(site, name, counter.add(site, delta));
  }
}
