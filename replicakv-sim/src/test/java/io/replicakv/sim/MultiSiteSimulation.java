package io.replicakv.sim;

import io.replicakv.core.Envelope;
import io.replicakv.core.PersistRecord;
import io.replicakv.core.Ready;
import io.replicakv.core.causal.Dot;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.multi.Change;
import io.replicakv.core.multi.ConflictResolver;
import io.replicakv.core.multi.MultiLeaderConfig;
import io.replicakv.core.multi.SiteCommand;
import io.replicakv.core.multi.SiteRead;
import io.replicakv.core.multi.SiteRecord;
import io.replicakv.core.multi.SiteReplica;
import io.replicakv.core.quorum.Topology;
import io.replicakv.core.util.Check;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * A deterministic simulation of multi-leader sites ({@link SiteReplica}) under link outages, site
 * crashes, message loss, duplication and reordering, and clock skew and jumps.
 *
 * <p>Model. One event queue ordered by (simulated ms, scheduling sequence) and one {@link Prng}
 * seeded from the run's seed fix the whole run. Each site is driven as the server would drive it:
 * step or tick, then persist its Ready's records to its {@link SimDisk} (syncing when asked), send
 * its messages, take its replies, advance. A crash keeps what the disk kept; a restart builds a new
 * replica from it. Clients write at random up sites during the workload phase; then every link is
 * restored, every site restarted and the network made reliable for the quiet phase, after which
 * {@link MultiSiteCheckers} judge the run from what the harness saw from outside the replicas: the
 * records each site persisted (its apply order), the messages delivered, and the final reads.
 */
final class MultiSiteSimulation {
  /** Events one run may process. */
  static final long EVENTS_MAX = 5_000_000;

  /** The three sites of every run; s0 is the star hub. */
  static final List<String> SITES = List.of("s0", "s1", "s2");

  /** What a client does at each write. */
  enum Workload {
    /** Blind SET of unique values over a few keys. */
    REGISTER,
    /** Mostly read-then-SET with the read's context; some blind SETs. */
    READ_MODIFY_WRITE,
    /**
     * READ_MODIFY_WRITE with one write in four a DEL (with the read's context, or blind: covering
     * what the site holds), so tombstones meet concurrent writes across link outages.
     */
    REGISTER_WITH_DELETES,
    /** Blind SET of unique integers (merge:max, merge:sum). */
    INTEGERS,
    /** Blind SET of one-element sets (merge:union). */
    SET_ELEMENTS,
    /** INCRBY on a counter, SADD/SREM on a set, HSET/HDEL/HINCRBY on a hash (crdt). */
    CRDT_COMMANDS
  }

  /**
   * One run's shape.
   *
   * @param name stable scenario name for replay commands
   * @param topology the sites' topology
   * @param resolver builds the conflict resolver (one per site incarnation)
   * @param defects broken variants, {@link MultiLeaderConfig.Defects#NONE} for correct runs
   * @param workload what clients write
   * @param keyCount keys the workload touches
   * @param workloadMillis how long clients write and the nemesis acts
   * @param quietMillis after the workload: faults repaired, sites catch up
   * @param writeIntervalMillisMax a write happens every [1, max] ms
   * @param faults whether the nemesis cuts links, crashes sites and jumps clocks
   * @param clockSkewMillisMax each site's clock offset is drawn in [-max, max]
   */
  record Config(
      String name,
      Topology topology,
      Supplier<ConflictResolver> resolver,
      MultiLeaderConfig.Defects defects,
      Workload workload,
      int keyCount,
      long workloadMillis,
      long quietMillis,
      long writeIntervalMillisMax,
      boolean faults,
      long clockSkewMillisMax,
      SiteReplica.Retention retention) {
    /** A run with the default site-log retention (which no run here reaches). */
    Config(
        String name,
        Topology topology,
        Supplier<ConflictResolver> resolver,
        MultiLeaderConfig.Defects defects,
        Workload workload,
        int keyCount,
        long workloadMillis,
        long quietMillis,
        long writeIntervalMillisMax,
        boolean faults,
        long clockSkewMillisMax) {
      this(
          name,
          topology,
          resolver,
          defects,
          workload,
          keyCount,
          workloadMillis,
          quietMillis,
          writeIntervalMillisMax,
          faults,
          clockSkewMillisMax,
          SiteReplica.Retention.DEFAULT);
    }

    /** The same run keeping at most {@code retention} of each site log for linked sites. */
    Config withRetention(String newName, SiteReplica.Retention newRetention) {
      return new Config(
          newName,
          topology,
          resolver,
          defects,
          workload,
          keyCount,
          workloadMillis,
          quietMillis,
          writeIntervalMillisMax,
          faults,
          clockSkewMillisMax,
          newRetention);
    }
  }

