package io.replicakv.server.multi;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.multi.Change;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.server.replication.BatchFrame;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The binary frames that travel over a site link: the {@link SiteMessage}s of multi-leader
 * keyspaces, and the announcement of a new multi-leader keyspace to the linked sites.
 *
 * <pre>
 * messages frame = [u8 version = 1][varint count] item{count}
 * item           = [string keyspace][list of string sites][u8 type][varint from][varint to]
 *                  [varlong epoch] body
 * announce frame = [u8 version = 1][varint 1] [string keyspace][list of string sites]
 *                  [list of (string option, string value)]
 * string         = [varint length][UTF-8 bytes]
 * list           = [varint count] item{count}
 * change         = the core's Change encoding (dot, dependencies, context, HLC, key, mutation)
 * reply          = [u8 1 written | 2 values | 3 rejected | 4 uncertain] fields
 * </pre>
 *
 * Sites name keyspaces by name, not number: each site is its own cluster and numbers its keyspaces
 * itself. Every item carries the keyspace's site list (the order fixes the integer ids {@code
 * from}/{@code to} of the core's messages), so a receiver whose list differs refuses the item
 * rather than misreading ids. Every count and length is checked against its bound and the bytes
 * left before anything is allocated; every failure, including a field a record constructor refuses,
 * is a {@link CorruptEncodingException}. The leading byte names the format; an unknown one is
 * refused with the version in the message.
 */
public final class SiteLinkCodec {
  /** The only format version this codec writes and reads. */
  public static final int VERSION = 1;

  /**
   * Largest encoded frame, in bytes: below the peer transport's default frame bound (16 MiB) with
   * room for its header; the sender splits its batches to stay well below it.
   */
  public static final int FRAME_BYTES_MAX = (16 << 20) - 4096;

  /** Items one frame may carry. */
  public static final int ITEMS_PER_FRAME_MAX = 4_096;

  /** Sites one keyspace may span. */
  public static final int SITES_MAX = 64;

  /** Options one announced keyspace may carry. */
  public static final int OPTIONS_MAX = 64;

  /** Largest site or keyspace name, in UTF-8 bytes. */
  static final int NAME_BYTES_MAX = 256;

  /** Largest key, in UTF-8 bytes. */
  static final int KEY_BYTES_MAX = 4 * Operation.KEY_CHARS_MAX;

  /** Largest value, option text or refusal, in bytes. */
  static final int TEXT_BYTES_MAX = 16 << 20;

  /** Largest encoded change, in bytes. */
  static final int CHANGE_BYTES_MAX = 16 << 20;

  /** Values in one encoded {@link Reply.Values}. */
  static final int VALUES_MAX = 1_024;

  private static final int CHANGES = 1;
  private static final int CHANGES_ACK = 2;
  private static final int LOCK_REQUEST = 3;
  private static final int LOCK_GRANT = 4;
  private static final int LOCK_BUSY = 5;
  private static final int LOCK_RELEASE = 6;
  private static final int LOCK_RELEASE_ACK = 7;
  private static final int HOME_WRITE = 8;
  private static final int HOME_WRITE_REPLY = 9;
  private static final int CATCH_UP_PAGE = 10;
  private static final int CATCH_UP_ACK = 11;

  private SiteLinkCodec() {}

  /** One core message of keyspace {@code keyspace}, whose sites (in id order) are {@code sites}. */
  public record Item(String keyspace, List<String> sites, SiteMessage message) {
    public Item {
      Check.notNull(keyspace, "keyspace");
      sites = List.copyOf(sites);
      Check.argument(!sites.isEmpty() && sites.size() <= SITES_MAX, "%s sites", sites.size());
      Check.notNull(message, "message");
      Check.argument(
          message.from() < sites.size() && message.to() < sites.size(),
          "message %s -> %s outside %s sites",
          message.from(),
          message.to(),
          sites.size());
    }
  }

