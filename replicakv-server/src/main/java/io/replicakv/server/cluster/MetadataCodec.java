package io.replicakv.server.cluster;

import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Shared pieces of the metadata binary forms: members and option maps. Enums travel as their names,
 * not ordinals, so reordering an enum cannot silently change the meaning of stored bytes.
 */
final class MetadataCodec {
  /** Most options one keyspace may carry (there are about a dozen knobs). */
  static final int OPTIONS_MAX = 64;

  /** Longest option key or value, in UTF-8 bytes. */
  static final int OPTION_MAX_BYTES = 1_024;

  /** Longest host name, in UTF-8 bytes (DNS names are at most 253). */
  static final int HOST_MAX_BYTES = 255;

  /**
   * Format version of {@link MetadataChange#toBytes()}: 2 adds the member's token owner; version 1
   * entries (written before replace existed) are still read, their members own their own tokens.
   */
  static final int CHANGE_FORMAT_VERSION = 2;

  /** The first format version whose members carry a token owner. */
  static final int TOKEN_OWNER_SINCE_VERSION = 2;

  // Tags of the MetadataChange binary form; never reuse a number.
  static final int TAG_ADD_MEMBER = 1;
  static final int TAG_SET_MEMBER_STATE = 2;
  static final int TAG_REMOVE_MEMBER = 3;
  static final int TAG_CREATE_KEYSPACE = 4;
  static final int TAG_ALTER_KEYSPACE = 5;
  static final int TAG_DROP_KEYSPACE = 6;
  static final int TAG_SET_PARTITION_LEADER = 7;
  static final int TAG_UPDATE_MEMBER = 8;
  static final int TAG_SOURCE_READY = 9;
  static final int TAG_REPLACE_MEMBER = 10;
  static final int TAG_SET_REPLICA_LEADER = 11;

  private MetadataCodec() {}

  static void writeMember(ByteWriter writer, Member member) {
    writer
        .writeString(member.id())
        .writeString(member.host())
        .writeVarInt(member.clientPort())
        .writeVarInt(member.peerPort())
        .writeVarInt(member.httpPort())
        .writeVarInt(member.metadataPort())
        .writeString(member.site())
        .writeString(member.rack())
        .writeString(member.state().name())
        .writeBoolean(member.voter())
        .writeString(member.tokenOwner());
  }

  /** Reads a member written by {@link #writeMember} in format {@code version} (1 or 2). */
  static Member readMember(ByteReader reader, int version) {
    String id = reader.readString(Limits.ID_MAX_BYTES);
    String host = reader.readString(HOST_MAX_BYTES);
    int clientPort = reader.readVarInt(Member.PORT_MAX);
    int peerPort = reader.readVarInt(Member.PORT_MAX);
    int httpPort = reader.readVarInt(Member.PORT_MAX);
    int metadataPort = reader.readVarInt(Member.PORT_MAX);
    String site = reader.readString(Limits.ID_MAX_BYTES);
    String rack = reader.readString(Limits.ID_MAX_BYTES);
    MemberState state = readEnum(reader, MemberState.class);
    boolean voter = reader.readBoolean();
    String tokenOwner =
        version >= TOKEN_OWNER_SINCE_VERSION ? reader.readString(Limits.ID_MAX_BYTES) : id;
    try {
      return new Member(
          id,
          host,
          clientPort,
          peerPort,
          httpPort,
          metadataPort,
          site,
          rack,
          state,
          voter,
          tokenOwner);
    } catch (IllegalArgumentException e) {
      throw new CorruptEncodingException("member: " + e.getMessage());
    }
  }

  static void writeOptions(ByteWriter writer, Map<String, String> options) {
    writer.writeVarInt(options.size());
    new TreeMap<>(options).forEach((key, value) -> writer.writeString(key).writeString(value));
  }

  static SortedMap<String, String> readOptions(ByteReader reader) {
    int count = reader.readCount(OPTIONS_MAX);
    TreeMap<String, String> options = new TreeMap<>();
    for (int i = 0; i < count; i++) {
      String key = reader.readString(OPTION_MAX_BYTES);
      String value = reader.readString(OPTION_MAX_BYTES);
      if (options.put(key, value) != null) {
        throw new CorruptEncodingException("duplicate option " + key);
      }
    }
    return options;
  }

  /**
   * Opens {@code bytes} whose first byte is a format version in {@code [oldest, newest]}; returns
   * the version, the reader positioned after it.
   */
  static int openVersion(ByteReader reader, int oldest, int newest, String typeName) {
    int version = reader.readByte();
    if (version < oldest || version > newest) {
      throw new CorruptEncodingException(
          typeName
              + ": unknown format version "
              + version
              + ", expected "
              + oldest
              + " to "
              + newest);
    }
    return version;
  }

  static <E extends Enum<E>> E readEnum(ByteReader reader, Class<E> type) {
    String name = reader.readString(Limits.ID_MAX_BYTES);
    try {
      return Enum.valueOf(type, name);
    } catch (IllegalArgumentException e) {
      throw new CorruptEncodingException("unknown " + type.getSimpleName() + " " + name);
    }
  }
}