  /**
   * A full-state catch-up a site joined after {@code appliedIndex} of its applied changes: every
   * dot of {@code applied} counts as applied from there on.
   */
  record CatchUpAt(int appliedIndex, io.replicakv.core.causal.VersionVector applied) {}

  /** A client write as the harness saw it acknowledged: the change its site created. */
  record Write(String site, Change change, SiteCommand command) {}

  /** Everything the checkers look at after a run. */
  record Run(
      long seed,
      Config config,
      List<Write> writes,
      Map<String, List<SiteRecord.Applied>> appliedOrder,
      Map<String, List<CatchUpAt>> catchUps,
      Map<String, SiteReplica> finalSites,
      long loopDeliveries,
      Map<String, Long> counters,
      Optional<String> exception,
      List<String> traceTail) {}

  private sealed interface Event {}

  private record Deliver(String site, PeerMessage message) implements Event {}

  private record Tick(String site, long incarnation) implements Event {}

  private record ClientWrite() implements Event {}

  private record Nemesis() implements Event {}

  private record Crash(String site) implements Event {}

  private record Restart(String site) implements Event {}

  private record Restore(String a, String b) implements Event {}

  private record EndWorkload() implements Event {}

  /** The metadata layer declares a site down (or up again), as home-site routing needs. */
  private record Declare(String site, boolean down) implements Event {}

  private record Scheduled(long timeMillis, long sequence, Event event) {}

  private static final long TICK_MILLIS = 10;
  private static final long NEMESIS_INTERVAL_MILLIS = 100;
  private static final int TRACE_TAIL_LINES = 40;

  /** How long the simulated metadata layer takes to declare a crashed site down. */
  private static final long DECLARE_DOWN_AFTER_MILLIS = 50;

  private static final class Site {
    final String id;
    final SimDisk disk = new SimDisk(0.5);
    SimClock clock;
    SiteReplica replica;
    long incarnation;

    Site(String id) {
      this.id = id;
    }
  }

  private final long seed;
  private final Config config;
  private final MultiLeaderConfig multiConfig;
  private final Prng prng;
  private final PriorityQueue<Scheduled> queue =
      new PriorityQueue<>(
          Comparator.comparingLong(Scheduled::timeMillis).thenComparingLong(Scheduled::sequence));
  private final Map<String, Site> sites = new LinkedHashMap<>();
  private final Set<String> cutLinks = new HashSet<>();
  private final Set<String> declaredDown = new java.util.TreeSet<>();
  private final List<Write> writes = new ArrayList<>();
  private final Map<String, List<SiteRecord.Applied>> appliedOrder = new TreeMap<>();
  private final Map<String, List<CatchUpAt>> catchUps = new TreeMap<>();
  private final Map<String, Long> counters = new TreeMap<>();
  private final java.util.ArrayDeque<String> trace = new java.util.ArrayDeque<>();
  private long loopDeliveries;
  private long nowMillis;
  private long sequence;
  private boolean workloadOver;
  private long requestIds;
  private SiteCommand submitting;

