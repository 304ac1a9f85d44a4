package io.replicakv.server.multi;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.util.ArrayList;
import java.util.List;

/**
 * Peer frame type {@link #TYPE_SITE_LOG} (36): the site log of a multi-leader keyspace copied from
 * the site's gateway to the other nodes of the site, and the gateway election's probe.
 *
 * <pre>
 * request = [u8 version 1][u8 kind][string keyspace][varlong epoch] then
 *   APPEND: [varlong from][u64 prefix hash][string sites][varint n] n * [bytes record]
 *   PROBE:  nothing more
 * reply   = [u8 version 1][u8 status][varlong epoch][varlong position]
 * </pre>
 *
 * An APPEND carries the site-log records at positions {@code from, from+1, ...} (positions count
 * records from 0, the same on every node of the site) under the sender's gateway epoch and the
 * keyspace's fixed site list, and the {@link #chain} hash of the sender's records before {@code
 * from}, so a receiver whose own prefix differs (a tail written by an older gateway that a later
 * election never heard of) learns it and is resent the log from the start; a PROBE asks for the
 * receiver's log length and makes it promise to refuse appends below {@code epoch}. The reply's
 * status is {@link Status#OK} (position = the receiver's log length, durable), {@link Status#STALE}
 * (the receiver promised a higher epoch, given in the reply) or {@link Status#GAP} (the receiver's
 * log ends at position, before {@code from}: send from there). Bounded by {@link #RECORDS_MAX} and
 * {@link #RECORD_BYTES_MAX}; every malformed input is a {@link CorruptEncodingException}.
 */
final class SiteLogFrames {
  private SiteLogFrames() {}

  /** Peer frame type of site-log copying (request and reply). */
  static final int TYPE_SITE_LOG = 36;

  static final int VERSION = 1;

  /** Records one APPEND carries at most. */
  static final int RECORDS_MAX = 1_024;

  /** Record bytes one APPEND carries at most (one record may exceed it alone). */
  static final long RECORD_BYTES_MAX = 4L << 20;

  static final int KIND_APPEND = 1;
  static final int KIND_PROBE = 2;

  /** A reply's verdict. */
  enum Status {
    OK,
    STALE,
    GAP
  }

  /** A decoded request: {@code records} is empty for a PROBE (and for an APPEND heartbeat). */
  record Request(
      int kind,
      String keyspace,
      long epoch,
      long from,
      long prefixHash,
      String sites,
      List<PersistRecord> records) {
    Request {
      Check.argument(kind == KIND_APPEND || kind == KIND_PROBE, "kind %s", kind);
      Check.argument(epoch >= 0, "epoch %s < 0", epoch);
      Check.argument(from >= 0, "from %s < 0", from);
      Check.argument(records.size() <= RECORDS_MAX, "%s records", records.size());
    }
  }

  /** A decoded reply. */
  record Reply(Status status, long epoch, long position) {}

  /** The hash of an empty log. */
  static final long EMPTY_HASH = 0x5175_4b56_5349_5445L;

  /**
   * The hash of a log prefix extended by {@code record}: each position's hash covers every record
   * before it (a chain, as Raft's log matching uses the previous entry's term), so equal hashes at
   * a position mean equal prefixes (for accidents, not against an adversary).
   */
  static long chain(long previous, PersistRecord record) {
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    crc.update(record.payload());
    long h =
        previous * 0x9E37_79B9_7F4A_7C15L ^ (crc.getValue() | (long) record.payload().length << 32);
    h ^= h >>> 33;
    h *= 0xff51_afd7_ed55_8ccdL;
    h ^= h >>> 33;
    h *= 0xc4ce_b9fe_1a85_ec53L;
    return h ^ (h >>> 33);
  }

  static byte[] append(
      String keyspace,
      long epoch,
      long from,
      long prefixHash,
      String sites,
      List<PersistRecord> records) {
    Check.argument(records.size() <= RECORDS_MAX, "%s records in one append", records.size());
    ByteWriter writer =
        new ByteWriter()
            .writeByte(VERSION)
            .writeByte(KIND_APPEND)
            .writeString(keyspace)
            .writeVarLong(epoch)
            .writeVarLong(from)
            .writeLong(prefixHash)
            .writeString(sites)
            .writeVarInt(records.size());
    for (PersistRecord record : records) {
      writer.writeBytes(record.payload());
    }
    return writer.toByteArray();
  }

  static byte[] probe(String keyspace, long epoch) {
    return new ByteWriter()
        .writeByte(VERSION)
        .writeByte(KIND_PROBE)
        .writeString(keyspace)
        .writeVarLong(epoch)
        .toByteArray();
  }

  static Request decodeRequest(byte[] payload) {
    ByteReader reader = ByteReader.open(payload, VERSION, "SiteLogFrames");
    int kind = reader.readByte();
    String keyspace = reader.readString(Limits.ID_MAX_BYTES);
    long epoch = reader.readVarLong();
    try {
      if (kind == KIND_PROBE) {
        reader.finish();
        return new Request(kind, keyspace, epoch, 0, EMPTY_HASH, "", List.of());
      }
      if (kind != KIND_APPEND) {
        throw new CorruptEncodingException("SiteLogFrames: unknown kind " + kind);
      }
      long from = reader.readVarLong();
      long prefixHash = reader.readLong();
      String sites = reader.readString(SiteLinkCodec.SITES_MAX * 70);
      int count = reader.readCount(RECORDS_MAX);
      List<PersistRecord> records = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        records.add(new PersistRecord(reader.readBytes(PersistRecord.PAYLOAD_BYTES_MAX)));
      }
      reader.finish();
      return new Request(kind, keyspace, epoch, from, prefixHash, sites, List.copyOf(records));
    } catch (IllegalArgumentException e) {
      throw new CorruptEncodingException("SiteLogFrames: " + e.getMessage());
    }
  }

  static byte[] reply(Status status, long epoch, long position) {
    return new ByteWriter()
        .writeByte(VERSION)
        .writeByte(status.ordinal())
        .writeVarLong(epoch)
        .writeVarLong(position)
        .toByteArray();
  }

  static Reply decodeReply(byte[] payload) {
    ByteReader reader = ByteReader.open(payload, VERSION, "SiteLogFrames reply");
    int status = reader.readByte();
    if (status >= Status.values().length) {
      throw new CorruptEncodingException("SiteLogFrames reply: unknown status " + status);
    }
    long epoch = reader.readVarLong();
    long position = reader.readVarLong();
    reader.finish();
    return new Reply(Status.values()[status], epoch, position);
  }
}
