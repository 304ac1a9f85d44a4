package io.replicakv.core.multi;

import io.replicakv.core.causal.Dot;
import io.replicakv.core.causal.Hlc;

/**
 * A write that last-writer-wins discarded because a concurrent write had the larger timestamp.
 *
 * @param key the key
 * @param lost the discarded write
 * @param lostTimestamp its timestamp
 * @param lostValue its value, so an operator can restore it
 * @param winner the write that was kept instead
 */
public record LostWrite(String key, Dot lost, Hlc lostTimestamp, String lostValue, Dot winner) {}
