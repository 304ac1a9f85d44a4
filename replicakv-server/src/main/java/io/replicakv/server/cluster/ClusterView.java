package io.replicakv.server.cluster;

import io.replicakv.core.quorum.KeyspaceConfig;
import io.replicakv.core.quorum.Style;
import io.replicakv.core.ring.Ring;
import io.replicakv.core.ring.RingDiff;
import io.replicakv.core.ring.RingNode;
import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Cluster metadata at one version: members, the ring they form, keyspaces and the partitions
 * derived from both. Immutable; {@link #apply} is the only way to a next version.
 *
 * <p><b>Model.</b> The metadata is a replicated state machine (DDIA chapter 9, "Total order
 * broadcast"; etcd's and Kafka KRaft's metadata logs): a {@link MetadataStore} orders changes, and
 * every node folds them with {@link #apply}, which is pure and deterministic, so every node that
 * has applied the same log prefix holds an equal view. Each accepted change makes exactly one new
 * version ({@code version + 1}); a refused change makes none, and it is refused identically
 * everywhere.
 *
 * <p><b>What is stored and what is derived.</b> Stored: members, keyspace definitions (number,
 * name, style and the options set explicitly), partition-leader records and the ring epoch.
 * Derived: the {@link Ring} (members in a slot-owning state, see {@link MemberState}: a JOINING
 * member gets slots only when marked UP, after its data has arrived), the effective keyspace
 * configs (options applied over the style's defaults for the current ring size, so keyspace 0 is
 * single-leader with N = min(3, nodes) however many nodes there are), and the partitions: maximal
 * runs of slots whose preference list of N nodes is the same.
 *
 * <p><b>Keyspaces.</b> Keyspace 0 ({@code default}) and 1 to 15 ({@code db1} ... {@code db15}, the
 * Redis databases a single node offers) appear with the first member and cannot be dropped; {@code
 * CreateKeyspace} takes the lowest free number from 16 up.
 *
 * <p><b>Leaders and epochs.</b> A partition without a leader record is led by its first replica at
 * the ring epoch. Whenever the ring or a keyspace's N changes, the ring epoch moves past every
 * epoch recorded so far, and leader records survive only for partitions whose range and replica set
 * are unchanged; so the epoch of every slot never decreases, and a changed replica set always comes
 * with a higher epoch. {@code SetPartitionLeader} must name a replica and a higher epoch.
 *
 * <p><b>Moves.</b> At most one member is in a move at a time (JOINING or LEAVING); a change that
 * would start a second one (or remove a DOWN member, which also changes the ring) is refused until
 * the first one flips or is cancelled. The sources of the move are the owners of the slots {@link
 * #afterFlip} gives to another node; each records {@code SourceReady} when its last delta is
 * acknowledged, and the change that records the last one also performs the flip (JOINING to UP, and
 * for a replacement the replaced member to LEFT; LEAVING to LEFT), so no coordinator has to be
 * alive for a move to finish. From a source's SourceReady until the flip its moving slots are
 * handed over ({@link #handoverTarget}); a cancel is refused from the first one on, because the
 * targets may already hold writes the sources never saw.
 *
 * <p><b>Replacement.</b> A member places its ring tokens under the name {@link Member#tokenOwner()}
 * (its own id unless it replaced another member, whose token owner it inherits), so a replacement
 * owns exactly the slots of the member it replaced.
 *
 * <p><b>Replica leaders.</b> Single-leader replication records, per {@code (keyspace, replica
 * group)}, the leader its controller chose and the epoch it leads ({@link PartitionState}), with
 * {@code SetReplicaLeader}: the epoch must rise and the leader must be a member. These records are
 * kept across ring changes (a group id that comes back keeps counting its epochs upward) and go
 * only with their keyspace. The metadata log is the arbiter between two controllers that both think
 * they run: the second decision for an epoch is refused.
 *
 * <p>Binary form: format version byte 3 (replica leaders after the handed-over sources; 2 and 1 are
 * still read), cluster id, version, ring epoch, vnodes, then members (with their token owner),
 * keyspace definitions, leader records and the handed-over sources per moving member, each as a
 * count followed by items in key order. Version 1 (no token owners, no handed-over sources) is
 * still read. Enums travel by name.
 */
public final class ClusterView {
  /**
   * Keyspaces 0 to 15 always exist: the Redis databases a single node answers {@code SELECT} to.
   */
  public static final int BUILT_IN_KEYSPACES = 16;

  /** Name of keyspace 0. */
  public static final String DEFAULT_KEYSPACE_NAME = "default";

  /** Longest keyspace name, in characters (ASCII letters, digits, '_', '-', '.'). */
  public static final int KEYSPACE_NAME_MAX_CHARS = 64;

  /** Tokens per member on the ring. */
  public static final int VNODES = Ring.DEFAULT_VNODES;

  /** Most members, LEFT ones included. */
  public static final int MEMBERS_MAX = Ring.NODES_MAX;

  private static final int FORMAT_VERSION = 3;

  /** The first format version that carries replica-leader records. */
  private static final int REPLICA_LEADERS_SINCE_VERSION = 3;

  /** The first format version that carries token owners and handed-over sources. */
  private static final int MOVES_SINCE_VERSION = 2;

  private static final Pattern KEYSPACE_NAME =
      Pattern.compile("[A-Za-z0-9_.-]{1," + KEYSPACE_NAME_MAX_CHARS + "}");

  /** Identifies a partition's leader record: keyspace and first slot. */
  private record PartitionKey(int keyspace, int firstSlot) implements Comparable<PartitionKey> {
    @Override
    public int compareTo(PartitionKey other) {
      int byKeyspace = Integer.compare(keyspace, other.keyspace);
      return byKeyspace != 0 ? byKeyspace : Integer.compare(firstSlot, other.firstSlot);
    }
  }

  /** Identifies a replica group's leader record: keyspace and group id. */
  public record ReplicaGroupKey(int keyspace, int group) implements Comparable<ReplicaGroupKey> {
    @Override
    public int compareTo(ReplicaGroupKey other) {
      int byKeyspace = Integer.compare(keyspace, other.keyspace);
      return byKeyspace != 0 ? byKeyspace : Integer.compare(group, other.group);
    }
  }

  /**
   * The leader a single-leader controller chose for one replica group, and the epoch it leads.
   *
   * @param leader member id
   * @param epoch the replication epoch, above every earlier decision for the group
   */
  public record PartitionState(String leader, long epoch) {}

  /** A leader chosen by {@code SetPartitionLeader}. */
  private record LeaderRecord(String leader, long epoch) {}

  /** A run of slots with one preference list. */
  private record SlotRange(int firstSlot, int lastSlot, List<String> replicas) {}

  private final String clusterId;
  private final long version;
  private final long ringEpoch;
  private final SortedMap<String, Member> members;
  private final SortedMap<Integer, KeyspaceDefinition> definitions;
  private final SortedMap<PartitionKey, LeaderRecord> leaders;
  // moving member -> the sources that handed their slots over; empty between moves
  private final SortedMap<String, java.util.SortedSet<String>> handedOver;
  private final SortedMap<ReplicaGroupKey, PartitionState> replicaLeaders;
  private final Ring ring;
  private final SortedMap<Integer, KeyspaceEntry> keyspaces;
  // Derived lazily per replica count N; views are immutable so the cache never goes stale.
  private final Map<Integer, List<SlotRange>> rangesByReplicas = new ConcurrentHashMap<>();
  // Derived lazily: the handover target of every slot (null: none); never stale, as above.
  private volatile String[] handoverTargetBySlot;

  private ClusterView(
      String clusterId,
      long version,
      long ringEpoch,
      SortedMap<String, Member> members,
      SortedMap<Integer, KeyspaceDefinition> definitions,
      SortedMap<PartitionKey, LeaderRecord> leaders,
      SortedMap<String, java.util.SortedSet<String>> handedOver,
      SortedMap<ReplicaGroupKey, PartitionState> replicaLeaders) {
    Check.argument(clusterId != null && !clusterId.isBlank(), "cluster id must be non-empty");
    Check.argument(version >= 0, "version %s < 0", version);
    Check.argument(ringEpoch >= 0, "ring epoch %s < 0", ringEpoch);
    this.clusterId = clusterId;
    this.version = version;
    this.ringEpoch = ringEpoch;
    this.members = Collections.unmodifiableSortedMap(new TreeMap<>(members));
    this.definitions = Collections.unmodifiableSortedMap(new TreeMap<>(definitions));
    this.leaders = Collections.unmodifiableSortedMap(new TreeMap<>(leaders));
    TreeMap<String, java.util.SortedSet<String>> ready = new TreeMap<>();
    handedOver.forEach(
        (member, sources) -> {
          if (!sources.isEmpty()) {
            ready.put(member, Collections.unmodifiableSortedSet(new java.util.TreeSet<>(sources)));
          }
        });
    this.handedOver = Collections.unmodifiableSortedMap(ready);
    this.replicaLeaders = Collections.unmodifiableSortedMap(new TreeMap<>(replicaLeaders));
    this.ring = ringOf(this.members.values());
    int clusterNodes = clusterNodes();
    TreeMap<Integer, KeyspaceEntry> entries = new TreeMap<>();
    this.definitions.forEach(
        (number, d) ->
            entries.put(number, new KeyspaceEntry(number, d.name(), d.config(clusterNodes))));
    this.keyspaces = Collections.unmodifiableSortedMap(entries);
  }

  /**
   * The ring of the slot-owning members, each placing the tokens named after its token owner: a
   * replacement is first placed under the replaced id and then handed that id's tokens.
   */
  private static Ring ringOf(java.util.Collection<Member> all) {
    List<RingNode> placed = new ArrayList<>();
    List<Member> heirs = new ArrayList<>();
    for (Member m : all) {
      if (!m.state().ownsSlots()) {
        continue;
      }
      placed.add(new RingNode(m.tokenOwner(), m.rack()));
      if (m.inheritsTokens()) {
        heirs.add(m);
      }
    }
    Ring ring = Ring.of(VNODES, placed);
    for (Member heir : heirs) {
      ring = ring.replace(heir.tokenOwner(), new RingNode(heir.id(), heir.rack()));
    }
    return ring;
  }

  /** The replica-leader record of {@code (keyspace, group)}, or null when none was decided. */
  public PartitionState replicaLeader(int keyspace, int group) {
    return replicaLeaders.get(new ReplicaGroupKey(keyspace, group));
  }

  /** Every replica-leader record, in key order. */
  public SortedMap<ReplicaGroupKey, PartitionState> replicaLeaders() {
    return replicaLeaders;
  }

  /** Version 0 of a cluster: no members, no keyspaces. */
  public static ClusterView empty(String clusterId) {
    return new ClusterView(
        clusterId,
        0,
        0,
        new TreeMap<>(),
        new TreeMap<>(),
        new TreeMap<>(),
        new TreeMap<>(),
        new TreeMap<>());
  }

  /** The member in a move (JOINING or LEAVING), the lowest id if several; null when none. */
  public Member movingMember() {
    for (Member m : members.values()) {
      if (m.state() == MemberState.JOINING || m.state() == MemberState.LEAVING) {
        return m;
      }
    }
    return null;
  }

  /**
   * The view after the flip of {@code memberId}'s move (JOINING to UP and, for a replacement, the
   * replaced member to LEFT; LEAVING to LEFT), as if it were committed now.
   *
   * @throws MetadataRejectedException when the member is not in a move
   */
  public ClusterView afterFlip(String memberId) {
    Draft draft = new Draft(this);
    draft.flip(memberId);
    return draft.build();
  }

  /** The member {@code heir} replaces (a slot owner with the same token owner), or null. */
  public Member replacedBy(Member heir) {
    return replacedAmong(members.values(), heir);
  }

  private static Member replacedAmong(java.util.Collection<Member> all, Member heir) {
    if (!heir.inheritsTokens()) {
      return null;
    }
    for (Member m : all) {
      if (!m.id().equals(heir.id())
          && m.state().ownsSlots()
          && m.tokenOwner().equals(heir.tokenOwner())) {
        return m;
      }
    }
    return null;
  }

  /** The sources of {@code memberId}'s move: the nodes that lose slots at its flip, in id order. */
  public java.util.SortedSet<String> moveSources(String memberId) {
    java.util.SortedSet<String> sources = new java.util.TreeSet<>();
    for (RingDiff.SlotMove move : RingDiff.between(ring, afterFlip(memberId).ring)) {
      sources.add(move.fromNode());
    }
    return sources;
  }

  /** The sources of {@code memberId}'s move that handed their slots over (empty: none yet). */
  public java.util.SortedSet<String> handedOver(String memberId) {
    return handedOver.getOrDefault(memberId, Collections.emptySortedSet());
  }

  /**
   * The node that serves {@code slot} while its owner has handed it over in a running move (from
   * the owner's SourceReady until the flip), or null. Commands on such a slot go to this node:
   * forwarded by the owner, or after an {@code -ASK} redirect.
   */
  public String handoverTarget(int slot) {
    String[] targets = handoverTargetBySlot;
    if (targets == null) {
      targets = computeHandoverTargets();
      handoverTargetBySlot = targets;
    }
    return targets[slot];
  }

  private String[] computeHandoverTargets() {
    String[] targets = new String[Slots.SLOT_COUNT];
    for (Map.Entry<String, java.util.SortedSet<String>> e : handedOver.entrySet()) {
      Member moving = members.get(e.getKey());
      if (moving == null
          || (moving.state() != MemberState.JOINING && moving.state() != MemberState.LEAVING)) {
        continue;
      }
      for (RingDiff.SlotMove move : RingDiff.between(ring, afterFlip(e.getKey()).ring)) {
        if (e.getValue().contains(move.fromNode())) {
          for (int s = move.firstSlot(); s <= move.lastSlot(); s++) {
            targets[s] = move.toNode();
          }
        }
      }
    }
    return targets;
  }

  /** The metadata version: the number of changes accepted since {@link #empty}. */
  public long version() {
    return version;
  }

  /** The cluster's id; nodes of another cluster refuse to talk to this one. */
  public String clusterId() {
    return clusterId;
  }

  /** Members by id, including DOWN and LEFT ones. */
  public Map<String, Member> members() {
    return members;
  }

  /** The ring of the members that own slots (UP, DOWN, LEAVING). */
  public Ring ring() {
    return ring;
  }

  /** Keyspaces by number, with configs effective for the current ring size. */
  public Map<Integer, KeyspaceEntry> keyspaces() {
    return keyspaces;
  }

  /** The keyspace called {@code name}, or null. */
  public KeyspaceEntry keyspace(String name) {
    return keyspaces.values().stream().filter(k -> k.name().equals(name)).findFirst().orElse(null);
  }

  /** The epoch of partitions without a leader record; see the class comment. */
  public long ringEpoch() {
    return ringEpoch;
  }

  /** Nodes counted for keyspace defaults and validation: the ring's size, at least 1. */
  public int clusterNodes() {
    return Math.max(1, ring.nodes().size());
  }

  /**
   * The partitions of {@code keyspace} in slot order, covering all 16384 slots; empty for an
   * unknown keyspace or an empty ring.
   */
  public List<PartitionAssignment> partitions(int keyspace) {
    KeyspaceEntry entry = keyspaces.get(keyspace);
    if (entry == null || ring.nodes().isEmpty()) {
      return List.of();
    }
    List<SlotRange> ranges = ranges(entry.config().replicas());
    List<PartitionAssignment> result = new ArrayList<>(ranges.size());
    for (SlotRange range : ranges) {
      result.add(assignment(keyspace, range));
    }
    return List.copyOf(result);
  }

  /**
   * The partition of {@code keyspace} holding {@code slot}, or null (unknown keyspace, no ring).
   */
  public PartitionAssignment partition(int keyspace, int slot) {
    Check.argument(slot >= 0 && slot < Slots.SLOT_COUNT, "slot %s out of range", slot);
    KeyspaceEntry entry = keyspaces.get(keyspace);
    if (entry == null || ring.nodes().isEmpty()) {
      return null;
    }
    return assignment(keyspace, rangeAt(ranges(entry.config().replicas()), slot));
  }

  /** The ring owner of {@code slot} (its first replica); null on an empty ring. */
  public Member ownerOf(int slot) {
    Check.argument(slot >= 0 && slot < Slots.SLOT_COUNT, "slot %s out of range", slot);
    return ring.nodes().isEmpty() ? null : members.get(ring.owner(slot));
  }

  private PartitionAssignment assignment(int keyspace, SlotRange range) {
    LeaderRecord record = leaders.get(new PartitionKey(keyspace, range.firstSlot()));
    String leader = record != null ? record.leader() : range.replicas().get(0);
    long epoch = record != null ? record.epoch() : ringEpoch;
    return new PartitionAssignment(
        keyspace, range.firstSlot(), range.lastSlot(), range.replicas(), leader, epoch);
  }

  private List<SlotRange> ranges(int replicas) {
    return rangesByReplicas.computeIfAbsent(replicas, this::computeRanges);
  }

  private List<SlotRange> computeRanges(int replicas) {
    List<SlotRange> ranges = new ArrayList<>();
    int runStart = 0;
    List<String> runReplicas = ring.preferenceList(0, replicas);
    for (int slot = 1; slot <= Slots.SLOT_COUNT; slot++) {
      List<String> here = slot < Slots.SLOT_COUNT ? ring.preferenceList(slot, replicas) : null;
      if (!runReplicas.equals(here)) {
        ranges.add(new SlotRange(runStart, slot - 1, runReplicas));
        runStart = slot;
        runReplicas = here;
      }
    }
    return List.copyOf(ranges);
  }

  private static SlotRange rangeAt(List<SlotRange> ranges, int slot) {
    int low = 0;
    int high = ranges.size() - 1;
    while (low < high) {
      int middle = (low + high + 1) >>> 1;
      if (ranges.get(middle).firstSlot() <= slot) {
        low = middle;
      } else {
        high = middle - 1;
      }
    }
    SlotRange range = ranges.get(low);
    Check.state(
        range.firstSlot() <= slot && slot <= range.lastSlot(), "no range has slot %s", slot);
    return range;
  }

  /**
   * The view after {@code change}: version + 1. Pure; throws {@link MetadataRejectedException} with
   * the reason when the change does not fit this view.
   */
  public ClusterView apply(MetadataChange change) {
    Check.notNull(change, "change");
    Draft draft = new Draft(this);
    switch (change) {
      case MetadataChange.AddMember c -> draft.addMember(c.member());
      case MetadataChange.SetMemberState c -> draft.setMemberState(c.id(), c.state());
      case MetadataChange.UpdateMember c -> draft.updateMember(c.member());
      case MetadataChange.RemoveMember c -> draft.removeMember(c.id());
      case MetadataChange.CreateKeyspace c -> draft.createKeyspace(c.name(), c.options());
      case MetadataChange.AlterKeyspace c -> draft.alterKeyspace(c.name(), c.options());
      case MetadataChange.DropKeyspace c -> draft.dropKeyspace(c.name());
      case MetadataChange.SetPartitionLeader c -> draft.setPartitionLeader(c);
      case MetadataChange.SetReplicaLeader c -> draft.setReplicaLeader(c);
      case MetadataChange.SourceReady c -> draft.sourceReady(c.member(), c.source());
      case MetadataChange.ReplaceMember c -> draft.replaceMember(c.oldId(), c.newId());
    }
    ClusterView next = draft.build();
    Check.state(next.version == version + 1, "version %s after %s", next.version, version);
    return next;
  }

  /**
   * Options of a multi-leader keyspace that ALTER refuses to change: sites agree on them at
   * creation (the announcement carries them) and the site log's link positions follow the topology.
   */
  static final List<String> MULTI_LEADER_FIXED_OPTIONS = List.of("conflicts", "topology", "hub");

  /** The mutable copy one change is applied to; {@link #build} settles epochs and records. */
  private static final class Draft {
    private final ClusterView before;
    private final TreeMap<String, Member> members;
    private final TreeMap<Integer, KeyspaceDefinition> definitions;
    private final TreeMap<PartitionKey, LeaderRecord> leaders;
    private final TreeMap<String, java.util.SortedSet<String>> handedOver;
    private final TreeMap<ReplicaGroupKey, PartitionState> replicaLeaders;

    Draft(ClusterView before) {
      this.before = before;
      this.members = new TreeMap<>(before.members);
      this.definitions = new TreeMap<>(before.definitions);
      this.leaders = new TreeMap<>(before.leaders);
      this.handedOver = new TreeMap<>(before.handedOver);
      this.replicaLeaders = new TreeMap<>(before.replicaLeaders);
    }

    void addMember(Member member) {
      Member existing = members.get(member.id());
      if (existing != null) {
        reject("member %s already exists (state %s)", member.id(), existing.state());
      }
      if (member.state() != MemberState.STAGED
          && member.state() != MemberState.JOINING
          && member.state() != MemberState.UP) {
        reject("a new member starts STAGED, JOINING or UP, not %s", member.state());
      }
      if (member.inheritsTokens()) {
        reject(
            "a new member places its own tokens; %s replaces another only by commit", member.id());
      }
      for (Member other : members.values()) {
        if (other.tokenOwner().equals(member.id())) {
          reject(
              "id %s names the ring tokens of member %s; choose another id",
              member.id(), other.id());
        }
      }
      if (members.size() >= MEMBERS_MAX) {
        reject("cluster already has %s members (most %s)", members.size(), MEMBERS_MAX);
      }
      for (Member other : members.values()) {
        if (other.state() != MemberState.LEFT && sharesAddress(member, other)) {
          reject("member %s uses an address of member %s", member.id(), other.id());
        }
      }
      members.put(member.id(), member);
      if (definitions.isEmpty()) {
        definitions.put(
            0,
            new KeyspaceDefinition(0, DEFAULT_KEYSPACE_NAME, Style.SINGLE_LEADER, new TreeMap<>()));
        for (int number = 1; number < BUILT_IN_KEYSPACES; number++) {
          definitions.put(
              number,
              new KeyspaceDefinition(number, "db" + number, Style.SINGLE_LEADER, new TreeMap<>()));
        }
      }
    }

    private static boolean sharesAddress(Member a, Member b) {
      if (!a.host().equals(b.host())) {
        return false;
      }
      List<Integer> portsOfB =
          List.of(b.clientPort(), b.peerPort(), b.httpPort(), b.metadataPort());
      for (int port : List.of(a.clientPort(), a.peerPort(), a.httpPort(), a.metadataPort())) {
        if (port != 0 && portsOfB.contains(port)) {
          return true;
        }
      }
      return false;
    }

    void updateMember(Member update) {
      Member current = requireMember(update.id());
      if (current.state() == MemberState.LEFT) {
        reject("member %s has left; it cannot change addresses", update.id());
      }
      for (Member other : members.values()) {
        if (!other.id().equals(update.id())
            && other.state() != MemberState.LEFT
            && sharesAddress(update, other)) {
          reject("member %s would use an address of member %s", update.id(), other.id());
        }
      }
      members.put(
          update.id(), update.withState(current.state()).withTokenOwner(current.tokenOwner()));
    }

    void setMemberState(String id, MemberState state) {
      Member member = requireMember(id);
      if (member.state() == state) {
        reject("member %s is already %s", id, state);
      }
      if (!member.state().canBecome(state)) {
        reject("member %s cannot go from %s to %s", id, member.state(), state);
      }
      boolean startsMove = state == MemberState.JOINING || state == MemberState.LEAVING;
      boolean dropsDeadOwner = member.state() == MemberState.DOWN && state == MemberState.LEFT;
      if (startsMove || dropsDeadOwner) {
        refuseSecondMove(id);
      }
      boolean cancels =
          (member.state() == MemberState.JOINING && state == MemberState.LEFT)
              || (member.state() == MemberState.LEAVING && state == MemberState.UP);
      if (cancels) {
        refusePastHandover(id);
      }
      if (member.state() == MemberState.JOINING && state == MemberState.UP) {
        flip(id); // the flip without SourceReady records (tests and the legacy path)
        return;
      }
      members.put(id, member.withState(state));
      if (cancels) {
        handedOver.remove(id);
      }
      if (startsMove) {
        flipIfNothingMoves(id);
      }
    }

    /** One move at a time: refuses when a member other than {@code id} is JOINING or LEAVING. */
    private void refuseSecondMove(String id) {
      for (Member m : members.values()) {
        if (!m.id().equals(id)
            && (m.state() == MemberState.JOINING || m.state() == MemberState.LEAVING)) {
          reject(
              "member %s is %s: one move at a time; commit this change after that one finishes",
              m.id(), m.state());
        }
      }
    }

    private void refusePastHandover(String id) {
      java.util.SortedSet<String> ready = handedOver.getOrDefault(id, Collections.emptySortedSet());
      if (ready.isEmpty()) {
        return;
      }
      java.util.SortedSet<String> expected = before.moveSources(id);
      java.util.SortedSet<String> waiting = new java.util.TreeSet<>(expected);
      waiting.removeAll(ready);
      reject(
          "the move of %s is past its handover point: %s of %s sources handed over; it will"
              + " finish when %s hand over",
          id, ready.size(), expected.size(), String.join(", ", waiting));
    }

    /** A move in which no slot changes owner flips in the change that starts it. */
    private void flipIfNothingMoves(String id) {
      ClusterView started = build();
      if (started.moveSources(id).isEmpty()) {
        flip(id);
      }
    }

    /**
     * The flip of {@code id}'s move: JOINING to UP (and a member it replaces to LEFT), LEAVING to
     * LEFT; forgets the handed-over sources.
     */
    void flip(String id) {
      Member member = requireMember(id);
      switch (member.state()) {
        case JOINING -> {
          Member replaced = replacedAmong(members.values(), member);
          members.put(id, member.withState(MemberState.UP));
          if (replaced != null) {
            members.put(replaced.id(), replaced.withState(MemberState.LEFT));
          }
        }
        case LEAVING -> members.put(id, member.withState(MemberState.LEFT));
        default -> reject("member %s is %s: not in a move", id, member.state());
      }
      handedOver.remove(id);
    }

    void sourceReady(String id, String source) {
      Member member = requireMember(id);
      if (member.state() != MemberState.JOINING && member.state() != MemberState.LEAVING) {
        reject("member %s is %s: no move to hand over to", id, member.state());
      }
      java.util.SortedSet<String> expected = before.moveSources(id);
      if (!expected.contains(source)) {
        reject("%s has no slots to hand over in the move of %s (sources %s)", source, id, expected);
      }
      java.util.SortedSet<String> ready =
          new java.util.TreeSet<>(handedOver.getOrDefault(id, Collections.emptySortedSet()));
      if (!ready.add(source)) {
        reject("%s already handed over its slots in the move of %s", source, id);
      }
      if (ready.containsAll(expected)) {
        flip(id);
      } else {
        handedOver.put(id, ready);
      }
    }

    void replaceMember(String oldId, String newId) {
      Member old = requireMember(oldId);
      Member heir = requireMember(newId);
      if (heir.state() != MemberState.STAGED) {
        reject(
            "member %s is %s; the replacement must be STAGED (a new, empty node)",
            newId, heir.state());
      }
      if (old.state() == MemberState.DOWN) {
        reject(
            "member %s is DOWN: no replica holds its data yet; bring it back or remove it", oldId);
      }
      if (old.state() != MemberState.UP) {
        reject("member %s is %s; only an UP member can be replaced", oldId, old.state());
      }
      refuseSecondMove(newId);
      members.put(newId, heir.withTokenOwner(old.tokenOwner()).withState(MemberState.JOINING));
      flipIfNothingMoves(newId);
    }

    void removeMember(String id) {
      Member member = requireMember(id);
      if (member.state().ownsSlots()) {
        reject(
            "member %s is %s and owns slots; decommission it (LEAVING, then LEFT) first",
            id, member.state());
      }
      members.remove(id);
    }

    private Member requireMember(String id) {
      Member member = members.get(id);
      if (member == null) {
        reject("no member %s", id);
      }
      return member;
    }

    void createKeyspace(String name, Map<String, String> options) {
      if (members.isEmpty()) {
        reject("cannot create keyspace %s: the cluster has no members yet", name);
      }
      if (!KEYSPACE_NAME.matcher(name).matches()) {
        reject(
            "keyspace name '%s' must be 1 to %s letters, digits, '_', '-' or '.'",
            name, KEYSPACE_NAME_MAX_CHARS);
      }
      if (findByName(name) != null) {
        reject("keyspace %s already exists", name);
      }
      int number = BUILT_IN_KEYSPACES;
      while (definitions.containsKey(number)) {
        number++;
      }
      if (number >= KeyspaceConfig.KEYSPACES_MAX) {
        reject("no free keyspace number: all %s are in use", KeyspaceConfig.KEYSPACES_MAX);
      }
      TreeMap<String, String> rest = new TreeMap<>(options);
      Style style = parseStyle(rest.remove("style"));
      definitions.put(number, validated(new KeyspaceDefinition(number, name, style, rest)));
    }

    void alterKeyspace(String name, Map<String, String> options) {
      KeyspaceDefinition current = findByName(name);
      if (current == null) {
        reject("no keyspace %s", name);
      }
      TreeMap<String, String> merged = new TreeMap<>(current.options());
      merged.putAll(options);
      String style = merged.remove("style");
      if (style != null && parseStyle(style) != current.style()) {
        reject(
            "keyspace %s is %s; its style cannot change (create a new keyspace)",
            name, current.style().text());
      }
      if (current.style() == Style.MULTI_LEADER) {
        for (String fixed : MULTI_LEADER_FIXED_OPTIONS) {
          if (!java.util.Objects.equals(merged.get(fixed), current.options().get(fixed))) {
            // The running site service, the other sites' copies of the keyspace and the link
            // positions in its site log all assume the options it was created with; changing
            // them here alone would leave sites disagreeing (or the keyspace refused at restart).
            reject(
                "keyspace %s is multi-leader; its %s cannot change (%s -> %s): every site and"
                    + " its site log were set up with it; create a new keyspace instead",
                name, fixed, current.options().get(fixed), merged.get(fixed));
          }
        }
      }
      definitions.put(
          current.number(),
          validated(new KeyspaceDefinition(current.number(), name, current.style(), merged)));
    }

    void dropKeyspace(String name) {
      KeyspaceDefinition current = findByName(name);
      if (current == null) {
        reject("no keyspace %s", name);
      }
      if (current.number() < BUILT_IN_KEYSPACES) {
        reject(
            "keyspace %s is number %s; keyspaces 0 to %s are built in and cannot be dropped",
            name, current.number(), BUILT_IN_KEYSPACES - 1);
      }
      definitions.remove(current.number());
      leaders.keySet().removeIf(key -> key.keyspace() == current.number());
      replicaLeaders.keySet().removeIf(key -> key.keyspace() == current.number());
    }

    void setReplicaLeader(MetadataChange.SetReplicaLeader change) {
      if (!before.keyspaces.containsKey(change.keyspace())) {
        reject("no keyspace number %s", change.keyspace());
      }
      if (!members.containsKey(change.leader())) {
        reject("leader %s is not a member", change.leader());
      }
      ReplicaGroupKey key = new ReplicaGroupKey(change.keyspace(), change.group());
      PartitionState current = replicaLeaders.get(key);
      if (current != null && change.epoch() <= current.epoch()) {
        reject(
            "epoch %s is not above replica group %s/%s's epoch %s",
            change.epoch(), change.keyspace(), change.group(), current.epoch());
      }
      replicaLeaders.put(key, new PartitionState(change.leader(), change.epoch()));
    }

    void setPartitionLeader(MetadataChange.SetPartitionLeader change) {
      if (!before.keyspaces.containsKey(change.keyspace())) {
        reject("no keyspace number %s", change.keyspace());
      }
      if (change.firstSlot() >= Slots.SLOT_COUNT || before.ring.nodes().isEmpty()) {
        reject("no partition starts at slot %s", change.firstSlot());
      }
      PartitionAssignment partition = before.partition(change.keyspace(), change.firstSlot());
      if (partition.firstSlot() != change.firstSlot()) {
        reject(
            "no partition of keyspace %s starts at slot %s (slot %s is in %s-%s)",
            change.keyspace(),
            change.firstSlot(),
            change.firstSlot(),
            partition.firstSlot(),
            partition.lastSlot());
      }
      if (!partition.replicas().contains(change.leader())) {
        reject(
            "leader %s is not a replica of partition %s-%s %s",
            change.leader(), partition.firstSlot(), partition.lastSlot(), partition.replicas());
      }
      if (change.epoch() <= partition.epoch()) {
        reject("epoch %s is not above the partition's epoch %s", change.epoch(), partition.epoch());
      }
      leaders.put(
          new PartitionKey(change.keyspace(), change.firstSlot()),
          new LeaderRecord(change.leader(), change.epoch()));
    }

    private KeyspaceDefinition validated(KeyspaceDefinition definition) {
      int clusterNodes =
          Math.max(1, (int) members.values().stream().filter(m -> m.state().ownsSlots()).count());
      KeyspaceConfig config;
      try {
        config = definition.config(clusterNodes);
      } catch (IllegalArgumentException e) {
        throw new MetadataRejectedException(
            "keyspace " + definition.name() + ": " + e.getMessage());
      }
      List<String> reasons = config.validateFor(clusterNodes);
      if (!reasons.isEmpty()) {
        throw new MetadataRejectedException(
            "keyspace " + definition.name() + ": " + String.join("; ", reasons));
      }
      return definition;
    }

    private static Style parseStyle(String text) {
      if (text == null) {
        return Style.SINGLE_LEADER;
      }
      try {
        return Style.parse(text.trim());
      } catch (IllegalArgumentException e) {
        throw new MetadataRejectedException(
            e.getMessage() + "; use single-leader, leaderless or multi-leader");
      }
    }

    private KeyspaceDefinition findByName(String name) {
      return definitions.values().stream()
          .filter(d -> d.name().equals(name))
          .findFirst()
          .orElse(null);
    }

    ClusterView build() {
      long nextVersion = before.version + 1;
      ClusterView tentative =
          new ClusterView(
              before.clusterId,
              nextVersion,
              before.ringEpoch,
              members,
              definitions,
              leaders,
              handedOver,
              replicaLeaders);
      if (!rangesMayHaveChanged(tentative)) {
        return tentative;
      }
      // Keep only records whose partition is exactly as before; every other range starts over
      // at a ring epoch above all epochs seen so far.
      TreeMap<PartitionKey, LeaderRecord> kept = new TreeMap<>();
      long highestEpoch = before.ringEpoch;
      for (Map.Entry<PartitionKey, LeaderRecord> entry : leaders.entrySet()) {
        PartitionKey key = entry.getKey();
        highestEpoch = Math.max(highestEpoch, entry.getValue().epoch());
        PartitionAssignment old = before.partition(key.keyspace(), key.firstSlot());
        PartitionAssignment now = tentative.partition(key.keyspace(), key.firstSlot());
        if (old != null
            && now != null
            && old.firstSlot() == now.firstSlot()
            && old.lastSlot() == now.lastSlot()
            && old.replicas().equals(now.replicas())) {
          kept.put(key, entry.getValue());
        }
      }
      long nextRingEpoch = Math.max(nextVersion, highestEpoch + 1);
      return new ClusterView(
          before.clusterId,
          nextVersion,
          nextRingEpoch,
          members,
          definitions,
          kept,
          handedOver,
          replicaLeaders);
    }

    private boolean rangesMayHaveChanged(ClusterView after) {
      if (!before.ring.equals(after.ring)) {
        return true;
      }
      for (Map.Entry<Integer, KeyspaceEntry> entry : after.keyspaces.entrySet()) {
        KeyspaceEntry old = before.keyspaces.get(entry.getKey());
        if (old != null && old.config().replicas() != entry.getValue().config().replicas()) {
          return true;
        }
      }
      return false;
    }

    private static void reject(String format, Object... args) {
      throw new MetadataRejectedException(String.format(format, args));
    }
  }

  /** The binary form described in the class comment. */
  public byte[] toBytes() {
    ByteWriter writer =
        new ByteWriter()
            .writeByte(FORMAT_VERSION)
            .writeString(clusterId)
            .writeVarLong(version)
            .writeVarLong(ringEpoch)
            .writeVarInt(VNODES);
    writer.writeVarInt(members.size());
    members.values().forEach(m -> MetadataCodec.writeMember(writer, m));
    writer.writeVarInt(definitions.size());
    for (KeyspaceDefinition d : definitions.values()) {
      writer.writeVarInt(d.number()).writeString(d.name()).writeString(d.style().name());
      MetadataCodec.writeOptions(writer, d.options());
    }
    writer.writeVarInt(leaders.size());
    leaders.forEach(
        (key, record) ->
            writer
                .writeVarInt(key.keyspace())
                .writeVarInt(key.firstSlot())
                .writeString(record.leader())
                .writeVarLong(record.epoch()));
    writer.writeVarInt(handedOver.size());
    handedOver.forEach(
        (member, sources) -> {
          writer.writeString(member).writeVarInt(sources.size());
          sources.forEach(writer::writeString);
        });
    writer.writeVarInt(replicaLeaders.size());
    replicaLeaders.forEach(
        (key, state) ->
            writer
                .writeVarInt(key.keyspace())
                .writeVarInt(key.group())
                .writeString(state.leader())
                .writeVarLong(state.epoch()));
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}; throws {@link CorruptEncodingException} on malformed input. */
  public static ClusterView fromBytes(byte[] bytes) {
    ByteReader reader = new ByteReader(bytes);
    int format = MetadataCodec.openVersion(reader, 1, FORMAT_VERSION, "ClusterView");
    String clusterId = reader.readString(Limits.ID_MAX_BYTES);
    long version = reader.readVarLong();
    long ringEpoch = reader.readVarLong();
    int vnodes = reader.readVarInt(Ring.VNODES_MAX);
    if (vnodes != VNODES) {
      throw new CorruptEncodingException("ClusterView: vnodes " + vnodes + " != " + VNODES);
    }
    TreeMap<String, Member> members = new TreeMap<>();
    int memberCount = reader.readCount(MEMBERS_MAX);
    for (int i = 0; i < memberCount; i++) {
      Member member = MetadataCodec.readMember(reader, format);
      if (members.put(member.id(), member) != null) {
        throw new CorruptEncodingException("ClusterView: duplicate member " + member.id());
      }
    }
    TreeMap<Integer, KeyspaceDefinition> definitions = new TreeMap<>();
    int keyspaceCount = reader.readCount(KeyspaceConfig.KEYSPACES_MAX);
    for (int i = 0; i < keyspaceCount; i++) {
      int number = reader.readVarInt(KeyspaceConfig.KEYSPACES_MAX - 1);
      String name = reader.readString(Limits.ID_MAX_BYTES);
      Style style = MetadataCodec.readEnum(reader, Style.class);
      SortedMap<String, String> options = MetadataCodec.readOptions(reader);
      if (definitions.put(number, new KeyspaceDefinition(number, name, style, options)) != null) {
        throw new CorruptEncodingException("ClusterView: duplicate keyspace " + number);
      }
    }
    TreeMap<PartitionKey, LeaderRecord> leaders = new TreeMap<>();
    int leaderCount = reader.readCount(KeyspaceConfig.KEYSPACES_MAX * Slots.SLOT_COUNT);
    for (int i = 0; i < leaderCount; i++) {
      PartitionKey key =
          new PartitionKey(
              reader.readVarInt(KeyspaceConfig.KEYSPACES_MAX - 1),
              reader.readVarInt(Slots.SLOT_COUNT - 1));
      leaders.put(
          key, new LeaderRecord(reader.readString(Limits.ID_MAX_BYTES), reader.readVarLong()));
    }
    TreeMap<String, java.util.SortedSet<String>> handedOver = new TreeMap<>();
    int moving = format >= MOVES_SINCE_VERSION ? reader.readCount(MEMBERS_MAX) : 0;
    for (int i = 0; i < moving; i++) {
      String member = reader.readString(Limits.ID_MAX_BYTES);
      int count = reader.readCount(MEMBERS_MAX);
      java.util.SortedSet<String> sources = new java.util.TreeSet<>();
      for (int j = 0; j < count; j++) {
        sources.add(reader.readString(Limits.ID_MAX_BYTES));
      }
      handedOver.put(member, sources);
    }
    TreeMap<ReplicaGroupKey, PartitionState> replicaLeaders = new TreeMap<>();
    int groups =
        format >= REPLICA_LEADERS_SINCE_VERSION
            ? reader.readCount(KeyspaceConfig.KEYSPACES_MAX * Slots.SLOT_COUNT)
            : 0;
    for (int i = 0; i < groups; i++) {
      ReplicaGroupKey key =
          new ReplicaGroupKey(
              reader.readVarInt(KeyspaceConfig.KEYSPACES_MAX - 1),
              reader.readVarInt(Slots.SLOT_COUNT - 1));
      replicaLeaders.put(
          key, new PartitionState(reader.readString(Limits.ID_MAX_BYTES), reader.readVarLong()));
    }
    reader.finish();
    try {
      return new ClusterView(
          clusterId, version, ringEpoch, members, definitions, leaders, handedOver, replicaLeaders);
    } catch (IllegalArgumentException e) {
      throw new CorruptEncodingException("ClusterView: " + e.getMessage());
    }
  }

  /** The headline numbers, for logs and admin output. */
  public Map<String, Object> summary() {
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("clusterId", clusterId);
    summary.put("version", version);
    summary.put("ringEpoch", ringEpoch);
    summary.put("members", members.size());
    summary.put("ringNodes", ring.nodes().size());
    summary.put("keyspaces", keyspaces.size());
    return summary;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof ClusterView that
        && version == that.version
        && ringEpoch == that.ringEpoch
        && clusterId.equals(that.clusterId)
        && members.equals(that.members)
        && definitions.equals(that.definitions)
        && leaders.equals(that.leaders)
        && handedOver.equals(that.handedOver)
        && replicaLeaders.equals(that.replicaLeaders);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        clusterId, version, ringEpoch, members, definitions, leaders, handedOver, replicaLeaders);
  }

  @Override
  public String toString() {
    return "ClusterView[cluster="
        + clusterId
        + ", version="
        + version
        + ", members="
        + members.keySet()
        + ", keyspaces="
        + keyspaces.keySet()
        + "]";
  }
}
