package io.replicakv.core.multi;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.util.Check;
import java.util.List;

/**
 * A local read of one key.
 *
 * @param values the value, or the siblings, or nothing
 * @param context the causal context a client sends back with its next write of the key, so that the
 *     write overwrites exactly what the client saw
 * @param conflicted true when concurrent writes are live (siblings) or were merged into the value,
 *     so that a conflict is never resolved silently
 */
public record SiteRead(List<String> values, VersionVector context, boolean conflicted) {
  public SiteRead {
    values = List.copyOf(values);
    Check.notNull(context, "context");
  }
}