  /** A new multi-leader keyspace told to the linked sites, with the sites it spans. */
  public record Announce(String keyspace, List<String> sites, SortedMap<String, String> options) {
    public Announce {
      Check.notNull(keyspace, "keyspace");
      sites = List.copyOf(sites);
      Check.argument(!sites.isEmpty() && sites.size() <= SITES_MAX, "%s sites", sites.size());
      options = new TreeMap<>(options);
      Check.argument(options.size() <= OPTIONS_MAX, "%s options", options.size());
    }
  }

  /** Encodes {@code items} as one frame. */
  public static byte[] encode(List<Item> items) {
    return BatchFrame.encode(
        VERSION,
        ITEMS_PER_FRAME_MAX,
        FRAME_BYTES_MAX,
        items,
        (out, item) -> {
          out.writeString(item.keyspace());
          writeStrings(out, item.sites());
          writeMessage(out, item.message());
        });
  }

  /**
   * Decodes one messages frame.
   *
   * @throws CorruptEncodingException for any input {@link #encode} did not produce
   */
  public static List<Item> decode(byte[] frame) {
    return BatchFrame.decode(
        "site link frame",
        VERSION,
        ITEMS_PER_FRAME_MAX,
        FRAME_BYTES_MAX,
        frame,
        in -> {
          String keyspace = in.readString(NAME_BYTES_MAX);
          List<String> sites = readStrings(in, SITES_MAX, NAME_BYTES_MAX);
          return new Item(keyspace, sites, readMessage(in));
        });
  }

  /** Encodes one announcement. */
  public static byte[] encodeAnnounce(Announce announce) {
    return BatchFrame.encode(
        VERSION,
        1,
        FRAME_BYTES_MAX,
        List.of(announce),
        (out, a) -> {
          out.writeString(a.keyspace());
          writeStrings(out, a.sites());
          out.writeVarInt(a.options().size());
          for (Map.Entry<String, String> option : a.options().entrySet()) {
            out.writeString(option.getKey()).writeString(option.getValue());
          }
        });
  }

  /**
   * Decodes one announcement.
   *
   * @throws CorruptEncodingException for any input {@link #encodeAnnounce} did not produce
   */
  public static Announce decodeAnnounce(byte[] frame) {
    List<Announce> decoded =
        BatchFrame.decode(
            "site keyspace announcement",
            VERSION,
            1,
            FRAME_BYTES_MAX,
            frame,
            in -> {
              String keyspace = in.readString(NAME_BYTES_MAX);
              List<String> sites = readStrings(in, SITES_MAX, NAME_BYTES_MAX);
              int count = in.readCount(OPTIONS_MAX);
              TreeMap<String, String> options = new TreeMap<>();
              for (int i = 0; i < count; i++) {
                options.put(in.readString(NAME_BYTES_MAX), in.readString(TEXT_BYTES_MAX));
              }
              return new Announce(keyspace, sites, options);
            });
    if (decoded.size() != 1) {
      throw new CorruptEncodingException(
          "site keyspace announcement: " + decoded.size() + " items, expected 1");
    }
    return decoded.get(0);
  }

