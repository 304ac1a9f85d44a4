package io.replicakv.sim;

import io.replicakv.core.CommittedEntry;
import io.replicakv.core.PersistRecord;
import io.replicakv.core.Ready;
import io.replicakv.core.ReadyBuffer;
import io.replicakv.core.Replica;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.ClientRequest;
import io.replicakv.core.msg.LeaderlessMessage;
import io.replicakv.core.msg.LogMessage;
import io.replicakv.core.msg.Message;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.util.Check;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A toy replicated register group with a fixed primary (node 0), used to prove that the simulator
 * and the checkers can tell a correct replication scheme from a broken one. Not a protocol of the
 * product: there is no failover and the epoch never changes.
 *
 * <p>Model. The primary orders writes into a log (offsets 1, 2, ...), applies each to its map of
 * registers, persists it and ships it to the backups with {@link LogMessage.Append}; backups apply
 * entries in offset order and answer {@link LogMessage.AppendAck} with the offset they match. The
 * primary retransmits from each backup's matched offset every tick, so loss, duplication and
 * reordering cost only time.
 *
 * <p>{@link Mode#SYNCHRONOUS} is correct (linearizable registers): every record is synced before
 * any message leaves, a write is acknowledged only when every backup holds it durably, and reads
 * are served by the primary alone. A read may see a write not yet acknowledged; that is allowed,
 * because the write is durable at the primary and so will take effect (its client sees a concurrent
 * op). Invariant: every backup's log is a prefix of the primary's.
 *
 * <p>{@link Mode#ASYNCHRONOUS_WITH_BACKUP_READS} is deliberately broken in two ways: the primary
 * acknowledges a write before any backup has it and backups serve reads from their lagging copy
 * (stale reads: not linearizable, no read-your-writes); and nothing is synced, so a crashed primary
 * forgets acknowledged writes and reuses their offsets (lost writes, divergent backups, two
 * different entries committed at one offset).
 */
public final class PrimaryBackupRegister implements Replica, StateView {
  /** How writes are acknowledged and where reads are served. */
  public enum Mode {
    /** Ack after every backup synced; reads at the primary. Correct. */
    SYNCHRONOUS,
    /** Ack at once, nothing synced, reads anywhere. Broken on purpose. */
    ASYNCHRONOUS_WITH_BACKUP_READS
  }

  static final int PRIMARY = 0;
  static final long EPOCH = 1;

  /** Writes awaiting backup acks before the primary refuses new ones. */
  static final int PENDING_WRITES_MAX = 10_000;

  /** Log entries held; the toy never compacts, so runs must stay below this. */
  static final int LOG_ENTRIES_MAX = 1_000_000;

  /** Entries per retransmitted Append. */
  static final int ENTRIES_PER_APPEND = 64;

  /** A caught-up backup hears from the primary at least this often (to learn the commit point). */
  static final int HEARTBEAT_TICKS = 5;

  private final Mode mode;
  private final int nodeId;
  private final List<Integer> backups = new ArrayList<>();
  private final ReadyBuffer out = new ReadyBuffer();
  private final List<LogMessage.Entry> log = new ArrayList<>();
  private final Map<String, String> values = new TreeMap<>();
  private final Map<Integer, Long> matchOffset = new TreeMap<>();
  private final Map<Long, ClientRequest> pendingWrites = new TreeMap<>();
  private long reportedCommitOffset;
  private long ticks;

  private PrimaryBackupRegister(Mode mode, ReplicaFactory.NodeContext context) {
    this.mode = mode;
    this.nodeId = context.nodeId();
    for (int member : context.members()) {
      if (member != PRIMARY) {
        backups.add(member);
        matchOffset.put(member, 0L);
      }
    }
    for (PersistRecord record : context.recovered()) {
      applyEntry(decode(record));
    }
  }

  /** Builds this register in {@code mode} for every node. */
  public static ReplicaFactory factory(Mode mode) {
    return context -> new PrimaryBackupRegister(mode, context);
  }

  @Override
  public void step(Message message) {
    switch (message) {
      case ClientRequest request -> onClientRequest(request);
      case PeerMessage peer -> onPeerMessage(peer);
    }
  }

  @Override
  public void tick() {
    ticks++;
    if (!isPrimary()) {
      return;
    }
    for (int backup : backups) {
      long match = matchOffset.get(backup);
      if (match < log.size() || ticks % HEARTBEAT_TICKS == 0) {
        sendAppend(backup, match);
      }
    }
  }

  @Override
  public Ready ready() {
    return out.ready();
  }

  @Override
  public void advance(Ready done) {
    out.advance(done);
  }

  @Override
  public Map<String, List<String>> visibleState() {
    Map<String, List<String>> state = new TreeMap<>();
    values.forEach((key, value) -> state.put(key, List.of(value)));
    return state;
  }

  private boolean isPrimary() {
    return nodeId == PRIMARY;
  }

  private void onClientRequest(ClientRequest request) {
    switch (request.operation()) {
      case Operation.Put put -> onPut(request, put);
      case Operation.Write write ->
          out.reply(
              ClientReply.to(request, new Reply.Rejected("the register keeps no opaque writes")));
      case Operation.Get get -> onGet(request, get);
    }
  }

  private void onPut(ClientRequest request, Operation.Put put) {
    if (!isPrimary()) {
      out.reply(ClientReply.to(request, new Reply.Rejected("not primary: writes go to node 0")));
      return;
    }
    if (pendingWrites.size() >= PENDING_WRITES_MAX) {
      out.reply(ClientReply.to(request, new Reply.Rejected("too many writes pending")));
      return;
    }
    Check.state(log.size() < LOG_ENTRIES_MAX, "log full at %s entries", log.size());
    LogMessage.Entry entry = new LogMessage.Entry(EPOCH, log.size() + 1L, put);
    applyEntry(entry);
    out.persist(encode(entry), mode == Mode.SYNCHRONOUS);
    if (mode == Mode.SYNCHRONOUS) {
      pendingWrites.put(entry.offset(), request);
    } else {
      out.reply(ClientReply.to(request, new Reply.Written()));
    }
    for (int backup : backups) {
      if (matchOffset.get(backup) == entry.offset() - 1) {
        sendAppend(backup, entry.offset() - 1);
      }
    }
    advanceCommit();
  }

  private void onGet(ClientRequest request, Operation.Get get) {
    if (!isPrimary() && mode == Mode.SYNCHRONOUS) {
      out.reply(ClientReply.to(request, new Reply.Rejected("not primary: reads go to node 0")));
      return;
    }
    String value = values.get(get.key());
    out.reply(
        ClientReply.to(request, new Reply.Values(value == null ? List.of() : List.of(value))));
  }

  private void onPeerMessage(PeerMessage message) {
    Check.argument(message.to() == nodeId, "message for %s delivered to %s", message.to(), nodeId);
    if (message.epoch() != EPOCH) {
      return;
    }
    switch (message) {
      case LogMessage.Append append -> onAppend(append);
      case LogMessage.AppendAck ack -> onAppendAck(ack);
      case io.replicakv.core.msg.SingleLeaderMessage other ->
          throw new IllegalArgumentException("toy register got " + other);
      case LeaderlessMessage other ->
          throw new IllegalArgumentException("leaderless message to a log register: " + other);
      case SiteMessage other ->
          throw new IllegalArgumentException("primary/backup got a site message: " + other);
    }
  }

  private void onAppend(LogMessage.Append append) {
    Check.argument(!isPrimary(), "primary got an Append from %s", append.from());
    if (append.previousOffset() > log.size()) {
      out.send(new LogMessage.AppendAck(nodeId, PRIMARY, EPOCH, log.size(), false));
      return;
    }
    for (LogMessage.Entry entry : append.entries()) {
      if (applyEntry(entry)) {
        out.persist(encode(entry), mode == Mode.SYNCHRONOUS);
      }
    }
    long match = append.previousOffset() + append.entries().size();
    commitUpTo(Math.min(append.commitOffset(), match));
    out.send(new LogMessage.AppendAck(nodeId, PRIMARY, EPOCH, match, true));
  }

  private void onAppendAck(LogMessage.AppendAck ack) {
    Check.argument(isPrimary(), "backup %s got an AppendAck", nodeId);
    long match = matchOffset.get(ack.from());
    long updated =
        ack.accepted()
            ? Math.max(match, Math.min(ack.matchOffset(), log.size()))
            : Math.min(match, ack.matchOffset());
    matchOffset.put(ack.from(), updated);
    advanceCommit();
  }

  private void sendAppend(int backup, long previousOffset) {
    int from = (int) previousOffset;
    int to = Math.min(log.size(), from + ENTRIES_PER_APPEND);
    out.send(
        new LogMessage.Append(
            nodeId, backup, EPOCH, previousOffset, log.subList(from, to), reportedCommitOffset));
  }

  /** Primary: commit what every backup matches (synchronous) or everything (asynchronous). */
  private void advanceCommit() {
    long commit = log.size();
    if (mode == Mode.SYNCHRONOUS) {
      for (long match : matchOffset.values()) {
        commit = Math.min(commit, match);
      }
    }
    commitUpTo(commit);
  }

  private void commitUpTo(long commitOffset) {
    for (long offset = reportedCommitOffset + 1; offset <= commitOffset; offset++) {
      LogMessage.Entry entry = log.get((int) offset - 1);
      out.commit(new CommittedEntry(entry.epoch(), offset, entry.operation()));
      ClientRequest waiting = pendingWrites.remove(offset);
      if (waiting != null) {
        out.reply(ClientReply.to(waiting, new Reply.Written()));
      }
    }
    reportedCommitOffset = Math.max(reportedCommitOffset, commitOffset);
  }

  /**
   * Puts {@code entry} into the log; false when the log already holds it. A different entry at an
   * offset already held replaces the log from there (only the broken asynchronous mode gets here).
   */
  private boolean applyEntry(LogMessage.Entry entry) {
    long offset = entry.offset();
    if (offset <= log.size()) {
      if (log.get((int) offset - 1).equals(entry)) {
        return false;
      }
      log.subList((int) offset - 1, log.size()).clear();
      reportedCommitOffset = Math.min(reportedCommitOffset, offset - 1);
      values.clear();
      for (LogMessage.Entry kept : log) {
        values.put(kept.operation().key(), kept.operation().value());
      }
    }
    Check.state(offset == log.size() + 1, "entry at %s but log ends at %s", offset, log.size());
    log.add(entry);
    values.put(entry.operation().key(), entry.operation().value());
    return true;
  }

  private static PersistRecord encode(LogMessage.Entry entry) {
    byte[] key = entry.operation().key().getBytes(StandardCharsets.UTF_8);
    byte[] value = entry.operation().value().getBytes(StandardCharsets.UTF_8);
    ByteBuffer buffer = ByteBuffer.allocate(8 + 8 + 4 + key.length + 4 + value.length);
    buffer.putLong(entry.epoch()).putLong(entry.offset());
    buffer.putInt(key.length).put(key).putInt(value.length).put(value);
    return new PersistRecord(buffer.array());
  }

  private static LogMessage.Entry decode(PersistRecord record) {
    ByteBuffer buffer = ByteBuffer.wrap(record.payload());
    long epoch = buffer.getLong();
    long offset = buffer.getLong();
    byte[] key = new byte[buffer.getInt()];
    buffer.get(key);
    byte[] value = new byte[buffer.getInt()];
    buffer.get(value);
    Check.state(!buffer.hasRemaining(), "record has %s trailing bytes", buffer.remaining());
    return new LogMessage.Entry(
        epoch,
        offset,
        new Operation.Put(
            new String(key, StandardCharsets.UTF_8), new String(value, StandardCharsets.UTF_8)));
  }
}
