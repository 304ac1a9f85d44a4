package io.replicakv.server.multi;

import io.replicakv.core.PhysicalClock;
import io.replicakv.core.multi.ConflictResolver;
import io.replicakv.core.multi.CrdtResolver;
import io.replicakv.core.multi.HomeSiteResolver;
import io.replicakv.core.multi.LockResolver;
import io.replicakv.core.multi.LwwResolver;
import io.replicakv.core.multi.MergeFunction;
import io.replicakv.core.multi.MergeFunctionRefusedException;
import io.replicakv.core.multi.MergeFunctions;
import io.replicakv.core.multi.MergeResolver;
import io.replicakv.core.multi.MultiLeaderConfig;
import io.replicakv.core.multi.SiblingsResolver;
import io.replicakv.core.quorum.ConflictStrategy;
import io.replicakv.core.quorum.KeyspaceConfig;
import io.replicakv.core.quorum.Style;
import io.replicakv.core.quorum.Topology;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.FrameHandler;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.KeyspaceEntry;
import io.replicakv.server.cluster.MetadataChange;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The multi-leader keyspaces of this site: one {@link SiteService} per keyspace whose style is
 * {@code multi-leader} in the site's metadata, the links to other sites ({@link SiteLinks}) and the
 * peer frames between sites.
 *
 * <p><b>Sites of one node or several.</b> On a site of one node that node holds every key of the
 * keyspace and runs its site replica. On a site of several nodes ({@link #enableGateways}) one node
 * per keyspace, the <em>gateway</em> elected through the site's metadata, runs the replica and
 * copies its site log to the other nodes, which forward the keyspace's commands and the link frames
 * they receive to it ({@link SiteGateways}, {@link SiteLogShipper}, {@link SiteLogCopy}).
 *
 * <p><b>Creating a keyspace on every site.</b> {@code KEYSPACE CREATE name style multi-leader ...}
 * at one site creates it in that site's metadata; when this node first serves it, the keyspace's
 * site list is fixed as this site plus its linked sites (sorted) and the keyspace is announced over
 * every link ({@link #TYPE_SITE_ANNOUNCE}: name, sites, conflicts, topology, hub). A site that
 * receives an announcement creates the same keyspace in its own metadata with the same options and
 * site list, or, when it already has it, checks that they agree and answers with the difference.
 * Announcements are resent every {@link #ANNOUNCE_RETRY_MILLIS} until each site has answered, and
 * again after every start, so a site that was down at creation learns of it when it returns.
 * Keyspaces are matched across sites by name; each site numbers its own.
 *
 * <p><b>Frames.</b> {@link #TYPE_SITE_MESSAGES} carries a {@link SiteLinkCodec} frame, answered by
 * an empty {@link #TYPE_SITE_MESSAGES_ACK}; the core treats a lost frame as a lost message and
 * resends from positions, so failures are only counted. An item whose keyspace this site does not
 * serve yet, or whose site list differs from this site's, is dropped and counted.
 *
 * <p>Files: {@code data-dir/multi/<keyspace>.log} (site records), {@code
 * data-dir/multi/<keyspace>.sites} (the fixed site list), {@code data-dir/multi/<keyspace>.dropped}
 * (KEYSPACE DROP happened here), {@code data-dir/multi/site-links}.
 *
 * <p><b>ALTER and DROP.</b> The metadata refuses to alter a multi-leader keyspace's conflicts,
 * topology or hub ({@code ClusterView}); a drop stops the service and deletes the keyspace's files
 * ({@link #dropGone}). A keyspace dropped while this node was down keeps its files until it is
 * dropped again by hand: at start-up a missing keyspace cannot be told from a view not caught up.
 */
public final class SiteKeyspaces implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SiteKeyspaces.class);

  /** Peer frame type carrying a {@link SiteLinkCodec} messages frame. */
  public static final int TYPE_SITE_MESSAGES = 28;

  /** Reply to {@link #TYPE_SITE_MESSAGES}: empty, means only "received". */
  public static final int TYPE_SITE_MESSAGES_ACK = 29;

  /** Peer frame type announcing a multi-leader keyspace to a linked site. */
  public static final int TYPE_SITE_ANNOUNCE = 30;

  /** Reply to {@link #TYPE_SITE_ANNOUNCE}: UTF-8 text, empty when the site has the keyspace. */
  public static final int TYPE_SITE_ANNOUNCE_REPLY = 31;

  /**
   * Start of an announcement reply when the receiving site could not create the keyspace for a
   * reason that may pass (its metadata unavailable): the announcing site asks again.
   */
  static final String CANNOT_CREATE = "cannot create it: ";

  /** How often an unanswered keyspace announcement is sent again. */
  public static final long ANNOUNCE_RETRY_MILLIS = 2_000;

  /** Seed of the merge-law check a user merge function passes before it is used. */
  static final long MERGE_CHECK_SEED = 20_261_201L;

  private static final Pattern FILE_SAFE = Pattern.compile("[A-Za-z0-9_.-]{1,128}");

  private final SiteLinks links;
  private final Path dir;
  private final PeerClient peers;
  private final ScheduledExecutorService loop;
  private final PhysicalClock clock;
  private final Function<MetadataChange, CompletableFuture<ClusterView>> proposer;
  private final MergeFunctions mergeFunctions = new MergeFunctions();
  private final Map<Integer, SiteService> services = new ConcurrentHashMap<>();
  private final Map<String, SiteService> byName = new ConcurrentHashMap<>();
  private final Map<Integer, String> refusals = new ConcurrentHashMap<>();
  private final Map<String, List<String>> pendingSites = new ConcurrentHashMap<>();

  /** keyspace name -> sites that have not answered its announcement yet. */
  private final Map<String, java.util.Set<String>> unannounced = new ConcurrentHashMap<>();

  private volatile ClusterView latest;

  /** How much of each site log stays in memory for linked sites (settings, or the default). */
  private volatile io.replicakv.core.multi.SiteReplica.Retention retention =
      io.replicakv.core.multi.SiteReplica.Retention.DEFAULT;

  private volatile long compactionRecordsMin = SiteService.COMPACTION_RECORDS_MIN;

  /** Gateways on a site of several nodes; null when none is configured (tests, one node). */
  private volatile SiteGateways gateways;

  private final java.util.concurrent.ScheduledFuture<?> announcer;
  private final AtomicLong framesSendFailed = new AtomicLong();
  private final AtomicLong itemsRefused = new AtomicLong();
  private final AtomicLong announcesRefused = new AtomicLong();
  private final AtomicLong itemsRelayed = new AtomicLong();

  /** Per linked site: which of its addresses this node sends to now (moves on after a failure). */
  private final Map<String, java.util.concurrent.atomic.AtomicInteger> linkAddress =
      new ConcurrentHashMap<>();

  /**
   * @param proposer proposes a change to this site's metadata (creating announced keyspaces)
   */
  public SiteKeyspaces(
      SiteLinks links,
      Path dataDir,
      PeerClient peers,
      ScheduledExecutorService loop,
      PhysicalClock clock,
      Function<MetadataChange, CompletableFuture<ClusterView>> proposer) {
    this.links = links;
    this.dir = dataDir.resolve("multi");
    this.peers = peers;
    this.loop = loop;
    this.clock = clock;
    this.proposer = proposer;
    this.announcer =
        loop.scheduleWithFixedDelay(
            this::announceAll, ANNOUNCE_RETRY_MILLIS, ANNOUNCE_RETRY_MILLIS, TimeUnit.MILLISECONDS);
  }

  /**
   * Lets this node serve multi-leader keyspaces on a site of several nodes, through a gateway per
   * keyspace ({@link SiteGateways}).
   *
   * @param selfId this node's member id
   * @param siteAcks other nodes of the site that must hold a record before its write is answered
   * @param failoverTimeoutMillis a follower silent this long no longer counts as in sync
   * @param routes peer addresses of the members
   * @param actsForCluster whether this node acts for the cluster now (it elects gateways)
   */
  public void enableGateways(
      String selfId,
      int siteAcks,
      long failoverTimeoutMillis,
      io.replicakv.server.route.PeerRoutes routes,
      java.util.function.BooleanSupplier actsForCluster) {
    this.gateways =
        new SiteGateways(
            selfId,
            siteAcks,
            failoverTimeoutMillis,
            peers,
            routes,
            dir,
            this,
            actsForCluster,
            proposer,
            System::currentTimeMillis);
    ClusterView view = latest;
    if (view != null) {
      gateways.onView(view);
    }
  }

  /**
   * Sets the site log retention of keyspaces started from now on ({@code site-log-retention-*}
   * settings) and how much a site log file grows before it is compacted.
   */
  public void retention(
      io.replicakv.core.multi.SiteReplica.Retention retention, long compactionRecordsMin) {
    this.retention = retention;
    this.compactionRecordsMin = compactionRecordsMin;
  }

  /** Builds a gateway's shipper once its site list is known. */
  interface GatewayShippers {
    SiteLogShipper create(
        List<String> sites,
        List<io.replicakv.core.PersistRecord> recovered,
        java.util.concurrent.Executor loopInput);
  }

  /** Whether {@code name} can be a multi-leader keyspace's file name here (not dropped). */
  boolean servable(String name) {
    return FILE_SAFE.matcher(name).matches() && !wasDropped(name);
  }

  /** Starts keyspace {@code entry}'s service as the site's gateway (called by the gateways). */
  synchronized void startGateway(KeyspaceEntry entry, GatewayShippers shippers) {
    if (services.containsKey(entry.number())) {
      stopServing(entry.name());
    }
    start(entry, shippers);
    refusals.remove(entry.number());
  }

  /** Stops serving keyspace {@code name} here (another node is its gateway); keeps its files. */
  synchronized void stopServing(String name) {
    SiteService service = byName.remove(name);
    if (service == null) {
      return;
    }
    services.values().remove(service);
    unannounced.remove(name);
    service.close();
  }

  /**
   * Forwards a command on keyspace {@code keyspace} to the site's gateway when another node is the
   * gateway; null when this node should answer it.
   */
  public CompletableFuture<byte[]> forwardToGateway(
      int keyspace, int protocol, io.replicakv.net.resp.RespRequest request, int hops) {
    SiteGateways g = gateways;
    io.replicakv.server.cluster.Member gateway = g == null ? null : g.remoteGateway(keyspace);
    if (gateway == null || services.containsKey(keyspace)) {
      return null;
    }
    if (hops >= io.replicakv.server.route.ForwardCodec.HOPS_MAX) {
      return CompletableFuture.failedFuture(
          new IllegalStateException(
              "TRYAGAIN the gateway of keyspace " + keyspace + " moved while forwarding"));
    }
    io.replicakv.server.route.PeerRoutes.Address address = g.addressOf(gateway.id());
    byte[] payload =
        io.replicakv.server.route.ForwardCodec.encode(keyspace, protocol, request, hops + 1);
    return peers
        .request(
            address.host(),
            address.port(),
            Frame.of(io.replicakv.server.route.ForwardCodec.TYPE_FORWARD, payload))
        .thenApply(
            reply -> {
              if (reply.isError()) {
                throw new IllegalStateException(reply.payloadText());
              }
              return reply.payload();
            });
  }

  /** This node's gateway role for keyspace {@code number}, for SITE INFO; null on one node. */
  String gatewayLine(KeyspaceEntry entry) {
    SiteGateways g = gateways;
    ClusterView view = latest;
    if (g == null || !SiteGateways.multiNode(view)) {
      return null;
    }
    ClusterView.PartitionState record = g.gateway(entry.number());
    String copy = byName.containsKey(entry.name()) ? "serving" : g.copyState(entry.name());
    return entry.name()
        + ",gateway="
        + (record == null ? "none" : record.leader())
        + ",epoch="
        + (record == null ? 0 : record.epoch())
        + ",here="
        + copy;
  }

  /** The newest metadata view seen, or null. */
  ClusterView view() {
    return latest;
  }

  /** The site links file under {@code dataDir}. */
  public static Path linksFile(Path dataDir) {
    return dataDir.resolve("multi").resolve("site-links");
  }

  /** This site's links. */
  public SiteLinks links() {
    return links;
  }

  /**
   * Starts a service for every multi-leader keyspace of {@code view} not yet served, and stops and
   * deletes the ones {@code view} no longer holds (KEYSPACE DROP).
   */
  public synchronized void onView(ClusterView view) {
    if (latest == null || view.version() >= latest.version()) {
      latest = view;
      dropGone(view);
    }
    for (KeyspaceEntry entry : view.keyspaces().values()) {
      if (entry.config().style() != Style.MULTI_LEADER || services.containsKey(entry.number())) {
        continue;
      }
      if (view.members().size() > 1) {
        if (gateways == null) {
          refuse(
              entry,
              "this site has "
                  + view.members().size()
                  + " nodes and gateways are not enabled on this node");
        }
        continue; // the gateways decide which node serves it
      }
      try {
        start(entry, null);
        refusals.remove(entry.number());
      } catch (RuntimeException e) {
        refuse(entry, e.getMessage());
      }
    }
    viewToGateways(view);
  }

  /**
   * KEYSPACE DROP: a served keyspace whose number is gone from {@code view} (or now names another
   * keyspace) stops; its site log, site list and snapshot are deleted and a {@code .dropped} marker
   * is left, so link frames and announcements for it are refused (and logged) instead of bringing
   * it back. Creating it again at this site removes the marker.
   */
  private void dropGone(ClusterView view) {
    for (Map.Entry<Integer, SiteService> served : List.copyOf(services.entrySet())) {
      KeyspaceEntry entry = view.keyspaces().get(served.getKey());
      String name = served.getValue().keyspace();
      if (entry != null
          && entry.name().equals(name)
          && entry.config().style() == Style.MULTI_LEADER) {
        continue;
      }
      services.remove(served.getKey());
      byName.remove(name);
      unannounced.remove(name);
      served.getValue().close();
      try {
        Files.createDirectories(dir);
        Files.writeString(
            droppedFile(name), "dropped at metadata version " + view.version() + "\n");
        for (Path file : keyspaceFiles(name)) {
          Files.deleteIfExists(file);
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot delete the files of dropped keyspace " + name, e);
      }
      log.info(
          "multi-leader keyspace {} dropped: site service stopped, site log and state deleted;"
              + " link frames for it are refused from now on",
          name);
    }
    refusals.keySet().removeIf(number -> !view.keyspaces().containsKey(number));
  }

  /** After {@link #onView}: the gateways see the view too (outside this object's lock). */
  private void viewToGateways(ClusterView view) {
    SiteGateways g = gateways;
    if (g != null) {
      g.onView(view);
    }
  }

  /** The files a multi-leader keyspace keeps under {@code data-dir/multi}. */
  List<Path> keyspaceFiles(String name) {
    return List.of(
        dir.resolve(name + ".log"),
        dir.resolve(name + ".sites"),
        dir.resolve(name + ".snapshot"),
        dir.resolve(name + ".epoch"),
        dir.resolve(name + ".promise"));
  }

  private Path droppedFile(String name) {
    return dir.resolve(name + ".dropped");
  }

  /** Whether keyspace {@code name} was dropped at this site (and not created again since). */
  boolean wasDropped(String name) {
    return FILE_SAFE.matcher(name).matches() && Files.exists(droppedFile(name));
  }

  private void refuse(KeyspaceEntry entry, String reason) {
    if (!reason.equals(refusals.put(entry.number(), reason))) {
      log.error("multi-leader keyspace {} not served: {}", entry.name(), reason);
    }
  }

  private void start(KeyspaceEntry entry, GatewayShippers shippers) {
    String name = entry.name();
    if (!FILE_SAFE.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "keyspace name '" + name + "' must match " + FILE_SAFE + " for a multi-leader keyspace");
    }
    try {
      Files.deleteIfExists(droppedFile(name)); // created again at this site
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove the dropped marker of " + name, e);
    }
    Path sitesFile = dir.resolve(name + ".sites");
    List<String> sites;
    boolean origin = false;
    try {
      if (Files.isRegularFile(sitesFile)) {
        sites = List.of(Files.readString(sitesFile, StandardCharsets.UTF_8).trim().split(","));
      } else {
        sites = pendingSites.getOrDefault(name, null);
        if (sites == null) {
          sites = links.sitesWithSelf();
          origin = true;
        }
        Files.createDirectories(dir);
        Files.writeString(sitesFile, String.join(",", sites) + "\n", StandardCharsets.UTF_8);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep the site list of " + name, e);
    }
    if (!sites.contains(links.self())) {
      throw new IllegalArgumentException(
          "site list "
              + sites
              + " of keyspace "
              + name
              + " does not hold this site "
              + links.self());
    }
    KeyspaceConfig config = entry.config();
    String hub = config.topology() == Topology.STAR ? config.hub() : sites.get(0);
    MultiLeaderConfig core =
        new MultiLeaderConfig(
            sites, config.topology(), hub, resolver(config), MultiLeaderConfig.Defects.NONE);
    List<String> siteList = sites;
    SiteService service =
        new SiteService(
            name,
            core,
            links.self(),
            clock,
            dir.resolve(name + ".log"),
            loop,
            (site, frame) -> send(site, TYPE_SITE_MESSAGES, frame),
            shippers == null
                ? null
                : (recovered, loopInput) -> shippers.create(siteList, recovered, loopInput),
            retention,
            compactionRecordsMin);
    services.put(entry.number(), service);
    byName.put(name, service);
    java.util.Set<String> others = ConcurrentHashMap.newKeySet();
    sites.stream().filter(s -> !s.equals(links.self())).forEach(others::add);
    unannounced.put(name, others);
    log.info(
        "keyspace {} ({}) served multi-leader at site {} over sites {} ({}, {}{})",
        entry.number(),
        name,
        links.self(),
        sites,
        config.topology().text(),
        config.conflicts().get(0),
        origin ? "; announcing it to the linked sites" : "");
    loop.execute(this::announceAll);
  }

  /** The conflict resolver of a keyspace config; user merge functions are law-checked here. */
  ConflictResolver resolver(KeyspaceConfig config) {
    return resolver(config, mergeFunctions);
  }

  /** The conflict resolver of {@code config}, merge functions looked up in {@code registry}. */
  static ConflictResolver resolver(KeyspaceConfig config, MergeFunctions registry) {
    ConflictStrategy strategy = config.conflicts().get(0);
    return switch (strategy.kind()) {
      case SIBLINGS -> new SiblingsResolver();
      case LWW -> new LwwResolver();
      case CRDT -> new CrdtResolver();
      case LOCK -> new LockResolver();
      case HOME_SITE -> new HomeSiteResolver(new LwwResolver(), Map.of());
      case MERGE -> new MergeResolver(mergeFunction(registry, strategy.mergeFunction()));
    };
  }

  /**
   * A built-in merge function, or a class on the class path implementing {@link MergeFunction}
   * (with a public no-argument constructor; a {@code public static final MergeFunction.Domain
   * DOMAIN} field names its values, strings otherwise), registered after the law check.
   */
  private static MergeFunctions.Registered mergeFunction(MergeFunctions registry, String name) {
    synchronized (registry) {
      Optional<MergeFunctions.Registered> known = registry.find(name);
      if (known.isPresent()) {
        return known.get();
      }
      MergeFunction function;
      MergeFunction.Domain domain = MergeFunction.Domain.STRINGS;
      try {
        Class<?> type = Class.forName(name);
        function = (MergeFunction) type.getDeclaredConstructor().newInstance();
        try {
          domain = (MergeFunction.Domain) type.getField("DOMAIN").get(null);
        } catch (NoSuchFieldException e) {
          // strings, the widest domain
        }
      } catch (ReflectiveOperationException | ClassCastException e) {
        throw new IllegalArgumentException(
            "merge function '"
                + name
                + "' is not built in and not a MergeFunction class on the class path: "
                + e);
      }
      try {
        return registry.register(name, function, domain, MERGE_CHECK_SEED);
      } catch (MergeFunctionRefusedException e) {
        throw new IllegalArgumentException(e.getMessage());
      }
    }
  }

  // ---- frames -------------------------------------------------------------------------------

  /** Whether {@code frameType} is one of ours. */
  public static boolean handles(int frameType) {
    return frameType == TYPE_SITE_MESSAGES
        || frameType == TYPE_SITE_ANNOUNCE
        || frameType == SiteLogFrames.TYPE_SITE_LOG;
  }

  /** Receives a linked site's frame. */
  public void onFrame(Frame request, FrameHandler.Responder responder) {
    if (request.type() == SiteLogFrames.TYPE_SITE_LOG) {
      SiteGateways g = gateways;
      if (g == null) {
        responder.fail("site gateways are not enabled on this node");
      } else {
        g.onFrame(request, responder);
      }
      return;
    }
    if (request.type() == TYPE_SITE_ANNOUNCE) {
      onAnnounce(request, responder);
      return;
    }
    responder.reply(new Frame(TYPE_SITE_MESSAGES_ACK, request.correlationId(), new byte[0]));
    List<SiteLinkCodec.Item> items;
    try {
      items = SiteLinkCodec.decode(request.payload());
    } catch (CorruptEncodingException e) {
      log.warn("dropping a corrupt site link frame: {}", e.getMessage());
      itemsRefused.incrementAndGet();
      return;
    }
    Map<SiteService, List<io.replicakv.core.msg.SiteMessage>> byService = new java.util.HashMap<>();
    Map<String, List<SiteLinkCodec.Item>> relayed = new TreeMap<>();
    for (SiteLinkCodec.Item item : items) {
      SiteService service = byName.get(item.keyspace());
      if (service == null && relaysTo(item.keyspace()) != null) {
        relayed.computeIfAbsent(item.keyspace(), k -> new ArrayList<>()).add(item);
        continue;
      }
      if (service == null && wasDropped(item.keyspace())) {
        if (itemsRefused.incrementAndGet() % 1_000 == 1) {
          log.warn(
              "site link item for keyspace {} refused: the keyspace was dropped at this site"
                  + " (KEYSPACE DROP); drop it at the other sites too, or create it again here",
              item.keyspace());
        }
        continue;
      }
      if (service == null || !service.sites().equals(item.sites())) {
        if (itemsRefused.incrementAndGet() % 1_000 == 1) {
          log.warn(
              "site link item for keyspace {} over sites {} refused: {}",
              item.keyspace(),
              item.sites(),
              service == null
                  ? "not served at this site (yet)"
                  : "this site's list is " + service.sites());
        }
        continue;
      }
      byService.computeIfAbsent(service, s -> new ArrayList<>()).add(item.message());
    }
    byService.forEach(SiteService::onMessages);
    relayed.forEach(
        (keyspace, part) -> {
          io.replicakv.server.route.PeerRoutes.Address to = relaysTo(keyspace);
          if (to != null) {
            peers
                .request(
                    to.host(), to.port(), Frame.of(TYPE_SITE_MESSAGES, SiteLinkCodec.encode(part)))
                .whenComplete(
                    (reply, error) -> {
                      if (error != null) {
                        framesSendFailed.incrementAndGet();
                      }
                    });
            itemsRelayed.addAndGet(part.size());
          }
        });
  }

  /**
   * Where link frames for keyspace {@code name} go when another node of this site is its gateway:
   * the gateway's peer address, else null (this node answers them).
   */
  private io.replicakv.server.route.PeerRoutes.Address relaysTo(String name) {
    SiteGateways g = gateways;
    ClusterView view = latest;
    KeyspaceEntry entry = view == null ? null : view.keyspace(name);
    if (g == null || entry == null || byName.containsKey(name)) {
      return null;
    }
    io.replicakv.server.cluster.Member gateway = g.remoteGateway(entry.number());
    return gateway == null ? null : g.addressOf(gateway.id());
  }

  /** Link items this node passed on to its site's gateway. */
  public long itemsRelayed() {
    return itemsRelayed.get();
  }

  private void send(String site, int type, byte[] frame) {
    SiteLinks.Link link = links.get(site);
    if (link == null) {
      framesSendFailed.incrementAndGet();
      return;
    }
    java.util.concurrent.atomic.AtomicInteger index =
        linkAddress.computeIfAbsent(site, s -> new java.util.concurrent.atomic.AtomicInteger());
    int tried = index.get();
    SiteLinks.Address address = link.address(tried);
    peers
        .request(address.host(), address.port(), Frame.of(type, frame))
        .whenComplete(
            (reply, error) -> {
              if (error != null || reply.isError()) {
                framesSendFailed.incrementAndGet();
                // the next node of that site relays to its gateway; the core resends the frame
                index.compareAndSet(tried, tried + 1);
              }
            });
  }

  private void announceAll() {
    ClusterView view = latest;
    if (view == null) {
      return;
    }
    for (Map.Entry<String, java.util.Set<String>> waiting : unannounced.entrySet()) {
      SiteService service = byName.get(waiting.getKey());
      KeyspaceEntry entry = view.keyspace(waiting.getKey());
      if (service == null || entry == null) {
        continue;
      }
      byte[] frame =
          SiteLinkCodec.encodeAnnounce(
              new SiteLinkCodec.Announce(entry.name(), service.sites(), options(entry.config())));
      for (String site : List.copyOf(waiting.getValue())) {
        SiteLinks.Link link = links.get(site);
        if (link == null) {
          continue;
        }
        java.util.concurrent.atomic.AtomicInteger index =
            linkAddress.computeIfAbsent(site, s -> new java.util.concurrent.atomic.AtomicInteger());
        int tried = index.get();
        SiteLinks.Address address = link.address(tried);
        peers
            .request(address.host(), address.port(), Frame.of(TYPE_SITE_ANNOUNCE, frame))
            .whenComplete(
                (reply, error) -> {
                  if (error != null || reply.isError()) {
                    index.compareAndSet(tried, tried + 1);
                    return;
                  }
                  String text = new String(reply.payload(), StandardCharsets.UTF_8);
                  if (text.startsWith(CANNOT_CREATE)) {
                    // e.g. its metadata quorum is still electing: ask again next round
                    return;
                  }
                  waiting.getValue().remove(site);
                  if (!text.isEmpty()) {
                    announcesRefused.incrementAndGet();
                    log.error(
                        "site {} refused multi-leader keyspace {}: {}", site, entry.name(), text);
                  }
                });
      }
    }
  }

  /** The options that must agree between sites. */
  static SortedMap<String, String> options(KeyspaceConfig config) {
    TreeMap<String, String> options = new TreeMap<>();
    options.put("conflicts", config.conflicts().get(0).toString());
    options.put("topology", config.topology().text());
    if (config.topology() == Topology.STAR) {
      options.put("hub", config.hub());
    }
    return options;
  }

  private void onAnnounce(Frame request, FrameHandler.Responder responder) {
    SiteLinkCodec.Announce announce;
    try {
      announce = SiteLinkCodec.decodeAnnounce(request.payload());
    } catch (CorruptEncodingException e) {
      responder.reply(announceReply(request, "corrupt announcement: " + e.getMessage()));
      return;
    }
    ClusterView view = latest;
    KeyspaceEntry existing = view == null ? null : view.keyspace(announce.keyspace());
    io.replicakv.server.route.PeerRoutes.Address gateway = relaysTo(announce.keyspace());
    if (existing != null && gateway != null) {
      peers
          .request(gateway.host(), gateway.port(), Frame.of(TYPE_SITE_ANNOUNCE, request.payload()))
          .whenComplete(
              (reply, error) -> {
                if (error != null || reply.isError()) {
                  responder.fail("the site's gateway did not answer");
                } else {
                  responder.reply(
                      new Frame(
                          TYPE_SITE_ANNOUNCE_REPLY, request.correlationId(), reply.payload()));
                }
              });
      return;
    }
    if (!announce.sites().contains(links.self())) {
      responder.reply(
          announceReply(
              request, "site list " + announce.sites() + " does not hold site " + links.self()));
      return;
    }
    if (existing != null) {
      responder.reply(announceReply(request, disagreement(existing, announce)));
      return;
    }
    if (wasDropped(announce.keyspace())) {
      responder.reply(
          announceReply(
              request,
              "keyspace "
                  + announce.keyspace()
                  + " was dropped at site "
                  + links.self()
                  + "; create it there again to rejoin"));
      return;
    }
    pendingSites.put(announce.keyspace(), announce.sites());
    TreeMap<String, String> options = new TreeMap<>(announce.options());
    options.put("style", Style.MULTI_LEADER.text());
    proposer
        .apply(new MetadataChange.CreateKeyspace(announce.keyspace(), options))
        .whenComplete(
            (created, error) -> {
              String text = "";
              if (error != null) {
                ClusterView now = latest;
                KeyspaceEntry raced = now == null ? null : now.keyspace(announce.keyspace());
                text =
                    raced != null
                        ? disagreement(raced, announce)
                        : CANNOT_CREATE + error.getMessage();
              } else {
                log.info(
                    "created multi-leader keyspace {} announced over a site link (sites {})",
                    announce.keyspace(),
                    announce.sites());
              }
              responder.reply(announceReply(request, text));
            });
  }

  private String disagreement(KeyspaceEntry existing, SiteLinkCodec.Announce announce) {
    if (existing.config().style() != Style.MULTI_LEADER) {
      return "keyspace "
          + existing.name()
          + " is "
          + existing.config().style().text()
          + " at site "
          + links.self();
    }
    SortedMap<String, String> mine = options(existing.config());
    if (!mine.equals(announce.options())) {
      return "keyspace " + existing.name() + " is " + mine + " at site " + links.self();
    }
    SiteService service = byName.get(existing.name());
    if (service != null && !service.sites().equals(announce.sites())) {
      return "keyspace "
          + existing.name()
          + " spans sites "
          + service.sites()
          + " at site "
          + links.self();
    }
    return "";
  }

  private static Frame announceReply(Frame request, String text) {
    return new Frame(
        TYPE_SITE_ANNOUNCE_REPLY, request.correlationId(), text.getBytes(StandardCharsets.UTF_8));
  }

  // ---- lookups --------------------------------------------------------------------------------

  /** The service of keyspace number {@code keyspace}, or null. */
  public SiteService service(int keyspace) {
    return services.get(keyspace);
  }

  /** The service of the keyspace called {@code name}, or null. */
  public SiteService service(String name) {
    return byName.get(name);
  }

  /** Why keyspace {@code keyspace} is multi-leader but not served, or null. */
  public String refusal(int keyspace) {
    return refusals.get(keyspace);
  }

  /**
   * Whether {@code keyspace} is multi-leader in the newest view, served here or not: its keys must
   * never fall through to the single-leader path.
   */
  public boolean isMultiLeader(int keyspace) {
    if (services.containsKey(keyspace)) {
      return true;
    }
    ClusterView view = latest;
    KeyspaceEntry entry = view == null ? null : view.keyspaces().get(keyspace);
    return entry != null && entry.config().style() == Style.MULTI_LEADER;
  }

  /** Every served keyspace's status, by name. */
  public SortedMap<String, SiteService.Status> statuses() {
    TreeMap<String, SiteService.Status> out = new TreeMap<>();
    byName.forEach((name, service) -> out.put(name, service.status()));
    return out;
  }

  /** Frames to linked sites that failed (site down, link cut); the core resends. */
  public long framesSendFailed() {
    return framesSendFailed.get();
  }

  /** Received items dropped: corrupt, keyspace not served here, or a different site list. */
  public long itemsRefused() {
    return itemsRefused.get();
  }

  /** Keyspace announcements a linked site answered with a disagreement. */
  public long announcesRefused() {
    return announcesRefused.get();
  }

  @Override
  public void close() {
    SiteGateways g = gateways;
    if (g != null) {
      g.close(); // first, outside the lock: its thread may be waiting for it
    }
    closeServices();
  }

  private synchronized void closeServices() {
    announcer.cancel(false);
    for (SiteService service : services.values()) {
      service.close();
    }
    services.clear();
    byName.clear();
  }
}
