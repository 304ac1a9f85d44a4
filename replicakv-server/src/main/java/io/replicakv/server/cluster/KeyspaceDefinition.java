package io.replicakv.server.cluster;

import io.replicakv.core.quorum.KeyspaceConfig;
import io.replicakv.core.quorum.Style;
import io.replicakv.core.util.Check;
import java.util.Collections;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What the metadata stores for a keyspace: number, name, style and the options an operator set
 * explicitly. The effective {@link KeyspaceConfig} is derived from these and the current cluster
 * size, so a keyspace whose replica count was never set follows the rule "N = min(3, nodes)" as
 * nodes join, exactly as the default keyspace must.
 */
record KeyspaceDefinition(int number, String name, Style style, SortedMap<String, String> options) {
  KeyspaceDefinition {
    Check.notNull(name, "name");
    Check.notNull(style, "style");
    options = Collections.unmodifiableSortedMap(new TreeMap<>(options));
    Check.argument(!options.containsKey("style"), "style is a field, not an option");
  }

  /** The config for a cluster whose ring holds {@code clusterNodes} nodes (at least 1). */
  KeyspaceConfig config(int clusterNodes) {
    return KeyspaceConfig.parse(name, number, style, clusterNodes, options);
  }
}
