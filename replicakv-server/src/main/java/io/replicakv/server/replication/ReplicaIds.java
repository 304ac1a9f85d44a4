package io.replicakv.server.replication;

import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The integer a member is known by inside single-leader replication. The core's replicas and
 * controller name nodes by int; the cluster names members by string. The id is derived from the
 * member id alone (CRC32C of its UTF-8 bytes, top bit cleared, never the controller's reserved
 * value), so every node computes the same id for a member without a metadata change, and a member
 * keeps its id across restarts, joins and leaves. Two members whose ids collide cannot replicate
 * together: {@link ReplicationLoop} refuses to host a group with a collision and says so in the log
 * (the chance is about n squared over 2^32 for n members).
 */
public final class ReplicaIds {
  /** The controller's id in every replica config: reserved, never a member's. */
  public static final int CONTROLLER = Integer.MAX_VALUE;

  private ReplicaIds() {}

  /** The replica id of member {@code memberId}, in {@code [0, Integer.MAX_VALUE - 1]}. */
  public static int of(String memberId) {
    CRC32C crc = new CRC32C();
    crc.update(memberId.getBytes(StandardCharsets.UTF_8));
    int id = (int) (crc.getValue() & 0x7fff_ffffL);
    return id == CONTROLLER ? CONTROLLER - 1 : id;
  }
}