  private static void writeMessage(ByteWriter out, SiteMessage message) {
    int type =
        switch (message) {
          case SiteMessage.Changes m -> CHANGES;
          case SiteMessage.ChangesAck m -> CHANGES_ACK;
          case SiteMessage.LockRequest m -> LOCK_REQUEST;
          case SiteMessage.LockGrant m -> LOCK_GRANT;
          case SiteMessage.LockBusy m -> LOCK_BUSY;
          case SiteMessage.LockRelease m -> LOCK_RELEASE;
          case SiteMessage.LockReleaseAck m -> LOCK_RELEASE_ACK;
          case SiteMessage.HomeWrite m -> HOME_WRITE;
          case SiteMessage.HomeWriteReply m -> HOME_WRITE_REPLY;
          case SiteMessage.CatchUpPage m -> CATCH_UP_PAGE;
          case SiteMessage.CatchUpAck m -> CATCH_UP_ACK;
        };
    out.writeByte(type)
        .writeVarInt(message.from())
        .writeVarInt(message.to())
        .writeVarLong(message.epoch());
    switch (message) {
      case SiteMessage.Changes m -> {
        out.writeVarLong(m.afterPosition()).writeVarLong(m.throughPosition());
        out.writeVarInt(m.entries().size());
        for (SiteMessage.Entry entry : m.entries()) {
          out.writeVarLong(entry.position());
          ByteWriter change = new ByteWriter();
          entry.change().writeTo(change);
          out.writeBytes(change.toByteArray());
          writeStrings(out, entry.path());
        }
      }
      case SiteMessage.ChangesAck m ->
          out.writeVarLong(m.appliedThrough())
              .writeVarLong(m.receivedThrough())
              .writeBoolean(m.accepted());
      case SiteMessage.LockRequest m -> out.writeString(m.key());
      case SiteMessage.LockGrant m -> {
        out.writeString(m.key()).writeVarLong(m.fencingToken());
        m.mustHave().writeTo(out);
      }
      case SiteMessage.LockBusy m -> out.writeString(m.key()).writeString(m.holder());
      case SiteMessage.LockRelease m -> {
        out.writeString(m.key()).writeVarLong(m.fencingToken());
        m.written().writeTo(out);
      }
      case SiteMessage.LockReleaseAck m -> out.writeString(m.key()).writeVarLong(m.fencingToken());
      case SiteMessage.HomeWrite m ->
          out.writeVarLong(m.tag()).writeString(m.key()).writeString(m.value());
      case SiteMessage.HomeWriteReply m -> {
        out.writeVarLong(m.tag());
        writeReply(out, m.reply());
      }
      case SiteMessage.CatchUpPage m -> {
        out.writeVarLong(m.position());
        m.applied().writeTo(out);
        out.writeVarInt(m.index()).writeVarInt(m.keyCount()).writeVarInt(m.entries().size());
        for (io.replicakv.core.multi.KeyState.Entry entry : m.entries()) {
          out.writeString(entry.key());
          ByteWriter state = new ByteWriter();
          entry.state().writeTo(state);
          out.writeBytes(state.toByteArray());
        }
      }
      case SiteMessage.CatchUpAck m -> {
        out.writeVarLong(m.position());
        m.applied().writeTo(out);
        out.writeVarInt(m.nextIndex()).writeBoolean(m.done());
      }
    }
  }

