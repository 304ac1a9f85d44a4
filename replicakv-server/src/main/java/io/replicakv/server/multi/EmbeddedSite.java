package io.replicakv.server.multi;

import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.replicakv.core.crdt.AwOrSet;
import io.replicakv.core.crdt.Crdt;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SiteMessage;
import io.replicakv.core.multi.MergeFunctions;
import io.replicakv.core.multi.MultiLeaderConfig;
import io.replicakv.core.multi.Mutation;
import io.replicakv.core.multi.SiteCommand;
import io.replicakv.core.multi.SiteRead;
import io.replicakv.core.quorum.KeyspaceConfig;
import io.replicakv.core.quorum.Style;
import io.replicakv.core.quorum.Topology;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.FrameHandler;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.net.peer.PeerClientOptions;
import io.replicakv.net.peer.PeerServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Library mode: a one-node site embedded in a Java application (a phone, a laptop, a shop till),
 * with its own storage, that keeps reading and writing while it is offline and syncs both ways when
 * its link returns, with the conflict handling of the keyspace (DESIGN.md, "Multi-leader": "an
 * offline client is a site of one node embedded in the application").
 *
 * <p>It is the same {@link SiteService} a server site runs, without a metadata quorum: it learns
 * its keyspaces from the announcements of the sites it links to (a server site links to it with
 * {@code SITE LINK ADD name host:port} before the keyspace is created, so that the keyspace's site
 * list holds it), keeps each announced keyspace's options and site list under {@code
 * data-dir/multi/<keyspace>.keyspace}, and serves it again after a restart. {@link
 * #setOnline(boolean) setOnline(false)} is a pulled cable: no frame leaves or enters; the link's
 * lag grows at both ends and each side resends from the other's acknowledged position when it comes
 * back.
 *
 * <p><b>Declared keyspaces.</b> {@link #declare} lets the application bring a keyspace itself (the
 * {@code replicakv-client} {@code OfflineSite} options do): its sites are this site and every
 * linked site, sorted, as a server site fixes them, and it is announced over every link each {@link
 * #LINK_CHECK_MILLIS} until each linked site has answered; a server site creates the keyspace from
 * the announcement, an embedded one starts it. A refusal (the other side holds the keyspace with
 * other options or sites) is kept for {@link #refusals()}.
 *
 * <p><b>Contact.</b> Every {@link #LINK_CHECK_MILLIS} an online site sends each linked site an
 * empty site-messages frame; the answer (or any answered frame) is the link's last contact, and a
 * link counts as connected while that is at most {@link #CONNECTED_WITHIN_MILLIS} old and no send
 * failed since. A partition that holds bytes shows as a contact growing old, a closed port as a
 * failed send. {@link #lastSyncMillis()} is the last check that found every link connected and
 * nothing pending either way in any keyspace.
 *
 * <p>Threads: one loop thread runs the sites' replicas and the peer connections; the blocking
 * methods of {@link Keyspace} wait at most {@link #OPERATION_TIMEOUT_MILLIS} for it.
 */
public final class EmbeddedSite implements AutoCloseable {
  /** How long a blocking call waits for the loop. */
  public static final long OPERATION_TIMEOUT_MILLIS = 30_000;

  /** How often an online site checks each link and resends unanswered announcements. */
  public static final long LINK_CHECK_MILLIS = 1_000;

  /** A link counts as connected while its last answer is at most this old (and none failed). */
  public static final long CONNECTED_WITHIN_MILLIS = 5 * LINK_CHECK_MILLIS;

  /** The last answer from, and the last failed send to, one linked site (wall-clock ms, -1). */
  private static final class Contact {
    volatile long answeredMillis = -1;
    volatile long failedMillis = -1;
  }

  /**
   * One link as this site sees it.
   *
   * @param lastAnsweredMillis wall-clock ms of its last answer, -1 if none since open
   */
  public record LinkContact(String site, boolean connected, long lastAnsweredMillis) {}

  /**
   * How far one keyspace is from its linked sites.
   *
   * @param pendingOut per downstream site, changes it has not acknowledged
   * @param pendingIn per upstream site, positions it announced that this site has not applied
   */
  public record Pending(SortedMap<String, Long> pendingOut, SortedMap<String, Long> pendingIn) {
    /** Whether nothing is pending either way. */
    public boolean none() {
      return pendingOut.values().stream().allMatch(c -> c == 0)
          && pendingIn.values().stream().allMatch(c -> c == 0);
    }
  }

  /** The file whose lock says the data folder is open. */
  static final String LOCK_FILE = "embedded-site.lock";

  private final SiteLinks links;
  private final Path dir;
  private final FileLock folderLock;
  private final MultiThreadIoEventLoopGroup group;
  private final EventLoop loop;
  private final PeerClient peers;
  private final PeerServer server;
  private final MergeFunctions mergeFunctions = new MergeFunctions();
  private final Map<String, SiteService> services = new ConcurrentHashMap<>();
  private final AtomicLong framesDropped = new AtomicLong();
  private volatile boolean online = true;
  private final Map<String, Contact> contacts = new ConcurrentHashMap<>();
  private final Map<String, Definition> definitions = new ConcurrentHashMap<>();

  /** Declared keyspace -> linked sites that have not answered its announcement yet. */
  private final Map<String, java.util.Set<String>> unannounced = new ConcurrentHashMap<>();

  /** Keyspace -> why a linked site refused it. */
  private final Map<String, String> refusals = new ConcurrentHashMap<>();

  private volatile long lastSyncMillis = -1;
  private final java.util.concurrent.ScheduledFuture<?> linkChecker;

  private EmbeddedSite(SiteLinks links, Path dataDir, int peerPort) throws IOException {
    this.links = links;
    this.dir = dataDir.resolve("multi");
    this.folderLock = lockFolder(dataDir);
    this.group =
        new MultiThreadIoEventLoopGroup(
            1,
            r -> {
              Thread t = new Thread(r, "replicakv-embedded-site-" + links.self());
              t.setDaemon(true);
              return t;
            },
            NioIoHandler.newFactory());
    this.loop = group.next();
    this.peers = new PeerClient(group, PeerClientOptions.defaults());
    try {
      for (Path file : keyspaceFiles()) {
        start(load(file));
      }
      this.server = PeerServer.start("127.0.0.1", peerPort, this::onFrame, group);
      this.linkChecker =
          loop.scheduleAtFixedRate(
              this::checkLinks, LINK_CHECK_MILLIS, LINK_CHECK_MILLIS, TimeUnit.MILLISECONDS);
    } catch (IOException | RuntimeException e) {
      services.values().forEach(SiteService::close);
      peers.close();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      releaseFolder();
      throw e;
    }
  }

  /**
   * Takes {@code dataDir/embedded-site.lock} so that a second site (in this process or another)
   * cannot open the same folder: two writers of one site log would corrupt it.
   */
  private static FileLock lockFolder(Path dataDir) throws IOException {
    Files.createDirectories(dataDir);
    FileChannel channel =
        FileChannel.open(
            dataDir.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
    if (lock == null) {
      channel.close();
      throw new IOException("data folder " + dataDir + " is in use by another embedded site");
    }
    return lock;
  }

  private void releaseFolder() {
    try {
      folderLock.release();
      folderLock.channel().close();
    } catch (IOException e) {
      // the process lets go of the lock when it exits anyway
    }
  }

  /**
   * Opens (creating) the embedded site {@code site} whose data lives in {@code dataDir}, listening
   * for its linked sites on 127.0.0.1:{@code peerPort} (0 picks a free port).
   *
   * @param links {@code name@host:peer-port,...} of the sites it syncs with (used until {@link
   *     #links()} changes are saved in the data folder)
   */
  public static EmbeddedSite open(Path dataDir, String site, int peerPort, String links)
      throws IOException {
    return new EmbeddedSite(
        new SiteLinks(site, links, SiteKeyspaces.linksFile(dataDir)), dataDir, peerPort);
  }

  /** The port the linked sites send to. */
  public int peerPort() {
    return server.port();
  }

  /** This site's name. */
  public String site() {
    return links.self();
  }

  /** This site's links (add or remove at runtime; saved in the data folder). */
  public SiteLinks links() {
    return links;
  }

  /** Online (the default) or offline: offline, no frame leaves or enters this site. */
  public void setOnline(boolean online) {
    this.online = online;
  }

  /** Whether frames flow. */
  public boolean online() {
    return online;
  }

  /** Frames not sent or refused because the site was offline or a peer unreachable. */
  public long framesDropped() {
    return framesDropped.get();
  }

  /** The keyspaces this site has learnt, sorted. */
  public SortedSet<String> keyspaces() {
    return new TreeSet<>(services.keySet());
  }

  /** The keyspace called {@code name}, once an announcement brought it. */
  public Optional<Keyspace> keyspace(String name) {
    SiteService service = services.get(name);
    return service == null ? Optional.empty() : Optional.of(new Keyspace(service));
  }

  /**
   * Serves keyspace {@code name} with {@code options} ({@code conflicts}, {@code topology}, {@code
   * hub}) over this site and every linked site, and announces it to them until each answers. When
   * the keyspace is already here (declared earlier or announced), its options must agree; it is
   * announced again, which costs nothing when the other sites have it.
   *
   * @throws IllegalArgumentException for invalid options, or options that differ from the ones this
   *     site already holds for the keyspace
   */
  public synchronized void declare(String name, Map<String, String> options) {
    KeyspaceConfig config = KeyspaceConfig.parse(name, 0, Style.MULTI_LEADER, 1, options);
    List<String> reasons = config.validate();
    Check.argument(reasons.isEmpty(), "keyspace %s: %s", name, reasons);
    SortedMap<String, String> normalized = SiteKeyspaces.options(config);
    Definition definition = definitions.get(name);
    if (definition == null) {
      definition = new Definition(name, links.sitesWithSelf(), normalized);
      Check.argument(
          definition.sites().size() > 1, "keyspace %s: site %s has no links", name, site());
      start(definition);
      save(definition);
    } else {
      Check.argument(
          definition.options().equals(normalized),
          "keyspace %s is %s at site %s, not %s",
          name,
          definition.options(),
          site(),
          normalized);
    }
    java.util.Set<String> others = ConcurrentHashMap.newKeySet();
    definition.sites().stream().filter(s -> !s.equals(site())).forEach(others::add);
    unannounced.put(name, others);
    loop.execute(this::announceAll);
  }

  /** Why a linked site refused a keyspace this site announced, by keyspace. */
  public SortedMap<String, String> refusals() {
    return new TreeMap<>(refusals);
  }

  /** Every link's contact, by site. */
  public SortedMap<String, LinkContact> contacts() {
    long now = System.currentTimeMillis();
    TreeMap<String, LinkContact> all = new TreeMap<>();
    for (String site : links.all().keySet()) {
      Contact contact = contacts.computeIfAbsent(site, s -> new Contact());
      long answered = contact.answeredMillis;
      boolean connected =
          online
              && answered >= 0
              && answered >= contact.failedMillis
              && now - answered <= CONNECTED_WITHIN_MILLIS;
      all.put(site, new LinkContact(site, connected, answered));
    }
    return all;
  }

  /** Wall-clock ms of the last check that found this site fully in sync; -1 if none. */
  public long lastSyncMillis() {
    return lastSyncMillis;
  }

  /** What keyspace {@code name} has pending, computed on the loop. */
  public CompletableFuture<Pending> pending(String name) {
    SiteService service = services.get(name);
    Check.argument(service != null, "keyspace %s is not served at site %s", name, site());
    return pending(service);
  }

  private static CompletableFuture<Pending> pending(SiteService service) {
    return service.query(
        r -> {
          TreeMap<String, Long> out = new TreeMap<>();
          r.lag().forEach((site, lag) -> out.put(site, lag.changes()));
          return new Pending(out, new TreeMap<>(r.inboundLag()));
        });
  }

  /** The service of keyspace {@code name}, for the client API's adapter. */
  Optional<SiteService> service(String name) {
    return Optional.ofNullable(services.get(name));
  }

  // ---- links ----------------------------------------------------------------------------------

  private void checkLinks() {
    if (!online) {
      return;
    }
    byte[] empty = SiteLinkCodec.encode(List.of());
    for (String site : links.all().keySet()) {
      send(site, empty);
    }
    announceAll();
    List<CompletableFuture<Pending>> all = new ArrayList<>();
    services.values().forEach(service -> all.add(pending(service)));
    long started = System.currentTimeMillis();
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new))
        .thenRun(
            () -> {
              boolean synced =
                  all.stream().allMatch(f -> f.join().none())
                      && contacts().values().stream().allMatch(LinkContact::connected);
              if (synced) {
                lastSyncMillis = Math.max(lastSyncMillis, started);
              }
            });
  }

  private void announceAll() {
    if (!online) {
      return;
    }
    for (Map.Entry<String, java.util.Set<String>> waiting : unannounced.entrySet()) {
      Definition definition = definitions.get(waiting.getKey());
      if (definition == null || waiting.getValue().isEmpty()) {
        continue;
      }
      byte[] frame =
          SiteLinkCodec.encodeAnnounce(
              new SiteLinkCodec.Announce(
                  definition.name(), definition.sites(), definition.options()));
      for (String site : List.copyOf(waiting.getValue())) {
        SiteLinks.Link link = links.get(site);
        if (link == null) {
          continue;
        }
        peers
            .request(link.host(), link.port(), Frame.of(SiteKeyspaces.TYPE_SITE_ANNOUNCE, frame))
            .whenComplete(
                (reply, error) -> {
                  if (error != null || reply.isError()) {
                    return;
                  }
                  String text = new String(reply.payload(), StandardCharsets.UTF_8);
                  if (text.startsWith(SiteKeyspaces.CANNOT_CREATE)) {
                    return; // e.g. its metadata quorum is still electing: ask again next round
                  }
                  waiting.getValue().remove(site);
                  if (text.isEmpty()) {
                    refusals.remove(definition.name());
                  } else {
                    refusals.put(definition.name(), site + ": " + text);
                  }
                });
      }
    }
  }

  // ---- keyspaces ------------------------------------------------------------------------------

  private record Definition(String name, List<String> sites, SortedMap<String, String> options) {}

  private List<Path> keyspaceFiles() throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (var files = Files.list(dir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".keyspace")).sorted().toList();
    }
  }

  private static Definition load(Path file) throws IOException {
    Properties properties = new Properties();
    try (var in = Files.newInputStream(file)) {
      properties.load(in);
    }
    TreeMap<String, String> options = new TreeMap<>();
    for (String key : properties.stringPropertyNames()) {
      if (key.startsWith("option.")) {
        options.put(key.substring("option.".length()), properties.getProperty(key));
      }
    }
    return new Definition(
        properties.getProperty("name"),
        List.of(properties.getProperty("sites").split(",")),
        options);
  }

  private void save(Definition definition) {
    Properties properties = new Properties();
    properties.setProperty("name", definition.name());
    properties.setProperty("sites", String.join(",", definition.sites()));
    definition.options().forEach((k, v) -> properties.setProperty("option." + k, v));
    try {
      Files.createDirectories(dir);
      Path file = dir.resolve(definition.name() + ".keyspace");
      Path temporary = dir.resolve(definition.name() + ".keyspace.tmp");
      try (var out = Files.newOutputStream(temporary)) {
        properties.store(out, "multi-leader keyspace announced to embedded site " + site());
      }
      Files.move(
          temporary,
          file,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep keyspace " + definition.name(), e);
    }
  }

  private synchronized SiteService start(Definition definition) {
    SiteService existing = services.get(definition.name());
    if (existing != null) {
      return existing;
    }
    Check.argument(
        definition.sites().contains(site()),
        "keyspace %s spans %s, not this site %s",
        definition.name(),
        definition.sites(),
        site());
    KeyspaceConfig config =
        KeyspaceConfig.parse(definition.name(), 0, Style.MULTI_LEADER, 1, definition.options());
    List<String> reasons = config.validate();
    Check.argument(reasons.isEmpty(), "keyspace %s: %s", definition.name(), reasons);
    String hub = config.topology() == Topology.STAR ? config.hub() : definition.sites().get(0);
    MultiLeaderConfig core =
        new MultiLeaderConfig(
            definition.sites(),
            config.topology(),
            hub,
            SiteKeyspaces.resolver(config, mergeFunctions),
            MultiLeaderConfig.Defects.NONE);
    SiteService service =
        new SiteService(
            definition.name(),
            core,
            site(),
            System::currentTimeMillis,
            dir.resolve(definition.name() + ".log"),
            loop,
            this::send);
    services.put(definition.name(), service);
    definitions.put(definition.name(), definition);
    return service;
  }

  // ---- frames ---------------------------------------------------------------------------------

  private void send(String site, byte[] frame) {
    SiteLinks.Link link = links.get(site);
    if (!online || link == null) {
      framesDropped.incrementAndGet();
      return;
    }
    Contact contact = contacts.computeIfAbsent(site, s -> new Contact());
    peers
        .request(link.host(), link.port(), Frame.of(SiteKeyspaces.TYPE_SITE_MESSAGES, frame))
        .whenComplete(
            (reply, error) -> {
              if (error != null || reply.isError()) {
                framesDropped.incrementAndGet();
                contact.failedMillis = System.currentTimeMillis();
              } else if (online) {
                contact.answeredMillis = System.currentTimeMillis();
              }
            });
  }

  private void onFrame(Frame request, FrameHandler.Responder responder) {
    if (!online) {
      framesDropped.incrementAndGet();
      responder.fail("site " + site() + " is offline");
      return;
    }
    if (request.type() == SiteKeyspaces.TYPE_SITE_ANNOUNCE) {
      onAnnounce(request, responder);
      return;
    }
    if (request.type() != SiteKeyspaces.TYPE_SITE_MESSAGES) {
      responder.fail("embedded site " + site() + " takes site frames only, not " + request.type());
      return;
    }
    responder.reply(
        new Frame(SiteKeyspaces.TYPE_SITE_MESSAGES_ACK, request.correlationId(), new byte[0]));
    List<SiteLinkCodec.Item> items;
    try {
      items = SiteLinkCodec.decode(request.payload());
    } catch (CorruptEncodingException e) {
      framesDropped.incrementAndGet();
      return;
    }
    Map<SiteService, List<SiteMessage>> byService = new java.util.HashMap<>();
    for (SiteLinkCodec.Item item : items) {
      SiteService service = services.get(item.keyspace());
      if (service != null && service.sites().equals(item.sites())) {
        byService.computeIfAbsent(service, s -> new ArrayList<>()).add(item.message());
      }
    }
    byService.forEach(SiteService::onMessages);
  }

  private void onAnnounce(Frame request, FrameHandler.Responder responder) {
    String answer;
    try {
      SiteLinkCodec.Announce announce = SiteLinkCodec.decodeAnnounce(request.payload());
      SiteService known = services.get(announce.keyspace());
      Definition held = definitions.get(announce.keyspace());
      if (known != null && !known.sites().equals(announce.sites())) {
        answer = "keyspace " + announce.keyspace() + " spans " + known.sites() + " here";
      } else if (known != null && held != null && !held.options().equals(announce.options())) {
        answer = "keyspace " + announce.keyspace() + " is " + held.options() + " here";
      } else if (known != null) {
        answer = "";
      } else {
        Definition definition =
            new Definition(announce.keyspace(), announce.sites(), announce.options());
        start(definition);
        save(definition);
        answer = "";
      }
    } catch (CorruptEncodingException | IllegalArgumentException e) {
      answer = "embedded site " + site() + " refuses the keyspace: " + e.getMessage();
    }
    responder.reply(
        new Frame(
            SiteKeyspaces.TYPE_SITE_ANNOUNCE_REPLY,
            request.correlationId(),
            answer.getBytes(StandardCharsets.UTF_8)));
  }

  @Override
  public void close() {
    linkChecker.cancel(false);
    server.close();
    for (SiteService service : services.values()) {
      service.close();
    }
    peers.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    releaseFolder();
  }

  /** One keyspace of the embedded site, with blocking calls. */
  public static final class Keyspace {
    private final SiteService service;

    private Keyspace(SiteService service) {
      this.service = service;
    }

    /** The value, or the siblings, or nothing; a crdt set reads as its members. */
    public List<String> get(String key) {
      return await(service.query(r -> r.read(key).values()));
    }

    /** The read with its causal context and whether it holds a conflict. */
    public SiteRead read(String key) {
      return await(service.query(r -> r.read(key)));
    }

    /** Writes {@code value} over what this site holds for {@code key}. */
    public void set(String key, String value) {
      written(
          service.submit(
              r -> new SiteCommand.Assign(key, value, Optional.of(r.read(key).context()))));
    }

    /** Deletes what this site holds for {@code key}; false when it held nothing. */
    public boolean delete(String key) {
      Reply reply =
          await(
              service.submit(
                  r -> {
                    SiteRead read = r.read(key);
                    return read.values().isEmpty()
                        ? null
                        : new SiteCommand.Delete(key, Optional.of(read.context()));
                  }));
      if (reply == null) {
        return false;
      }
      check(reply);
      return true;
    }

    /** SADD of one member (conflicts=crdt). */
    public void add(String key, String member) {
      written(service.submit(r -> new SiteCommand.SetMember(key, member, true)));
    }

    /** SREM of one member (conflicts=crdt). */
    public void remove(String key, String member) {
      written(service.submit(r -> new SiteCommand.SetMember(key, member, false)));
    }

    /** The members of a crdt set. */
    public SortedSet<String> members(String key) {
      return await(
          service.query(
              r -> {
                TreeSet<String> members = new TreeSet<>();
                if (r.keyState(key).live().size() == 1
                    && r.keyState(key).live().get(0).value() instanceof Mutation.CrdtState c) {
                  Crdt<?> crdt = c.state();
                  if (crdt instanceof AwOrSet set) {
                    set.elements().forEach(e -> members.add(e.toUtf8()));
                  }
                }
                return members;
              }));
    }

    /** Lag and counters of this keyspace at this site. */
    public SiteService.Status status() {
      return service.status();
    }

    private static void written(CompletableFuture<Reply> future) {
      check(await(future));
    }

    private static void check(Reply reply) {
      if (!(reply instanceof Reply.Written)) {
        throw new IllegalStateException("write refused: " + reply);
      }
    }

    private static <T> T await(CompletableFuture<T> future) {
      try {
        return future.get(OPERATION_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      } catch (ExecutionException e) {
        throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
      } catch (TimeoutException e) {
        throw new IllegalStateException("no answer within " + OPERATION_TIMEOUT_MILLIS + " ms", e);
      }
    }
  }
}
