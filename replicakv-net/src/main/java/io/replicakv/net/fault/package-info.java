/**
 * Fault injection between real processes on loopback. {@link io.replicakv.net.fault.FaultProxy}
 * sits in front of one port and holds (per direction), refuses, delays or loses its traffic; {@link
 * io.replicakv.net.fault.FaultNetwork} puts one proxy on every ordered pair of nodes so each link
 * can be cut, delayed or made lossy on its own; {@link io.replicakv.net.fault.FaultControl} serves
 * a network on a plain-text control port for the {@code replicakv fault} commands. Nodes reach the
 * proxies through their {@code peer-routes} setting; no server code path depends on this package.
 */
package io.replicakv.net.fault;
