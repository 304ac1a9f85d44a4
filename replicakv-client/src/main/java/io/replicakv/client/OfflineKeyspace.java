package io.replicakv.client;

import java.util.Optional;
import java.util.SortedMap;
import java.util.SortedSet;

/**
 * One multi-leader keyspace of an {@link OfflineSite}. Every call runs against this site's own
 * replica, online or not; a write returns once its change is durable here, and reaches the linked
 * sites when a link is up.
 *
 * <p>Which calls a keyspace takes follows its {@code conflicts} strategy, as over RESP: {@link
 * #set} and {@link #delete} everywhere except that {@code lock} and {@code home-site} refuse
 * deletes; the CRDT calls ({@link #increment}, {@link #add}, {@link #remove}, {@link #putField},
 * {@link #removeField}) only with {@code conflicts=crdt}, where they type the key as Redis commands
 * do. A refused write throws {@link IllegalStateException} with the site's reason.
 */
public interface OfflineKeyspace {
  /** The keyspace's name (sites match keyspaces by name). */
  String name();

  /** The keyspace's conflict strategy: {@code siblings}, {@code lww}, {@code crdt}, ... */
  String conflicts();

  /** The key's value or siblings, with the context to write back and the conflict flag. */
  OfflineRead read(String key);

  /**
   * The key's single value.
   *
   * @throws IllegalStateException when it holds siblings (use {@link #read})
   */
  default Optional<String> get(String key) {
    return read(key).value();
  }

  /**
   * Writes {@code value} over everything this site holds for the key now (its current context), so
   * siblings this site sees are resolved by it; concurrent writes elsewhere still meet the
   * strategy.
   */
  void set(String key, String value);

  /**
   * A resolving write: replaces exactly what {@code context} (from an earlier {@link #read})
   * covers; values written meanwhile that the reader did not see stay as siblings.
   */
  void set(String key, String value, CausalContext context);

  /** Deletes what this site holds for the key; false when it held nothing. */
  boolean delete(String key);

  /** Deletes what {@code context} covers (in a crdt keyspace: what this site has observed). */
  void delete(String key, CausalContext context);

  /** INCRBY on a PN-counter (negative to decrement); conflicts=crdt. */
  void increment(String key, long delta);

  /** The counter's value, 0 when the key is absent; conflicts=crdt. */
  long counter(String key);

  /** SADD of one member to an add-wins set; conflicts=crdt. */
  void add(String key, String member);

  /** SREM of one member (concurrent adds elsewhere survive); conflicts=crdt. */
  void remove(String key, String member);

  /** The set's members; conflicts=crdt. */
  SortedSet<String> members(String key);

  /** HSET of one field of a CRDT map (the field is an LWW register); conflicts=crdt. */
  void putField(String key, String field, String value);

  /** HDEL of one field; conflicts=crdt. */
  void removeField(String key, String field);

  /** The map's fields with their values; conflicts=crdt. */
  SortedMap<String, String> fields(String key);

  /** Every key this site holds with its value or siblings (for checks and listings). */
  SortedMap<String, java.util.List<String>> entries();

  /**
   * This keyspace's conflict counters at this site, by the metric names the server's {@code SITE
   * CONFLICTS} and {@code /metrics} use without their strategy label (for example {@code
   * multi_lww_overwrites_total}, {@code multi_siblings_created_total}, {@code
   * multi_crdt_joins_total}), so that an application can see how many concurrent writes its
   * keyspace resolved and how. A snapshot refreshed a few times a second.
   */
  SortedMap<String, Long> conflictCounters();

  /** Sync status of this keyspace alone. */
  SyncStatus syncStatus();
}
