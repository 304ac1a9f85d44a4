package io.replicakv.server.cluster;

import io.replicakv.core.util.Check;
import io.replicakv.core.util.Limits;
import java.nio.charset.StandardCharsets;

/**
 * One node as the cluster metadata records it: identity, addresses, placement and state.
 *
 * @param id the node id, unique in the cluster; its ring tokens are derived from it
 * @param host the host other nodes and clients reach it at
 * @param clientPort RESP port
 * @param peerPort port for replication and forwarding between nodes
 * @param httpPort admin and metrics port
 * @param metadataPort Ratis port (used when {@code voter})
 * @param site datacenter name ("" when sites are not used)
 * @param rack rack name ("" when racks are not used); steers replica placement
 * @param state where the member is in its life
 * @param voter whether it is one of the metadata quorum's voters
 * @param tokenOwner the id its ring tokens are named after: its own id, or, after it replaced
 *     another member, that member's token owner (so it owns exactly the slots the replaced member
 *     owned, as Cassandra's replace_address keeps the old node's tokens)
 */
public record Member(
    String id,
    String host,
    int clientPort,
    int peerPort,
    int httpPort,
    int metadataPort,
    String site,
    String rack,
    MemberState state,
    boolean voter,
    String tokenOwner) {

  /** Highest TCP port number; 0 means "not listening". */
  public static final int PORT_MAX = 65_535;

  /** Validates every field; a bad member never enters the metadata. */
  public Member {
    Check.argument(id != null && !id.isBlank(), "member id must be non-empty");
    Check.argument(
        id.getBytes(StandardCharsets.UTF_8).length <= Limits.ID_MAX_BYTES,
        "member id longer than %s bytes",
        Limits.ID_MAX_BYTES);
    Check.argument(host != null && !host.isBlank(), "member %s: host must be non-empty", id);
    checkPort(id, "clientPort", clientPort);
    checkPort(id, "peerPort", peerPort);
    checkPort(id, "httpPort", httpPort);
    checkPort(id, "metadataPort", metadataPort);
    Check.notNull(site, "site");
    Check.notNull(rack, "rack");
    Check.notNull(state, "state");
    Check.argument(
        tokenOwner != null && !tokenOwner.isBlank(),
        "member %s: token owner must be non-empty",
        id);
    Check.argument(
        tokenOwner.getBytes(StandardCharsets.UTF_8).length <= Limits.ID_MAX_BYTES,
        "member %s: token owner longer than %s bytes",
        id,
        Limits.ID_MAX_BYTES);
  }

  /** A member whose ring tokens are named after its own id (every member but a replacement). */
  public Member(
      String id,
      String host,
      int clientPort,
      int peerPort,
      int httpPort,
      int metadataPort,
      String site,
      String rack,
      MemberState state,
      boolean voter) {
    this(id, host, clientPort, peerPort, httpPort, metadataPort, site, rack, state, voter, id);
  }

  private static void checkPort(String id, String name, int port) {
    Check.argument(
        port >= 0 && port <= PORT_MAX, "member %s: %s %s not in [0, %s]", id, name, port, PORT_MAX);
  }

  /** This member in {@code next} state. */
  public Member withState(MemberState next) {
    return new Member(
        id,
        host,
        clientPort,
        peerPort,
        httpPort,
        metadataPort,
        site,
        rack,
        next,
        voter,
        tokenOwner);
  }

  /** This member placing the ring tokens named after {@code owner}. */
  public Member withTokenOwner(String owner) {
    return new Member(
        id, host, clientPort, peerPort, httpPort, metadataPort, site, rack, state, voter, owner);
  }

  /** True when its tokens are named after another id (it replaced that member). */
  public boolean inheritsTokens() {
    return !tokenOwner.equals(id);
  }
}