  MultiSiteSimulation(long seed, Config config) {
    this.seed = seed;
    this.config = config;
    this.prng = new Prng(seed);
    this.multiConfig =
        new MultiLeaderConfig(
            SITES, config.topology(), SITES.get(0), config.resolver().get(), config.defects());
    for (String id : SITES) {
      Site site = new Site(id);
      long offset = prng.between(-config.clockSkewMillisMax(), config.clockSkewMillisMax());
      double driftPpm = (prng.nextDouble() * 2 - 1) * 200;
      site.clock = new SimClock(() -> nowMillis, offset, driftPpm);
      sites.put(id, site);
      appliedOrder.put(id, new ArrayList<>());
      catchUps.put(id, new ArrayList<>());
    }
  }

  Run run() {
    Optional<String> exception = Optional.empty();
    try {
      for (Site site : sites.values()) {
        start(site);
      }
      schedule(prng.between(1, config.writeIntervalMillisMax()), new ClientWrite());
      if (config.faults()) {
        schedule(NEMESIS_INTERVAL_MILLIS, new Nemesis());
      }
      schedule(config.workloadMillis(), new EndWorkload());
      long end = config.workloadMillis() + config.quietMillis();
      long events = 0;
      while (!queue.isEmpty() && queue.peek().timeMillis() <= end) {
        Scheduled next = queue.poll();
        nowMillis = next.timeMillis();
        Check.state(++events <= EVENTS_MAX, "run over %s events", EVENTS_MAX);
        handle(next.event());
      }
    } catch (RuntimeException e) {
      StringWriter stack = new StringWriter();
      e.printStackTrace(new PrintWriter(stack));
      exception = Optional.of("at " + nowMillis + " ms: " + stack);
    }
    Map<String, SiteReplica> finals = new TreeMap<>();
    sites.forEach((id, site) -> finals.put(id, site.replica));
    return new Run(
        seed,
        config,
        List.copyOf(writes),
        appliedOrder,
        catchUps,
        finals,
        loopDeliveries,
        counters,
        exception,
        List.copyOf(trace));
  }

  private void handle(Event event) {
    switch (event) {
      case Deliver deliver -> onDeliver(deliver);
      case Tick tick -> onTick(tick);
      case ClientWrite write -> onClientWrite();
      case Nemesis nemesis -> onNemesis();
      case Crash crash -> crash(sites.get(crash.site()));
      case Restart restart -> {
        Site site = sites.get(restart.site());
        if (site.replica == null) {
          start(site);
        }
      }
      case Restore restore -> {
        cutLinks.remove(restore.a() + ">" + restore.b());
        cutLinks.remove(restore.b() + ">" + restore.a());
        line("restore " + restore.a() + "-" + restore.b());
      }
      case EndWorkload end -> endWorkload();
      case Declare declare -> declare(declare);
    }
  }

  private void start(Site site) {
    site.replica =
        new SiteReplica(multiConfig, site.id, site.clock, site.disk.recover(), config.retention());
    site.incarnation++;
    declaredDown.forEach(down -> site.replica.declareDown(down, true));
    if (declaredDown.contains(site.id)) {
      schedule(nowMillis, new Declare(site.id, false));
    }
    count("starts");
    line("start " + site.id + " incarnation " + site.incarnation);
    schedule(nowMillis + prng.between(1, TICK_MILLIS), new Tick(site.id, site.incarnation));
    drain(site);
  }

  private void crash(Site site) {
    if (site.replica == null) {
      return;
    }
    String disk = site.disk.crash(prng);
    site.replica = null;
    count("crashes");
    line("crash " + site.id + " disk " + disk);
    schedule(nowMillis + prng.between(100, 600), new Restart(site.id));
    schedule(nowMillis + DECLARE_DOWN_AFTER_MILLIS, new Declare(site.id, true));
  }

  private void onTick(Tick tick) {
    Site site = sites.get(tick.site());
    if (site.replica == null || tick.incarnation() != site.incarnation) {
      return;
    }
    site.replica.tick();
    drain(site);
    schedule(nowMillis + TICK_MILLIS, new Tick(site.id, site.incarnation));
  }

