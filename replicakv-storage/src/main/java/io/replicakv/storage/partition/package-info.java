/**
 * Per-partition views of the node's one physical log: single-leader partition entries with their
 * LSN, an in-memory sparse index per partition, catch-up reads from an offset, the retention
 * boundary, and point-in-time snapshots of a partition's slots for new followers.
 */
package io.replicakv.storage.partition;
