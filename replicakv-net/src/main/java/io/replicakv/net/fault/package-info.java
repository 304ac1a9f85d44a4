/**
 * Fault injection for real-process tests: {@link io.replicakv.net.fault.FaultProxy} sits between
 * two nodes on loopback and partitions, refuses, delays or breaks their connections on command.
 */
package io.replicakv.net.fault;