  private void onDeliver(Deliver deliver) {
    Site site = sites.get(deliver.site());
    if (site.replica == null) {
      return;
    }
    if (deliver.message() instanceof SiteMessage.Changes changes) {
      for (SiteMessage.Entry entry : changes.entries()) {
        count("change deliveries");
        if (entry.path().contains(site.id)) {
          loopDeliveries++;
        }
      }
    }
    site.replica.step(deliver.message());
    drain(site);
  }

  private void drain(Site site) {
    for (Ready ready = site.replica.ready(); !ready.isEmpty(); ready = site.replica.ready()) {
      for (PersistRecord record : ready.records()) {
        site.disk.append(record);
        SiteRecord decoded = SiteRecord.fromRecord(record);
        if (decoded instanceof SiteRecord.CatchUpJoined joined) {
          catchUps
              .get(site.id)
              .add(new CatchUpAt(appliedOrder.get(site.id).size(), joined.applied()));
          count("catch-ups joined");
        }
        if (decoded instanceof SiteRecord.Applied applied) {
          appliedOrder.get(site.id).add(applied);
          if (applied.path().size() == 1) {
            writes.add(new Write(site.id, applied.change(), commandOf(applied.change())));
          }
        }
      }
      if (ready.syncBeforeSend()) {
        site.disk.sync();
      }
      for (Envelope envelope : ready.messages()) {
        send(site.id, envelope.message());
      }
      for (ClientReply reply : ready.replies()) {
        count(reply.reply().getClass().getSimpleName());
      }
      site.replica.advance(ready);
    }
  }

  private void send(String from, PeerMessage message) {
    String to = SITES.get(message.to());
    count("messages sent");
    if (cutLinks.contains(from + ">" + to)) {
      return;
    }
    if (!workloadOver && prng.chance(0.03)) {
      count("messages lost");
      return;
    }
    int copies = !workloadOver && prng.chance(0.02) ? 2 : 1;
    for (int i = 0; i < copies; i++) {
      schedule(nowMillis + prng.between(5, 60), new Deliver(to, message));
    }
  }

  private void onClientWrite() {
    if (workloadOver) {
      return;
    }
    List<Site> up = sites.values().stream().filter(s -> s.replica != null).toList();
    if (!up.isEmpty()) {
      Site site = prng.pick(up);
      SiteCommand command = nextCommand(site);
      submitting = command;
      site.replica.submit(1, requestIds++, command);
      drain(site);
      submitting = null;
    }
    schedule(nowMillis + prng.between(1, config.writeIntervalMillisMax()), new ClientWrite());
  }

  /**
   * The command behind a local change: the one being submitted, or (for writes completed later,
   * under a lock) the assignment the change carries.
   */
  private SiteCommand commandOf(Change change) {
    if (submitting != null) {
      return submitting;
    }
    Check.state(
        change.mutation() instanceof io.replicakv.core.multi.Mutation.Assign,
        "late local write %s is not an assignment",
        change.dot());
    String value = ((io.replicakv.core.multi.Mutation.Assign) change.mutation()).value();
    return new SiteCommand.Assign(change.key(), value, Optional.empty());
  }

