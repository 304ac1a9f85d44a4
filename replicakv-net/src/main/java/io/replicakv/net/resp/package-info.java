/**
 * The Redis protocol (RESP2 and RESP3) as ReplicaKV speaks it to clients: {@link
 * io.replicakv.net.resp.RespDecoder} turns client bytes into {@link
 * io.replicakv.net.resp.RespRequest}s under {@link io.replicakv.net.resp.RespLimits}, and {@link
 * io.replicakv.net.resp.RespEncoder} writes {@link io.replicakv.net.resp.Reply} values in the
 * connection's protocol version.
 */
package io.replicakv.net.resp;
