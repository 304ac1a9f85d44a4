package io.replicakv.server.cluster;

import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One change to cluster metadata: one entry of the metadata log, one new metadata version when
 * {@link ClusterView#apply} accepts it.
 *
 * <p>Binary form (the Raft log entry): format version byte 2 (1 is still read: its members carry no
 * token owner), a tag byte naming the change, then its fields (strings UTF-8 with varint length,
 * numbers as varints, enums by name). Decoding refuses unknown versions and tags, lengths past
 * their bounds and trailing bytes.
 */
public sealed interface MetadataChange {
  /** The binary form described in the interface comment. */
  default byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(MetadataCodec.CHANGE_FORMAT_VERSION);
    switch (this) {
      case AddMember c ->
          MetadataCodec.writeMember(writer.writeByte(MetadataCodec.TAG_ADD_MEMBER), c.member());
      case SetMemberState c ->
          writer
              .writeByte(MetadataCodec.TAG_SET_MEMBER_STATE)
              .writeString(c.id())
              .writeString(c.state().name());
      case RemoveMember c -> writer.writeByte(MetadataCodec.TAG_REMOVE_MEMBER).writeString(c.id());
      case UpdateMember c ->
          MetadataCodec.writeMember(writer.writeByte(MetadataCodec.TAG_UPDATE_MEMBER), c.member());
      case CreateKeyspace c ->
          MetadataCodec.writeOptions(
              writer.writeByte(MetadataCodec.TAG_CREATE_KEYSPACE).writeString(c.name()),
              c.options());
      case AlterKeyspace c ->
          MetadataCodec.writeOptions(
              writer.writeByte(MetadataCodec.TAG_ALTER_KEYSPACE).writeString(c.name()),
              c.options());
      case DropKeyspace c ->
          writer.writeByte(MetadataCodec.TAG_DROP_KEYSPACE).writeString(c.name());
      case SetPartitionLeader c ->
          writer
              .writeByte(MetadataCodec.TAG_SET_PARTITION_LEADER)
              .writeVarInt(c.keyspace())
              .writeVarInt(c.firstSlot())
              .writeString(c.leader())
              .writeVarLong(c.epoch());
      case SetReplicaLeader c ->
          writer
              .writeByte(MetadataCodec.TAG_SET_REPLICA_LEADER)
              .writeVarInt(c.keyspace())
              .writeVarInt(c.group())
              .writeString(c.leader())
              .writeVarLong(c.epoch());
      case SourceReady c ->
          writer
              .writeByte(MetadataCodec.TAG_SOURCE_READY)
              .writeString(c.member())
              .writeString(c.source());
      case ReplaceMember c ->
          writer
              .writeByte(MetadataCodec.TAG_REPLACE_MEMBER)
              .writeString(c.oldId())
              .writeString(c.newId());
    }
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}; throws {@link CorruptEncodingException} on malformed input. */
  static MetadataChange fromBytes(byte[] bytes) {
    ByteReader reader = new ByteReader(bytes);
    int version =
        MetadataCodec.openVersion(reader, 1, MetadataCodec.CHANGE_FORMAT_VERSION, "MetadataChange");
    int tag = reader.readByte();
    MetadataChange change;
    try {
      change =
          switch (tag) {
            case MetadataCodec.TAG_ADD_MEMBER ->
                new AddMember(MetadataCodec.readMember(reader, version));
            case MetadataCodec.TAG_SET_MEMBER_STATE ->
                new SetMemberState(
                    reader.readString(Limits.ID_MAX_BYTES),
                    MetadataCodec.readEnum(reader, MemberState.class));
            case MetadataCodec.TAG_UPDATE_MEMBER ->
                new UpdateMember(MetadataCodec.readMember(reader, version));
            case MetadataCodec.TAG_REMOVE_MEMBER ->
                new RemoveMember(reader.readString(Limits.ID_MAX_BYTES));
            case MetadataCodec.TAG_CREATE_KEYSPACE ->
                new CreateKeyspace(
                    reader.readString(Limits.ID_MAX_BYTES), MetadataCodec.readOptions(reader));
            case MetadataCodec.TAG_ALTER_KEYSPACE ->
                new AlterKeyspace(
                    reader.readString(Limits.ID_MAX_BYTES), MetadataCodec.readOptions(reader));
            case MetadataCodec.TAG_DROP_KEYSPACE ->
                new DropKeyspace(reader.readString(Limits.ID_MAX_BYTES));
            case MetadataCodec.TAG_SET_PARTITION_LEADER ->
                new SetPartitionLeader(
                    reader.readVarInt(Integer.MAX_VALUE),
                    reader.readVarInt(Integer.MAX_VALUE),
                    reader.readString(Limits.ID_MAX_BYTES),
                    reader.readVarLong());
            case MetadataCodec.TAG_SET_REPLICA_LEADER ->
                new SetReplicaLeader(
                    reader.readVarInt(Integer.MAX_VALUE),
                    reader.readVarInt(Integer.MAX_VALUE),
                    reader.readString(Limits.ID_MAX_BYTES),
                    reader.readVarLong());
            case MetadataCodec.TAG_SOURCE_READY ->
                new SourceReady(
                    reader.readString(Limits.ID_MAX_BYTES), reader.readString(Limits.ID_MAX_BYTES));
            case MetadataCodec.TAG_REPLACE_MEMBER ->
                new ReplaceMember(
                    reader.readString(Limits.ID_MAX_BYTES), reader.readString(Limits.ID_MAX_BYTES));
            default -> throw new CorruptEncodingException("MetadataChange: unknown tag " + tag);
          };
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new CorruptEncodingException("MetadataChange: " + e.getMessage());
    }
    reader.finish();
    return change;
  }

  /**
   * A known member's new addresses (host and ports), e.g. after it restarted on other ports. Its
   * id, and so its ring tokens, and its state stay as they are; the state in {@code member} is
   * ignored.
   */
  record UpdateMember(Member member) implements MetadataChange {
    public UpdateMember {
      java.util.Objects.requireNonNull(member, "member");
    }
  }

  /** Adds a member, normally in state JOINING (UP for the node that bootstraps a cluster). */
  record AddMember(Member member) implements MetadataChange {
    /** Refuses null. */
    public AddMember {
      Check.notNull(member, "member");
    }
  }

  /** Moves a member to another state; see {@link MemberState} for the allowed transitions. */
  record SetMemberState(String id, MemberState state) implements MetadataChange {
    /** Refuses nulls. */
    public SetMemberState {
      Check.notNull(id, "id");
      Check.notNull(state, "state");
    }
  }

  /**
   * A source of a running move ({@code member} JOINING or LEAVING) has sent its last delta under
   * its write fence and the target acknowledged it: from this version on the target serves that
   * source's moving slots (the source forwards or answers ASK). The change that records the last
   * expected source also performs the flip (JOINING to UP, a replaced member to LEFT, LEAVING to
   * LEFT) in the same version. Refused when the member is not moving, the source has no slots to
   * hand over in this move, or it was recorded already.
   */
  record SourceReady(String member, String source) implements MetadataChange {
    /** Refuses nulls. */
    public SourceReady {
      Check.notNull(member, "member");
      Check.notNull(source, "source");
    }
  }

  /**
   * Commits the replacement of UP member {@code oldId} by STAGED member {@code newId}: the new
   * member becomes JOINING and takes over the old one's ring tokens; only the old member's slots
   * move, all to the new one, and the flip makes the new member UP and the old one LEFT at once.
   */
  record ReplaceMember(String oldId, String newId) implements MetadataChange {
    /** Refuses nulls. */
    public ReplaceMember {
      Check.notNull(oldId, "oldId");
      Check.notNull(newId, "newId");
    }
  }

  /** Forgets a member that owns no slots (STAGED, JOINING or LEFT). */
  record RemoveMember(String id) implements MetadataChange {
    /** Refuses null. */
    public RemoveMember {
      Check.notNull(id, "id");
    }
  }

  /**
   * Creates a keyspace with the lowest free number from 16 up. {@code options} holds {@code style}
   * (default single-leader) and the knobs {@link io.replicakv.core.quorum.KeyspaceConfig#parse}
   * reads.
   */
  record CreateKeyspace(String name, Map<String, String> options) implements MetadataChange {
    /** Copies the options into a sorted map, so equal changes have equal bytes. */
    public CreateKeyspace {
      Check.notNull(name, "name");
      options = sorted(options);
    }
  }

  /** Changes options of an existing keyspace; options not named keep their values. */
  record AlterKeyspace(String name, Map<String, String> options) implements MetadataChange {
    /** Copies the options into a sorted map. */
    public AlterKeyspace {
      Check.notNull(name, "name");
      options = sorted(options);
    }
  }

  /** Drops a keyspace created by CreateKeyspace; keyspaces 0 to 15 cannot be dropped. */
  record DropKeyspace(String name) implements MetadataChange {
    /** Refuses null. */
    public DropKeyspace {
      Check.notNull(name, "name");
    }
  }

  /**
   * Records that {@code leader} leads the partition of {@code keyspace} starting at {@code
   * firstSlot} from {@code epoch} on, which must exceed the partition's current epoch.
   */
  record SetPartitionLeader(int keyspace, int firstSlot, String leader, long epoch)
      implements MetadataChange {
    /** Refuses nulls and negative numbers. */
    public SetPartitionLeader {
      Check.notNull(leader, "leader");
      Check.argument(keyspace >= 0, "keyspace %s < 0", keyspace);
      Check.argument(firstSlot >= 0, "firstSlot %s < 0", firstSlot);
      Check.argument(epoch >= 0, "epoch %s < 0", epoch);
    }
  }

  /**
   * Records the single-leader controller's decision that {@code leader} leads replica group {@code
   * group} of {@code keyspace} from {@code epoch} on; the epoch must exceed the group's recorded
   * one, so of two controllers deciding the same epoch only the first is committed.
   */
  record SetReplicaLeader(int keyspace, int group, String leader, long epoch)
      implements MetadataChange {
    /** Refuses nulls and negative numbers. */
    public SetReplicaLeader {
      Check.notNull(leader, "leader");
      Check.argument(keyspace >= 0, "keyspace %s < 0", keyspace);
      Check.argument(group >= 0, "group %s < 0", group);
      Check.argument(epoch >= 1, "epoch %s < 1", epoch);
    }
  }

  private static SortedMap<String, String> sorted(Map<String, String> options) {
    Check.notNull(options, "options");
    TreeMap<String, String> copy = new TreeMap<>();
    options.forEach(
        (key, value) -> copy.put(Check.notNull(key, "option key"), Check.notNull(value, key)));
    return java.util.Collections.unmodifiableSortedMap(copy);
  }
}