  private SiteCommand nextCommand(Site site) {
    String key = "k" + prng.nextInt(config.keyCount());
    String unique = site.id + "-" + writes.size();
    return switch (config.workload()) {
      case REGISTER -> new SiteCommand.Assign(key, unique, Optional.empty());
      case READ_MODIFY_WRITE -> {
        if (prng.chance(0.3)) {
          yield new SiteCommand.Assign(key, unique, Optional.empty());
        }
        SiteRead read = site.replica.read(key);
        yield new SiteCommand.Assign(key, unique, Optional.of(read.context()));
      }
      case REGISTER_WITH_DELETES -> {
        SiteRead read = site.replica.read(key);
        Optional<io.replicakv.core.causal.VersionVector> context =
            prng.chance(0.5) ? Optional.of(read.context()) : Optional.empty();
        yield prng.chance(0.25)
            ? new SiteCommand.Delete(key, context)
            : new SiteCommand.Assign(key, unique, context);
      }
      case INTEGERS ->
          new SiteCommand.Assign(key, Long.toString(prng.between(-1000, 1000)), Optional.empty());
      case SET_ELEMENTS -> new SiteCommand.Assign(key, "e" + prng.nextInt(50), Optional.empty());
      case CRDT_COMMANDS ->
          switch (prng.nextInt(4)) {
            case 0, 1 -> new SiteCommand.Increment("counter", prng.between(-5, 10));
            case 2 -> new SiteCommand.SetMember("set", "e" + prng.nextInt(6), prng.chance(0.6));
            default ->
                prng.chance(0.5)
                    ? new SiteCommand.MapIncrement(
                        "hash", "f" + prng.nextInt(3), prng.between(1, 5))
                    : new SiteCommand.MapField(
                        "hash",
                        "g" + prng.nextInt(3),
                        prng.chance(0.7) ? Optional.of(unique) : Optional.empty());
          };
    };
  }

  private void onNemesis() {
    if (workloadOver) {
      return;
    }
    if (prng.chance(0.3)) {
      String a = prng.pick(SITES);
      String b = prng.pick(SITES.stream().filter(s -> !s.equals(a)).toList());
      cutLinks.add(a + ">" + b);
      cutLinks.add(b + ">" + a);
      count("link cuts");
      line("cut " + a + "-" + b);
      schedule(nowMillis + prng.between(50, 800), new Restore(a, b));
    }
    if (prng.chance(0.1)) {
      schedule(nowMillis, new Crash(prng.pick(SITES)));
    }
    if (prng.chance(0.1)) {
      Site site = sites.get(prng.pick(SITES));
      long delta = prng.between(-300, 300);
      site.clock.jump(delta);
      line("clock jump " + site.id + " " + delta);
    }
    schedule(nowMillis + NEMESIS_INTERVAL_MILLIS, new Nemesis());
  }

  private void declare(Declare declare) {
    Site target = sites.get(declare.site());
    if (declare.down() && target.replica != null) {
      return;
    }
    boolean changed =
        declare.down() ? declaredDown.add(declare.site()) : declaredDown.remove(declare.site());
    if (!changed) {
      return;
    }
    count(declare.down() ? "declared down" : "declared up");
    line("declare " + declare.site() + (declare.down() ? " down" : " up"));
    for (Site site : sites.values()) {
      if (site.replica != null) {
        site.replica.declareDown(declare.site(), declare.down());
      }
    }
  }

  private void endWorkload() {
    workloadOver = true;
    cutLinks.clear();
    line("end of workload: links restored, sites restarted");
    for (Site site : sites.values()) {
      if (site.replica == null) {
        start(site);
      }
    }
  }

  private void schedule(long atMillis, Event event) {
    queue.add(new Scheduled(atMillis, sequence++, event));
  }

  private void count(String name) {
    counters.merge(name, 1L, Long::sum);
  }

  private void line(String text) {
    if (trace.size() == TRACE_TAIL_LINES) {
      trace.removeFirst();
    }
    trace.addLast(nowMillis + " ms " + text);
  }

  /** Dots of every acknowledged write. */
  static Set<Dot> dots(List<Write> writes) {
    Set<Dot> dots = new HashSet<>();
    writes.forEach(write -> dots.add(write.change().dot()));
    return dots;
  }

  /** True when some other write's key context covers {@code write}. */
  static boolean covered(Write write, List<Write> sameKey) {
    return sameKey.stream()
        .anyMatch(
            other -> other != write && other.change().keyContext().contains(write.change().dot()));
  }

  /** The version vector of all acknowledged writes. */
  static VersionVector allWrites(List<Write> writes) {
    VersionVector all = VersionVector.EMPTY;
    for (Write write : writes) {
      all = all.with(write.change().dot());
    }
    return all;
  }
}
