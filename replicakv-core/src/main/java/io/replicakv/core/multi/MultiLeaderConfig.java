package io.replicakv.core.multi;

import io.replicakv.core.quorum.Topology;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

/**
 * One multi-leader keyspace as the sites see it: the sites (index = node id in the change-stream
 * messages), the topology and its hub, and the conflict resolver.
 *
 * @param sites site ids, at least one, no duplicates; a site's index is its node id
 * @param topology how changes flow between sites
 * @param hub for {@link Topology#STAR}: the forwarding site; ignored otherwise
 * @param resolver the keyspace's conflict strategy
 * @param defects deliberate faults, for the simulator's broken-variant tests only; {@link
 *     Defects#NONE} everywhere else
 */
public record MultiLeaderConfig(
    List<String> sites, Topology topology, String hub, ConflictResolver resolver, Defects defects) {

  /**
   * Protocol faults the simulator switches on to prove its checkers catch them. Production code
   * never sets them.
   *
   * @param forwardWithoutPath forward changes without looking at the sites they passed
   * @param applyWithoutCausalBuffer apply a change on arrival even if a change it depends on is
   *     missing
   * @param lockWithoutEarlierWrites write under a lock without first applying the writes made under
   *     earlier grants
   * @param remoteDeletesIgnored record a received delete as applied without applying its tombstone
   */
  public record Defects(
      boolean forwardWithoutPath,
      boolean applyWithoutCausalBuffer,
      boolean lockWithoutEarlierWrites,
      boolean remoteDeletesIgnored) {
    /** A correct site. */
    public static final Defects NONE = new Defects(false, false, false, false);

    /** The first three defects; deletes handled correctly. */
    public Defects(
        boolean forwardWithoutPath,
        boolean applyWithoutCausalBuffer,
        boolean lockWithoutEarlierWrites) {
      this(forwardWithoutPath, applyWithoutCausalBuffer, lockWithoutEarlierWrites, false);
    }
  }

  public MultiLeaderConfig {
    sites = List.copyOf(sites);
    Check.argument(!sites.isEmpty(), "no sites");
    Check.argument(new HashSet<>(sites).size() == sites.size(), "duplicate site in %s", sites);
    Check.notNull(topology, "topology");
    Check.notNull(resolver, "resolver");
    Check.notNull(defects, "defects");
    Check.argument(
        topology != Topology.STAR || sites.contains(hub), "hub %s not among %s", hub, sites);
  }

  /** A correct configuration with the first site as hub. */
  public static MultiLeaderConfig of(
      List<String> sites, Topology topology, ConflictResolver resolver) {
    return new MultiLeaderConfig(sites, topology, sites.get(0), resolver, Defects.NONE);
  }

  /** The same configuration with {@code defects}. */
  public MultiLeaderConfig withDefects(Defects defects) {
    return new MultiLeaderConfig(sites, topology, hub, resolver, defects);
  }

  /** The node id of {@code site}. */
  public int nodeOf(String site) {
    int index = sites.indexOf(site);
    Check.argument(index >= 0, "unknown site %s", site);
    return index;
  }

  /** The sites {@code site} streams its log to. */
  public List<String> downstream(String site) {
    int index = nodeOf(site);
    return switch (topology) {
      case ALL_TO_ALL -> others(site);
      case STAR -> site.equals(hub) ? others(site) : List.of(hub);
      case CIRCULAR ->
          sites.size() == 1 ? List.of() : List.of(sites.get((index + 1) % sites.size()));
    };
  }

  /** The sites that stream their logs to {@code site}. */
  public List<String> upstream(String site) {
    List<String> result = new ArrayList<>();
    for (String other : sites) {
      if (!other.equals(site) && downstream(other).contains(site)) {
        result.add(other);
      }
    }
    return result;
  }

  /** True when {@code site} passes on changes it received from others. */
  public boolean forwards(String site) {
    return switch (topology) {
      case ALL_TO_ALL -> false;
      case STAR -> site.equals(hub);
      case CIRCULAR -> true;
    };
  }

  private List<String> others(String site) {
    return sites.stream().filter(other -> !other.equals(site)).toList();
  }
}
