/**
 * The pure core of ReplicaKV: replication state machines and the data types they carry. Nothing
 * here reads a clock, draws randomness it was not handed, starts a thread or does I/O; the server
 * and the simulator drive the same code.
 */
package io.replicakv.core;
