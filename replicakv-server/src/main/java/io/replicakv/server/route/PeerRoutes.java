package io.replicakv.server.route;

import io.replicakv.server.cluster.Member;
import io.replicakv.server.config.ConfigException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where this node sends its peer traffic for each member: the peer address the metadata records,
 * unless the {@code peer-routes} setting names another address for that member id.
 *
 * <p>Operators use a route when a node must reach a peer through something in between: a NAT or
 * port forward, a TCP load balancer, an SSH tunnel, or a fault-injection proxy on loopback (what
 * {@code replicakv up --fault-proxy} does). Every peer request of this node (forwarded commands,
 * heartbeats, data movement) picks its address here, so one setting moves all of them. Metadata
 * (Raft) traffic between voters does not pass through here: it uses the voters' metadata addresses
 * from {@code cluster-voters}, so a route changes nothing about quorum membership.
 *
 * <p>The routes are fixed for the life of the process. A route names a member id, not an address,
 * so it stays right when the member re-registers with new ports; it is then the operator's job to
 * point the route at the new place. A route for an id that is not a member is kept and simply
 * unused until a member with that id appears.
 */
public final class PeerRoutes {
  /** Most routes one node accepts; far above any cluster this version can run. */
  static final int ROUTES_MAX = 1_024;

  /** No routes: every member is reached at its metadata address. */
  public static final PeerRoutes DIRECT = new PeerRoutes(Map.of());

  /** A host and port this node connects to for one member's peer traffic. */
  public record Address(String host, int port) {}

  private final Map<String, Address> routes;

  private PeerRoutes(Map<String, Address> routes) {
    this.routes = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(routes));
  }

  /**
   * Parses {@code id=host:port,id=host:port} (blank: no routes).
   *
   * @throws ConfigException naming the setting and the bad entry
   */
  public static PeerRoutes parse(String text) {
    Map<String, Address> out = new LinkedHashMap<>();
    for (String part : text.split(",")) {
      String entry = part.trim();
      if (entry.isEmpty()) {
        continue;
      }
      int equals = entry.indexOf('=');
      int colon = entry.lastIndexOf(':');
      if (equals <= 0 || colon <= equals + 1 || colon == entry.length() - 1) {
        throw bad(entry, "is not id=host:port");
      }
      String id = entry.substring(0, equals).trim();
      String host = entry.substring(equals + 1, colon).trim();
      int port;
      try {
        port = Integer.parseInt(entry.substring(colon + 1).trim());
      } catch (NumberFormatException e) {
        throw bad(entry, "has a port that is not a number");
      }
      if (port < 1 || port > Member.PORT_MAX) {
        throw bad(entry, "has a port outside 1.." + Member.PORT_MAX);
      }
      if (out.putIfAbsent(id, new Address(host, port)) != null) {
        throw bad(entry, "routes member '" + id + "' a second time");
      }
      if (out.size() > ROUTES_MAX) {
        throw new ConfigException("setting 'peer-routes': more than " + ROUTES_MAX + " routes");
      }
    }
    return out.isEmpty() ? DIRECT : new PeerRoutes(out);
  }

  private static ConfigException bad(String entry, String why) {
    return new ConfigException("setting 'peer-routes': '" + entry + "' " + why);
  }

  /** The address for {@code member}'s peer traffic: its route, else its metadata address. */
  public Address of(Member member) {
    Address routed = routes.get(member.id());
    return routed != null ? routed : new Address(member.host(), member.peerPort());
  }

  /** The host part of {@link #of}. */
  public String host(Member member) {
    Address routed = routes.get(member.id());
    return routed != null ? routed.host() : member.host();
  }

  /** The port part of {@link #of}. */
  public int port(Member member) {
    Address routed = routes.get(member.id());
    return routed != null ? routed.port() : member.peerPort();
  }

  /** The routes by member id, for logs and admin output. */
  public Map<String, Address> routes() {
    return routes;
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder();
    routes.forEach(
        (id, a) ->
            b.append(b.isEmpty() ? "" : ",")
                .append(id)
                .append('=')
                .append(a.host())
                .append(':')
                .append(a.port()));
    return b.toString();
  }
}
