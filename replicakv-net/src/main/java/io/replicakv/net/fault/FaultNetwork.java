package io.replicakv.net.fault;

import io.replicakv.net.fault.FaultProxy.Direction;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The links between the nodes of a cluster on loopback, each one a {@link FaultProxy}, so that the
 * traffic from any node to any other can be cut, delayed or made lossy on its own.
 *
 * <h2>Model</h2>
 *
 * <p>Every ordered pair of nodes (from, to) gets one proxy listening on a free 127.0.0.1 port and
 * forwarding to the peer port of {@code to}; node {@code from} is started with the setting {@code
 * peer-routes} naming these ports ({@link #peerRoutes}), so every connection it opens to {@code to}
 * passes that proxy. A connection carries requests one way and their answers back, so the traffic
 * from a to b travels in two places: upstream on the proxy (a, b) (a's requests) and downstream on
 * the proxy (b, a) (a's answers to b's requests). A fault on the link a to b switches both; a fault
 * "both ways" switches the link b to a as well.
 *
 * <p>A cut is a blackhole, not a refusal: connections stay open, bytes wait in the proxy, requests
 * time out, and healing delivers what waited, as after a real partition. A one-way cut a to b lets
 * b's requests reach a and run there while a's answers are lost, which is what makes asymmetric
 * partitions interesting.
 *
 * <p>Metadata (Raft) traffic between voters does not pass through here; only peer traffic does
 * (forwarded commands, heartbeats, data movement).
 */
public final class FaultNetwork implements AutoCloseable {
  /** Most nodes one network proxies: n(n-1) listeners and their threads. */
  public static final int NODES_MAX = 16;

  /** What is switched on for the traffic from one node to another. */
  public record LinkState(
      boolean cut, long delayMillis, long jitterMillis, double dropProbability) {
    static final LinkState HEALTHY = new LinkState(false, 0, 0, 0);

    boolean healthy() {
      return equals(HEALTHY);
    }

    @Override
    public String toString() {
      if (healthy()) {
        return "ok";
      }
      List<String> parts = new ArrayList<>();
      if (cut) {
        parts.add("cut");
      }
      if (delayMillis > 0 || jitterMillis > 0) {
        parts.add("delay " + delayMillis + "ms" + (jitterMillis > 0 ? "±" + jitterMillis : ""));
      }
      if (dropProbability > 0) {
        parts.add("drop " + dropProbability);
      }
      return String.join(", ", parts);
    }
  }

  private final Map<String, Integer> peerPorts;
  private final Map<String, Map<String, FaultProxy>> proxies = new TreeMap<>();
  private final Map<String, LinkState> links = new TreeMap<>();

  private FaultNetwork(Map<String, Integer> peerPorts) {
    this.peerPorts = peerPorts;
  }

  /**
   * Starts one proxy per ordered pair of the nodes named in {@code peerPorts} (node id to its peer
   * port on 127.0.0.1).
   *
   * @param seed seeds the proxies' jitter and loss draws (each proxy gets its own seed from it)
   */
  public static FaultNetwork start(Map<String, Integer> peerPorts, long seed) throws IOException {
    return start(peerPorts, seed, () -> 0);
  }

  /**
   * As {@link #start(Map, long)}, with each proxy listening on the next port {@code listenPorts}
   * gives (0: any free port). Tests that reserve every port of a cluster in one batch use it: a
   * proxy bound to an arbitrary free port after the batch was released could take a port the batch
   * gave to a node, which then cannot start.
   */
  public static FaultNetwork start(
      Map<String, Integer> peerPorts, long seed, java.util.function.IntSupplier listenPorts)
      throws IOException {
    if (peerPorts.size() < 2 || peerPorts.size() > NODES_MAX) {
      throw new IllegalArgumentException(
          peerPorts.size() + " nodes; a fault network needs 2.." + NODES_MAX);
    }
    FaultNetwork network = new FaultNetwork(new TreeMap<>(peerPorts));
    long proxySeed = seed;
    try {
      for (String from : network.peerPorts.keySet()) {
        for (Map.Entry<String, Integer> to : network.peerPorts.entrySet()) {
          if (!to.getKey().equals(from)) {
            network
                .proxies
                .computeIfAbsent(from, k -> new TreeMap<>())
                .put(
                    to.getKey(),
                    FaultProxy.start(to.getValue(), proxySeed++, listenPorts.getAsInt()));
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      network.close();
      throw e;
    }
    return network;
  }

  /** The node ids, sorted. */
  public List<String> nodes() {
    return List.copyOf(peerPorts.keySet());
  }

  /**
   * The node a user means by {@code name}: an id as given, or a short form ({@code n2} or {@code 2}
   * for {@code node-2}, {@code node-2} for {@code n2}).
   *
   * @throws IllegalArgumentException naming the known nodes when none matches
   */
  public String resolve(String name) {
    return resolveNode(name, peerPorts.keySet());
  }

  /** {@link #resolve} over any set of ids (the CLI uses it for process faults too). */
  public static String resolveNode(String name, java.util.Collection<String> ids) {
    if (ids.contains(name)) {
      return name;
    }
    String digits = name.replaceFirst("^(node-|n)", "");
    if (digits.matches("[0-9]+")) {
      for (String candidate : List.of("node-" + digits, "n" + digits)) {
        if (ids.contains(candidate)) {
          return candidate;
        }
      }
    }
    throw new IllegalArgumentException(
        "unknown node '" + name + "'; nodes: " + String.join(" ", ids));
  }

  /** The proxy node {@code from} connects to when it talks to {@code to}. */
  public FaultProxy proxy(String from, String to) {
    String a = resolve(from);
    String b = resolve(to);
    if (a.equals(b)) {
      throw new IllegalArgumentException("a node does not talk to itself through the proxy: " + a);
    }
    return proxies.get(a).get(b);
  }

  /** The {@code peer-routes} setting for node {@code from}: every other node through its proxy. */
  public String peerRoutes(String from) {
    String a = resolve(from);
    StringBuilder b = new StringBuilder();
    proxies
        .get(a)
        .forEach(
            (to, proxy) ->
                b.append(b.isEmpty() ? "" : ",")
                    .append(to)
                    .append("=127.0.0.1:")
                    .append(proxy.port()));
    return b.toString();
  }

  /** Cuts the traffic from {@code a} to {@code b}, and from b to a unless {@code oneWay}. */
  public synchronized void cut(String a, String b, boolean oneWay) {
    update(
        a, b, oneWay, s -> new LinkState(true, s.delayMillis, s.jitterMillis, s.dropProbability));
  }

  /** Delays the traffic from {@code a} to {@code b} (and back unless {@code oneWay}). */
  public synchronized void delay(
      String a, String b, long delayMillis, long jitterMillis, boolean oneWay) {
    if (delayMillis < 0
        || jitterMillis < 0
        || delayMillis > FaultProxy.DELAY_MAX_MILLIS
        || jitterMillis > FaultProxy.DELAY_MAX_MILLIS) {
      throw new IllegalArgumentException(
          "delay "
              + delayMillis
              + " ms, jitter "
              + jitterMillis
              + " ms: each must be in 0.."
              + FaultProxy.DELAY_MAX_MILLIS);
    }
    update(a, b, oneWay, s -> new LinkState(s.cut, delayMillis, jitterMillis, s.dropProbability));
  }

  /** Loses each chunk from {@code a} to {@code b} (and back unless {@code oneWay}) at this rate. */
  public synchronized void drop(String a, String b, double probability, boolean oneWay) {
    if (!(probability >= 0 && probability <= 1)) {
      throw new IllegalArgumentException("drop probability " + probability + " outside 0..1");
    }
    update(a, b, oneWay, s -> new LinkState(s.cut, s.delayMillis, s.jitterMillis, probability));
  }

  /** Heals the links between {@code a} and {@code b} in both directions. */
  public synchronized void heal(String a, String b) {
    update(a, b, false, s -> LinkState.HEALTHY);
  }

  /** Heals every link. */
  public synchronized void heal() {
    for (String a : peerPorts.keySet()) {
      for (String b : peerPorts.keySet()) {
        if (!a.equals(b)) {
          apply(a, b, LinkState.HEALTHY);
        }
      }
    }
  }

  /** What is switched on for the traffic from {@code a} to {@code b}. */
  public synchronized LinkState link(String a, String b) {
    return links.getOrDefault(resolve(a) + ">" + resolve(b), LinkState.HEALTHY);
  }

  /**
   * One line per ordered pair: {@code from -> to proxy port state connections N}, the state being
   * {@code ok} or the faults switched on.
   */
  public synchronized String status() {
    StringBuilder b = new StringBuilder();
    for (String from : peerPorts.keySet()) {
      for (Map.Entry<String, FaultProxy> e : proxies.get(from).entrySet()) {
        FaultProxy proxy = e.getValue();
        b.append(
            String.format(
                Locale.ROOT,
                "%s -> %s  127.0.0.1:%d -> %d  %s  connections %d  lost %d%n",
                from,
                e.getKey(),
                proxy.port(),
                proxy.targetPort(),
                link(from, e.getKey()),
                proxy.connectionCount(),
                proxy.lostChunks()));
      }
    }
    return b.toString();
  }

  private void update(
      String a, String b, boolean oneWay, java.util.function.UnaryOperator<LinkState> change) {
    String from = resolve(a);
    String to = resolve(b);
    if (from.equals(to)) {
      throw new IllegalArgumentException(
          "a link needs two different nodes, not " + from + " twice");
    }
    apply(from, to, change.apply(link(from, to)));
    if (!oneWay) {
      apply(to, from, change.apply(link(to, from)));
    }
  }

  /** Sets the traffic from {@code from} to {@code to} on both proxies that carry it. */
  private void apply(String from, String to, LinkState state) {
    for (Map.Entry<FaultProxy, Direction> leg :
        Map.of(
                proxies.get(from).get(to), Direction.UPSTREAM,
                proxies.get(to).get(from), Direction.DOWNSTREAM)
            .entrySet()) {
      FaultProxy proxy = leg.getKey();
      Direction direction = leg.getValue();
      proxy.dropProbability(direction, state.dropProbability());
      proxy.delay(direction, state.delayMillis(), state.jitterMillis());
      proxy.blackhole(direction, state.cut());
    }
    if (state.healthy()) {
      links.remove(from + ">" + to);
    } else {
      links.put(from + ">" + to, state);
    }
  }

  /** Closes every proxy and its connections. */
  @Override
  public synchronized void close() {
    for (Map<String, FaultProxy> byTarget : proxies.values()) {
      byTarget.values().forEach(FaultProxy::close);
    }
  }

  /** For logs: each node's routes. */
  @Override
  public String toString() {
    Map<String, String> routes = new LinkedHashMap<>();
    peerPorts.keySet().forEach(id -> routes.put(id, peerRoutes(id)));
    return "FaultNetwork" + routes;
  }
}
