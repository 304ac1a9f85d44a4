/**
 * Leaderless keyspaces served by the server: one {@code LeaderlessNode} per keyspace driven on the
 * node loop ({@link io.replicakv.server.leaderless.LeaderlessService}), its peer frame codec, its
 * record log, and the RESP commands that reach it.
 */
package io.replicakv.server.leaderless;
