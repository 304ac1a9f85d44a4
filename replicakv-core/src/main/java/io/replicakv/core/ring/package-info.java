/**
 * The ring: Redis Cluster slots, vnode tokens, owners and rack-aware preference lists, and the
 * exact diff of a membership change.
 */
package io.replicakv.core.ring;
