/**
 * Node-to-node transport: versioned, length-prefixed {@link io.replicakv.net.peer.Frame}s ({@link
 * io.replicakv.net.peer.FrameCodec}), a {@link io.replicakv.net.peer.PeerServer} that answers them
 * with a {@link io.replicakv.net.peer.FrameHandler}, and a {@link io.replicakv.net.peer.PeerClient}
 * that multiplexes requests over one connection per peer with bounded in-flight requests, deadlines
 * and reconnect backoff.
 */
package io.replicakv.net.peer;
