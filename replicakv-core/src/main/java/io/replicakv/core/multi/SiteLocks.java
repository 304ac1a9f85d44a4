package io.replicakv.core.multi;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.Check;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The per-key lock protocol of {@code conflicts=lock} (conflict prevention; DDIA chapter 5,
 * "Conflict avoidance"), both roles of one site: the lock site for the keys that hash to it, and a
 * requester for its own clients' writes.
 *
 * <p><b>Model.</b> Each key has one lock site, chosen by the key's slot. A site that wants to write
 * a key asks the lock site; the lock site grants it under a new <i>fencing token</i> (increasing,
 * durable) together with {@code mustHave}, the join of everything earlier holders wrote. The holder
 * waits until it has applied {@code mustHave} through normal replication, writes (its key context
 * then covers every earlier write, so the write overwrites them causally), and releases with what
 * it wrote. Hence every write under a lock causally follows the previous one: no conflicts.
 *
 * <p><b>Invariants.</b> (1) At most one holder per key at the lock site; the grant is persisted
 * before it is sent. (2) A lock is freed only by its holder's release, never by a timeout, so a
 * write is never concurrent with another. (3) Grants are resent while a lock is held, releases
 * until acknowledged (releases are durable at the holder), so lost messages and restarts of either
 * side only cost time; a grant the holder no longer wants (its client gave up, it restarted) is
 * released at once, and a grant for a token the holder already released is ignored.
 *
 * <p><b>Fencing.</b> Each write carries its grant's token; {@link LockResolver} on every site
 * refuses (counts and lists) a write that overwrites one with an equal or larger token, so a holder
 * acting on a superseded grant cannot silently replace newer data.
 *
 * <p><b>Failure cases.</b> While a key's lock site is unreachable, writes of the key fail after
 * {@link #LOCK_WAIT_TICKS} with an error naming the lock site. A holder that never returns keeps
 * its locks held forever (safety over liveness); an operator must release them, which this class
 * does not offer yet. Every write pays a round trip to the lock site.
 */
final class SiteLocks {
  /**
   * Ticks a client write waits for its lock (and for the earlier holders' writes) before failing.
   */
  static final int LOCK_WAIT_TICKS = 60;

  /** Client writes waiting for locks at one site; past this new ones are refused. */
  static final int PENDING_LOCK_WRITES_MAX = 10_000;

  /** What the lock protocol needs from its site. */
  interface Host {
    long ticks();

    VersionVector applied();

    void persist(SiteRecord record);

    /** Sends to a peer, or handles at once when addressed to this site. */
    void send(SiteMessage message);

    /** Performs a client's write now, under the lock. */
    Reply writeUnderLock(SiteCommand.Assign command, long fencingToken);

    void reply(long clientId, long requestId, Reply reply);

    ConflictMetrics metrics();
  }

  private record Held(String holder, long fencingToken) {}

  private record Release(String key, String lockSite, long fencingToken, VersionVector written) {}

  private static final class PendingWrite {
    final long clientId;
    final long requestId;
    final SiteCommand.Assign command;
    final long startTick;
    long lastRequestTick;
    long fencingToken;
    VersionVector mustHave = VersionVector.EMPTY;
    String busyHolder = "";

    PendingWrite(long clientId, long requestId, SiteCommand.Assign command, long startTick) {
      this.clientId = clientId;
      this.requestId = requestId;
      this.command = command;
      this.startTick = startTick;
    }
  }

  private final MultiLeaderConfig config;
  private final String self;
  private final Host host;
  // Lock-site role.
  private final Map<String, Held> held = new TreeMap<>();
  private final Map<String, VersionVector> writtenUnderLock = new TreeMap<>();
  private final Map<String, Long> lastGrantTick = new TreeMap<>();
  private long lastToken;
  // Requester role.
  private final Map<String, PendingWrite> pending = new TreeMap<>();
  private final Map<String, Release> releasing = new TreeMap<>();
  private final Map<String, Long> lastReleaseTick = new TreeMap<>();
  private final Map<String, Long> releasedThrough = new TreeMap<>();

  SiteLocks(MultiLeaderConfig config, String self, Host host) {
    this.config = config;
    this.self = self;
    this.host = host;
  }

  /** The site that holds the locks of {@code key}. */
  static String lockSite(MultiLeaderConfig config, String key) {
    return config.sites().get(Slots.slot(key) % config.sites().size());
  }

  /** Rebuilds lock state from one recovered record; other records are ignored. */
  void recover(SiteRecord record) {
    switch (record) {
      case SiteRecord.LockGranted granted -> {
        held.put(granted.key(), new Held(granted.holder(), granted.fencingToken()));
        lastToken = Math.max(lastToken, granted.fencingToken());
      }
      case SiteRecord.LockFreed freed -> {
        writtenUnderLock.put(freed.key(), freed.written());
        Held current = held.get(freed.key());
        if (current != null && current.fencingToken() == freed.fencingToken()) {
          held.remove(freed.key());
        }
      }
      case SiteRecord.ReleasePending release -> {
        releasing.put(
            releaseId(release.key(), release.fencingToken()),
            new Release(
                release.key(), release.lockSite(), release.fencingToken(), release.written()));
        releasedThrough.merge(release.key(), release.fencingToken(), Math::max);
      }
      case SiteRecord.ReleaseDone done ->
          releasing.remove(releaseId(done.key(), done.fencingToken()));
      case SiteRecord.Applied applied -> {}
      case SiteRecord.LinkPosition position -> {}
      case SiteRecord.KeyStates states -> {}
      case SiteRecord.CatchUpJoined joined -> {}
      case SiteRecord.Retained retained -> {}
      case SiteRecord.Checkpoint checkpoint -> {}
      case SiteRecord.CatchUpsOwed owed -> {}
    }
  }

  // ---- requester ------------------------------------------------------------------------------

  /** Starts a client write: asks for the lock; the reply comes when written or refused. */
  void submit(long clientId, long requestId, SiteCommand.Assign command) {
    String key = command.key();
    if (pending.containsKey(key) || pending.size() >= PENDING_LOCK_WRITES_MAX) {
      host.metrics().increment(ConflictMetrics.WRITES_REFUSED);
      host.reply(
          clientId,
          requestId,
          new Reply.Rejected("a write of " + key + " is already waiting for its lock at " + self));
      return;
    }
    PendingWrite write = new PendingWrite(clientId, requestId, command, host.ticks());
    pending.put(key, write);
    request(write);
  }

  private void request(PendingWrite write) {
    write.lastRequestTick = host.ticks();
    String lockSite = lockSite(config, write.command.key());
    host.send(
        new SiteMessage.LockRequest(
            config.nodeOf(self), config.nodeOf(lockSite), 0, write.command.key()));
  }

  void onGrant(SiteMessage.LockGrant grant) {
    String key = grant.key();
    long token = grant.fencingToken();
    if (token <= releasedThrough.getOrDefault(key, 0L)) {
      Release release = releasing.get(releaseId(key, token));
      sendRelease(
          release != null
              ? release
              : new Release(key, lockSite(config, key), token, host.applied()));
      return;
    }
    PendingWrite write = pending.get(key);
    if (write == null || (write.fencingToken != 0 && write.fencingToken != token)) {
      startRelease(key, token, host.applied());
      return;
    }
    write.fencingToken = token;
    write.mustHave = grant.mustHave();
    tryWrite(write);
  }

  void onBusy(SiteMessage.LockBusy busy) {
    PendingWrite write = pending.get(busy.key());
    if (write != null) {
      write.busyHolder = busy.holder();
    }
  }

  void onReleaseAck(SiteMessage.LockReleaseAck ack) {
    if (releasing.remove(releaseId(ack.key(), ack.fencingToken())) != null) {
      host.persist(new SiteRecord.ReleaseDone(ack.key(), ack.fencingToken()));
    }
  }

  private void tryWrite(PendingWrite write) {
    boolean caughtUp =
        config.defects().lockWithoutEarlierWrites() || host.applied().descends(write.mustHave);
    if (write.fencingToken == 0 || !caughtUp) {
      return;
    }
    pending.remove(write.command.key());
    host.reply(
        write.clientId, write.requestId, host.writeUnderLock(write.command, write.fencingToken));
    startRelease(write.command.key(), write.fencingToken, host.applied());
  }

  private void startRelease(String key, long token, VersionVector written) {
    Release release = new Release(key, lockSite(config, key), token, written);
    releasing.put(releaseId(key, token), release);
    releasedThrough.merge(key, token, Math::max);
    host.persist(new SiteRecord.ReleasePending(key, release.lockSite(), token, written));
    sendRelease(release);
  }

  private void sendRelease(Release release) {
    lastReleaseTick.put(releaseId(release.key(), release.fencingToken()), host.ticks());
    host.send(
        new SiteMessage.LockRelease(
            config.nodeOf(self),
            config.nodeOf(release.lockSite()),
            0,
            release.key(),
            release.fencingToken(),
            release.written()));
  }

  // ---- lock site -----------------------------------------------------------------------------

  void onRequest(SiteMessage.LockRequest request) {
    String key = request.key();
    String requester = config.sites().get(request.from());
    Check.argument(lockSite(config, key).equals(self), "%s is not the lock site of %s", self, key);
    Held current = held.get(key);
    if (current == null) {
      current = new Held(requester, ++lastToken);
      held.put(key, current);
      host.persist(new SiteRecord.LockGranted(key, requester, current.fencingToken()));
    }
    if (current.holder().equals(requester)) {
      sendGrant(key, current);
    } else {
      host.send(
          new SiteMessage.LockBusy(config.nodeOf(self), request.from(), 0, key, current.holder()));
    }
  }

  void onRelease(SiteMessage.LockRelease release) {
    String key = release.key();
    String holder = config.sites().get(release.from());
    VersionVector before = writtenUnderLock.getOrDefault(key, VersionVector.EMPTY);
    VersionVector after = before.merge(release.written());
    Held current = held.get(key);
    boolean frees =
        current != null
            && current.holder().equals(holder)
            && current.fencingToken() == release.fencingToken();
    if (frees || !after.equals(before)) {
      writtenUnderLock.put(key, after);
      if (frees) {
        held.remove(key);
        lastGrantTick.remove(key);
      }
      host.persist(new SiteRecord.LockFreed(key, release.fencingToken(), after));
    }
    host.send(
        new SiteMessage.LockReleaseAck(
            config.nodeOf(self), release.from(), 0, key, release.fencingToken()));
  }

  private void sendGrant(String key, Held current) {
    lastGrantTick.put(key, host.ticks());
    host.send(
        new SiteMessage.LockGrant(
            config.nodeOf(self),
            config.nodeOf(current.holder()),
            0,
            key,
            current.fencingToken(),
            writtenUnderLock.getOrDefault(key, VersionVector.EMPTY)));
  }

  // ---- time ----------------------------------------------------------------------------------

  /** Retransmits grants, requests and releases; fails client writes that waited too long. */
  void tick() {
    long now = host.ticks();
    for (Map.Entry<String, Held> lock : List.copyOf(held.entrySet())) {
      if (now - lastGrantTick.getOrDefault(lock.getKey(), Long.MIN_VALUE / 2)
          >= SiteReplica.RETRANSMIT_TICKS) {
        sendGrant(lock.getKey(), lock.getValue());
      }
    }
    for (PendingWrite write : List.copyOf(pending.values())) {
      tryWrite(write);
      if (!pending.containsKey(write.command.key())) {
        continue;
      }
      if (now - write.startTick >= LOCK_WAIT_TICKS) {
        giveUp(write);
      } else if (write.fencingToken == 0
          && now - write.lastRequestTick >= SiteReplica.RETRANSMIT_TICKS) {
        request(write);
      }
    }
    for (Release release : List.copyOf(releasing.values())) {
      String id = releaseId(release.key(), release.fencingToken());
      if (now - lastReleaseTick.getOrDefault(id, Long.MIN_VALUE / 2)
          >= SiteReplica.RETRANSMIT_TICKS) {
        sendRelease(release);
      }
    }
  }

  private void giveUp(PendingWrite write) {
    String key = write.command.key();
    pending.remove(key);
    host.metrics().increment(ConflictMetrics.WRITES_REFUSED);
    String reason;
    if (write.fencingToken != 0) {
      startRelease(key, write.fencingToken, host.applied());
      reason = "lock for " + key + " granted but " + self + " has not yet applied earlier writes";
    } else if (!write.busyHolder.isEmpty()) {
      reason = "lock for " + key + " is held by " + write.busyHolder;
    } else {
      reason = "lock site " + lockSite(config, key) + " of " + key + " is unreachable";
    }
    host.reply(write.clientId, write.requestId, new Reply.Rejected(reason));
  }

  /** Locks this site holds as lock site, for admin listings: key to holder. */
  Map<String, String> heldLocks() {
    Map<String, String> result = new TreeMap<>();
    held.forEach((key, lock) -> result.put(key, lock.holder()));
    return result;
  }

  private static String releaseId(String key, long token) {
    return key + "#" + token;
  }
}
