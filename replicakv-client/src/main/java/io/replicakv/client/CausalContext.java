package io.replicakv.client;

import java.util.Objects;

/**
 * What a read saw of a key, to be sent back with the write that replaces it: the write then
 * overwrites exactly the values the context covers, and a value written concurrently elsewhere that
 * the reader never saw stays as a sibling instead of being lost (on-read resolution, as in Riak and
 * CouchDB).
 *
 * @param encoded the site's version vector for the key in text form; opaque to applications, which
 *     may store it and hand it back later (also after a restart)
 */
public record CausalContext(String encoded) {
  /** The context of a key never read: a write with it overwrites nothing. */
  public static final CausalContext EMPTY = new CausalContext("");

  public CausalContext {
    Objects.requireNonNull(encoded, "encoded");
  }
}