  private static SiteMessage readMessage(ByteReader in) {
    int type = in.readByte();
    int from = in.readVarInt(SITES_MAX - 1);
    int to = in.readVarInt(SITES_MAX - 1);
    long epoch = in.readVarLong();
    return switch (type) {
      case CHANGES -> {
        long after = in.readVarLong();
        long through = in.readVarLong();
        int count = in.readCount(SiteMessage.ENTRIES_PER_BATCH_MAX);
        List<SiteMessage.Entry> entries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          long position = in.readVarLong();
          ByteReader change = new ByteReader(in.readBytes(CHANGE_BYTES_MAX));
          Change decoded = Change.readFrom(change);
          change.finish();
          entries.add(
              new SiteMessage.Entry(position, decoded, readStrings(in, SITES_MAX, NAME_BYTES_MAX)));
        }
        yield new SiteMessage.Changes(from, to, epoch, after, through, entries);
      }
      case CHANGES_ACK ->
          new SiteMessage.ChangesAck(
              from, to, epoch, in.readVarLong(), in.readVarLong(), in.readBoolean());
      case LOCK_REQUEST ->
          new SiteMessage.LockRequest(from, to, epoch, in.readString(KEY_BYTES_MAX));
      case LOCK_GRANT ->
          new SiteMessage.LockGrant(
              from,
              to,
              epoch,
              in.readString(KEY_BYTES_MAX),
              in.readVarLong(),
              VersionVector.readFrom(in));
      case LOCK_BUSY ->
          new SiteMessage.LockBusy(
              from, to, epoch, in.readString(KEY_BYTES_MAX), in.readString(NAME_BYTES_MAX));
      case LOCK_RELEASE ->
          new SiteMessage.LockRelease(
              from,
              to,
              epoch,
              in.readString(KEY_BYTES_MAX),
              in.readVarLong(),
              VersionVector.readFrom(in));
      case LOCK_RELEASE_ACK ->
          new SiteMessage.LockReleaseAck(
              from, to, epoch, in.readString(KEY_BYTES_MAX), in.readVarLong());
      case HOME_WRITE ->
          new SiteMessage.HomeWrite(
              from,
              to,
              epoch,
              in.readVarLong(),
              in.readString(KEY_BYTES_MAX),
              in.readString(TEXT_BYTES_MAX));
      case HOME_WRITE_REPLY ->
          new SiteMessage.HomeWriteReply(from, to, epoch, in.readVarLong(), readReply(in));
      case CATCH_UP_PAGE -> {
        long position = in.readVarLong();
        VersionVector applied = VersionVector.readFrom(in);
        int index = in.readVarInt(Integer.MAX_VALUE - 1);
        int keyCount = in.readVarInt(Integer.MAX_VALUE - 1);
        int count = in.readCount(SiteMessage.CATCH_UP_KEYS_PER_PAGE_MAX);
        List<io.replicakv.core.multi.KeyState.Entry> entries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          String key = in.readString(KEY_BYTES_MAX);
          ByteReader state = new ByteReader(in.readBytes(CHANGE_BYTES_MAX));
          io.replicakv.core.multi.KeyState decoded =
              io.replicakv.core.multi.KeyState.readFrom(state);
          state.finish();
          entries.add(new io.replicakv.core.multi.KeyState.Entry(key, decoded));
        }
        yield new SiteMessage.CatchUpPage(
            from, to, epoch, position, applied, index, keyCount, entries);
      }
      case CATCH_UP_ACK ->
          new SiteMessage.CatchUpAck(
              from,
              to,
              epoch,
              in.readVarLong(),
              VersionVector.readFrom(in),
              in.readVarInt(Integer.MAX_VALUE - 1),
              in.readBoolean());
      default -> throw new CorruptEncodingException("site link frame: unknown type " + type);
    };
  }

  private static void writeReply(ByteWriter out, Reply reply) {
    switch (reply) {
      case Reply.Written w ->
          out.writeByte(1)
              .writeVarLong(w.sessionToken().epoch())
              .writeVarLong(w.sessionToken().offset());
      case Reply.Values v -> {
        out.writeByte(2);
        writeStrings(out, v.values());
        out.writeVarLong(v.sessionToken().epoch()).writeVarLong(v.sessionToken().offset());
      }
      case Reply.Rejected r -> out.writeByte(3).writeString(r.reason());
      case Reply.Uncertain u -> out.writeByte(4).writeString(u.reason());
    }
  }

  private static Reply readReply(ByteReader in) {
    int tag = in.readByte();
    return switch (tag) {
      case 1 -> new Reply.Written(new Lsn(in.readVarLong(), in.readVarLong()));
      case 2 -> {
        List<String> values = readStrings(in, VALUES_MAX, TEXT_BYTES_MAX);
        yield new Reply.Values(values, new Lsn(in.readVarLong(), in.readVarLong()));
      }
      case 3 -> new Reply.Rejected(in.readString(TEXT_BYTES_MAX));
      case 4 -> new Reply.Uncertain(in.readString(TEXT_BYTES_MAX));
      default -> throw new CorruptEncodingException("site link frame: unknown reply tag " + tag);
    };
  }

  private static void writeStrings(ByteWriter out, List<String> strings) {
    out.writeVarInt(strings.size());
    strings.forEach(out::writeString);
  }

  private static List<String> readStrings(ByteReader in, int countMax, int bytesMax) {
    int count = in.readCount(countMax);
    List<String> strings = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      strings.add(in.readString(bytesMax));
    }
    return strings;
  }
}
