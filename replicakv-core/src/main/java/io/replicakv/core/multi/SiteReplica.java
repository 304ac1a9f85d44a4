package io.replicakv.core.multi;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.PhysicalClock;
import io.replicakv.core.Ready;
import io.replicakv.core.ReadyBuffer;
import io.replicakv.core.Replica;
import io.replicakv.core.causal.ClockDriftException;
import io.replicakv.core.causal.Dot;
import io.replicakv.core.causal.Hlc;
import io.replicakv.core.causal.HybridLogicalClock;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.crdt.Crdt;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.ClientRequest;
import io.replicakv.core.msg.Message;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One site's replica of a multi-leader keyspace (DDIA chapter 5, "Multi-Leader Replication").
 *
 * <p><b>Model.</b> Every site accepts writes. A local write gets the next dot {@code (site,
 * counter)} of this site, the site's version vector as its dependencies and the key's context, and
 * is applied at once. Every applied change, local or received, is appended to the site's
 * <i>log</i>; the log position is the stream position. For each downstream site of the topology an
 * outgoing link streams the log from the position the downstream site last acknowledged, leaving
 * out changes the link does not carry: a change passes a link only if the receiving site is not on
 * its path (the sites it has passed, origin first), and a site sends on others' changes only if the
 * topology makes it a forwarder (star: the hub; circular: everyone; all-to-all: nobody). That rule
 * is what keeps changes from looping in star and circular topologies.
 *
 * <p><b>Causal delivery.</b> A received change is applied only when the site has applied every
 * change in its dependencies; until then it waits in a bounded {@link CausalBuffer}. Over
 * all-to-all links a change can overtake one it depends on (B's reply to A's write reaches C before
 * A's write does); the buffer holds it, so no site ever applies an update before its insert. The
 * conflict strategy ({@link ConflictResolver}) therefore sees each change exactly once and in
 * causal order.
 *
 * <p><b>Invariants.</b> (1) The version vector is exactly the set of applied dots (no dot is
 * skipped: a change applies only after its own site's previous one). (2) Each dot is applied at
 * most once per site; duplicates and changes returning on their own path are counted and dropped.
 * (3) The acknowledged position of a link never moves back and never passes a change still in the
 * buffer, so a restart of the receiver (which loses the buffer) resumes without a gap.
 *
 * <p><b>Failure cases survived.</b> Lost, duplicated and reordered messages (retransmission on a
 * timeout, positions, dot deduplication); link outages (the link resumes from its acknowledged
 * position, visible meanwhile as {@link LinkLag}); a crash of this site (every record is synced
 * before any message or reply leaves, so the log and its positions are rebuilt exactly from disk);
 * clock skew (HLC, used only by last-writer-wins). <b>Not survived:</b> loss of a site's disk —
 * changes that never left it are gone; a forwarding site that stays down stops the flow beyond it
 * in star and circular topologies until it returns (by design; its lag shows it).
 *
 * <p><b>Memory and catch-ups.</b> The log's prefix that every downstream site has acknowledged
 * leaves memory, and so does the oldest part past the {@link Retention} bound (changes and bytes)
 * whoever still needs it. A link whose downstream site stands below the retained log gets a
 * <i>full-state catch-up</i>: every key's {@link KeyState} and the version vector as they stood at
 * one log position, in pages ({@link SiteMessage.CatchUpPage}); the receiver stages the pages,
 * joins them all at once into its state with {@link ConflictResolver#merge} (so its state stays
 * causally closed: a snapshot holds every dependency of every change in it), persists the joined
 * states, and continues the stream from that position. A forwarder whose state grew by a catch-up
 * passes it on with catch-ups of its own. The join is what applying the snapshot's changes one by
 * one would give, so sites converge whatever mix of changes and catch-ups reached them; the one
 * difference is lww's lost-write listing, which names a loser only at sites that saw it. A log file
 * is compacted by {@link #checkpoint()}. Remote changes are never refused, so siblings created by
 * remote blind writes are not capped; only local writes are ({@link #SIBLINGS_PER_KEY_MAX}).
 *
 * <p><b>Strategies with a protocol.</b> {@code conflicts=lock} runs {@link SiteLocks} (client
 * writes wait for the key's lock); {@code conflicts=home-site} forwards a client write to the key's
 * home site ({@link HomeSiteResolver#homeSite}), which performs it and answers; a forwarded write
 * whose answer does not come within {@link #HOME_WRITE_TIMEOUT_TICKS} ends {@code Uncertain}.
 *
 * <p>Inside a real site this replica sits on top of the single-leader partition log; here it is the
 * whole site, which is how the simulator runs it.
 */
public final class SiteReplica implements Replica {
  /** Log entries kept in memory for downstream sites by default ({@link Retention}). */
  public static final long RETAINED_CHANGES_MAX = 100_000;

  /** Change bytes kept in memory for downstream sites by default ({@link Retention}). */
  public static final long RETAINED_BYTES_MAX = 64L << 20;

  /** Catch-up pages a link may send ahead of the downstream site's acknowledgement. */
  public static final int CATCH_UP_PAGES_IN_FLIGHT_MAX = 4;

  /** Approximate key-state bytes of one catch-up page or one staged-state record. */
  public static final long CATCH_UP_PAGE_BYTES_MAX = 4L << 20;

  /**
   * How much of the log a site keeps in memory for downstream sites that have not acknowledged it:
   * past either bound the oldest entries leave, and a downstream site that still needed them gets a
   * full-state catch-up instead.
   *
   * @param changesMax log entries kept at most
   * @param bytesMax approximate change bytes kept at most
   */
  public record Retention(long changesMax, long bytesMax) {
    /** The bounds a server uses unless configured otherwise. */
    public static final Retention DEFAULT = new Retention(RETAINED_CHANGES_MAX, RETAINED_BYTES_MAX);

    public Retention {
      Check.argument(changesMax >= 1, "retained changes %s < 1", changesMax);
      Check.argument(bytesMax >= 1, "retained bytes %s < 1", bytesMax);
    }
  }

  /** Changes held waiting for their dependencies; past this the link pauses and resends later. */
  public static final int CAUSAL_BUFFER_CHANGES_MAX = 10_000;

  /** Ticks without an acknowledgement after which a link probes its downstream site again. */
  public static final int RETRANSMIT_TICKS = 10;

  /** Log positions a link may send ahead of the downstream site's acknowledgement. */
  public static final int IN_FLIGHT_POSITIONS_MAX = 4 * SiteMessage.ENTRIES_PER_BATCH_MAX;

  /**
   * Changes the in-memory log may hold that some downstream site has not acknowledged; past this
   * local writes are refused until the slowest link catches up (remote changes still apply).
   */
  public static final int LOG_CHANGES_MAX = 1_000_000;

  /** Acknowledged changes dropped from the in-memory log at once, so truncation is amortised. */
  static final int LOG_TRUNCATE_BATCH = 64;

  /** Live concurrent values per key before a local write that would add one is refused. */
  public static final int SIBLINGS_PER_KEY_MAX = 64;

  /**
   * Approximate bytes of changes one batch carries (at least one change), so that a batch fits the
   * peer transport's frame bound whatever the values' sizes.
   */
  public static final long BATCH_BYTES_MAX = 4L << 20;

  /**
   * Largest value a local write may assign, in UTF-8 bytes: a change must fit one batch, or the
   * link could never carry it.
   */
  public static final int VALUE_BYTES_MAX = 2 << 20;

  /** Ticks a client waits for the home site's answer to a forwarded write. */
  public static final int HOME_WRITE_TIMEOUT_TICKS = 50;

  /** Forwarded writes a home site remembers, so that a duplicated message is not written twice. */
  public static final int HOME_WRITES_REMEMBERED_MAX = 10_000;

  /** Forwarded writes awaiting their home site's answer; past this new ones are refused. */
  public static final int FORWARDED_WRITES_MAX = 10_000;

  private static final long UNKNOWN = -1;

  private record ForwardedWrite(long clientId, long requestId, String homeSite, long sentTick) {}

  private record LogEntry(Change change, List<String> path, long appendedTick) {}

  /**
   * A full-state catch-up under way on one link: the keyspace as it stood at {@code position}, sent
   * in pages of keys; {@code ackedIndex} keys are held by the receiver.
   */
  private static final class CatchUp {
    final long position;
    final VersionVector applied;
    final List<KeyState.Entry> entries;
    int ackedIndex;
    int sentIndex;
    int pagesInFlight;
    boolean lastSent;
    long progressTick;

    /** After a timeout: one page in flight until the receiver answers again. */
    boolean probing;

    CatchUp(long position, VersionVector applied, List<KeyState.Entry> entries, long tick) {
      this.position = position;
      this.applied = applied;
      this.entries = entries;
      this.progressTick = tick;
    }
  }

  /** Pages of an upstream site's catch-up received so far (joined when the last arrives). */
  private static final class Staging {
    final long position;
    final VersionVector applied;
    final int keyCount;
    final List<KeyState.Entry> entries = new ArrayList<>();

    Staging(long position, VersionVector applied, int keyCount) {
      this.position = position;
      this.applied = applied;
      this.keyCount = keyCount;
    }
  }

  private static final class Outgoing {
    final String site;
    long sentThrough;
    long ackedThrough = UNKNOWN;
    long lastSendTick = Long.MIN_VALUE / 2;
    CatchUp catchUp;

    /** A forwarder joined a catch-up: this link passes the new state on with one of its own. */
    boolean catchUpWanted;

    Outgoing(String site, long sentThrough) {
      this.site = site;
      this.sentThrough = sentThrough;
    }
  }

  private static final class Incoming {
    final String site;
    long receivedThrough;
    long appliedThrough;
    Staging staging;

    /** The furthest position of the upstream site's log it has told this site about. */
    long announcedThrough;

    Incoming(String site) {
      this.site = site;
    }
  }

  private final MultiLeaderConfig config;
  private final String self;
  private final int selfNode;
  private final PhysicalClock clock;
  private final HybridLogicalClock hlc;
  private final ConflictResolver resolver;
  private final ConflictMetrics metrics;
  private final ReadyBuffer out = new ReadyBuffer();
  private final List<LogEntry> log = new ArrayList<>();
  private long logBase;
  private final Retention retention;

  /** Downstream sites this forwarder owes a catch-up (durable: {@link SiteRecord.CatchUpsOwed}). */
  private final Set<String> owedCatchUps = new TreeSet<>();

  /** Approximate change bytes of {@link #log}. */
  private long retainedBytes;

  private final Map<String, KeyState> keys = new TreeMap<>();
  private final Map<String, Outgoing> outgoing = new LinkedHashMap<>();
  private final Map<String, Incoming> incoming = new LinkedHashMap<>();
  private final CausalBuffer buffer = new CausalBuffer(CAUSAL_BUFFER_CHANGES_MAX);
  private final SiteLocks locks;
  private final Set<String> declaredDown = new TreeSet<>();
  private final Map<Long, ForwardedWrite> forwarded = new TreeMap<>();
  private long lastForwardTag;
  private final Set<String> recentHomeWrites = new java.util.LinkedHashSet<>();
  private VersionVector applied = VersionVector.EMPTY;
  private long ticks;

  /**
   * Site {@code self} of {@code config}, rebuilt from the records its disk kept.
   *
   * @param clock physical time for HLC timestamps of local writes
   * @param recovered the records of earlier incarnations, in append order
   */
  public SiteReplica(
      MultiLeaderConfig config, String self, PhysicalClock clock, List<PersistRecord> recovered) {
    this(config, self, clock, recovered, Retention.DEFAULT);
  }

  /**
   * As above, keeping at most {@code retention} of the log in memory for downstream sites.
   *
   * @param recovered the records of earlier incarnations, in append order; a compacted log starts
   *     with its checkpoint ({@link #checkpoint()})
   */
  public SiteReplica(
      MultiLeaderConfig config,
      String self,
      PhysicalClock clock,
      List<PersistRecord> recovered,
      Retention retention) {
    this.config = Check.notNull(config, "config");
    this.retention = Check.notNull(retention, "retention");
    this.self = Check.notNull(self, "self");
    this.selfNode = config.nodeOf(self);
    this.clock = Check.notNull(clock, "clock");
    this.resolver = config.resolver();
    this.metrics = new ConflictMetrics(resolver.strategy().toString());
    config.upstream(self).forEach(site -> incoming.put(site, new Incoming(site)));
    this.locks =
        resolver instanceof LockResolver ? new SiteLocks(config, self, new LockHost()) : null;
    Hlc newest = Hlc.ZERO;
    List<KeyState.Entry> staged = new ArrayList<>();
    List<LogEntry> retained = new ArrayList<>();
    for (PersistRecord record : recovered) {
      SiteRecord decoded = SiteRecord.fromRecord(record);
      if (locks != null) {
        locks.recover(decoded);
      }
      switch (decoded) {
        case SiteRecord.Applied done -> {
          applyChange(done.change(), done.path(), false);
          newest = Hlc.max(newest, done.change().timestamp());
        }
        case SiteRecord.LinkPosition position -> {
          Incoming link = Check.notNull(incoming.get(position.upstream()), "upstream");
          link.appliedThrough = position.appliedThrough();
          link.receivedThrough = position.appliedThrough();
        }
        case SiteRecord.KeyStates states -> staged.addAll(states.entries());
        case SiteRecord.CatchUpJoined joined -> {
          Incoming link = Check.notNull(incoming.get(joined.upstream()), "upstream");
          joinStates(staged, joined.applied());
          newest = Hlc.max(newest, newestOf(staged));
          link.appliedThrough = Math.max(link.appliedThrough, joined.position());
          link.receivedThrough = link.appliedThrough;
          staged.clear();
        }
        case SiteRecord.Retained kept -> {
          retained.add(new LogEntry(kept.change(), kept.path(), 0));
          newest = Hlc.max(newest, kept.change().timestamp());
        }
        case SiteRecord.CatchUpsOwed owed -> {
          owedCatchUps.clear();
          owedCatchUps.addAll(owed.downstream());
        }
        case SiteRecord.Checkpoint checkpoint -> {
          owedCatchUps.clear();
          restore(checkpoint, staged, retained);
          newest = Hlc.max(newest, checkpoint.newest());
          staged.clear();
          retained.clear();
        }
        default -> {}
      }
    }
    this.hlc = new HybridLogicalClock(newest, HybridLogicalClock.DEFAULT_MAX_REMOTE_AHEAD_MILLIS);
    config.downstream(self).forEach(site -> outgoing.put(site, new Outgoing(site, logEnd())));
    owedCatchUps.retainAll(outgoing.keySet());
    owedCatchUps.forEach(site -> outgoing.get(site).catchUpWanted = true);
  }

  // ---- Replica -------------------------------------------------------------------------------

  @Override
  public void step(Message message) {
    switch (message) {
      case ClientRequest request -> onClientRequest(request);
      case SiteMessage.Changes changes -> onChanges(changes);
      case SiteMessage.ChangesAck ack -> onChangesAck(ack);
      case SiteMessage.LockRequest request -> lockProtocol().onRequest(request);
      case SiteMessage.LockGrant grant -> lockProtocol().onGrant(grant);
      case SiteMessage.LockBusy busy -> lockProtocol().onBusy(busy);
      case SiteMessage.LockRelease release -> lockProtocol().onRelease(release);
      case SiteMessage.LockReleaseAck ack -> lockProtocol().onReleaseAck(ack);
      case SiteMessage.HomeWrite write -> onHomeWrite(write);
      case SiteMessage.HomeWriteReply reply -> onHomeWriteReply(reply);
      case SiteMessage.CatchUpPage page -> onCatchUpPage(page);
      case SiteMessage.CatchUpAck ack -> onCatchUpAck(ack);
      case PeerMessage other ->
          throw new IllegalArgumentException("site replica got another protocol's " + other);
    }
  }

  @Override
  public void tick() {
    ticks++;
    if (locks != null) {
      locks.tick();
    }
    expireForwardedWrites();
    truncateAcknowledged();
    for (Outgoing link : outgoing.values()) {
      if (link.catchUpWanted || (link.catchUp == null && link.sentThrough < logBase)) {
        startCatchUp(link);
      }
      if (link.catchUp != null) {
        sendCatchUp(link);
        continue;
      }
      long acked = Math.max(0, link.ackedThrough);
      if (link.sentThrough < logEnd() && link.sentThrough - acked < IN_FLIGHT_POSITIONS_MAX) {
        sendBatch(link);
      } else if (link.ackedThrough < link.sentThrough
          && ticks - link.lastSendTick >= RETRANSMIT_TICKS) {
        // An empty batch at our position: accepted, it returns the downstream site's position;
        // refused (a batch was lost, or the site restarted), it says where to resend from.
        sendProbe(link);
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

  // ---- client side ---------------------------------------------------------------------------

  private void onClientRequest(ClientRequest request) {
    switch (request.operation()) {
      case Operation.Get get ->
          out.reply(ClientReply.to(request, new Reply.Values(read(get.key()).values())));
      case Operation.Put put ->
          submit(
              request.clientId(),
              request.requestId(),
              new SiteCommand.Assign(put.key(), put.value(), Optional.empty()));
      case Operation.Write write ->
          out.reply(
              ClientReply.to(
                  request,
                  new Reply.Rejected("opaque single-leader writes are not site commands")));
    }
  }

  /**
   * Applies a client write and queues its reply; the caller delivers it with the next {@link
   * #ready()}, after the write's record is synced.
   */
  public void submit(long clientId, long requestId, SiteCommand command) {
    if (locks != null && command instanceof SiteCommand.Assign assign) {
      locks.submit(clientId, requestId, assign);
      return;
    }
    if ((locks != null || resolver instanceof HomeSiteResolver)
        && command instanceof SiteCommand.Delete) {
      // The lock and home-site protocols carry assignments only (LockGrant writes, HomeWrite);
      // a delete outside them could conflict, so it is refused rather than let through.
      metrics.increment(ConflictMetrics.WRITES_REFUSED);
      out.reply(
          new ClientReply(
              clientId,
              requestId,
              new Reply.Rejected(
                  "DEL is not supported with conflicts="
                      + resolver.strategy()
                      + " yet; set the key to an empty value instead")));
      return;
    }
    if (resolver instanceof HomeSiteResolver home && command instanceof SiteCommand.Assign assign) {
      String homeSite = home.homeSite(assign.key(), config.sites(), declaredDown);
      if (!homeSite.equals(self)) {
        forward(clientId, requestId, homeSite, assign);
        return;
      }
    }
    out.reply(new ClientReply(clientId, requestId, write(command)));
  }

  /** This site's view of {@code key}: value or siblings, and the context to write back with. */
  public SiteRead read(String key) {
    return resolver.read(keys.getOrDefault(key, KeyState.EMPTY));
  }

  private Reply write(SiteCommand command) {
    return write(command, 0);
  }

  private Reply write(SiteCommand command, long fencingToken) {
    KeyState current = keys.getOrDefault(command.key(), KeyState.EMPTY);
    Optional<String> refusal = refusal(command, current);
    if (refusal.isPresent()) {
      metrics.increment(ConflictMetrics.WRITES_REFUSED);
      return new Reply.Rejected(refusal.get());
    }
    Hlc timestamp = hlc.now(Math.max(0, clock.physicalMillis()));
    VersionVector context = current.context();
    Mutation mutation;
    switch (command) {
      case SiteCommand.Assign assign -> {
        if (resolver instanceof CrdtResolver) {
          mutation =
              new Mutation.CrdtState(
                  CrdtResolver.assign(held(current), self, timestamp, assign.value()));
        } else {
          mutation = new Mutation.Assign(assign.value());
          context =
              assign
                  .context()
                  .orElse(
                      resolver instanceof LwwResolver
                              || resolver instanceof LockResolver
                              || resolver instanceof HomeSiteResolver
                          ? context
                          : VersionVector.EMPTY);
        }
      }
      case SiteCommand.Delete delete -> {
        if (resolver instanceof CrdtResolver) {
          mutation = new Mutation.CrdtState(CrdtResolver.clear(held(current)));
        } else {
          mutation = new Mutation.Delete();
          context = delete.context().orElse(context);
        }
      }
      case SiteCommand.Increment increment ->
          mutation =
              new Mutation.CrdtState(
                  CrdtResolver.increment(held(current), self, increment.delta()));
      case SiteCommand.SetMember member ->
          mutation =
              new Mutation.CrdtState(
                  CrdtResolver.setCommand(held(current), self, member.element(), member.add()));
      case SiteCommand.MapField field ->
          mutation =
              new Mutation.CrdtState(
                  CrdtResolver.mapField(
                      held(current), self, timestamp, field.field(), field.value()));
      case SiteCommand.MapIncrement increment ->
          mutation =
              new Mutation.CrdtState(
                  CrdtResolver.mapIncrement(
                      held(current), self, increment.field(), increment.delta()));
    }
    Change change =
        new Change(
            applied.nextDot(self),
            applied,
            context,
            timestamp,
            command.key(),
            mutation,
            fencingToken);
    applyChange(change, List.of(self), true);
    return new Reply.Written();
  }

  private Optional<String> refusal(SiteCommand command, KeyState current) {
    if (log.size() >= LOG_CHANGES_MAX) {
      return Optional.of(
          "site "
              + self
              + " holds "
              + log.size()
              + " changes a downstream site has not acknowledged; writes resume when it catches up");
    }
    boolean crdt = resolver instanceof CrdtResolver;
    if (crdt
        && held(current) != null
        && !(command instanceof SiteCommand.Delete)
        && held(current).type() != crdtTypeOf(command)) {
      return Optional.of(
          "WRONGTYPE key " + command.key() + " holds a " + held(current).type() + " value");
    }
    return switch (command) {
      case SiteCommand.Assign assign -> {
        int valueBytes = assign.value().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (valueBytes > VALUE_BYTES_MAX) {
          yield Optional.of(
              "value of "
                  + valueBytes
                  + " bytes over the "
                  + VALUE_BYTES_MAX
                  + " a multi-leader change may carry between sites");
        }
        if (resolver instanceof MergeResolver merge && !merge.domain().accepts(assign.value())) {
          yield Optional.of(
              "value '"
                  + assign.value()
                  + "' is outside the "
                  + merge.domain()
                  + " domain of conflicts="
                  + merge.strategy());
        }
        VersionVector context = assign.context().orElse(VersionVector.EMPTY);
        if (!applied.descends(context)) {
          yield Optional.of(
              "context " + context + " is ahead of site " + self + " " + applied + "; retry");
        }
        long kept =
            current.live().stream().filter(version -> !context.contains(version.dot())).count();
        boolean keepsSiblings =
            resolver instanceof SiblingsResolver || resolver instanceof MergeResolver;
        if (keepsSiblings && kept + 1 > SIBLINGS_PER_KEY_MAX) {
          yield Optional.of(
              "key "
                  + assign.key()
                  + " has "
                  + kept
                  + " siblings (max "
                  + SIBLINGS_PER_KEY_MAX
                  + "); read it and write back with its context");
        }
        yield Optional.empty();
      }
      case SiteCommand.Delete delete -> {
        if (crdt) {
          yield CrdtResolver.clearRefusal(held(current), delete.key());
        }
        VersionVector context = delete.context().orElse(VersionVector.EMPTY);
        yield applied.descends(context)
            ? Optional.empty()
            : Optional.of(
                "context " + context + " is ahead of site " + self + " " + applied + "; retry");
      }
      case SiteCommand.Increment increment ->
          crdt ? Optional.empty() : Optional.of("INCRBY needs conflicts=crdt");
      case SiteCommand.SetMember member ->
          crdt ? Optional.empty() : Optional.of("SADD/SREM need conflicts=crdt");
      case SiteCommand.MapField field ->
          crdt ? Optional.empty() : Optional.of("HSET/HDEL need conflicts=crdt");
      case SiteCommand.MapIncrement increment ->
          crdt ? Optional.empty() : Optional.of("HINCRBY needs conflicts=crdt");
    };
  }

  private static io.replicakv.core.crdt.CrdtType crdtTypeOf(SiteCommand command) {
    return switch (command) {
      case SiteCommand.Assign assign -> io.replicakv.core.crdt.CrdtType.LWW_REGISTER;
      case SiteCommand.Delete delete ->
          throw new IllegalArgumentException("DEL keeps the type of the key it clears");
      case SiteCommand.Increment increment -> io.replicakv.core.crdt.CrdtType.PN_COUNTER;
      case SiteCommand.SetMember member -> io.replicakv.core.crdt.CrdtType.AW_OR_SET;
      case SiteCommand.MapField field -> io.replicakv.core.crdt.CrdtType.OR_MAP;
      case SiteCommand.MapIncrement increment -> io.replicakv.core.crdt.CrdtType.OR_MAP;
    };
  }

  private static Crdt<?> held(KeyState current) {
    return current.live().isEmpty()
        ? null
        : ((Mutation.CrdtState) current.live().get(0).value()).state();
  }

  // ---- applying ------------------------------------------------------------------------------

  private boolean causallyReady(Change change) {
    return !applied.contains(change.dot()) && applied.descends(change.dependencies());
  }

  private void applyChange(Change change, List<String> path, boolean persist) {
    Dot dot = change.dot();
    Check.state(!applied.contains(dot), "%s applied twice at %s", dot, self);
    Check.state(
        config.defects().applyWithoutCausalBuffer() || applied.descends(change.dependencies()),
        "%s applied at %s before its dependencies %s (have %s)",
        dot,
        self,
        change.dependencies(),
        applied);
    Check.state(log.size() < 2L * LOG_CHANGES_MAX, "site %s log over %s changes", self, log.size());
    KeyState current = keys.getOrDefault(change.key(), KeyState.EMPTY);
    boolean ignored =
        config.defects().remoteDeletesIgnored()
            && change.mutation().isTombstone()
            && !change.origin().equals(self);
    if (!ignored) {
      keys.put(change.key(), resolver.apply(change.key(), current, change, metrics));
    }
    applied = applied.with(dot);
    log.add(new LogEntry(change, path, ticks));
    retainedBytes += change.sizeBytes();
    if (persist) {
      out.persist(new SiteRecord.Applied(change, path).toRecord(), true);
      if (log.size() > retention.changesMax() || retainedBytes > retention.bytesMax()) {
        truncateAcknowledged(); // a burst between ticks stays within the bound too
      }
    }
  }

  private void applyRemote(SiteMessage.Entry entry) {
    try {
      hlc.update(entry.change().timestamp(), Math.max(0, clock.physicalMillis()));
    } catch (ClockDriftException e) {
      // The change is applied all the same (data is never dropped for a clock); only the HLC
      // refuses to jump, and causality still decides LWW for causally related writes.
      metrics.increment(ConflictMetrics.CLOCK_DRIFT_REFUSALS);
    }
    List<String> path = new ArrayList<>(entry.path());
    path.add(self);
    applyChange(entry.change(), path, true);
  }

  // ---- receiving a stream --------------------------------------------------------------------

  private void onChanges(SiteMessage.Changes changes) {
    String upstream = config.sites().get(changes.from());
    Incoming link = incoming.get(upstream);
    Check.argument(link != null, "site %s does not stream to %s", upstream, self);
    link.announcedThrough = Math.max(link.announcedThrough, changes.throughPosition());
    if (changes.afterPosition() > link.receivedThrough) {
      sendAck(link, false);
      return;
    }
    long through = changes.throughPosition();
    for (SiteMessage.Entry entry : changes.entries()) {
      if (entry.position() <= link.receivedThrough) {
        continue;
      }
      if (!offer(link, entry)) {
        through = entry.position() - 1;
        break;
      }
      link.receivedThrough = entry.position();
    }
    link.receivedThrough = Math.max(link.receivedThrough, through);
    drainBuffer();
    incoming.values().forEach(this::updateAppliedThrough);
    sendAck(link, true);
  }

  /** Takes one entry: applies, buffers or drops it; false when the buffer is full. */
  private boolean offer(Incoming link, SiteMessage.Entry entry) {
    Change change = entry.change();
    if (entry.path().contains(self)) {
      metrics.increment(ConflictMetrics.LOOPED);
    }
    if (applied.contains(change.dot()) || buffer.contains(change.dot())) {
      metrics.increment(ConflictMetrics.DUPLICATES);
      return true;
    }
    if (config.defects().applyWithoutCausalBuffer() || causallyReady(change)) {
      applyRemote(entry);
      return true;
    }
    if (buffer.isFull()) {
      metrics.increment(ConflictMetrics.CAUSAL_BUFFER_FULL);
      return false;
    }
    buffer.add(link.site, entry);
    metrics.increment(ConflictMetrics.CAUSAL_BUFFERED);
    return true;
  }

  private void drainBuffer() {
    boolean progressed = true;
    while (progressed) {
      progressed = false;
      for (CausalBuffer.Pending held : buffer.all()) {
        Change change = held.entry().change();
        if (applied.contains(change.dot())) {
          buffer.remove(held);
        } else if (causallyReady(change)) {
          buffer.remove(held);
          applyRemote(held.entry());
          progressed = true;
        }
      }
    }
  }

  private void updateAppliedThrough(Incoming link) {
    long appliedThrough =
        buffer.lowestPosition(link.site).stream()
            .map(position -> position - 1)
            .findFirst()
            .orElse(link.receivedThrough);
    if (appliedThrough == link.appliedThrough) {
      return;
    }
    Check.state(
        appliedThrough > link.appliedThrough,
        "applied position from %s moves back %s -> %s",
        link.site,
        link.appliedThrough,
        appliedThrough);
    link.appliedThrough = appliedThrough;
    out.persist(new SiteRecord.LinkPosition(link.site, appliedThrough).toRecord(), true);
  }

  private void sendAck(Incoming link, boolean accepted) {
    out.send(
        new SiteMessage.ChangesAck(
            selfNode,
            config.nodeOf(link.site),
            0,
            link.appliedThrough,
            link.receivedThrough,
            accepted));
  }

  // ---- sending a stream ----------------------------------------------------------------------

  private void onChangesAck(SiteMessage.ChangesAck ack) {
    String downstream = config.sites().get(ack.from());
    Outgoing link = outgoing.get(downstream);
    Check.argument(link != null, "site %s is not downstream of %s", downstream, self);
    if (link.catchUp != null) {
      return; // a late answer to the stream the catch-up replaces
    }
    Check.state(
        ack.receivedThrough() <= logEnd(),
        "%s claims position %s of %s's log of %s",
        downstream,
        ack.receivedThrough(),
        self,
        logEnd());
    link.ackedThrough = Math.max(link.ackedThrough, ack.appliedThrough());
    // Acks arrive out of order: never send again what the downstream site has applied.
    link.sentThrough = Math.max(link.sentThrough, link.ackedThrough);
    if (!ack.accepted()) {
      // A refusal can be stale (delayed, duplicated): never rewind below what the downstream site
      // has durably applied, which is also never below the log this site still keeps.
      // Below the retained log (the bound dropped what it lacks): the next tick starts a
      // full-state catch-up of the link instead of resending.
      link.sentThrough = Math.max(ack.receivedThrough(), link.ackedThrough);
    }
    truncateAcknowledged();
  }

  private void sendBatch(Outgoing link) {
    long after = link.sentThrough;
    long through = after;
    List<SiteMessage.Entry> entries = new ArrayList<>();
    long bytes = 0;
    while (through < logEnd()
        && entries.size() < SiteMessage.ENTRIES_PER_BATCH_MAX
        && bytes < BATCH_BYTES_MAX) {
      through++;
      LogEntry entry = entryAt(through);
      if (carries(entry, link.site)) {
        entries.add(new SiteMessage.Entry(through, entry.change(), entry.path()));
        bytes += entry.change().sizeBytes();
      }
    }
    out.send(
        new SiteMessage.Changes(selfNode, config.nodeOf(link.site), 0, after, through, entries));
    link.sentThrough = through;
    link.lastSendTick = ticks;
  }

  private void sendProbe(Outgoing link) {
    out.send(
        new SiteMessage.Changes(
            selfNode, config.nodeOf(link.site), 0, link.sentThrough, link.sentThrough, List.of()));
    link.lastSendTick = ticks;
  }

  private long logEnd() {
    return logBase + log.size();
  }

  private LogEntry entryAt(long position) {
    Check.state(
        logBase < position && position <= logEnd(),
        "position %s outside the kept log (%s, %s]",
        position,
        logBase,
        logEnd());
    return log.get((int) (position - 1 - logBase));
  }

  /**
   * Drops the prefix every downstream site has acknowledged (a downstream site never asks for it
   * again because its applied position is durable), and past the {@link Retention} bound the oldest
   * entries whoever still needs them: a link left behind the retained log is caught up with the
   * keyspace's state instead ({@link #startCatchUp}).
   */
  private void truncateAcknowledged() {
    long everyoneHas = logEnd();
    for (Outgoing link : outgoing.values()) {
      everyoneHas = Math.min(everyoneHas, link.ackedThrough);
    }
    long cut = everyoneHas - logBase >= LOG_TRUNCATE_BATCH ? everyoneHas : logBase;
    long keptBytes = retainedBytes;
    for (long position = logBase + 1; position <= cut; position++) {
      keptBytes -= entryAt(position).change().sizeBytes();
    }
    while (logEnd() - cut > retention.changesMax()
        || (keptBytes > retention.bytesMax() && cut < logEnd())) {
      cut++;
      keptBytes -= entryAt(cut).change().sizeBytes();
    }
    if (cut == logBase) {
      return;
    }
    if (cut > everyoneHas) {
      metrics.add(ConflictMetrics.LOG_DROPPED_UNACKNOWLEDGED, cut - Math.max(logBase, everyoneHas));
    }
    log.subList(0, (int) (cut - logBase)).clear();
    logBase = cut;
    retainedBytes = keptBytes;
    Check.state(
        log.size() <= retention.changesMax(),
        "site %s retains %s changes, bound %s",
        self,
        log.size(),
        retention.changesMax());
  }

  /** True when the link to {@code downstream} carries this log entry. */
  private boolean carries(LogEntry entry, String downstream) {
    boolean mine = entry.change().origin().equals(self);
    if (!mine && !config.forwards(self)) {
      return false;
    }
    return config.defects().forwardWithoutPath() || !entry.path().contains(downstream);
  }

  // ---- full-state catch-up -------------------------------------------------------------------

  /**
   * Starts (or, for a forwarder that joined newer state, restarts) a catch-up on {@code link}: a
   * copy of every key's state as it stands now, at position {@link #logEnd()}. Key states are
   * immutable, so the copy holds references, one per key, for as long as the catch-up runs.
   */
  private void startCatchUp(Outgoing link) {
    List<KeyState.Entry> entries = new ArrayList<>(keys.size());
    keys.forEach((key, state) -> entries.add(new KeyState.Entry(key, state)));
    if (link.catchUp == null || link.catchUpWanted) {
      metrics.increment(ConflictMetrics.CATCH_UPS_STARTED);
    }
    link.catchUp = new CatchUp(logEnd(), applied, entries, ticks);
    link.catchUpWanted = false;
  }

  private void sendCatchUp(Outgoing link) {
    CatchUp catchUp = link.catchUp;
    if (catchUp.pagesInFlight > 0 && ticks - catchUp.progressTick >= RETRANSMIT_TICKS) {
      if (catchUp.ackedIndex == 0 && catchUp.position < logBase) {
        // the receiver holds none of it (the link is still down) and the bound has passed the
        // snapshot's position: a fresh snapshot loses nothing and spares a second catch-up
        startCatchUp(link);
        catchUp = link.catchUp;
      }
      // pages or their answers were lost (the link broke): resume from what the receiver holds,
      // one page at a time until it answers, so a dead link is not flooded
      catchUp.pagesInFlight = 0;
      catchUp.sentIndex = catchUp.ackedIndex;
      catchUp.lastSent = false;
      catchUp.progressTick = ticks;
      catchUp.probing = true;
    }
    int window = catchUp.probing ? 1 : CATCH_UP_PAGES_IN_FLIGHT_MAX;
    while (catchUp.pagesInFlight < window && !catchUp.lastSent) {
      int from = catchUp.sentIndex;
      int through = from;
      long bytes = 0;
      while (through < catchUp.entries.size()
          && through - from < SiteMessage.CATCH_UP_KEYS_PER_PAGE_MAX
          && (through == from || bytes < CATCH_UP_PAGE_BYTES_MAX)) {
        KeyState.Entry entry = catchUp.entries.get(through);
        bytes += entry.key().length() + entry.state().sizeBytes();
        through++;
      }
      SiteMessage.CatchUpPage page =
          new SiteMessage.CatchUpPage(
              selfNode,
              config.nodeOf(link.site),
              0,
              catchUp.position,
              catchUp.applied,
              from,
              catchUp.entries.size(),
              catchUp.entries.subList(from, through));
      out.send(page);
      metrics.add(ConflictMetrics.CATCH_UP_KEYS_SENT, through - from);
      catchUp.sentIndex = through;
      catchUp.lastSent = page.last();
      catchUp.pagesInFlight++;
    }
    link.lastSendTick = ticks;
  }

  private void onCatchUpAck(SiteMessage.CatchUpAck ack) {
    Outgoing link = outgoing.get(config.sites().get(ack.from()));
    Check.argument(link != null, "catch-up ack from %s, not downstream of %s", ack.from(), self);
    CatchUp catchUp = link.catchUp;
    if (catchUp == null
        || catchUp.position != ack.position()
        || !catchUp.applied.equals(ack.applied())) {
      return; // an answer about an earlier catch-up
    }
    catchUp.pagesInFlight = Math.max(0, catchUp.pagesInFlight - 1);
    catchUp.probing = false;
    if (ack.done()) {
      link.catchUp = null;
      link.ackedThrough = Math.max(link.ackedThrough, catchUp.position);
      link.sentThrough = Math.max(link.sentThrough, link.ackedThrough);
      metrics.increment(ConflictMetrics.CATCH_UPS_SENT);
      if (!link.catchUpWanted && owedCatchUps.remove(link.site)) {
        out.persist(new SiteRecord.CatchUpsOwed(List.copyOf(owedCatchUps)).toRecord(), true);
      }
      return;
    }
    if (ack.nextIndex() > catchUp.ackedIndex) {
      catchUp.ackedIndex = Math.min(ack.nextIndex(), catchUp.entries.size());
      catchUp.progressTick = ticks;
    }
    if (catchUp.pagesInFlight == 0 && catchUp.sentIndex > catchUp.ackedIndex) {
      // a page went missing: send again from where the receiver stands
      catchUp.sentIndex = catchUp.ackedIndex;
      catchUp.lastSent = false;
    }
  }

  private void onCatchUpPage(SiteMessage.CatchUpPage page) {
    String upstream = config.sites().get(page.from());
    Incoming link = incoming.get(upstream);
    Check.argument(link != null, "site %s does not stream to %s", upstream, self);
    if (link.staging == null
        && link.receivedThrough >= page.position()
        && applied.descends(page.applied())) {
      sendCatchUpAck(link, page.position(), page.applied(), page.keyCount(), true);
      return; // joined already; the answer saying so was lost
    }
    Staging staging = link.staging;
    if (staging == null
        || staging.position != page.position()
        || !staging.applied.equals(page.applied())
        || staging.keyCount != page.keyCount()) {
      staging = new Staging(page.position(), page.applied(), page.keyCount());
      link.staging = staging;
    }
    if (page.index() == staging.entries.size()) {
      staging.entries.addAll(page.entries());
    }
    if (staging.entries.size() < staging.keyCount) {
      sendCatchUpAck(link, page.position(), page.applied(), staging.entries.size(), false);
      return;
    }
    link.staging = null;
    joinCatchUp(link, staging);
    sendCatchUpAck(link, page.position(), page.applied(), staging.keyCount, true);
  }

  /**
   * Joins a complete catch-up into this site's state, durably (the staged states, then the record
   * that joins them), and moves the link to the snapshot's position. A forwarder whose state grew
   * passes it on to its other downstream sites with catch-ups of its own, since the changes it
   * learnt this way are in no log it streams.
   */
  private void joinCatchUp(Incoming link, Staging staging) {
    VersionVector before = applied;
    try {
      // a later local write must carry a larger timestamp than every write it now covers
      hlc.update(newestOf(staging.entries), Math.max(0, clock.physicalMillis()));
    } catch (ClockDriftException e) {
      metrics.increment(ConflictMetrics.CLOCK_DRIFT_REFUSALS);
    }
    joinStates(staging.entries, staging.applied);
    if (config.forwards(self) && !applied.equals(before)) {
      for (Outgoing other : outgoing.values()) {
        if (!other.site.equals(link.site)) {
          other.catchUpWanted = true;
          owedCatchUps.add(other.site);
        }
      }
      // durable, and before the joined states (a crash keeps a prefix of what it was writing), so
      // that a crash before they are sent does not strand the sites beyond this one
      out.persist(new SiteRecord.CatchUpsOwed(List.copyOf(owedCatchUps)).toRecord(), true);
    }
    List<KeyState.Entry> chunk = new ArrayList<>();
    long bytes = 0;
    for (KeyState.Entry entry : staging.entries) {
      long entryBytes = entry.key().length() + entry.state().sizeBytes();
      if (!chunk.isEmpty()
          && (chunk.size() >= SiteRecord.KEY_STATES_PER_RECORD_MAX
              || bytes + entryBytes > CATCH_UP_PAGE_BYTES_MAX)) {
        out.persist(new SiteRecord.KeyStates(chunk).toRecord(), true);
        chunk = new ArrayList<>();
        bytes = 0;
      }
      chunk.add(entry);
      bytes += entryBytes;
    }
    if (!chunk.isEmpty()) {
      out.persist(new SiteRecord.KeyStates(chunk).toRecord(), true);
    }
    out.persist(
        new SiteRecord.CatchUpJoined(link.site, staging.position, staging.applied).toRecord(),
        true);
    link.receivedThrough = Math.max(link.receivedThrough, staging.position);
    metrics.increment(ConflictMetrics.CATCH_UPS_RECEIVED);
    metrics.add(ConflictMetrics.CATCH_UP_KEYS_RECEIVED, staging.entries.size());
    drainBuffer();
    incoming.values().forEach(this::updateAppliedThrough);
  }

  /** The newest timestamp among the live versions of {@code entries}. */
  private static Hlc newestOf(List<KeyState.Entry> entries) {
    Hlc newest = Hlc.ZERO;
    for (KeyState.Entry entry : entries) {
      for (KeyState.Version version : entry.state().live()) {
        newest = Hlc.max(newest, version.timestamp());
      }
    }
    return newest;
  }

  /** Joins another site's key states and version vector into this site's. */
  private void joinStates(List<KeyState.Entry> entries, VersionVector theirs) {
    for (KeyState.Entry entry : entries) {
      KeyState mine = keys.getOrDefault(entry.key(), KeyState.EMPTY);
      keys.put(entry.key(), resolver.merge(entry.key(), mine, entry.state(), metrics));
    }
    applied = applied.merge(theirs);
  }

  private void sendCatchUpAck(
      Incoming link, long position, VersionVector snapshot, int nextIndex, boolean done) {
    out.send(
        new SiteMessage.CatchUpAck(
            selfNode, config.nodeOf(link.site), 0, position, snapshot, nextIndex, done));
  }

  // ---- compaction -----------------------------------------------------------------------------

  /**
   * The records that stand for everything this site has persisted so far, for rewriting its log
   * file: every key's state, the retained log entries (downstream sites may still need them), then
   * the {@link SiteRecord.Checkpoint}. Lock records are not included: the caller keeps them as they
   * are. Call it only with nothing pending in {@link #ready()}, so that the checkpoint covers
   * exactly what the file holds.
   */
  public List<PersistRecord> checkpoint() {
    Check.state(out.ready().isEmpty(), "site %s checkpoint with output pending", self);
    List<PersistRecord> records = new ArrayList<>();
    List<KeyState.Entry> chunk = new ArrayList<>();
    long bytes = 0;
    for (Map.Entry<String, KeyState> key : keys.entrySet()) {
      long entryBytes = key.getKey().length() + key.getValue().sizeBytes();
      if (!chunk.isEmpty()
          && (chunk.size() >= SiteRecord.KEY_STATES_PER_RECORD_MAX
              || bytes + entryBytes > CATCH_UP_PAGE_BYTES_MAX)) {
        records.add(new SiteRecord.KeyStates(chunk).toRecord());
        chunk = new ArrayList<>();
        bytes = 0;
      }
      chunk.add(new KeyState.Entry(key.getKey(), key.getValue()));
      bytes += entryBytes;
    }
    if (!chunk.isEmpty()) {
      records.add(new SiteRecord.KeyStates(chunk).toRecord());
    }
    for (LogEntry entry : log) {
      records.add(new SiteRecord.Retained(entry.change(), entry.path()).toRecord());
    }
    TreeMap<String, Long> positions = new TreeMap<>();
    incoming.values().forEach(link -> positions.put(link.site, link.appliedThrough));
    records.add(new SiteRecord.Checkpoint(logEnd(), applied, hlc.last(), positions).toRecord());
    if (!owedCatchUps.isEmpty()) {
      records.add(new SiteRecord.CatchUpsOwed(List.copyOf(owedCatchUps)).toRecord());
    }
    return records;
  }

  /** Recovery: a checkpoint replaces everything replayed before it. */
  private void restore(
      SiteRecord.Checkpoint checkpoint, List<KeyState.Entry> staged, List<LogEntry> retained) {
    Check.state(
        retained.size() <= checkpoint.logEnd(),
        "checkpoint at %s retains %s entries",
        checkpoint.logEnd(),
        retained.size());
    keys.clear();
    staged.forEach(entry -> keys.put(entry.key(), entry.state()));
    applied = checkpoint.applied();
    log.clear();
    log.addAll(retained);
    logBase = checkpoint.logEnd() - retained.size();
    retainedBytes = 0;
    retained.forEach(entry -> retainedBytes += entry.change().sizeBytes());
    checkpoint
        .upstreamPositions()
        .forEach(
            (site, position) -> {
              Incoming link = Check.notNull(incoming.get(site), "upstream");
              link.appliedThrough = position;
              link.receivedThrough = position;
            });
  }

  // ---- home site ------------------------------------------------------------------------------

  /**
   * For conflicts=home-site: records that {@code site} is declared down (or back up), so that its
   * keys' writes go to the next site; the metadata layer or an operator decides, not this site.
   */
  public void declareDown(String site, boolean down) {
    config.nodeOf(site);
    if (down) {
      declaredDown.add(site);
    } else {
      declaredDown.remove(site);
    }
  }

  private void forward(long clientId, long requestId, String homeSite, SiteCommand.Assign assign) {
    if (forwarded.size() >= FORWARDED_WRITES_MAX) {
      metrics.increment(ConflictMetrics.WRITES_REFUSED);
      out.reply(
          new ClientReply(
              clientId, requestId, new Reply.Rejected("too many writes waiting for home sites")));
      return;
    }
    long tag = ++lastForwardTag;
    forwarded.put(tag, new ForwardedWrite(clientId, requestId, homeSite, ticks));
    out.send(
        new SiteMessage.HomeWrite(
            selfNode, config.nodeOf(homeSite), 0, tag, assign.key(), assign.value()));
  }

  private void onHomeWrite(SiteMessage.HomeWrite write) {
    Check.argument(resolver instanceof HomeSiteResolver, "home write at %s, not home-site", self);
    // Tags restart with the origin's incarnation, so the identity includes key and value: a repeat
    // of the very same write under a reused tag is the only thing this can wrongly drop.
    String identity = write.from() + "#" + write.tag() + "#" + write.key() + "#" + write.value();
    if (!recentHomeWrites.add(identity)) {
      metrics.increment(ConflictMetrics.DUPLICATES);
      return;
    }
    if (recentHomeWrites.size() > HOME_WRITES_REMEMBERED_MAX) {
      recentHomeWrites.remove(recentHomeWrites.iterator().next());
    }
    Reply reply = write(new SiteCommand.Assign(write.key(), write.value(), Optional.empty()));
    out.send(new SiteMessage.HomeWriteReply(selfNode, write.from(), 0, write.tag(), reply));
  }

  private void onHomeWriteReply(SiteMessage.HomeWriteReply reply) {
    ForwardedWrite waiting = forwarded.remove(reply.tag());
    if (waiting != null) {
      out.reply(new ClientReply(waiting.clientId(), waiting.requestId(), reply.reply()));
    }
  }

  private void expireForwardedWrites() {
    for (Map.Entry<Long, ForwardedWrite> entry : List.copyOf(forwarded.entrySet())) {
      ForwardedWrite waiting = entry.getValue();
      if (ticks - waiting.sentTick() >= HOME_WRITE_TIMEOUT_TICKS) {
        forwarded.remove(entry.getKey());
        out.reply(
            new ClientReply(
                waiting.clientId(),
                waiting.requestId(),
                new Reply.Uncertain(
                    "home site "
                        + waiting.homeSite()
                        + " did not answer; the write may still apply")));
      }
    }
  }

  // ---- lock protocol ------------------------------------------------------------------------

  private SiteLocks lockProtocol() {
    Check.argument(locks != null, "lock message at %s, whose keyspace is not conflicts=lock", self);
    return locks;
  }

  /** The lock protocol's view of this site. */
  private final class LockHost implements SiteLocks.Host {
    @Override
    public long ticks() {
      return ticks;
    }

    @Override
    public VersionVector applied() {
      return applied;
    }

    @Override
    public void persist(SiteRecord record) {
      out.persist(record.toRecord(), true);
    }

    @Override
    public void send(SiteMessage message) {
      if (message.to() == selfNode) {
        step(message);
      } else {
        out.send(message);
      }
    }

    @Override
    public Reply writeUnderLock(SiteCommand.Assign command, long fencingToken) {
      return write(command, fencingToken);
    }

    @Override
    public void reply(long clientId, long requestId, Reply reply) {
      out.reply(new ClientReply(clientId, requestId, reply));
    }

    @Override
    public ConflictMetrics metrics() {
      return metrics;
    }
  }

  /** For conflicts=lock: the keys whose lock this site holds as lock site, with their holders. */
  public SortedMap<String, String> heldLocks() {
    return locks == null ? new TreeMap<>() : new TreeMap<>(locks.heldLocks());
  }

  // ---- observation ---------------------------------------------------------------------------

  /** This site's id. */
  public String site() {
    return self;
  }

  /** Every change applied here, as a version vector. */
  public VersionVector versionVector() {
    return applied;
  }

  /** Changes in this site's log (applied here, local or received). */
  public long logSize() {
    return logEnd();
  }

  /** Changes still held in memory for downstream sites that have not acknowledged them. */
  public int keptLogChanges() {
    return log.size();
  }

  /** Approximate change bytes held in memory for downstream sites. */
  public long retainedBytes() {
    return retainedBytes;
  }

  /** The retention bounds of this replica. */
  public Retention retention() {
    return retention;
  }

  /**
   * Catch-ups under way, by downstream site: {@code sent/acked/total} keys and the position the
   * snapshot stands for; empty when no link is catching up.
   */
  public SortedMap<String, String> catchUpProgress() {
    TreeMap<String, String> progress = new TreeMap<>();
    for (Outgoing link : outgoing.values()) {
      CatchUp catchUp = link.catchUp;
      if (catchUp != null) {
        progress.put(
            link.site,
            "position="
                + catchUp.position
                + ",keys_sent="
                + catchUp.sentIndex
                + ",keys_acked="
                + catchUp.ackedIndex
                + ",keys="
                + catchUp.entries.size());
      }
    }
    return progress;
  }

  /** Changes waiting in the causal buffer. */
  /** Changes waiting in the causal buffer. */
  public int causalBufferSize() {
    return buffer.size();
  }

  /** Conflict and replication counters of this site. */
  public ConflictMetrics metrics() {
    return metrics;
  }

  /** Lag of every outgoing link, by downstream site. */
  public SortedMap<String, LinkLag> lag() {
    TreeMap<String, LinkLag> lags = new TreeMap<>();
    outgoing.values().forEach(link -> lags.put(link.site, lagOf(link)));
    return lags;
  }

  private LinkLag lagOf(Outgoing link) {
    long changes = 0;
    long bytes = 0;
    long oldestTick = ticks;
    for (long position = Math.max(logBase, link.ackedThrough) + 1;
        position <= logEnd();
        position++) {
      LogEntry entry = entryAt(position);
      if (carries(entry, link.site)) {
        changes++;
        bytes += entry.change().sizeBytes();
        oldestTick = Math.min(oldestTick, entry.appendedTick());
      }
    }
    return new LinkLag(
        link.site, changes, bytes, changes == 0 ? 0 : ticks - oldestTick, link.ackedThrough >= 0);
  }

  /**
   * How far this site is behind each upstream site, as far as it knows: positions of the upstream
   * site's log that a batch or probe has announced and this site has not applied. Positions the
   * link skips (changes that passed this site already) count too, so this bounds the changes still
   * to come from above; it is 0 once caught up, and it cannot see changes made upstream since the
   * last batch or probe arrived (while a link is down, nothing arrives).
   */
  public SortedMap<String, Long> inboundLag() {
    TreeMap<String, Long> lags = new TreeMap<>();
    incoming
        .values()
        .forEach(
            link -> lags.put(link.site, Math.max(0, link.announcedThrough - link.appliedThrough)));
    return lags;
  }

  /** Every key's read, for convergence checks and admin listings. */
  public SortedMap<String, List<String>> visibleState() {
    TreeMap<String, List<String>> state = new TreeMap<>();
    keys.forEach((key, value) -> state.put(key, resolver.read(value).values()));
    return state;
  }

  /** The raw state of {@code key}: live versions with their dots, and the context. */
  public KeyState keyState(String key) {
    return keys.getOrDefault(key, KeyState.EMPTY);
  }
}
