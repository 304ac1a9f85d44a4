package io.replicakv.core.ring;

import io.replicakv.core.util.Check;

/**
 * A node as the ring sees it: its id and its rack ({@code ""} when racks are not used). Racks steer
 * {@link Ring#preferenceList} so that replicas of one partition sit in distinct racks.
 */
public record RingNode(String id, String rack) implements Comparable<RingNode> {
  /** Validates that the id is non-empty and the rack is not null. */
  public RingNode {
    Check.argument(id != null && !id.isEmpty(), "node id must be non-empty");
    Check.notNull(rack, "rack");
  }

  /** A node without a rack. */
  public static RingNode of(String id) {
    return new RingNode(id, "");
  }

  @Override
  public int compareTo(RingNode other) {
    return id.compareTo(other.id);
  }
}
