/**
 * Group commit for the keyspace services that keep their own record files: {@link
 * io.replicakv.server.durable.GroupCommit} forces a file off the service loop and releases the
 * output that waits for it.
 */
package io.replicakv.server.durable;
