package io.replicakv.server;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.FrameHandler;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.net.peer.PeerClientOptions;
import io.replicakv.net.peer.PeerServer;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.cluster.MetadataChange;
import io.replicakv.server.cluster.MetadataStore;
import io.replicakv.server.cluster.RatisMetadataStore;
import io.replicakv.server.cluster.RatisOptions;
import io.replicakv.server.cluster.VoterAddress;
import io.replicakv.server.command.Node;
import io.replicakv.server.config.ConfigException;
import io.replicakv.server.config.ServerConfig;
import io.replicakv.server.resp.ClientHandler;
import io.replicakv.server.route.ClusterRouter;
import io.replicakv.server.route.ForwardCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What turns a node into a cluster member: the metadata store (a Raft group of the voters), the
 * peer listener that runs commands other nodes forward, the peer client that forwards this node's
 * commands, and the router that picks between them from the newest metadata version.
 *
 * <p>Start-up: open the metadata store, register this node as a member (its addresses, UP) unless
 * the metadata already holds it with the same addresses, then act on every later version in order.
 * A node restarted with its data folder keeps its id (data-dir/node-id), so it rejoins as itself.
 *
 * <p>Registration under load. A proposal that timed out may still commit (the Raft client keeps
 * retrying it), and a voter's own copy of the metadata can lag the quorum for long; a retried
 * AddMember is then refused because the member exists. When the quorum's view (asked of the leader)
 * holds this node with these very addresses, that refusal means registered. Until registration is
 * done the RESP port answers keyed commands with {@code -CLUSTERDOWN}, and replicated keyspaces
 * stay refused until every voter has registered (see {@link ClusterRouter#setFormationVoters}):
 * data written into a half-formed ring would sit in replica groups that the next registration
 * re-forms around members that never saw it.
 */
final class ClusterNode implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ClusterNode.class);

  /** How long start-up waits for the metadata quorum to accept this node. */
  static final long REGISTER_TIMEOUT_MILLIS = 60_000;

  private final ServerConfig config;
  private final Node node;
  private final EventLoop loop;
  private final String selfId;
  private EventLoopGroup peerGroup;
  private PeerServer peerServer;
  private PeerClient peerClient;
  private MetadataStore metadata;
  private final io.replicakv.server.route.PeerRoutes routes;
  private ClusterRouter router;
  private io.replicakv.server.move.KeyMover mover;
  private volatile io.replicakv.server.leaderless.LeaderlessKeyspaces leaderless;
  private volatile io.replicakv.server.multi.SiteKeyspaces multi;
  private volatile io.replicakv.server.replication.ReplicationLoop replication;

  ClusterNode(ServerConfig config, Node node, EventLoop loop) throws IOException {
    this.config = config;
    this.node = node;
    this.loop = loop;
    this.selfId = nodeId(config);
    this.routes = io.replicakv.server.route.PeerRoutes.parse(config.get("peer-routes"));
    if (!routes.routes().isEmpty()) {
      log.info("peer routes: {}", routes);
    }
  }

  /** The id from the config, else the one kept in the data folder, else a new one kept there. */
  static String nodeId(ServerConfig config) throws IOException {
    String configured = config.get("node-id");
    Path file = config.dataDirectory().resolve("node-id");
    if (!configured.isBlank()) {
      if (Files.isRegularFile(file) && !Files.readString(file).trim().equals(configured)) {
        throw new ConfigException(
            "setting 'node-id': "
                + configured
                + " differs from "
                + Files.readString(file).trim()
                + " kept in "
                + file);
      }
      Files.createDirectories(file.getParent());
      Files.writeString(file, configured + "\n");
      return configured;
    }
    if (Files.isRegularFile(file)) {
      return Files.readString(file).trim();
    }
    String id = "node-" + config.port();
    Files.createDirectories(file.getParent());
    Files.writeString(file, id + "\n");
    return id;
  }

  static List<VoterAddress> voters(String text) {
    List<VoterAddress> out = new ArrayList<>();
    for (String part : text.split(",")) {
      String p = part.trim();
      if (p.isEmpty()) {
        continue;
      }
      int at = p.indexOf('@');
      int colon = p.lastIndexOf(':');
      if (at <= 0 || colon <= at + 1) {
        throw new ConfigException("setting 'cluster-voters': '" + p + "' is not id@host:port");
      }
      try {
        out.add(
            new VoterAddress(
                p.substring(0, at),
                p.substring(at + 1, colon),
                Integer.parseInt(p.substring(colon + 1))));
      } catch (NumberFormatException e) {
        throw new ConfigException("setting 'cluster-voters': bad port in '" + p + "'");
      }
    }
    return out;
  }

  /** Most bytes of a CLUSTER VOTERS reply a joining node reads. */
  static final int VOTERS_REPLY_MAX_BYTES = 64 * 1024;

  /** How long a joining node waits for the member it asks for the voters. */
  static final int JOIN_CONNECT_TIMEOUT_MILLIS = 10_000;

  /**
   * Asks a running member ({@code host:port}, its RESP port) for the metadata voters with {@code
   * CLUSTER VOTERS}, so a new node needs only one address to join.
   */
  static String fetchVoters(String hostPort) throws IOException {
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0) {
      throw new ConfigException("setting 'join': '" + hostPort + "' is not host:port");
    }
    int port;
    try {
      port = Integer.parseInt(hostPort.substring(colon + 1).trim());
    } catch (NumberFormatException e) {
      throw new ConfigException("setting 'join': bad port in '" + hostPort + "'");
    }
    try (java.net.Socket socket = new java.net.Socket()) {
      socket.connect(
          new java.net.InetSocketAddress(hostPort.substring(0, colon).trim(), port),
          JOIN_CONNECT_TIMEOUT_MILLIS);
      socket.setSoTimeout(JOIN_CONNECT_TIMEOUT_MILLIS);
      socket
          .getOutputStream()
          .write(
              "*2\r\n$7\r\nCLUSTER\r\n$6\r\nVOTERS\r\n"
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      java.io.DataInputStream in = new java.io.DataInputStream(socket.getInputStream());
      String header = readLine(in);
      if (!header.startsWith("$")) {
        throw new IOException("member " + hostPort + " answered CLUSTER VOTERS with " + header);
      }
      int length = Integer.parseInt(header.substring(1));
      if (length < 0 || length > VOTERS_REPLY_MAX_BYTES) {
        throw new IOException("member " + hostPort + " sent a voters list of " + length + " bytes");
      }
      byte[] body = new byte[length];
      in.readFully(body);
      String voters = new String(body, java.nio.charset.StandardCharsets.UTF_8);
      log.info("joining through {}: metadata voters {}", hostPort, voters);
      return voters;
    }
  }

  private static String readLine(java.io.DataInputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    int c;
    while ((c = in.read()) != '\n') {
      if (c < 0 || b.length() > VOTERS_REPLY_MAX_BYTES) {
        throw new IOException("truncated reply");
      }
      if (c != '\r') {
        b.append((char) c);
      }
    }
    return b.toString();
  }

  /**
   * A metadata store given by the caller (tests, simulation) instead of the Raft group; not closed
   * here.
   */
  private MetadataStore injected;

  void useMetadataStore(MetadataStore store) {
    this.injected = store;
  }

  ClusterRouter start(ClientHandler handler, int clientPort, int httpPort) throws IOException {
    peerGroup =
        new MultiThreadIoEventLoopGroup(
            1,
            r -> {
              Thread t = new Thread(r, "replicakv-peer");
              t.setDaemon(true);
              return t;
            },
            NioIoHandler.newFactory());
    peerServer =
        PeerServer.start(config.bind(), config.peerPort(), forwardHandler(handler), peerGroup);
    peerClient = new PeerClient(peerGroup, PeerClientOptions.defaults());
    List<VoterAddress> voters =
        config.get("cluster-voters").isBlank() && injected == null
            ? voters(fetchVoters(config.get("join")))
            : voters(config.get("cluster-voters"));
    boolean voter = voters.stream().anyMatch(v -> v.id().equals(selfId));
    metadata =
        injected != null
            ? injected
            : RatisMetadataStore.start(
                new RatisOptions(
                    selfId,
                    config.dataDirectory().resolve("metadata"),
                    voters,
                    voter,
                    config.get("cluster-id"),
                    5_000));
    router =
        new ClusterRouter(
            selfId, peerClient, config.get("routing").equals("redirect"), metadata.current());
    mover =
        new io.replicakv.server.move.KeyMover(
            selfId,
            node.engine,
            peerClient,
            loop,
            metadata::propose,
            config.getLong("move-throttle-bytes-per-sec"),
            config.getLong("move-fence-timeout-ms"));
    router.setWriteFence(mover::refusesWrite);
    router.setPeerRoutes(routes);
    mover.setPeerRoutes(routes);
    mover.setSelfAddress(clientPort, peerServer.port());
    node.mover = mover;
    leaderless =
        new io.replicakv.server.leaderless.LeaderlessKeyspaces(
            selfId,
            config.dataDirectory(),
            peerClient,
            routes,
            loop,
            System::currentTimeMillis,
            io.replicakv.server.leaderless.LeaderlessService.AntiEntropySchedule.ofSettings(
                config.getLong("leaderless-anti-entropy-interval-ms"),
                config.getLong("leaderless-anti-entropy-bytes-per-sec")));
    node.leaderless = leaderless;
    io.replicakv.server.leaderless.LeaderlessKeyspaces departing = leaderless;
    mover.setDepartureHints(() -> departing.departing() ? departing.hintsHeld() : 0);
    multi =
        new io.replicakv.server.multi.SiteKeyspaces(
            new io.replicakv.server.multi.SiteLinks(
                config.get("site"),
                config.get("site-links"),
                io.replicakv.server.multi.SiteKeyspaces.linksFile(config.dataDirectory())),
            config.dataDirectory(),
            peerClient,
            loop,
            System::currentTimeMillis,
            metadata::propose);
    node.multi = multi;
    multi.retention(
        new io.replicakv.core.multi.SiteReplica.Retention(
            config.getLong("site-log-retention-changes"),
            config.getLong("site-log-retention-bytes")),
        config.getLong("site-log-compaction-records"));
    multi.enableGateways(
        selfId,
        (int) config.getLong("site-acks"),
        config.getLong("failover-timeout-ms"),
        routes,
        () -> actsForCluster(metadata.current(), System.currentTimeMillis()));
    replication =
        !config.get("replication").equals("on")
            ? null
            : new io.replicakv.server.replication.ReplicationLoop(
                selfId,
                node.engine,
                config.dataDirectory(),
                peerClient,
                routes,
                loop,
                new io.replicakv.server.replication.ReplicationLoop.Settings(
                    config.getLong("replication-tick-ms"),
                    config.getLong("failover-timeout-ms"),
                    config.getLong("replication-lease-ms"),
                    config.getLong("replication-write-timeout-ms"),
                    config.getLong("replication-max-lag-records"),
                    config.getLong("replication-max-lag-ms"),
                    config.get("fsync").equals("always"),
                    config.getLong("replication-log-retained-records")),
                metadata::propose,
                () -> actsForCluster(metadata.current(), System.currentTimeMillis()));
    node.replication = replication;
    if (replication != null) {
      replication.setPreferredLeader(config.get("replication-preferred-leader").equals("on"));
      replication.setHoldMillis(config.getLong("replication-hold-ms"));
      mover.setReplicatedKeyspaces(
          ks -> {
            // unknown (no view yet, keyspace not in it): keep the keys
            ClusterView view = router.view();
            io.replicakv.server.cluster.KeyspaceEntry entry =
                view == null ? null : view.keyspaces().get(ks);
            return entry == null
                || io.replicakv.server.replication.ReplicationLoop.replicated(entry);
          });
    }
    router.setReplication(replication);
    router.setFormationVoters(
        voters.stream().map(VoterAddress::id).collect(java.util.stream.Collectors.toSet()));
    if (replication == null) {
      log.warn("replication is off: single-leader keys live on their ring owner alone");
    }
    node.selfId = selfId;
    node.clusterView = router::view;
    node.proposer = metadata::propose;
    metadata.addListener(
        view -> {
          router.setView(view);
          loop.execute(() -> mover.onView(view));
          leaderless.onView(view);
          multi.onView(view);
          if (replication != null) {
            replication.onView(view);
          }
          log.info(
              "metadata version {}: {} members, {} own slots",
              view.version(),
              view.members().size(),
              view.ring().nodes().size());
        });
    ClusterView registered = register(voter, clientPort, httpPort);
    if (registered == null) {
      log.warn("no metadata view committed after start-up; moves act from the local view");
    }
    ClusterView from = registered != null ? registered : metadata.current();
    leaderless.onView(from);
    multi.onView(from);
    if (replication != null) {
      replication.onView(from);
    }
    loop.execute(() -> mover.startFrom(from, registered != null));
    if (registered == null) {
      retryFreshView();
    }
    long period = config.getLong("heartbeat-interval-ms");
    peerGroup.scheduleAtFixedRate(
        () -> {
          try {
            heartbeat();
          } catch (RuntimeException e) {
            log.warn("heartbeat round failed: {}", e.toString());
          }
        },
        period,
        period,
        TimeUnit.MILLISECONDS);
    return router;
  }

  /**
   * Failure detection. Every node pings every other member's peer port each heartbeat period and
   * remembers when it last answered. Only the metadata leader acts on what it hears (the lowest-id
   * UP member it can reach, when the store has no leaders): it proposes DOWN for a member silent
   * longer than the failover timeout, and UP for a DOWN member that answers again (itself included,
   * when it leads while marked DOWN). One decider means a cut between two followers cannot make
   * them mark each other DOWN in turns.
   *
   * <p>A round that starts much later than planned means this process was paused (SIGSTOP, a long
   * GC, an overloaded machine): the silence it measured is its own, so it forgets what it heard,
   * gives every member a fresh grace period and decides nothing this round. Proposals need the
   * metadata majority, so a node cut off with a minority cannot mark the others down.
   */
  private void heartbeat() {
    ClusterView view = metadata.current();
    long now = System.currentTimeMillis();
    long timeout = config.getLong("failover-timeout-ms");
    long period = config.getLong("heartbeat-interval-ms");
    long previous = lastRoundMillis;
    lastRoundMillis = now;
    boolean paused = previous != 0 && now - previous > pauseThresholdMillis(period, timeout);
    if (paused) {
      log.warn(
          "heartbeat round {} ms after the previous one (planned every {} ms): this node was"
              + " paused; no member is judged this round",
          now - previous,
          period);
      for (Member m : view.members().values()) {
        lastSeenMillis.put(m.id(), now);
      }
    }
    for (Member m : view.members().values()) {
      if (m.id().equals(selfId) || m.state() == MemberState.LEFT || m.peerPort() == 0) {
        continue;
      }
      if (m.state() == MemberState.UP) {
        lastSeenMillis.putIfAbsent(m.id(), now); // grace period for members just learned of
      }
      peerClient
          .request(routes.host(m), routes.port(m), Frame.of(Frame.TYPE_PING, new byte[0]))
          .thenRun(() -> lastSeenMillis.put(m.id(), System.currentTimeMillis()));
    }
    if (paused || !actsForCluster(view, now)) {
      return;
    }
    for (Member m : view.members().values()) {
      if (m.id().equals(selfId)) {
        if (m.state() == MemberState.DOWN) {
          log.info("this node leads the metadata but is marked DOWN: marking it UP");
          metadata.propose(new MetadataChange.SetMemberState(m.id(), MemberState.UP));
        }
        continue;
      }
      Long seen = lastSeenMillis.get(m.id());
      boolean silent = seen == null || now - seen > timeout; // DOWN stays DOWN until it answers
      if (m.state() == MemberState.UP && silent) {
        log.warn("member {} silent for more than {} ms: marking it DOWN", m.id(), timeout);
        metadata.propose(new MetadataChange.SetMemberState(m.id(), MemberState.DOWN));
      } else if (m.state() == MemberState.DOWN && !silent) {
        log.info("member {} answers again: marking it UP", m.id());
        metadata.propose(new MetadataChange.SetMemberState(m.id(), MemberState.UP));
      }
    }
  }

  /**
   * A gap between heartbeat rounds past which this node assumes it was paused: half the failover
   * timeout, and at least three periods (scheduling jitter on a loaded machine is not a pause).
   */
  static long pauseThresholdMillis(long periodMillis, long failoverTimeoutMillis) {
    return Math.max(3 * periodMillis, failoverTimeoutMillis / 2);
  }

  private volatile long lastRoundMillis;

  private boolean actsForCluster(ClusterView view, long now) {
    switch (metadata.leadership()) {
      case LEADER -> {
        return true;
      }
      case FOLLOWER -> {
        return false;
      }
      case UNKNOWN -> {
        // no leaders (the in-memory store): the lowest-id UP member this node can reach acts
      }
    }
    long timeout = config.getLong("failover-timeout-ms");
    for (Member m : view.members().values()) {
      if (m.state() != MemberState.UP) {
        continue;
      }
      boolean reachable =
          m.id().equals(selfId) || now - lastSeenMillis.getOrDefault(m.id(), now) <= timeout;
      if (reachable) {
        return m.id().equals(selfId); // members iterate in id order
      }
    }
    return false;
  }

  private final java.util.Map<String, Long> lastSeenMillis =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** The data mover (null before start). */
  io.replicakv.server.move.KeyMover mover() {
    return mover;
  }

  void setRedirect(boolean redirect) {
    if (router != null) {
      router.setRedirect(redirect);
    }
  }

  /**
   * Registers this node; returns a view committed after this start (moves act from it on), or null
   * when none could be had.
   */
  private ClusterView register(boolean voter, int clientPort, int httpPort) throws IOException {
    int metadataPort =
        voters(config.get("cluster-voters")).stream()
            .filter(v -> v.id().equals(selfId))
            .mapToInt(VoterAddress::metadataPort)
            .findFirst()
            .orElse(0);
    Member self =
        new Member(
            selfId,
            config.bind(),
            clientPort,
            peerServer.port(),
            httpPort,
            metadataPort,
            config.get("site"),
            "",
            MemberState.UP,
            voter);
    boolean joining = !config.get("join").isBlank();
    long deadline = System.currentTimeMillis() + REGISTER_TIMEOUT_MILLIS;
    while (true) {
      Member known = metadata.current().members().get(selfId);
      if (known != null
          && (known.state() == MemberState.UP || known.state() == MemberState.LEAVING)
          && sameAddresses(known, self)) {
        // a leaving node that restarts stays leaving: its move resumes (or waits for the flip).
        // Re-recording the same addresses yields a view newer than anything before this start.
        return freshView(self);
      }
      if (known != null
          && (known.state() == MemberState.JOINING || known.state() == MemberState.STAGED)
          && sameAddresses(known, self)) {
        // restarted while staged or during its own join with the same addresses: stay so; only a
        // commit moves a staged node on, and only the flip, recorded with the last source's
        // handover, makes it UP
        return freshView(self);
      }
      if (known != null && sameAddresses(known, self)) {
        try {
          // back after being marked down: same addresses, only the state changes
          metadata
              .propose(new MetadataChange.SetMemberState(selfId, MemberState.UP))
              .get(5, TimeUnit.SECONDS);
          log.info("rejoined as {}", selfId);
          return freshView(self);
        } catch (Exception e) {
          log.info("waiting for the metadata quorum to mark {} UP: {}", selfId, e.toString());
        }
      }
      try {
        if (known != null) {
          // same id, new addresses: the ring tokens come from the id and stay
          ClusterView updated =
              metadata.propose(new MetadataChange.UpdateMember(self)).get(5, TimeUnit.SECONDS);
          router.setView(updated);
          MemberState now = updated.members().get(selfId).state();
          if (now == MemberState.DOWN) {
            metadata
                .propose(new MetadataChange.SetMemberState(selfId, MemberState.UP))
                .get(5, TimeUnit.SECONDS);
          }
          log.info("registered new addresses for {}", selfId);
          return updated;
        }
        ClusterView view =
            metadata
                .propose(
                    new MetadataChange.AddMember(
                        joining ? self.withState(MemberState.STAGED) : self))
                .get(5, TimeUnit.SECONDS);
        router.setView(view);
        log.info("registered as {} in metadata version {}", selfId, view.version());
        return view;
      } catch (Exception e) {
        ClusterView quorum = registeredEarlier(e, self);
        if (quorum != null) {
          router.setView(quorum);
          log.info(
              "registered as {}: an earlier proposal of this start committed (metadata version {}"
                  + " from the quorum; this node's copy is at {})",
              selfId,
              quorum.version(),
              metadata.current().version());
          return quorum;
        }
        if (System.currentTimeMillis() > deadline) {
          throw new IOException(
              "could not register with the metadata quorum within "
                  + REGISTER_TIMEOUT_MILLIS / 1000
                  + " s: "
                  + e,
              e);
        }
        log.info("waiting for the metadata quorum to register {}: {}", selfId, e.toString());
        try {
          Thread.sleep(500); // start-up retry pacing, not synchronisation
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted", ie);
        }
      }
    }
  }

  /**
   * The quorum's view when a refused registration shows that this start's own earlier proposal
   * committed, else null. A proposal that timed out here may still commit (the Raft client keeps
   * retrying it), and a voter's own copy can lag the quorum for long (its follower catching up):
   * the next AddMember is then refused as "already exists" for ever, although the member it found
   * is this node with these very addresses. Such a refusal means registered; the view is asked of
   * the leader, since the local copy does not show it yet.
   */
  private ClusterView registeredEarlier(Exception e, Member self) {
    Throwable cause = e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e;
    if (!(cause instanceof io.replicakv.server.cluster.MetadataRejectedException)) {
      return null;
    }
    ClusterView quorum;
    try {
      quorum = metadata.sync().get(REGISTER_SYNC_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (Exception syncFailed) {
      log.info(
          "registration of {} refused ({}); the quorum's view could not be had: {}",
          selfId,
          cause.getMessage(),
          syncFailed.toString());
      return null;
    }
    Member found = quorum.members().get(selfId);
    return found != null
            && found.state() != MemberState.LEFT
            && found.state() != MemberState.DOWN // the loop marks it UP again, from this view
            && sameAddresses(found, self)
        ? quorum
        : null;
  }

  /** How long registration waits for the quorum's view after a refused proposal. */
  static final long REGISTER_SYNC_TIMEOUT_MILLIS = 10_000;

  /** How often a node that started without a freshly committed view tries to get one. */
  static final long FRESH_VIEW_RETRY_MILLIS = 1_000;

  /**
   * Started without a view committed after the start (no metadata quorum in time): re-records this
   * node's member entry until a change commits, then lets the mover delete its stale copies from
   * that view, so a slow quorum at start-up does not leave them for good.
   */
  private void retryFreshView() {
    peerGroup.schedule(
        () -> {
          Member known = metadata.current().members().get(selfId);
          if (known == null) {
            retryFreshView();
            return;
          }
          metadata
              .propose(new MetadataChange.UpdateMember(known))
              .whenComplete(
                  (view, error) -> {
                    if (error != null) {
                      retryFreshView();
                      return;
                    }
                    log.info("metadata version {} committed after start-up", view.version());
                    loop.execute(() -> mover.sweepAfterFreshView(view));
                  });
        },
        FRESH_VIEW_RETRY_MILLIS,
        TimeUnit.MILLISECONDS);
  }

  /** The view after re-recording this node's unchanged addresses, or null if it failed. */
  private ClusterView freshView(Member self) {
    try {
      return metadata.propose(new MetadataChange.UpdateMember(self)).get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.info(
          "no fresh metadata view at start-up ({}); keeping every key held here", e.toString());
      return null;
    }
  }

  /** Same addresses, ports and placement, whatever the state and token owner. */
  private static boolean sameAddresses(Member known, Member self) {
    return known.withState(MemberState.UP).withTokenOwner(known.id()).equals(self);
  }

  private FrameHandler forwardHandler(ClientHandler handler) {
    return (request, responder) -> {
      if (io.replicakv.server.move.KeyMover.handles(request.type())) {
        mover.onFrame(request, responder);
        return;
      }
      if (io.replicakv.server.leaderless.LeaderlessKeyspaces.handles(request.type())
          && leaderless != null) {
        leaderless.onFrame(request, responder);
        return;
      }
      if (io.replicakv.server.multi.SiteKeyspaces.handles(request.type()) && multi != null) {
        multi.onFrame(request, responder);
        return;
      }
      if (io.replicakv.server.replication.ReplicationLoop.handles(request.type())
          && replication != null) {
        replication.onFrame(request, responder);
        return;
      }
      if (request.type() != ForwardCodec.TYPE_FORWARD) {
        responder.fail("unknown request type " + request.type());
        return;
      }
      ForwardCodec.Forward forward;
      try {
        forward = ForwardCodec.decode(request.payload());
      } catch (IllegalArgumentException e) {
        responder.fail("bad forwarded command: " + e.getMessage());
        return;
      }
      io.replicakv.server.session.SessionState session =
          new io.replicakv.server.session.SessionState();
      loop.execute(
          () ->
              handler.executeForwarded(
                  forward.keyspace(),
                  forward.protocol(),
                  forward.request(),
                  forward.hops(),
                  session,
                  bytes ->
                      responder.reply(
                          new Frame(
                              ForwardCodec.TYPE_FORWARD_REPLY,
                              request.correlationId(),
                              forward.session()
                                  ? io.replicakv.server.session.SessionForward.wrap(
                                      bytes, session.token())
                                  : bytes))));
    };
  }

  @Override
  public void close() {
    if (replication != null) {
      replication.close();
    }
    if (leaderless != null) {
      leaderless.close();
    }
    if (multi != null) {
      multi.close();
    }
    if (peerServer != null) {
      peerServer.close();
    }
    if (peerClient != null) {
      peerClient.close();
    }
    if (metadata != null && metadata != injected) {
      metadata.close();
    }
    if (peerGroup != null) {
      peerGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }
}
