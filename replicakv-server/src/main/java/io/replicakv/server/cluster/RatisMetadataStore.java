package io.replicakv.server.cluster;

import io.replicakv.core.util.Check;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.apache.ratis.RaftConfigKeys;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.rpc.SupportedRpcType;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.TimeDuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The metadata store of a real cluster: a Raft group (Apache Ratis over gRPC) of 1, 3 or 5 voters
 * whose log holds {@link MetadataChange}s and whose state machine is the {@link ClusterView}
 * (Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm", 2014; the same
 * design as etcd's and KRaft's metadata logs).
 *
 * <p><b>Roles.</b> A voter runs a {@code RaftServer} with a {@link MetadataStateMachine} and a
 * {@code RaftClient}; its {@link #current()} is its own state machine's view, and its listeners
 * hear every version as its state machine applies it. A non-voter runs only a client: every {@link
 * #FOLLOW_INTERVAL_MILLIS} (and at once after its own proposal commits) it asks the leader for the
 * changes after its version and folds them itself, so its listeners also hear every version in
 * order, unless it fell more than {@link MetadataStateMachine#HISTORY_MAX} changes behind, when it
 * takes the whole view and skips the versions between. A non-voter thus lags the quorum by at most
 * one poll interval while the quorum is reachable.
 *
 * <p><b>Proposals.</b> {@link #propose} sends the change through the Raft client, which finds the
 * leader and retries with its client id and call id, so the leader's retry cache keeps a retried
 * change from committing twice. The future completes with the view that includes the change, after
 * the local view has caught up with it (or, if the local copy lags past the timeout, with the view
 * the leader returned). With no majority it fails with {@link MetadataUnavailableException} after
 * {@code requestTimeoutMillis}; the outcome is then unknown, since the client may have handed the
 * entry to a leader that commits it later. {@link #current()} keeps returning the last view.
 *
 * <p><b>Durability and restart.</b> A voter's log and snapshots live under {@code directory/ratis};
 * a restart with the same directory recovers (newest snapshot, then the log after it) and rejoins
 * the group. Snapshots are taken every {@link #SNAPSHOT_EVERY_ENTRIES} entries. The group id is
 * derived from the cluster id, so voters of different clusters refuse each other.
 *
 * <p><b>Not handled here.</b> Changing the voter set (Raft membership change) and TLS.
 */
public final class RatisMetadataStore implements MetadataStore {
  /** How often a non-voter asks the leader for new versions. */
  public static final long FOLLOW_INTERVAL_MILLIS = 200;

  /** Log entries between automatic snapshots. */
  public static final long SNAPSHOT_EVERY_ENTRIES = 1_000;

  /**
   * Shortest and longest election timeout of a voter: a follower that heard nothing from the leader
   * for a random time between them starts an election. Ratis's defaults (150 to 300 ms) are shorter
   * than the pauses of a loaded machine (a 0.6 s stop-the-world GC, seconds of CPU starvation):
   * there every pause deposed the leader, and a deposed leader's own uncommitted entry made the new
   * leader's appends fail with INCONSISTENCY for a minute, during which that voter's metadata stood
   * still. A metadata failover taking a second or two longer costs little.
   */
  static final long ELECTION_TIMEOUT_MIN_MILLIS = 1_000;

  /** See {@link #ELECTION_TIMEOUT_MIN_MILLIS}. */
  static final long ELECTION_TIMEOUT_MAX_MILLIS = 2_000;

  /** Pause between the Raft client's attempts to reach a leader. */
  static final long CLIENT_RETRY_SLEEP_MILLIS = 100;

  private static final Logger log = LoggerFactory.getLogger(RatisMetadataStore.class);

  private record Waiter(long version, CompletableFuture<ClusterView> future) {}

  private final RatisOptions options;
  private final ListenerDispatcher dispatcher;
  private final ReentrantLock viewLock = new ReentrantLock();
  private final List<Waiter> waiters = new CopyOnWriteArrayList<>();
  private final AtomicBoolean pollInFlight = new AtomicBoolean();
  private volatile ClusterView current;
  private volatile boolean closed;
  private RaftServer server;
  private volatile RaftClient client;
  private RaftGroup group;
  private RaftProperties clientProperties;
  private ScheduledExecutorService follower;

  @Override
  public Leadership leadership() {
    RaftServer s = server;
    RaftGroup g = group;
    if (s == null || g == null || closed) {
      return Leadership.FOLLOWER; // a non-voter never leads
    }
    try {
      return s.getDivision(g.getGroupId()).getInfo().isLeader()
          ? Leadership.LEADER
          : Leadership.FOLLOWER;
    } catch (IOException | RuntimeException e) {
      return Leadership.FOLLOWER;
    }
  }

  private RatisMetadataStore(RatisOptions options) {
    this.options = options;
    this.current = ClusterView.empty(options.clusterId());
    this.dispatcher = ListenerDispatcher.threaded("replicakv-metadata-" + options.memberId());
    dispatcher.publish(current);
  }

  /** Starts a voter (Raft server and client) or a non-voter (client and follower poll). */
  public static RatisMetadataStore start(RatisOptions options) throws IOException {
    Check.notNull(options, "options");
    RatisMetadataStore store = new RatisMetadataStore(options);
    try {
      store.startRatis();
    } catch (IOException | RuntimeException e) {
      store.close();
      throw e;
    }
    return store;
  }

  private void startRatis() throws IOException {
    group = group(options);
    RaftProperties properties = properties(options);
    clientProperties = properties;
    if (options.isVoter()) {
      Path storageRoot = options.directory().resolve("ratis");
      Files.createDirectories(storageRoot);
      boolean existing =
          Files.isDirectory(storageRoot.resolve(group.getGroupId().getUuid().toString()));
      VoterAddress self =
          options.voters().stream()
              .filter(v -> v.id().equals(options.memberId()))
              .findFirst()
              .orElseThrow();
      RaftServerConfigKeys.setStorageDir(properties, List.of(storageRoot.toFile()));
      GrpcConfigKeys.Server.setHost(properties, self.host());
      GrpcConfigKeys.Server.setPort(properties, self.metadataPort());
      server =
          RaftServer.newBuilder()
              .setServerId(RaftPeerId.valueOf(options.memberId()))
              .setGroup(group)
              .setProperties(properties)
              .setStateMachine(new MetadataStateMachine(options.clusterId(), this::onView))
              .setOption(
                  existing ? RaftStorage.StartupOption.RECOVER : RaftStorage.StartupOption.FORMAT)
              .build();
      server.start();
    }
    client = newClient();
    if (!options.isVoter()) {
      follower =
          Executors.newSingleThreadScheduledExecutor(
              Thread.ofPlatform()
                  .name("replicakv-metadata-follow-" + options.memberId())
                  .daemon(true)
                  .factory());
      follower.scheduleWithFixedDelay(this::poll, 0, FOLLOW_INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
    }
  }

  private RaftClient newClient() {
    int attempts = (int) (options.requestTimeoutMillis() / CLIENT_RETRY_SLEEP_MILLIS) + 1;
    return RaftClient.newBuilder()
        .setProperties(clientProperties)
        .setRaftGroup(group)
        .setRetryPolicy(
            RetryPolicies.retryUpToMaximumCountWithFixedSleep(
                attempts, TimeDuration.valueOf(CLIENT_RETRY_SLEEP_MILLIS, TimeUnit.MILLISECONDS)))
        .build();
  }

  /**
   * The Raft client closes itself for good when a request exhausted its retries (as when the voters
   * start one by one on a slow machine and no leader exists for a while); every later request would
   * then fail at once. Such a failure replaces the client with a new one.
   */
  private void renewIfClosed(Throwable cause) {
    boolean clientClosed = false;
    for (Throwable t = cause; t != null && !clientClosed; t = t.getCause()) {
      clientClosed = t instanceof org.apache.ratis.protocol.exceptions.AlreadyClosedException;
    }
    if (!clientClosed) {
      return;
    }
    synchronized (this) {
      if (closed) {
        return;
      }
      RaftClient old = client;
      client = newClient();
      log.info("the metadata client had closed itself ({}); replaced it", cause.toString());
      closeQuietly(old, "closed client");
    }
  }

  private static RaftGroup group(RatisOptions options) {
    UUID uuid =
        UUID.nameUUIDFromBytes(
            ("replicakv-metadata:" + options.clusterId()).getBytes(StandardCharsets.UTF_8));
    List<RaftPeer> peers =
        options.voters().stream()
            .map(v -> RaftPeer.newBuilder().setId(v.id()).setAddress(v.address()).build())
            .toList();
    return RaftGroup.valueOf(RaftGroupId.valueOf(uuid), peers);
  }

  private static RaftProperties properties(RatisOptions options) {
    RaftProperties properties = new RaftProperties();
    RaftConfigKeys.Rpc.setType(properties, SupportedRpcType.GRPC);
    RaftServerConfigKeys.Rpc.setTimeoutMin(
        properties, TimeDuration.valueOf(ELECTION_TIMEOUT_MIN_MILLIS, TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Rpc.setTimeoutMax(
        properties, TimeDuration.valueOf(ELECTION_TIMEOUT_MAX_MILLIS, TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(properties, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(properties, SNAPSHOT_EVERY_ENTRIES);
    RaftClientConfigKeys.Rpc.setRequestTimeout(
        properties,
        TimeDuration.valueOf(
            Math.min(options.requestTimeoutMillis(), 3_000), TimeUnit.MILLISECONDS));
    return properties;
  }

  /** Takes a newer view from the state machine (voter) or the follower poll (non-voter). */
  private void onView(ClusterView view) {
    viewLock.lock();
    try {
      if (view.version() <= current.version()) {
        return;
      }
      current = view;
      dispatcher.publish(view);
    } finally {
      viewLock.unlock();
    }
    for (Waiter waiter : waiters) {
      if (waiter.version() <= view.version()) {
        waiters.remove(waiter);
        waiter.future().complete(view);
      }
    }
  }

  private void poll() {
    if (closed || !pollInFlight.compareAndSet(false, true)) {
      return;
    }
    sync()
        .whenComplete(
            (view, error) -> {
              pollInFlight.set(false);
              if (error != null && !closed) {
                log.debug("metadata poll failed", error);
              }
            });
  }

  /**
   * Asks the leader for every change after this node's version and folds them in, so that {@link
   * #current()} is at least as new as the quorum's view when this was called (a linearizable read
   * of the metadata). Fails with {@link MetadataUnavailableException} when no leader answers within
   * {@code requestTimeoutMillis}; a caller can wait for a freshly started store to be usable this
   * way. On a voter this takes the leader's versions ahead of its own state machine, which applies
   * them later without effect (they are equal, see {@link ClusterView}).
   */
  @Override
  public CompletableFuture<ClusterView> sync() {
    CompletableFuture<ClusterView> result = new CompletableFuture<>();
    if (closed) {
      result.completeExceptionally(new MetadataUnavailableException("store closed"));
      return result;
    }
    failAfterTimeout(result);
    Message query =
        Message.valueOf(ByteString.copyFrom(MetadataStateMachine.querySince(current.version())));
    client
        .async()
        .sendReadOnly(query)
        .whenComplete(
            (reply, error) -> {
              if (error != null || !reply.isSuccess()) {
                Throwable cause = error != null ? unwrap(error) : reply.getException();
                renewIfClosed(cause);
                result.completeExceptionally(
                    new MetadataUnavailableException(String.valueOf(cause), cause));
                return;
              }
              try {
                result.complete(foldAnswer(reply.getMessage().getContent().toByteArray()));
              } catch (RuntimeException e) {
                log.warn("metadata answer refused", e);
                result.completeExceptionally(e);
              }
            });
    return result;
  }

  private void failAfterTimeout(CompletableFuture<ClusterView> result) {
    long timeoutMillis = options.requestTimeoutMillis();
    CompletableFuture.delayedExecutor(timeoutMillis, TimeUnit.MILLISECONDS)
        .execute(
            () ->
                result.completeExceptionally(
                    new MetadataUnavailableException(
                        "no answer from the metadata leader within " + timeoutMillis + " ms")));
  }

  private ClusterView foldAnswer(byte[] answer) {
    viewLock.lock();
    try {
      MetadataStateMachine.foldAnswer(current, answer, this::onView);
      return current;
    } finally {
      viewLock.unlock();
    }
  }

  @Override
  public ClusterView current() {
    return current;
  }

  @Override
  public CompletableFuture<ClusterView> propose(MetadataChange change) {
    Check.notNull(change, "change");
    CompletableFuture<ClusterView> result = new CompletableFuture<>();
    if (closed) {
      result.completeExceptionally(new MetadataUnavailableException("store closed"));
      return result;
    }
    long timeoutMillis = options.requestTimeoutMillis();
    // The leader's answer, once it came: if the local copy still lags when the timeout fires, the
    // change did commit, so the proposal completes with the leader's view rather than failing as
    // "unknown" (a caller that retried such a change would find it refused as a duplicate).
    java.util.concurrent.atomic.AtomicReference<ClusterView> committedByLeader =
        new java.util.concurrent.atomic.AtomicReference<>();
    CompletableFuture.delayedExecutor(timeoutMillis, TimeUnit.MILLISECONDS)
        .execute(
            () -> {
              ClusterView committed = committedByLeader.get();
              if (committed != null) {
                result.complete(committed);
              } else {
                result.completeExceptionally(
                    new MetadataUnavailableException("no commit within " + timeoutMillis + " ms"));
              }
            });
    client
        .async()
        .send(Message.valueOf(ByteString.copyFrom(change.toBytes())))
        .whenComplete((reply, error) -> onProposalReply(reply, error, result, committedByLeader));
    return result;
  }

  private void onProposalReply(
      RaftClientReply reply,
      Throwable error,
      CompletableFuture<ClusterView> result,
      java.util.concurrent.atomic.AtomicReference<ClusterView> committedByLeader) {
    if (error != null || !reply.isSuccess()) {
      Throwable cause = error != null ? unwrap(error) : reply.getException();
      renewIfClosed(cause);
      result.completeExceptionally(new MetadataUnavailableException(String.valueOf(cause), cause));
      return;
    }
    ClusterView committed;
    try {
      committed = MetadataStateMachine.decodeOutcome(reply.getMessage().getContent().toByteArray());
    } catch (RuntimeException e) {
      result.completeExceptionally(e);
      return;
    }
    committedByLeader.set(committed);
    awaitLocal(committed).thenAccept(result::complete);
  }

  /** Completes when the local view reaches {@code committed}, or with it after the timeout. */
  private CompletableFuture<ClusterView> awaitLocal(ClusterView committed) {
    ClusterView now = current;
    if (now.version() >= committed.version()) {
      return CompletableFuture.completedFuture(now);
    }
    CompletableFuture<ClusterView> caughtUp = new CompletableFuture<>();
    waiters.add(new Waiter(committed.version(), caughtUp));
    now = current;
    if (now.version() >= committed.version()) {
      caughtUp.complete(now);
    } else if (!options.isVoter() && follower != null) {
      follower.execute(this::poll);
    }
    caughtUp.completeOnTimeout(committed, options.requestTimeoutMillis(), TimeUnit.MILLISECONDS);
    caughtUp.whenComplete((view, error) -> waiters.removeIf(w -> w.future() == caughtUp));
    return caughtUp;
  }

  private static Throwable unwrap(Throwable error) {
    return error instanceof CompletionException && error.getCause() != null
        ? error.getCause()
        : error;
  }

  @Override
  public void addListener(Consumer<ClusterView> listener) {
    viewLock.lock();
    try {
      dispatcher.addListener(listener);
    } finally {
      viewLock.unlock();
    }
  }

  /** This member's id. */
  public String memberId() {
    return options.memberId();
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (follower != null) {
      follower.shutdownNow();
    }
    synchronized (this) {
      closeQuietly(client, "client");
    }
    closeQuietly(server, "server");
    for (Waiter waiter : waiters) {
      waiter.future().completeExceptionally(new MetadataUnavailableException("store closed"));
    }
    dispatcher.close();
  }

  /**
   * How long closing the Raft client or server may take. Closing a gRPC client whose channels are
   * still connecting can wait forever on a future nobody completes; a node that stops must not.
   */
  static final long CLOSE_TIMEOUT_MILLIS = 10_000;

  private void closeQuietly(AutoCloseable closeable, String what) {
    if (closeable == null) {
      return;
    }
    Thread closer =
        Thread.ofPlatform()
            .daemon()
            .name("replicakv-metadata-close-" + what)
            .start(
                () -> {
                  try {
                    closeable.close();
                  } catch (Exception e) {
                    log.warn("closing metadata {} of {} failed", what, options.memberId(), e);
                  }
                });
    try {
      closer.join(CLOSE_TIMEOUT_MILLIS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (closer.isAlive()) {
      log.warn(
          "closing metadata {} of {} did not finish within {} ms; leaving it to finish alone",
          what,
          options.memberId(),
          CLOSE_TIMEOUT_MILLIS);
    }
  }
}
