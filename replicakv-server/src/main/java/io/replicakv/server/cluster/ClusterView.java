package io.replicakv.server.cluster;

import io.replicakv.core.quorum.KeyspaceConfig;
import io.replicakv.core.quorum.Style;
import io.replicakv.core.ring.Ring;
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
 * <p>Binary form: format version byte 1, cluster id, version, ring epoch, vnodes, then members,
 * keyspace definitions and leader records, each as a count followed by items in key order. Enums
 * travel by name.
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

  private static final int FORMAT_VERSION = 1;

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
  private final Ring ring;
  private final SortedMap<Integer, KeyspaceEntry> keyspaces;
  // Derived lazily per replica count N; views are immutable so the cache never goes stale.
  private final Map<Integer, List<SlotRange>> rangesByReplicas = new ConcurrentHashMap<>();

  private ClusterView(
      String clusterId,
      long version,
      long ringEpoch,
      SortedMap<String, Member> members,
      SortedMap<Integer, KeyspaceDefinition> definitions,
      SortedMap<PartitionKey, LeaderRecord> leaders) {
    Check.argument(clusterId != null && !clusterId.isBlank(), "cluster id must be non-empty");
    Check.argument(version >= 0, "version %s < 0", version);
    Check.argument(ringEpoch >= 0, "ring epoch %s < 0", ringEpoch);
    this.clusterId = clusterId;
    this.version = version;
    this.ringEpoch = ringEpoch;
    this.members = Collections.unmodifiableSortedMap(new TreeMap<>(members));
    this.definitions = Collections.unmodifiableSortedMap(new TreeMap<>(definitions));
    this.leaders = Collections.unmodifiableSortedMap(new TreeMap<>(leaders));
    this.ring =
        Ring.of(
            VNODES,
            this.members.values().stream()
                .filter(m -> m.state().ownsSlots())
                .map(m -> new RingNode(m.id(), m.rack()))
                .toList());
    int clusterNodes = clusterNodes();
    TreeMap<Integer, KeyspaceEntry> entries = new TreeMap<>();
    this.definitions.forEach(
        (number, d) ->
            entries.put(number, new KeyspaceEntry(number, d.name(), d.config(clusterNodes))));
    this.keyspaces = Collections.unmodifiableSortedMap(entries);
  }

  /** Version 0 of a cluster: no members, no keyspaces. */
  public static ClusterView empty(String clusterId) {
    return new ClusterView(clusterId, 0, 0, new TreeMap<>(), new TreeMap<>(), new TreeMap<>());
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
    }
    ClusterView next = draft.build();
    Check.state(next.version == version + 1, "version %s after %s", next.version, version);
    return next;
  }

  /** The mutable copy one change is applied to; {@link #build} settles epochs and records. */
  private static final class Draft {
    private final ClusterView before;
    private final TreeMap<String, Member> members;
    private final TreeMap<Integer, KeyspaceDefinition> definitions;
    private final TreeMap<PartitionKey, LeaderRecord> leaders;

    Draft(ClusterView before) {
      this.before = before;
      this.members = new TreeMap<>(before.members);
      this.definitions = new TreeMap<>(before.definitions);
      this.leaders = new TreeMap<>(before.leaders);
    }

    void addMember(Member member) {
      Member existing = members.get(member.id());
      if (existing != null) {
        reject("member %s already exists (state %s)", member.id(), existing.state());
      }
      if (member.state() != MemberState.JOINING && member.state() != MemberState.UP) {
        reject("a new member starts JOINING or UP, not %s", member.state());
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
      members.put(update.id(), update.withState(current.state()));
    }

    void setMemberState(String id, MemberState state) {
      Member member = requireMember(id);
      if (member.state() == state) {
        reject("member %s is already %s", id, state);
      }
      if (!member.state().canBecome(state)) {
        reject("member %s cannot go from %s to %s", id, member.state(), state);
      }
      members.put(id, member.withState(state));
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
              before.clusterId, nextVersion, before.ringEpoch, members, definitions, leaders);
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
          before.clusterId, nextVersion, nextRingEpoch, members, definitions, kept);
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
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}; throws {@link CorruptEncodingException} on malformed input. */
  public static ClusterView fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "ClusterView");
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
      Member member = MetadataCodec.readMember(reader);
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
    reader.finish();
    try {
      return new ClusterView(clusterId, version, ringEpoch, members, definitions, leaders);
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
        && leaders.equals(that.leaders);
  }

  @Override
  public int hashCode() {
    return Objects.hash(clusterId, version, ringEpoch, members, definitions, leaders);
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
