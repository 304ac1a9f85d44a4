/** Quorum arithmetic and keyspace replication configs with the rules that refuse broken ones. */
package io.replicakv.core.quorum;
