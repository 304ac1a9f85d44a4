package io.replicakv.server.cluster;

import io.replicakv.core.quorum.KeyspaceConfig;
import io.replicakv.core.util.Check;

/**
 * A keyspace as the metadata holds it: its number (the Redis database for {@code SELECT}), its name
 * and its replication config as it applies to the current cluster size.
 */
public record KeyspaceEntry(int number, String name, KeyspaceConfig config) {
  /** Checks that the config agrees with the number and name. */
  public KeyspaceEntry {
    Check.notNull(name, "name");
    Check.notNull(config, "config");
    Check.argument(config.number() == number, "config number %s != %s", config.number(), number);
    Check.argument(config.name().equals(name), "config name %s != %s", config.name(), name);
  }
}
