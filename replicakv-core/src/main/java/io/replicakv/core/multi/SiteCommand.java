package io.replicakv.core.multi;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.util.Check;
import java.util.Optional;

/**
 * A client write to a multi-leader keyspace, richer than {@link io.replicakv.core.msg.Operation}:
 * it may carry a causal context (siblings) or be a CRDT command ({@code conflicts=crdt}).
 */
public sealed interface SiteCommand {
  /** The key written. */
  String key();

  /**
   * SET. {@code context} is what the client read (siblings, merge); without one, a siblings or
   * merge keyspace keeps the write next to every live value, and lww treats it as having seen what
   * this site holds.
   */
  record Assign(String key, String value, Optional<VersionVector> context) implements SiteCommand {
    public Assign {
      Check.notNull(key, "key");
      Check.notNull(value, "value");
      Check.notNull(context, "context");
    }
  }

  /**
   * DEL. {@code context} is what the client read; without one the delete covers what this site
   * holds. In crdt keyspaces a set or hash loses every element or field the site has observed
   * (concurrent adds elsewhere survive, add-wins); counters and registers refuse it.
   */
  record Delete(String key, Optional<VersionVector> context) implements SiteCommand {
    public Delete {
      Check.notNull(key, "key");
      Check.notNull(context, "context");
    }
  }

  /** INCRBY (DECR is a negative delta); crdt keyspaces only. */
  record Increment(String key, long delta) implements SiteCommand {
    public Increment {
      Check.notNull(key, "key");
    }
  }

  /** SADD ({@code add}) or SREM of one element; crdt keyspaces only. */
  record SetMember(String key, String element, boolean add) implements SiteCommand {
    public SetMember {
      Check.notNull(key, "key");
      Check.notNull(element, "element");
    }
  }

  /**
   * HSET ({@code value} present) or HDEL (empty) of one field; crdt keyspaces only. A field set by
   * HSET is an LWW register.
   */
  record MapField(String key, String field, Optional<String> value) implements SiteCommand {
    public MapField {
      Check.notNull(key, "key");
      Check.notNull(field, "field");
      Check.notNull(value, "value");
    }
  }

  /** HINCRBY of one field (a PN-counter field); crdt keyspaces only. */
  record MapIncrement(String key, String field, long delta) implements SiteCommand {
    public MapIncrement {
      Check.notNull(key, "key");
      Check.notNull(field, "field");
    }
  }
}
