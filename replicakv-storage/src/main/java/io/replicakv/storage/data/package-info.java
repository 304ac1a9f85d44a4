/**
 * The live data of a node: keyspaces of strings, hashes and sets with per-key expiry ({@link
 * io.replicakv.storage.data.MemoryState}), the hash table under them ({@link
 * io.replicakv.storage.data.Dict}) and the logical mutations the write-ahead log carries ({@link
 * io.replicakv.storage.data.Mutation}, {@link io.replicakv.storage.data.MutationCodec}). Everything
 * here is single-threaded: the node loop owns it.
 */
package io.replicakv.storage.data;
