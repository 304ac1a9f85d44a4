/** Small value types shared across the core: binary-safe byte strings. */
package io.replicakv.core.model;
