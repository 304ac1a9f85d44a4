/**
 * Multi-leader keyspaces between sites: {@link io.replicakv.server.multi.SiteService} hosts the
 * core's {@code SiteReplica} for one keyspace, {@link io.replicakv.server.multi.SiteKeyspaces}
 * wires the keyspaces, links and peer frames, {@link io.replicakv.server.multi.SiteLinkCodec}
 * carries the change streams, and {@link io.replicakv.server.multi.SiteCommands} serves RESP on
 * them.
 */
package io.replicakv.server.multi;
