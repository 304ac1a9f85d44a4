/**
 * Multi-leader keyspaces between sites: {@link io.replicakv.server.multi.SiteService} hosts the
 * core's {@code SiteReplica} for one keyspace, {@link io.replicakv.server.multi.SiteKeyspaces}
 * wires the keyspaces, links and peer frames, {@link io.replicakv.server.multi.SiteLinkCodec}
 * carries the change streams, and {@link io.replicakv.server.multi.SiteCommands} serves RESP on
 * them.
 *
 * <p><b>Sites of several nodes.</b> Inside a site a multi-leader keyspace is single-leader: one
 * node, the keyspace's gateway, runs its {@code SiteService}; the site's metadata quorum records it
 * ({@code SetReplicaLeader} under group {@code SiteGateways.GATEWAY_GROUP}, epochs that only rise)
 * and {@code SiteGateways} elects a new one when it is DOWN: the elector probes every node with the
 * next epoch (each answering node promises to refuse older appends and reports its log length),
 * needs answers from {@code members - site-acks} nodes and picks the longest log. The gateway
 * copies each site-log record to the other nodes ({@code SiteLogShipper} to {@code SiteLogCopy},
 * peer frame 36, same positions everywhere, stale epochs refused) and answers a client, or lets a
 * change leave for another site, only once its record is durable on {@code site-acks} of them, so
 * the loss of a node (gateway included, with three nodes and {@code site-acks=1}) loses neither an
 * acknowledged write nor a change another site has seen. Other nodes forward the keyspace's
 * commands and link frames to the gateway; a link names every node of a site and the sender moves
 * to the next address when one fails. A one-node site works as before, without any of this.
 *
 * <p><b>Library mode.</b> {@link io.replicakv.server.multi.EmbeddedSite} is a one-node site inside
 * an application; {@link io.replicakv.server.multi.EmbeddedOfflineSites} serves it through the
 * {@code replicakv-client} API ({@code io.replicakv.client.OfflineSite}) as the provider that API
 * finds with {@code ServiceLoader}.
 */
package io.replicakv.server.multi;
