package io.replicakv.server.multi;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.util.Check;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.PeerClient;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executor;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's side of copying a multi-leader keyspace's site log to the other nodes of its site
 * (frames of {@link SiteLogFrames}): every record the gateway's {@link SiteService} writes is sent,
 * in order and at its position, to every follower; {@link #replicatedPosition()} is the position
 * that at least {@code siteAcks} followers hold durably, and the service releases a client's reply
 * and the link messages to other sites only once their records are below it.
 *
 * <p><b>Why link messages wait too.</b> A change that left for another site carries this site's dot
 * {@code (site, counter)}. If the gateway died with that change only on its own disk, the next
 * gateway would reuse the counter for a different write and the sites would disagree forever about
 * one dot. Holding the messages until the record is on {@code siteAcks} other nodes makes every
 * change another site has seen survive a failover, like every acknowledged client write.
 *
 * <p><b>Flow.</b> Per follower: {@code matchPosition} (acknowledged, durable there), {@code
 * sentPosition} (sent so far) and at most {@link #FRAMES_IN_FLIGHT_MAX} unanswered frames. A GAP
 * reply moves {@code sentPosition} back to the follower's end; a failed request moves it back to
 * {@code matchPosition} once nothing else is in flight; a follower with nothing to receive gets an
 * empty append every {@link #HEARTBEAT_MILLIS} (that is how a follower returning with a longer,
 * unacknowledged tail learns to cut it). A STALE reply means a newer gateway exists: this one is
 * {@link #fenced()} and the service refuses writes until the metadata view replaces it.
 *
 * <p><b>Below {@code siteAcks}.</b> {@link #inSyncFollowers()} counts followers that answered an
 * append within the failover timeout; when fewer than {@code siteAcks} do, new writes are refused
 * with {@code NOREPLICAS} (as the single-leader write path does) instead of waiting for acks that
 * may never come; writes already in flight wait up to the write timeout.
 *
 * <p>Memory: the records of the whole log are held (the core's replica holds the whole log too; the
 * site log is not compacted). Thread use: the service loop calls every method; replies are handed
 * back through {@code loopInput}.
 */
final class SiteLogShipper {
  private static final Logger log = LoggerFactory.getLogger(SiteLogShipper.class);

  /** Unanswered append frames per follower at most. */
  static final int FRAMES_IN_FLIGHT_MAX = 4;

  /** An idle follower gets an empty append this often (ms). */
  static final long HEARTBEAT_MILLIS = 250;

  /** Where follower {@code id}'s peer port is, or null when it is not a member any more. */
  interface Addresses {
    io.replicakv.server.route.PeerRoutes.Address of(String memberId);
  }

  private static final class Follower {
    final String id;
    long matchPosition;
    long sentPosition;
    int inFlight;
    long lastSentMillis = Long.MIN_VALUE / 2;
    long lastAckMillis = Long.MIN_VALUE / 2;

    Follower(String id, long sentPosition) {
      this.id = id;
      this.sentPosition = sentPosition;
    }
  }

  private final String keyspace;
  private final long epoch;
  private final String sites;
  private final int siteAcks;
  private final long failoverTimeoutMillis;
  private final PeerClient peers;
  private final Addresses addresses;
  private final Executor loopInput;
  private final LongSupplier clock;
  private final List<PersistRecord> records;

  /** {@code hashes[i]}: the chain hash of the first i records. */
  private long[] hashes = new long[1024];

  private final Map<String, Follower> followers = new TreeMap<>();
  private boolean fenced;
  private long framesFailed;
  private long followersAdded;
  private boolean started;
  private long followersRemoved;

  SiteLogShipper(
      String keyspace,
      long epoch,
      List<String> sites,
      List<String> followerIds,
      int siteAcks,
      long failoverTimeoutMillis,
      PeerClient peers,
      Addresses addresses,
      Executor loopInput,
      LongSupplier clock,
      List<PersistRecord> recovered) {
    Check.argument(siteAcks >= 0, "siteAcks %s < 0", siteAcks);
    this.keyspace = keyspace;
    this.epoch = epoch;
    this.sites = String.join(",", sites);
    this.siteAcks = siteAcks;
    this.failoverTimeoutMillis = failoverTimeoutMillis;
    this.peers = peers;
    this.addresses = addresses;
    this.loopInput = loopInput;
    this.clock = clock;
    this.records = new ArrayList<>();
    hashes[0] = SiteLogFrames.EMPTY_HASH;
    addRecords(recovered);
    followers(followerIds);
    started = true;
  }

  /** Followers added and removed since this gateway started (membership changes it followed). */
  long followersAdded() {
    return followersAdded;
  }

  long followersRemoved() {
    return followersRemoved;
  }

  /**
   * Follows the site's membership: a node that joined the site becomes a follower (its first
   * heartbeat finds where its copy ends, usually 0, and the shipper sends it the log from there); a
   * node removed from the site stops being one, and its answers still in flight are ignored. While
   * fewer followers than {@code site-acks} remain, nothing more counts as replicated and writes are
   * refused with NOREPLICAS ({@link #inSyncFollowers()}); {@code site-acks} is never lowered
   * silently.
   */
  void followers(java.util.Collection<String> followerIds) {
    java.util.Set<String> wanted = new java.util.TreeSet<>(followerIds);
    for (String id : List.copyOf(followers.keySet())) {
      if (!wanted.contains(id)) {
        followers.remove(id);
        followersRemoved++;
        log.info(
            "multi-leader keyspace {}: node {} left the site; no longer a follower", keyspace, id);
      }
    }
    for (String id : wanted) {
      if (!followers.containsKey(id)) {
        followers.put(id, new Follower(id, records.size()));
        if (started) {
          followersAdded++;
          log.info(
              "multi-leader keyspace {}: node {} joined the site; it follows the site log",
              keyspace,
              id);
        }
      }
    }
  }

  /** The current followers' member ids. */
  java.util.Set<String> followerIds() {
    return java.util.Collections.unmodifiableSet(new java.util.TreeSet<>(followers.keySet()));
  }

  long epoch() {
    return epoch;
  }

  /** Records in the gateway's log: the position after the last one. */
  long endPosition() {
    return records.size();
  }

  /** The gateway wrote {@code written} (positions {@link #endPosition()} on); ships them. */
  void onWritten(List<PersistRecord> written) {
    addRecords(written);
    ship();
  }

  private void addRecords(List<PersistRecord> added) {
    for (PersistRecord record : added) {
      int at = records.size();
      if (at + 1 >= hashes.length) {
        hashes = Arrays.copyOf(hashes, hashes.length * 2);
      }
      hashes[at + 1] = SiteLogFrames.chain(hashes[at], record);
      records.add(record);
    }
  }

  /** The position {@code siteAcks} followers hold durably (the end when siteAcks is 0). */
  long replicatedPosition() {
    if (siteAcks == 0) {
      return records.size();
    }
    if (followers.size() < siteAcks) {
      return -1; // the site shrank below site-acks: no new output is released
    }
    long[] matches = followers.values().stream().mapToLong(f -> f.matchPosition).toArray();
    Arrays.sort(matches);
    return matches[matches.length - siteAcks];
  }

  /** Followers that acknowledged an append within the failover timeout. */
  int inSyncFollowers() {
    long now = clock.getAsLong();
    return (int)
        followers.values().stream()
            .filter(f -> now - f.lastAckMillis <= failoverTimeoutMillis)
            .count();
  }

  int siteAcks() {
    return siteAcks;
  }

  /** Whether a follower answered that it promised a newer epoch: this gateway is deposed. */
  boolean fenced() {
    return fenced;
  }

  long framesFailed() {
    return framesFailed;
  }

  /** Lag of each follower in records, for SITE INFO. */
  Map<String, Long> followerLag() {
    Map<String, Long> lag = new TreeMap<>();
    followers.forEach((id, f) -> lag.put(id, records.size() - f.matchPosition));
    return lag;
  }

  /** Sends what each follower lacks, and heartbeats to idle ones. */
  void ship() {
    long now = clock.getAsLong();
    for (Follower follower : followers.values()) {
      while (follower.inFlight < FRAMES_IN_FLIGHT_MAX
          && (follower.sentPosition < records.size()
              || (follower.inFlight == 0 && now - follower.lastSentMillis >= HEARTBEAT_MILLIS))) {
        send(follower, now);
      }
    }
  }

  private void send(Follower follower, long now) {
    long from = Math.min(follower.sentPosition, records.size());
    List<PersistRecord> batch = new ArrayList<>();
    long bytes = 0;
    for (long p = from; p < records.size() && batch.size() < SiteLogFrames.RECORDS_MAX; p++) {
      PersistRecord record = records.get((int) p);
      if (!batch.isEmpty() && bytes + record.payload().length > SiteLogFrames.RECORD_BYTES_MAX) {
        break;
      }
      batch.add(record);
      bytes += record.payload().length;
    }
    follower.sentPosition = from + batch.size();
    follower.inFlight++;
    follower.lastSentMillis = now;
    io.replicakv.server.route.PeerRoutes.Address address = addresses.of(follower.id);
    if (address == null) {
      onFailure(follower);
      return;
    }
    byte[] payload = SiteLogFrames.append(keyspace, epoch, from, hashes[(int) from], sites, batch);
    peers
        .request(address.host(), address.port(), Frame.of(SiteLogFrames.TYPE_SITE_LOG, payload))
        .whenComplete(
            (reply, error) ->
                loopInput.execute(
                    () -> {
                      if (!current(follower)) {
                        return; // removed from the site while the frame was out
                      }
                      if (error != null || reply.isError()) {
                        onFailure(follower);
                      } else {
                        onReply(follower, SiteLogFrames.decodeReply(reply.payload()));
                      }
                    }));
  }

  private boolean current(Follower follower) {
    return followers.get(follower.id) == follower;
  }

  private void onFailure(Follower follower) {
    follower.inFlight--;
    framesFailed++;
    if (follower.inFlight == 0) {
      follower.sentPosition = follower.matchPosition;
    }
  }

  private void onReply(Follower follower, SiteLogFrames.Reply reply) {
    follower.inFlight--;
    switch (reply.status()) {
      case OK -> {
        Check.state(
            reply.position() <= records.size(),
            "follower %s holds %s records of keyspace %s, the gateway %s",
            follower.id,
            reply.position(),
            keyspace,
            records.size());
        follower.matchPosition = Math.max(follower.matchPosition, reply.position());
        follower.lastAckMillis = clock.getAsLong();
      }
      case GAP -> follower.sentPosition = Math.min(reply.position(), records.size());
      case STALE -> {
        if (!fenced) {
          log.warn(
              "multi-leader keyspace {}: node {} promised gateway epoch {} above ours ({});"
                  + " refusing writes until the metadata names the new gateway",
              keyspace,
              follower.id,
              reply.epoch(),
              epoch);
        }
        fenced = true;
      }
    }
    if (follower.inFlight == 0 && follower.sentPosition < follower.matchPosition) {
      follower.sentPosition = follower.matchPosition;
    }
  }
}
