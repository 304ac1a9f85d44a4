package io.replicakv.server.multi;

import io.replicakv.core.Envelope;
import io.replicakv.core.PhysicalClock;
import io.replicakv.core.Ready;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.multi.ConflictMetrics;
import io.replicakv.core.multi.LinkLag;
import io.replicakv.core.multi.LostWrite;
import io.replicakv.core.multi.MultiLeaderConfig;
import io.replicakv.core.multi.SiteCommand;
import io.replicakv.core.multi.SiteReplica;
import io.replicakv.core.util.Check;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives one {@link SiteReplica} (this site's replica of one multi-leader keyspace) on a
 * single-threaded loop: input or tick, then write what {@code ready()} holds to the keyspace's site
 * log, then {@code advance}, then send its messages and complete the futures of the client writes
 * that finished, the last two only once those records are durable (see "Group commit"), which is
 * the core's persist-before-send contract with the force taken off the loop.
 *
 * <p><b>Sites as ids.</b> The core names sites by their index in the keyspace's site list; the list
 * is fixed when the keyspace is first served here and kept next to its log, and every frame carries
 * it, so two sites never disagree silently about who is who.
 *
 * <p><b>Reads and writes.</b> A read runs on the loop against the replica's state, so it sees every
 * change applied before it; {@link #submit(Function)} builds its command on the loop from that same
 * state (a SET that carries the context of the value this site holds, a DEL that covers what it
 * sees) so nothing applies between the read and the write. A write's reply waits until its change
 * is on disk.
 *
 * <p><b>Group commit.</b> The loop writes each {@code ready()}'s records to the site log without
 * forcing them, advances the replica, and holds that ready's messages and replies in order behind
 * the log sequence they need; a {@link io.replicakv.server.durable.GroupCommit} (one syncer thread
 * per keyspace, shared with the leaderless keyspaces) forces the log and tells the loop how far it
 * is durable, and the loop then sends and replies for everything up to there. While one force runs,
 * the writes that arrive meanwhile pile up and share the next one, so a burst of N writes costs a
 * few fsyncs instead of N, and the node loop never waits on the disk. No message and no reply
 * leaves before the records it depends on are durable (the core's {@code syncBeforeSend} promise).
 * Reads on the loop may see a change whose record is still being forced, as with the node's own
 * log; a crash before the force loses that change, and its writer never heard OK.
 *
 * <p><b>Lag.</b> {@link #status()} is a snapshot refreshed every {@link #STATUS_REFRESH_TICKS}
 * ticks (the core computes lag by walking the unacknowledged log, too costly on every tick); lag in
 * ms is the core's lag in ticks times {@link #TICK_PERIOD_MILLIS}.
 *
 * <p><b>Failure.</b> A failure on the loop (a broken invariant, a disk error) stops the service:
 * pending writes fail and later ones are refused rather than carrying on with state the disk may
 * not hold.
 */
public final class SiteService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SiteService.class);

  /** Wall-clock period of one core tick; the core's retransmit and lock timeouts count these. */
  public static final long TICK_PERIOD_MILLIS = 20;

  /** Ticks between two refreshes of {@link #status()}. */
  public static final int STATUS_REFRESH_TICKS = 25;

  /**
   * A site log file is compacted once it holds this many records more than the compaction before
   * left, and more than twice that; the file then holds about the keyspace's state plus the
   * retained log, whatever the number of writes.
   */
  public static final long COMPACTION_RECORDS_MIN = 10_000;

  /** Client writes waiting for an outcome at once; past it new ones are refused. */
  public static final int IN_FLIGHT_WRITES_MAX = 10_000;

  /** Core messages put in one frame to one site. */
  static final int FRAME_ITEMS_MAX = 64;

  /**
   * Approximate change bytes put in one frame; with the core's batches of at most {@code
   * SiteReplica.BATCH_BYTES_MAX} a frame stays below {@link SiteLinkCodec#FRAME_BYTES_MAX}.
   */
  static final long FRAME_CHANGE_BYTES_MAX = 8L << 20;

  /** Sends one encoded {@link SiteLinkCodec} frame to site {@code site}; must not block. */
  @FunctionalInterface
  public interface Transport {
    void send(String site, byte[] frame);
  }

  /** What INFO, /metrics and SITE LAG show; safe to read from any thread. */
  public record Status(
      String keyspace,
      String strategy,
      List<String> sites,
      SortedMap<String, LinkLag> lag,
      SortedMap<String, Long> counters,
      long logChanges,
      int causalBuffered,
      String versionVector,
      long retainedChanges,
      long retainedBytes,
      SortedMap<String, String> catchUps,
      long fileRecords,
      long fileBytes,
      long compactions) {}

  private final String keyspace;
  private final String strategy;
  private final List<String> sites;
  private final String self;
  private final int selfIndex;
  private final ScheduledExecutorService loop;
  private final Transport transport;
  private final SiteLogFile recordLog;

  /** Lock-protocol records, kept as they are through compactions (the checkpoint omits them). */
  private final List<io.replicakv.core.PersistRecord> lockRecords = new ArrayList<>();

  /** Records the file held after the last compaction (or at open). */
  private long recordsAfterCompaction;

  private final SiteReplica replica;
  private final Map<Long, CompletableFuture<Reply>> inFlight = new HashMap<>();

  private record Outbound(String site, byte[] frame) {}

  private final io.replicakv.server.durable.GroupCommit groupCommit;

  /** The gateway's copier of the site log to the site's other nodes; null on a one-node site. */
  private final SiteLogShipper shipper;

  private record ReplicaHeld(long position, Runnable output) {}

  /** Outputs whose records are durable here, waiting for {@code site-acks} other nodes. */
  private final java.util.ArrayDeque<ReplicaHeld> replicaHeld = new java.util.ArrayDeque<>();

  private volatile String writeRefusal;
  private final ScheduledFuture<?> ticker;
  private final long compactionRecordsMin;
  private long nextRequestId = 1;
  private long ticks;
  private volatile boolean stopped;
  private volatile Status status;

  /**
   * Starts site {@code self}'s replica of keyspace {@code keyspace}, replaying {@code logFile}.
   *
   * @param config the keyspace's sites (in id order), topology and conflict resolver
   */
  public SiteService(
      String keyspace,
      MultiLeaderConfig config,
      String self,
      PhysicalClock clock,
      Path logFile,
      ScheduledExecutorService loop,
      Transport transport) {
    this(keyspace, config, self, clock, logFile, loop, transport, null);
  }

  /** Builds the gateway's shipper from the records recovered at open and the loop's input. */
  interface ShipperFactory {
    SiteLogShipper create(List<io.replicakv.core.PersistRecord> recovered, Executor loopInput);
  }

  /**
   * As above, as the gateway of a site of several nodes: {@code shippers} builds the copier of the
   * site log to the other nodes, and replies and link messages wait until their records are held by
   * {@code site-acks} of them.
   */
  SiteService(
      String keyspace,
      MultiLeaderConfig config,
      String self,
      PhysicalClock clock,
      Path logFile,
      ScheduledExecutorService loop,
      Transport transport,
      ShipperFactory shippers) {
    this(
        keyspace,
        config,
        self,
        clock,
        logFile,
        loop,
        transport,
        shippers,
        SiteReplica.Retention.DEFAULT,
        COMPACTION_RECORDS_MIN);
  }

  /**
   * As above, keeping {@code retention} of the site log in memory for linked sites and compacting
   * the file once it grows by {@code compactionRecordsMin} records (and doubles).
   */
  SiteService(
      String keyspace,
      MultiLeaderConfig config,
      String self,
      PhysicalClock clock,
      Path logFile,
      ScheduledExecutorService loop,
      Transport transport,
      ShipperFactory shippers,
      SiteReplica.Retention retention,
      long compactionRecordsMin) {
    this.keyspace = Check.notNull(keyspace, "keyspace");
    Check.argument(compactionRecordsMin >= 1, "compaction records %s < 1", compactionRecordsMin);
    this.compactionRecordsMin = compactionRecordsMin;
    this.sites = config.sites();
    this.strategy = config.resolver().strategy().toString();
    this.self = self;
    this.selfIndex = config.nodeOf(self);
    this.loop = Check.notNull(loop, "loop");
    this.transport = Check.notNull(transport, "transport");
    this.recordLog = new SiteLogFile(logFile);
    this.groupCommit =
        new io.replicakv.server.durable.GroupCommit(
            "site-" + keyspace, recordLog, task -> loop.execute(() -> onLoop(task)));
    this.replica = new SiteReplica(config, self, clock, recordLog.recovered(), retention);
    this.shipper =
        shippers == null
            ? null
            : shippers.create(recordLog.recovered(), task -> loop.execute(() -> onLoop(task)));
    recordLog.recovered().stream()
        .filter(io.replicakv.core.multi.SiteRecord::isLockRecord)
        .forEach(lockRecords::add);
    recordLog.forgetRecovered();
    this.recordsAfterCompaction = recordLog.records();
    refreshStatus();
    this.ticker =
        loop.scheduleAtFixedRate(
            () -> onLoop(this::tick),
            TICK_PERIOD_MILLIS,
            TICK_PERIOD_MILLIS,
            TimeUnit.MILLISECONDS);
  }

  /** The keyspace's name (sites match keyspaces by name). */
  public String keyspace() {
    return keyspace;
  }

  /** The keyspace's sites in id order. */
  public List<String> sites() {
    return sites;
  }

  /**
   * Builds a write from the replica as it stands on the loop and submits it; the future completes
   * with the core's reply once the change is durable, or exceptionally when the service stops.
   * {@code command} may return null for "nothing to write" (the future then holds {@code null}).
   */
  public CompletableFuture<Reply> submit(Function<SiteReplica, SiteCommand> command) {
    CompletableFuture<Reply> future = new CompletableFuture<>();
    if (stopped) {
      future.completeExceptionally(new IllegalStateException("site service stopped"));
      return future;
    }
    loop.execute(
        () ->
            onLoop(
                () -> {
                  if (inFlight.size() >= IN_FLIGHT_WRITES_MAX) {
                    future.completeExceptionally(
                        new IllegalStateException(inFlight.size() + " site writes in flight"));
                    return;
                  }
                  SiteCommand built = command.apply(replica);
                  if (built == null) {
                    future.complete(null);
                    return;
                  }
                  long id = nextRequestId++;
                  inFlight.put(id, future);
                  replica.submit(0, id, built);
                }));
    return future;
  }

  /** Runs {@code query} against the replica on the loop. */
  public <T> CompletableFuture<T> query(Function<SiteReplica, T> query) {
    CompletableFuture<T> future = new CompletableFuture<>();
    if (stopped) {
      future.completeExceptionally(new IllegalStateException("site service stopped"));
      return future;
    }
    loop.execute(
        () ->
            onLoop(
                () -> {
                  try {
                    future.complete(query.apply(replica));
                  } catch (RuntimeException e) {
                    future.completeExceptionally(e);
                  }
                }));
    return future;
  }

  /** The last {@code max} writes lww discarded, oldest first. */
  public CompletableFuture<List<LostWrite>> lostWrites(int max) {
    return query(
        r -> {
          List<LostWrite> all = r.metrics().lostWrites();
          return List.copyOf(all.subList(Math.max(0, all.size() - max), all.size()));
        });
  }

  /**
   * For conflicts=home-site: declares {@code site} down (its keys' writes go to the next site) or
   * up again; a no-op for other strategies.
   */
  public CompletableFuture<Boolean> declareDown(String site, boolean down) {
    return query(
        r -> {
          r.declareDown(site, down);
          return true;
        });
  }

  /** Hands messages of this keyspace addressed to this site to the loop. */
  void onMessages(List<SiteMessage> messages) {
    if (stopped) {
      return;
    }
    loop.execute(
        () ->
            onLoop(
                () -> {
                  for (SiteMessage message : messages) {
                    if (message.to() == selfIndex) {
                      replica.step(message);
                    }
                  }
                }));
  }

  /** The snapshot of lag and counters as of the last refresh. */
  public Status status() {
    return status;
  }

  /**
   * Why a client write would be refused now (null: accepted): the gateway is deposed, or fewer than
   * {@code site-acks} of the site's other nodes answer. Safe to call from any thread.
   */
  public String writeRefusal() {
    return writeRefusal;
  }

  /**
   * Gives the gateway's copier the site's current other nodes (a node added to or removed from the
   * site), on the loop; a no-op on a one-node site.
   */
  void followers(java.util.Collection<String> followerIds) {
    if (shipper == null || stopped) {
      return;
    }
    List<String> ids = List.copyOf(followerIds);
    loop.execute(
        () ->
            onLoop(
                () -> {
                  shipper.followers(ids);
                  refreshWriteRefusal();
                }));
  }

  /** The gateway's copier, or null on a one-node site; read on the loop. */
  SiteLogShipper shipper() {
    return shipper;
  }

  private void refreshWriteRefusal() {
    if (shipper == null) {
      return;
    }
    int inSync = shipper.inSyncFollowers();
    if (shipper.fenced()) {
      writeRefusal =
          "TRYAGAIN this node's gateway epoch "
              + shipper.epoch()
              + " of keyspace "
              + keyspace
              + " was superseded; retry at the new gateway";
    } else if (inSync < shipper.siteAcks()) {
      writeRefusal =
          "NOREPLICAS "
              + inSync
              + " of the site's other nodes hold the site log of keyspace "
              + keyspace
              + ", site-acks needs "
              + shipper.siteAcks();
    } else {
      writeRefusal = null;
    }
  }

  private void tick() {
    if (shipper != null) {
      shipper.ship();
      refreshWriteRefusal();
    }
    replica.tick();
    if (++ticks % STATUS_REFRESH_TICKS == 0) {
      refreshStatus();
    }
  }

  private void refreshStatus() {
    TreeMap<String, LinkLag> lag = new TreeMap<>(replica.lag());
    ConflictMetrics metrics = replica.metrics();
    logCatchUps(metrics);
    status =
        new Status(
            keyspace,
            strategy,
            sites,
            lag,
            new TreeMap<>(metrics.counters()),
            replica.logSize(),
            replica.causalBufferSize(),
            replica.versionVector().toString(),
            replica.keptLogChanges(),
            replica.retainedBytes(),
            replica.catchUpProgress(),
            recordLog.records(),
            recordLog.sizeBytes(),
            recordLog.compactions());
  }

  /** Catch-up counters at the last status refresh: started, sent, received. */
  private final long[] catchUpsLogged = new long[3];

  /**
   * Says in the log when links start or finish full-state catch-ups, and why (LESSONS.md 8: a site
   * that cannot catch up from the log must be visible, not silently resynced).
   */
  private void logCatchUps(ConflictMetrics metrics) {
    long started = metrics.get(ConflictMetrics.CATCH_UPS_STARTED);
    long sent = metrics.get(ConflictMetrics.CATCH_UPS_SENT);
    long received = metrics.get(ConflictMetrics.CATCH_UPS_RECEIVED);
    if (started > catchUpsLogged[0]) {
      log.warn(
          "multi-leader keyspace {}: {} link(s) fell behind the {} changes retained in memory"
              + " (site-log-retention-*); sending full-state catch-ups: {}",
          keyspace,
          started - catchUpsLogged[0],
          replica.retention().changesMax(),
          replica.catchUpProgress());
    }
    if (sent > catchUpsLogged[1]) {
      log.info(
          "multi-leader keyspace {}: {} catch-up(s) joined by their downstream site; the links"
              + " stream from the log again",
          keyspace,
          sent - catchUpsLogged[1]);
    }
    if (received > catchUpsLogged[2]) {
      log.info(
          "multi-leader keyspace {}: joined {} catch-up(s) from linked sites",
          keyspace,
          received - catchUpsLogged[2]);
    }
    catchUpsLogged[0] = started;
    catchUpsLogged[1] = sent;
    catchUpsLogged[2] = received;
  }

  private void onLoop(Runnable input) {
    if (stopped) {
      return;
    }
    try {
      input.run();
      pump();
      releaseReplicated();
      maybeCompact();
    } catch (RuntimeException e) {
      log.error("multi-leader keyspace {}: site service stops", keyspace, e);
      stop(e);
    }
  }

  private void pump() {
    Ready ready = replica.ready();
    long sequence = recordLog.write(ready.records());
    ready.records().stream()
        .filter(io.replicakv.core.multi.SiteRecord::isLockRecord)
        .forEach(lockRecords::add);
    if (shipper != null && !ready.records().isEmpty()) {
      shipper.onWritten(ready.records());
    }
    long position = shipper == null ? 0 : shipper.endPosition();
    List<Outbound> frames = new ArrayList<>();
    Map<Integer, List<SiteLinkCodec.Item>> bySite = new TreeMap<>();
    for (Envelope envelope : ready.messages()) {
      if (envelope.message() instanceof SiteMessage message) {
        bySite
            .computeIfAbsent(envelope.to(), to -> new ArrayList<>())
            .add(new SiteLinkCodec.Item(keyspace, sites, message));
      }
    }
    replica.advance(ready);
    for (Map.Entry<Integer, List<SiteLinkCodec.Item>> batch : bySite.entrySet()) {
      String site = sites.get(batch.getKey());
      List<SiteLinkCodec.Item> part = new ArrayList<>();
      long bytes = 0;
      for (SiteLinkCodec.Item item : batch.getValue()) {
        long itemBytes = changeBytes(item.message());
        if (!part.isEmpty()
            && (part.size() >= FRAME_ITEMS_MAX || bytes + itemBytes > FRAME_CHANGE_BYTES_MAX)) {
          frames.add(new Outbound(site, SiteLinkCodec.encode(part)));
          part = new ArrayList<>();
          bytes = 0;
        }
        part.add(item);
        bytes += itemBytes;
      }
      if (!part.isEmpty()) {
        frames.add(new Outbound(site, SiteLinkCodec.encode(part)));
      }
    }
    boolean needsForce = !ready.records().isEmpty() && ready.syncBeforeSend();
    List<ClientReply> replies = ready.replies();
    if (shipper != null) {
      if (needsForce || !frames.isEmpty() || !replies.isEmpty() || !ready.records().isEmpty()) {
        groupCommit.after(
            sequence,
            needsForce,
            () -> {
              replicaHeld.addLast(new ReplicaHeld(position, () -> release(frames, replies)));
              releaseReplicated();
            });
      }
    } else if (needsForce || !frames.isEmpty() || !replies.isEmpty()) {
      groupCommit.after(sequence, needsForce, () -> release(frames, replies));
    }
  }

  /**
   * Rewrites the site log as the replica's checkpoint (plus the lock records) once it has grown
   * past {@link #compactionRecordsMin} records since the last compaction and doubled. Runs right
   * after a pump, when everything the replica produced is in the file, so the checkpoint stands for
   * exactly the file's records. Not on a gateway of a site of several nodes: its followers copy the
   * file record by record at the same positions, which a rewrite would shift (not built yet).
   */
  private void maybeCompact() {
    long grown = recordLog.records() - recordsAfterCompaction;
    if (shipper != null || grown < compactionRecordsMin || grown < recordsAfterCompaction) {
      return;
    }
    long before = recordLog.records();
    long bytesBefore = recordLog.sizeBytes();
    List<io.replicakv.core.PersistRecord> replacement = new ArrayList<>(lockRecords);
    replacement.addAll(replica.checkpoint());
    recordLog.compact(replacement);
    recordsAfterCompaction = recordLog.records();
    log.info(
        "multi-leader keyspace {}: site log compacted from {} records ({} bytes) to {} ({} bytes);"
            + " {} changes retained for linked sites",
        keyspace,
        before,
        bytesBefore,
        recordsAfterCompaction,
        recordLog.sizeBytes(),
        replica.keptLogChanges());
  }

  /** Runs, in order, every held output whose records {@code site-acks} other nodes hold. */
  private void releaseReplicated() {
    if (shipper == null) {
      return;
    }
    long replicated = shipper.replicatedPosition();
    while (!replicaHeld.isEmpty() && replicaHeld.peekFirst().position() <= replicated) {
      replicaHeld.pollFirst().output().run();
    }
  }

  private void release(List<Outbound> frames, List<ClientReply> replies) {
    for (Outbound frame : frames) {
      transport.send(frame.site(), frame.frame());
    }
    for (ClientReply reply : replies) {
      CompletableFuture<Reply> future = inFlight.remove(reply.requestId());
      if (future != null) {
        future.complete(reply.reply());
      }
    }
  }

  /** Records in the site log file now; read on the loop. */
  long fileRecords() {
    return recordLog.records();
  }

  /** Compactions of the site log file since this service started; read on the loop. */
  long compactions() {
    return recordLog.compactions();
  }

  /** Forces of the site log so far (each covers every write before it); read on the loop. */
  long forces() {
    return groupCommit.forces();
  }

  private static long changeBytes(SiteMessage message) {
    long bytes = 64;
    if (message instanceof SiteMessage.CatchUpPage page) {
      for (io.replicakv.core.multi.KeyState.Entry entry : page.entries()) {
        bytes += 4L * entry.key().length() + entry.state().sizeBytes();
      }
    }
    if (message instanceof SiteMessage.Changes changes) {
      for (SiteMessage.Entry entry : changes.entries()) {
        bytes += entry.change().sizeBytes() + 16L * entry.path().size();
      }
    }
    return bytes;
  }

  private void stop(Throwable cause) {
    stopped = true;
    ticker.cancel(false);
    groupCommit.clear();
    replicaHeld.clear();
    for (CompletableFuture<Reply> future : inFlight.values()) {
      future.completeExceptionally(
          cause != null ? cause : new IllegalStateException("site service stopped"));
    }
    inFlight.clear();
  }

  /** Stops ticking, fails pending writes and closes the log (waits for the loop to do so). */
  @Override
  public void close() {
    if (loop instanceof io.netty.util.concurrent.EventExecutor executor && executor.inEventLoop()) {
      stop(null);
      closeLog();
      return;
    }
    CompletableFuture<Void> done = new CompletableFuture<>();
    try {
      loop.execute(
          () -> {
            stop(null);
            done.complete(null);
          });
      done.get(10, TimeUnit.SECONDS);
      closeLog();
    } catch (java.util.concurrent.RejectedExecutionException e) {
      stopped = true;
      ticker.cancel(false);
      closeLog();
    } catch (Exception e) {
      throw new IllegalStateException("site service of keyspace " + keyspace + " did not stop", e);
    }
  }

  /** Lets a running force finish (its outcome no longer matters), then closes the file. */
  private void closeLog() {
    groupCommit.close();
    recordLog.close();
  }
}
