/**
 * The messages that cross a replica's boundary: client requests and peer messages in, replies out.
 *
 * <p>Every family is a sealed hierarchy of records, so a replica dispatches with a {@code switch}
 * expression and a message type nobody handles fails to compile. A new replication protocol adds
 * its own sealed family here (next to {@link io.replicakv.core.msg.LogMessage}) and lists it in
 * {@link io.replicakv.core.msg.PeerMessage}'s {@code permits} clause; sealed types in an unnamed
 * module must share a package, which is why all families live in this one.
 */
package io.replicakv.core.msg;
