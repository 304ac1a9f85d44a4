package io.replicakv.core.multi;

/**
 * How far one outgoing link is behind (LESSONS.md 9): changes this site applied that the downstream
 * site has not acknowledged, their size, and the age of the oldest in ticks.
 *
 * @param downstream the receiving site
 * @param changes unacknowledged changes the link carries
 * @param bytes their approximate encoded size
 * @param ticks ticks since the oldest of them was applied here; 0 when none
 * @param acknowledged false until the downstream site answered since this site started; the numbers
 *     then count from position 0
 */
public record LinkLag(
    String downstream, long changes, long bytes, long ticks, boolean acknowledged) {}
