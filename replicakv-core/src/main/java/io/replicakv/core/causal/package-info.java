/**
 * Causality: hybrid logical clocks (the only LWW timestamp), dots, version vectors, dotted version
 * vectors and DVV sets for sibling tracking.
 */
package io.replicakv.core.causal;
