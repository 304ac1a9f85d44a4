package io.replicakv.core.quorum;

import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * One keyspace's replication config (DESIGN.md, "Keyspace replication config"), and the rules that
 * refuse a config which cannot deliver what it promises.
 *
 * <p>A config is a plain value: {@link #validate()} lists every reason it is unacceptable, so the
 * operator sees all problems at once, in words that say why; an empty list means it may be created.
 * Knobs that do not apply to the style (R and W for single-leader, topology for leaderless) are
 * carried but ignored, and the defaults fill them with harmless values.
 *
 * @param name keyspace name; keyspace 0 is {@code default}
 * @param number the Redis logical database number ({@code SELECT n})
 * @param style how partitions replicate
 * @param replicas N, the replica set size per partition (per site for multi-leader)
 * @param acks single-leader and multi-leader (inside a site): followers that must persist a write
 * @param readQuorum leaderless R
 * @param writeQuorum leaderless W
 * @param sloppyQuorum leaderless: accept writes on fallback nodes with hinted handoff
 * @param readRepair leaderless: repair stale replicas seen by reads
 * @param conflicts how concurrent writes are resolved; exactly one strategy is valid
 * @param topology multi-leader: how changes flow between sites
 * @param hub multi-leader star topology: the hub site; "" otherwise
 * @param readYourWrites whether the keyspace promises read-your-writes on its default read path
 * @param blockingReadRepair leaderless: a read answers only after the stale replicas it read have
 *     acknowledged the repair ({@code read-repair=blocking}; Cassandra's blocking read repair), so
 *     that quorum reads are monotonic; false repairs in the background ({@code read-repair=async})
 * @param followerReads single-leader: any replica of a key's group answers reads from its applied
 *     state ({@code follower-reads=on}); a read that carries a session token is answered only from
 *     state that includes it. Off: reads go to the group's leader
 */
public record KeyspaceConfig(
    String name,
    int number,
    Style style,
    int replicas,
    Acks acks,
    int readQuorum,
    int writeQuorum,
    boolean sloppyQuorum,
    boolean readRepair,
    List<ConflictStrategy> conflicts,
    Topology topology,
    String hub,
    boolean readYourWrites,
    boolean blockingReadRepair,
    boolean followerReads) {

  /** Highest keyspace number plus one (Redis has 16 databases by default; we allow more). */
  public static final int KEYSPACES_MAX = 1_024;

  /** Largest replica set: past this, write fan-out costs more than any durability gain. */
  public static final int REPLICAS_MAX = 15;

  /** Replicas in the default keyspace and the style defaults, capped by the cluster size. */
  public static final int DEFAULT_REPLICAS = 3;

  /** Copies the conflict list and refuses nulls; semantic checks are in {@link #validate()}. */
  public KeyspaceConfig {
    Check.notNull(name, "name");
    Check.notNull(style, "style");
    Check.notNull(acks, "acks");
    conflicts = List.copyOf(conflicts);
    Check.notNull(topology, "topology");
    Check.notNull(hub, "hub");
  }

  /** A config without follower reads (as configs were before {@code followerReads}). */
  public KeyspaceConfig(
      String name,
      int number,
      Style style,
      int replicas,
      Acks acks,
      int readQuorum,
      int writeQuorum,
      boolean sloppyQuorum,
      boolean readRepair,
      List<ConflictStrategy> conflicts,
      Topology topology,
      String hub,
      boolean readYourWrites,
      boolean blockingReadRepair) {
    this(
        name,
        number,
        style,
        replicas,
        acks,
        readQuorum,
        writeQuorum,
        sloppyQuorum,
        readRepair,
        conflicts,
        topology,
        hub,
        readYourWrites,
        blockingReadRepair,
        false);
  }

  /** A config with background read repair (as configs were before {@code blockingReadRepair}). */
  public KeyspaceConfig(
      String name,
      int number,
      Style style,
      int replicas,
      Acks acks,
      int readQuorum,
      int writeQuorum,
      boolean sloppyQuorum,
      boolean readRepair,
      List<ConflictStrategy> conflicts,
      Topology topology,
      String hub,
      boolean readYourWrites) {
    this(
        name,
        number,
        style,
        replicas,
        acks,
        readQuorum,
        writeQuorum,
        sloppyQuorum,
        readRepair,
        conflicts,
        topology,
        hub,
        readYourWrites,
        false);
  }

  /** Keyspace 0: single-leader, N = min(3, nodes), acks=1, or acks=none when N = 1. */
  public static KeyspaceConfig defaultKeyspace(int clusterNodes) {
    return defaults("default", 0, Style.SINGLE_LEADER, clusterNodes);
  }

  /**
   * The style's defaults for a cluster of {@code clusterNodes} (sites, for multi-leader, are
   * separate): single-leader N = min(3, nodes) with acks=1 (none when N = 1); leaderless N = min(3,
   * nodes), R = W = majority, siblings, read repair on, strict quorums; multi-leader all-to-all
   * with siblings, and single-leader defaults inside each site.
   */
  public static KeyspaceConfig defaults(String name, int number, Style style, int clusterNodes) {
    Check.argument(clusterNodes >= 1, "clusterNodes %s < 1", clusterNodes);
    int n = Math.min(DEFAULT_REPLICAS, clusterNodes);
    int majority = QuorumMath.majority(n);
    Acks acks = n == 1 ? Acks.NONE : Acks.of(1);
    return new KeyspaceConfig(
        name,
        number,
        style,
        n,
        acks,
        majority,
        majority,
        false,
        style == Style.LEADERLESS,
        List.of(ConflictStrategy.SIBLINGS),
        Topology.ALL_TO_ALL,
        "",
        false);
  }

  /**
   * Applies {@code options} (keys {@code replicas}, {@code acks}, {@code r}, {@code w}, {@code
   * sloppy}, {@code read-repair} as {@code blocking}, {@code async} (or on) or off, {@code
   * conflicts} as a comma list, {@code topology}, {@code hub}, {@code read-your-writes}, {@code
   * follower-reads} as on or off) over the style's defaults. Malformed values and unknown keys
   * throw {@link IllegalArgumentException}; well-formed but contradictory values are left to {@link
   * #validate()}.
   */
  public static KeyspaceConfig parse(
      String name, int number, Style style, int clusterNodes, Map<String, String> options) {
    KeyspaceConfig c = defaults(name, number, style, clusterNodes);
    int replicas = c.replicas;
    Acks acks = c.acks;
    int r = c.readQuorum;
    int w = c.writeQuorum;
    boolean sloppy = c.sloppyQuorum;
    boolean repair = c.readRepair;
    List<ConflictStrategy> conflicts = c.conflicts;
    Topology topology = c.topology;
    String hub = c.hub;
    boolean ryw = c.readYourWrites;
    boolean blocking = c.blockingReadRepair;
    boolean followerReads = c.followerReads;
    for (Map.Entry<String, String> option : options.entrySet()) {
      String value = option.getValue().trim();
      switch (option.getKey()) {
        case "replicas" -> replicas = parseInt(option.getKey(), value);
        case "acks" -> acks = Acks.parse(value);
        case "r" -> r = parseInt(option.getKey(), value);
        case "w" -> w = parseInt(option.getKey(), value);
        case "sloppy" -> sloppy = parseBoolean(option.getKey(), value);
        case "read-repair" -> {
          switch (value.toLowerCase(Locale.ROOT)) {
            case "blocking" -> {
              repair = true;
              blocking = true;
            }
            case "async" -> {
              repair = true;
              blocking = false;
            }
            default -> {
              try {
                repair = parseBoolean(option.getKey(), value);
              } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                    "read-repair must be blocking, async or off, got '" + value + "'");
              }
              blocking = false;
            }
          }
        }
        case "conflicts" ->
            conflicts =
                Arrays.stream(value.split(","))
                    .map(String::trim)
                    .map(ConflictStrategy::parse)
                    .toList();
        case "topology" -> topology = Topology.parse(value);
        case "hub" -> hub = value;
        case "read-your-writes" -> ryw = parseBoolean(option.getKey(), value);
        case "follower-reads" -> followerReads = parseBoolean(option.getKey(), value);
        default ->
            throw new IllegalArgumentException("unknown keyspace option '" + option.getKey() + "'");
      }
    }
    return new KeyspaceConfig(
        name,
        number,
        style,
        replicas,
        acks,
        r,
        w,
        sloppy,
        repair,
        conflicts,
        topology,
        hub,
        ryw,
        blocking,
        followerReads);
  }

  private static int parseInt(String key, String value) {
    try {
      return Integer.parseInt(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " must be an integer, got '" + value + "'");
    }
  }

  private static boolean parseBoolean(String key, String value) {
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "on", "yes", "true" -> true;
      case "off", "no", "false" -> false;
      default ->
          throw new IllegalArgumentException(key + " must be on or off, got '" + value + "'");
    };
  }

  /** Every reason this config cannot deliver its promises; empty when it is acceptable. */
  public List<String> validate() {
    List<String> reasons = new ArrayList<>();
    if (name.isBlank()) {
      reasons.add("keyspace name must not be blank");
    }
    if (number < 0 || number >= KEYSPACES_MAX) {
      reasons.add("keyspace number " + number + " not in [0, " + (KEYSPACES_MAX - 1) + "]");
    }
    if (replicas < 1) {
      reasons.add("replicas N=" + replicas + " < 1: a partition needs at least one copy");
      return reasons; // every rule below divides the N replicas; nothing more is meaningful
    }
    if (replicas > REPLICAS_MAX) {
      reasons.add("replicas N=" + replicas + " > " + REPLICAS_MAX);
    }
    validateConflicts(reasons);
    if (followerReads && style != Style.SINGLE_LEADER) {
      reasons.add(
          "follower-reads=on applies to single-leader keyspaces only: a "
              + style.text()
              + " keyspace has no leader and followers to choose between");
    }
    switch (style) {
      case SINGLE_LEADER -> validateAcks(reasons);
      case LEADERLESS -> validateQuorums(reasons);
      case MULTI_LEADER -> {
        validateAcks(reasons);
        validateTopology(reasons);
      }
    }
    return reasons;
  }

  /** Like {@link #validate()}, adding that N cannot exceed the nodes that will hold replicas. */
  public List<String> validateFor(int clusterNodes) {
    List<String> reasons = new ArrayList<>(validate());
    if (replicas > clusterNodes) {
      reasons.add(
          "replicas N="
              + replicas
              + " > "
              + clusterNodes
              + " nodes: replicas must be distinct nodes");
    }
    return reasons;
  }

  private void validateAcks(List<String> reasons) {
    if (!acks.all() && acks.followers() > replicas - 1) {
      reasons.add(
          "acks="
              + acks.followers()
              + " waits for more followers than replicas N="
              + replicas
              + " has ("
              + (replicas - 1)
              + "): no write could ever be acknowledged");
    }
  }

  private void validateQuorums(List<String> reasons) {
    if (blockingReadRepair && !readRepair) {
      reasons.add("read-repair=blocking needs read repair on");
    }
    if (blockingReadRepair && 2 * readQuorum <= replicas) {
      reasons.add(
          "read-repair=blocking promises monotonic quorum reads, which needs any two reads to"
              + " overlap (2R > N), but r="
              + readQuorum
              + " and N="
              + replicas
              + "; raise r or use read-repair=async");
    }
    if (readQuorum < 1 || readQuorum > replicas) {
      reasons.add("r=" + readQuorum + " not in [1, N=" + replicas + "]");
    }
    if (writeQuorum < 1 || writeQuorum > replicas) {
      reasons.add("w=" + writeQuorum + " not in [1, N=" + replicas + "]");
    }
    if (readYourWrites && readQuorum + writeQuorum <= replicas) {
      reasons.add(
          "read-your-writes needs R+W > N so reads overlap writes, but r="
              + readQuorum
              + " + w="
              + writeQuorum
              + " <= N="
              + replicas);
    }
    if (conflicts.size() == 1
        && !Set.of(
                ConflictStrategy.Kind.SIBLINGS,
                ConflictStrategy.Kind.LWW,
                ConflictStrategy.Kind.CRDT)
            .contains(conflicts.get(0).kind())) {
      reasons.add(
          "leaderless keyspaces resolve conflicts with siblings, lww or crdt, not "
              + conflicts.get(0));
    }
  }

  private void validateTopology(List<String> reasons) {
    if (topology == Topology.STAR && hub.isBlank()) {
      reasons.add("topology=star needs a hub site");
    }
    if (topology != Topology.STAR && !hub.isBlank()) {
      reasons.add("hub=" + hub + " only applies to topology=star, not " + topology.text());
    }
  }

  private void validateConflicts(List<String> reasons) {
    if (conflicts.isEmpty()) {
      reasons.add("conflicts must name one strategy");
      return;
    }
    boolean lww = conflicts.stream().anyMatch(c -> c.kind() == ConflictStrategy.Kind.LWW);
    boolean siblings = conflicts.stream().anyMatch(c -> c.kind() == ConflictStrategy.Kind.SIBLINGS);
    if (lww && siblings) {
      reasons.add("conflicts=lww drops concurrent writes that conflicts=siblings promises to keep");
    } else if (conflicts.size() > 1) {
      reasons.add(
          "conflicts names " + conflicts.size() + " strategies " + conflicts + "; choose one");
    }
    for (ConflictStrategy strategy : conflicts) {
      if (strategy.kind() == ConflictStrategy.Kind.MERGE) {
        validateMergeFunction(reasons, strategy.mergeFunction());
      }
    }
  }

  private static void validateMergeFunction(List<String> reasons, String function) {
    boolean builtIn = ConflictStrategy.BUILT_IN_MERGES.contains(function);
    boolean className = function.matches("[A-Za-z_$][\\w$]*(\\.[A-Za-z_$][\\w$]*)+");
    if (!builtIn && !className) {
      reasons.add(
          "merge function '"
              + function
              + "' is neither built in "
              + ConflictStrategy.BUILT_IN_MERGES.stream().sorted().toList()
              + " nor a class name");
    }
  }
}
