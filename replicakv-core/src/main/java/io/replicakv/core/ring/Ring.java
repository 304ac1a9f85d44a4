package io.replicakv.core.ring;

import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The consistent-hash ring of one site: 16384 slots around, each node placing {@link #vnodes()}
 * tokens on it (Karger et al. 1997; Dynamo paper §4.2; Redis Cluster's slot space).
 *
 * <p><b>Model.</b> Node {@code x}'s tokens are {@code hash64("x#0") .. hash64("x#<vnodes-1>")},
 * each mapped to a slot by its top 14 bits. A slot belongs to the first token at or after it,
 * wrapping around. Tokens on the same slot are ordered by full 64-bit hash, then node id, so the
 * first one wins and the result never depends on insertion order. A partition is the run of slots a
 * token owns; its replica set is {@link #preferenceList}.
 *
 * <p><b>Invariants.</b> Immutable: {@link #withNode}, {@link #withoutNode} and {@link #replace}
 * return new rings. Adding a node only splits runs, so every slot that changes owner on a join
 * moves to the new node, and on a leave every moved slot comes from the leaving node. A node keeps
 * the token name it joined with: {@link #replace} hands the old node's token name to the new node,
 * so the new node takes over exactly the old node's slots (Cassandra's {@code replace_address}).
 *
 * <p><b>Balance.</b> With random tokens a node's share has a relative spread of about {@code
 * 1/sqrt(vnodes)}, and with 16384 slots over n nodes the slot space itself limits it to about
 * {@code sqrt((n-1)/16384)}. {@link #DEFAULT_VNODES} is the measured choice: see {@code
 * RingBalanceTest}.
 *
 * <p>Binary form (for the metadata store): version byte 1, vnodes (varint), node count, then per
 * node in id order: id, rack, token name.
 */
public final class Ring {
  /**
   * Tokens per node by default. Measured by {@code RingBalanceTest} over 3 to 64 nodes (worst
   * max/mean slots per node, worst join moved/ideal): 256 gives 1.164 and 1.164, 384 gives 1.158
   * and 1.116, 512 gives 1.169 and 1.117, 768 gives 1.123 and 1.066, 1024 gives 1.176 and 1.095.
   * Past a few hundred tokens the 16384-slot space itself sets the spread (a node's slot count is
   * then nearly binomial, relative spread {@code sqrt(1/16384 * (n-1))}, about 6% at 64 nodes), so
   * the ranking among large counts is partly the luck of this hash; 768 is the best measured.
   */
  public static final int DEFAULT_VNODES = 768;

  /** Most tokens per node: beyond this, extra tokens buy nothing in a 16384-slot space. */
  public static final int VNODES_MAX = Slots.SLOT_COUNT;

  /** Most nodes in one ring. */
  public static final int NODES_MAX = 1_000;

  private static final int FORMAT_VERSION = 1;

  /** One token: where it sits, its full hash for tie-breaks, and its node. */
  private record Token(int slot, long hash, String nodeId) implements Comparable<Token> {
    @Override
    public int compareTo(Token other) {
      int bySlot = Integer.compare(slot, other.slot);
      if (bySlot != 0) {
        return bySlot;
      }
      int byHash = Long.compareUnsigned(hash, other.hash);
      return byHash != 0 ? byHash : nodeId.compareTo(other.nodeId);
    }
  }

  /** A member: the node and the name its tokens are derived from. */
  private record Member(RingNode node, String tokenName) {}

  private final int vnodes;
  private final SortedMap<String, Member> members;
  private final Token[] tokens;
  private final int[] tokenIndexBySlot;
  private final boolean rackAware;

  private Ring(int vnodes, TreeMap<String, Member> members) {
    Check.argument(
        vnodes >= 1 && vnodes <= VNODES_MAX, "vnodes %s not in [1, %s]", vnodes, VNODES_MAX);
    Check.argument(members.size() <= NODES_MAX, "%s nodes > %s", members.size(), NODES_MAX);
    this.vnodes = vnodes;
    this.members = Collections.unmodifiableSortedMap(members);
    this.tokens = placeTokens(vnodes, members);
    this.tokenIndexBySlot = assignSlots(tokens);
    this.rackAware = members.values().stream().anyMatch(m -> !m.node().rack().isEmpty());
  }

  /** A ring with no nodes. */
  public static Ring empty(int vnodes) {
    return new Ring(vnodes, new TreeMap<>());
  }

  /** A ring of {@code nodes}, each placing {@code vnodes} tokens named after itself. */
  public static Ring of(int vnodes, List<RingNode> nodes) {
    TreeMap<String, Member> members = new TreeMap<>();
    for (RingNode node : nodes) {
      Check.argument(
          members.put(node.id(), new Member(node, node.id())) == null,
          "duplicate node %s",
          node.id());
    }
    return new Ring(vnodes, members);
  }

  private static Token[] placeTokens(int vnodes, SortedMap<String, Member> members) {
    Token[] placed = new Token[members.size() * vnodes];
    int next = 0;
    for (Member member : members.values()) {
      for (int i = 0; i < vnodes; i++) {
        long hash = RingHash.hash64(member.tokenName() + "#" + i);
        placed[next++] = new Token(RingHash.toSlot(hash), hash, member.node().id());
      }
    }
    Arrays.sort(placed);
    return placed;
  }

  private static int[] assignSlots(Token[] tokens) {
    int[] bySlot = new int[Slots.SLOT_COUNT];
    if (tokens.length == 0) {
      Arrays.fill(bySlot, -1);
      return bySlot;
    }
    // Sweep backwards: the owner of slot s is the first token at or after s, wrapping to token 0.
    int owner = 0;
    int nextToken = tokens.length - 1;
    for (int slot = Slots.SLOT_COUNT - 1; slot >= 0; slot--) {
      while (nextToken >= 0 && tokens[nextToken].slot() >= slot) {
        owner = nextToken--;
      }
      bySlot[slot] = tokens[owner].slot() >= slot ? owner : 0;
    }
    return bySlot;
  }

  /** The ring with {@code node} added; its tokens are named after its id. */
  public Ring withNode(RingNode node) {
    Check.argument(!members.containsKey(node.id()), "node %s already in the ring", node.id());
    TreeMap<String, Member> next = new TreeMap<>(members);
    next.put(node.id(), new Member(node, node.id()));
    return new Ring(vnodes, next);
  }

  /** The ring without the node {@code nodeId}. */
  public Ring withoutNode(String nodeId) {
    Check.argument(members.containsKey(nodeId), "node %s not in the ring", nodeId);
    TreeMap<String, Member> next = new TreeMap<>(members);
    next.remove(nodeId);
    return new Ring(vnodes, next);
  }

  /**
   * The ring with {@code replacement} taking over the tokens, and so the slots, of {@code oldId}.
   */
  public Ring replace(String oldId, RingNode replacement) {
    Member old = members.get(oldId);
    Check.argument(old != null, "node %s not in the ring", oldId);
    Check.argument(
        !members.containsKey(replacement.id()), "node %s already in the ring", replacement.id());
    TreeMap<String, Member> next = new TreeMap<>(members);
    next.remove(oldId);
    next.put(replacement.id(), new Member(replacement, old.tokenName()));
    return new Ring(vnodes, next);
  }

  /** The node owning {@code slot}: the node of the first token at or after it. */
  public String owner(int slot) {
    return tokens[ownerToken(slot)].nodeId();
  }

  /**
   * The slot of the token that owns {@code slot}. Each token that owns any slot sits on a distinct
   * slot, so this names the token range (the partition) {@code slot} belongs to; two adjacent
   * tokens of one node stay two partitions, while {@link #owner} cannot tell them apart.
   */
  public int ownerTokenSlot(int slot) {
    return tokens[ownerToken(slot)].slot();
  }

  private int ownerToken(int slot) {
    Check.argument(slot >= 0 && slot < Slots.SLOT_COUNT, "slot %s out of range", slot);
    Check.state(tokens.length > 0, "ring has no nodes");
    return tokenIndexBySlot[slot];
  }

  /**
   * The replica set of {@code slot}: its owner, then the next distinct nodes clockwise, up to
   * {@code n} (fewer if the ring has fewer nodes). When any node has a rack, nodes in racks already
   * chosen are passed over while other racks remain; if the racks run out before {@code n} nodes
   * are chosen, the passed-over nodes fill the list in clockwise order.
   */
  public List<String> preferenceList(int slot, int n) {
    Check.argument(n >= 1, "n %s < 1", n);
    int want = Math.min(n, members.size());
    int start = ownerToken(slot);
    List<String> chosen = new ArrayList<>(want);
    List<String> passedOver = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    Set<String> racks = new HashSet<>();
    for (int step = 0; step < tokens.length && chosen.size() < want; step++) {
      String nodeId = tokens[(start + step) % tokens.length].nodeId();
      if (!seen.add(nodeId)) {
        continue;
      }
      if (!rackAware || racks.add(members.get(nodeId).node().rack())) {
        chosen.add(nodeId);
      } else {
        passedOver.add(nodeId);
      }
      if (seen.size() == members.size()) {
        break;
      }
    }
    for (int i = 0; chosen.size() < want; i++) {
      chosen.add(passedOver.get(i));
    }
    return List.copyOf(chosen);
  }

  /** Slots owned per node id, nodes owning none included with 0. */
  public SortedMap<String, Integer> slotCounts() {
    TreeMap<String, Integer> counts = new TreeMap<>();
    members.keySet().forEach(id -> counts.put(id, 0));
    if (tokens.length > 0) {
      for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
        counts.merge(owner(slot), 1, Integer::sum);
      }
    }
    return counts;
  }

  /** The nodes, in id order. */
  public List<RingNode> nodes() {
    return members.values().stream().map(Member::node).toList();
  }

  /** True when {@code nodeId} is in the ring. */
  public boolean contains(String nodeId) {
    return members.containsKey(nodeId);
  }

  /** Tokens per node. */
  public int vnodes() {
    return vnodes;
  }

  /** The binary form described in the class comment. */
  public byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(FORMAT_VERSION).writeVarInt(vnodes);
    writer.writeVarInt(members.size());
    members
        .values()
        .forEach(
            m ->
                writer
                    .writeString(m.node().id())
                    .writeString(m.node().rack())
                    .writeString(m.tokenName()));
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}. */
  public static Ring fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "Ring");
    int vnodes = reader.readVarInt(VNODES_MAX);
    int count = reader.readCount(NODES_MAX);
    TreeMap<String, Member> members = new TreeMap<>();
    for (int i = 0; i < count; i++) {
      String id = reader.readString(Limits.ID_MAX_BYTES);
      String rack = reader.readString(Limits.ID_MAX_BYTES);
      String tokenName = reader.readString(Limits.ID_MAX_BYTES);
      if (id.isEmpty() || members.put(id, new Member(new RingNode(id, rack), tokenName)) != null) {
        throw new CorruptEncodingException("Ring: bad node id '" + id + "'");
      }
    }
    reader.finish();
    if (vnodes < 1) {
      throw new CorruptEncodingException("Ring: vnodes " + vnodes);
    }
    return new Ring(vnodes, members);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Ring that && vnodes == that.vnodes && members.equals(that.members);
  }

  @Override
  public int hashCode() {
    return 31 * vnodes + members.hashCode();
  }

  @Override
  public String toString() {
    return "Ring[vnodes=" + vnodes + ", nodes=" + members.keySet() + "]";
  }
}
