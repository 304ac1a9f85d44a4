package io.replicakv.server.leaderless;

import io.replicakv.core.Envelope;
import io.replicakv.core.PhysicalClock;
import io.replicakv.core.Ready;
import io.replicakv.core.leaderless.KvRequest;
import io.replicakv.core.leaderless.KvResult;
import io.replicakv.core.leaderless.LeaderlessConfig;
import io.replicakv.core.leaderless.LeaderlessNode;
import io.replicakv.core.leaderless.Placement;
import io.replicakv.core.msg.LeaderlessMessage;
import io.replicakv.core.ring.Ring;
import io.replicakv.core.ring.RingNode;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.server.leaderless.LeaderlessFrameCodec.KeyspaceMessage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives one {@link LeaderlessNode} (one leaderless keyspace on this node) on a single-threaded
 * loop, in the order the core's {@code step / tick / ready / advance} contract asks: input or tick,
 * then persist what {@code ready()} holds (forced to disk when it says so), then send its messages,
 * then {@code advance}, then complete the futures of the requests that finished.
 *
 * <p><b>Member ids.</b> The core names nodes by small integers; the cluster names them by strings.
 * A member's integer id is its index in the list the caller passes, which is the order the members
 * joined the cluster's metadata: stable across restarts as long as nobody leaves, and the same on
 * every node because the metadata is replicated. The keyspace's ring is built from those integers
 * (decimal strings, {@link #RING_VNODES} tokens each), so it is this keyspace's own placement, not
 * the slot ring of single-leader keyspaces. Membership changes are not handled: {@code
 * LeaderlessNode} fixes its ring for its lifetime, so a join or leave needs a new service (not
 * built yet).
 *
 * <p><b>Threads.</b> Everything that touches the node runs on {@code loop}, which must be
 * single-threaded; frames and requests arriving on other threads are handed to it. A failure on the
 * loop (a broken invariant, a disk error) stops the service: pending requests fail and later ones
 * are refused, rather than carrying on with state the disk may not hold.
 */
public final class LeaderlessService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LeaderlessService.class);

  /** Wall-clock period of one core tick; timeouts in the config are counted in these. */
  public static final long TICK_PERIOD_MILLIS = 20;

  /** Tokens each member places on this keyspace's ring. */
  public static final int RING_VNODES = 64;

  /** Requests waiting for an outcome at once; past it new requests are refused. */
  public static final int IN_FLIGHT_REQUESTS_MAX = 10_000;

  /** Sends one encoded frame to the member with integer id {@code to}; must not block. */
  @FunctionalInterface
  public interface Transport {
    void send(int to, byte[] frame);
  }

  private final int keyspace;
  private final List<String> members;
  private final int self;
  private final ScheduledExecutorService loop;
  private final Transport transport;
  private final LeaderlessRecordLog recordLog;
  private final LeaderlessNode node;
  private final Map<Long, CompletableFuture<KvResult>> inFlight = new HashMap<>();
  private final ScheduledFuture<?> ticker;
  private long nextRequestId = 1;
  private volatile boolean stopped;
  private volatile Map<String, Long> countersView = Map.of();

  /**
   * Starts the node of keyspace {@code keyspace} for member {@code selfId}, replaying {@code
   * logFile}.
   *
   * @param members every member id of the cluster in join order (the integer-id mapping)
   */
  public LeaderlessService(
      int keyspace,
      List<String> members,
      String selfId,
      LeaderlessConfig config,
      PhysicalClock clock,
      Path logFile,
      ScheduledExecutorService loop,
      Transport transport) {
    Check.argument(
        members.size() >= config.replicas(),
        "%s members for N=%s",
        members.size(),
        config.replicas());
    Check.argument(
        members.stream().distinct().count() == members.size(), "duplicate member in %s", members);
    this.keyspace = keyspace;
    this.members = List.copyOf(members);
    this.self = this.members.indexOf(selfId);
    Check.argument(self >= 0, "member %s not in %s", selfId, members);
    this.loop = Check.notNull(loop, "loop");
    this.transport = Check.notNull(transport, "transport");
    this.recordLog = new LeaderlessRecordLog(logFile);
    List<RingNode> ringNodes = new ArrayList<>();
    for (int i = 0; i < this.members.size(); i++) {
      ringNodes.add(RingNode.of(Integer.toString(i)));
    }
    Placement placement = new Placement(Ring.of(RING_VNODES, ringNodes), config.replicas());
    this.node = new LeaderlessNode(self, placement, config, clock, recordLog.recovered());
    this.countersView = java.util.Collections.unmodifiableMap(node.counters().asMap());
    this.ticker =
        loop.scheduleAtFixedRate(
            () -> onLoop(node::tick),
            TICK_PERIOD_MILLIS,
            TICK_PERIOD_MILLIS,
            TimeUnit.MILLISECONDS);
    loop.execute(() -> onLoop(() -> {}));
  }

  /** The integer id the core uses for {@code memberId}, or -1 when it is not a member. */
  public int idOf(String memberId) {
    return members.indexOf(memberId);
  }

  /** This node's integer id. */
  public int selfId() {
    return self;
  }

  /** The keyspace this service serves. */
  public int keyspace() {
    return keyspace;
  }

  /**
   * Coordinates {@code request} (its client and request ids are replaced by this service's); the
   * future completes on the loop with the outcome, or exceptionally when the service stops.
   */
  public CompletableFuture<KvResult> submit(KvRequest request) {
    CompletableFuture<KvResult> future = new CompletableFuture<>();
    if (stopped) {
      future.completeExceptionally(new IllegalStateException("leaderless service stopped"));
      return future;
    }
    loop.execute(
        () ->
            onLoop(
                () -> {
                  if (inFlight.size() >= IN_FLIGHT_REQUESTS_MAX) {
                    future.completeExceptionally(
                        new IllegalStateException(
                            inFlight.size() + " leaderless requests in flight, retry later"));
                    return;
                  }
                  long id = nextRequestId++;
                  inFlight.put(id, future);
                  node.submit(withIds(request, id));
                }));
    return future;
  }

  /** Hands a received frame to the loop; a corrupt frame is logged and dropped. */
  public void onFrame(byte[] frame) {
    List<KeyspaceMessage> messages;
    try {
      messages = LeaderlessFrameCodec.decode(frame);
    } catch (CorruptEncodingException e) {
      log.warn("keyspace {}: dropping corrupt leaderless frame: {}", keyspace, e.getMessage());
      return;
    }
    if (stopped) {
      return;
    }
    loop.execute(
        () ->
            onLoop(
                () -> {
                  for (KeyspaceMessage message : messages) {
                    if (message.keyspace() == keyspace && message.message().to() == self) {
                      node.step(message.message());
                    }
                  }
                }));
  }

  /** The node's counters by name as of the last loop turn (safe to read from any thread). */
  public Map<String, Long> counters() {
    return countersView;
  }

  private void onLoop(Runnable input) {
    if (stopped) {
      return;
    }
    try {
      input.run();
      pump();
    } catch (RuntimeException e) {
      log.error("keyspace {}: leaderless service stops", keyspace, e);
      stop(e);
    }
  }

  private void pump() {
    Ready ready = node.ready();
    recordLog.append(ready.records(), ready.syncBeforeSend());
    Map<Integer, List<KeyspaceMessage>> byPeer = new TreeMap<>();
    for (Envelope envelope : ready.messages()) {
      if (envelope.message() instanceof LeaderlessMessage message) {
        byPeer
            .computeIfAbsent(envelope.to(), to -> new ArrayList<>())
            .add(new KeyspaceMessage(keyspace, message));
      }
    }
    node.advance(ready);
    for (Map.Entry<Integer, List<KeyspaceMessage>> batch : byPeer.entrySet()) {
      List<KeyspaceMessage> messages = batch.getValue();
      for (int from = 0; from < messages.size(); from += FRAME_MESSAGES_MAX) {
        List<KeyspaceMessage> part =
            messages.subList(from, Math.min(messages.size(), from + FRAME_MESSAGES_MAX));
        transport.send(batch.getKey(), LeaderlessFrameCodec.encode(part));
      }
    }
    for (KvResult result : node.takeResults()) {
      CompletableFuture<KvResult> future = inFlight.remove(result.requestId());
      if (future != null) {
        future.complete(result);
      }
    }
    countersView = java.util.Collections.unmodifiableMap(node.counters().asMap());
  }

  /** Messages per frame the sender puts in one frame; a state is at most a few MB. */
  private static final int FRAME_MESSAGES_MAX = 64;

  private static KvRequest withIds(KvRequest request, long id) {
    return switch (request) {
      case KvRequest.Get get -> new KvRequest.Get(0, id, get.key(), get.readQuorum());
      case KvRequest.Put put ->
          new KvRequest.Put(0, id, put.key(), put.write(), put.context(), put.writeQuorum());
    };
  }

  private void stop(Throwable cause) {
    stopped = true;
    ticker.cancel(false);
    for (CompletableFuture<KvResult> future : inFlight.values()) {
      future.completeExceptionally(
          cause != null ? cause : new IllegalStateException("leaderless service stopped"));
    }
    inFlight.clear();
  }

  /** Stops ticking, fails pending requests and closes the log (waits for the loop to do so). */
  @Override
  public void close() {
    if (loop instanceof io.netty.util.concurrent.EventExecutor executor && executor.inEventLoop()) {
      stop(null);
      recordLog.close();
      return;
    }
    CompletableFuture<Void> done = new CompletableFuture<>();
    try {
      loop.execute(
          () -> {
            stop(null);
            recordLog.close();
            done.complete(null);
          });
      done.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      stopped = true;
      ticker.cancel(false);
      recordLog.close();
    } catch (Exception e) {
      throw new IllegalStateException(
          "leaderless service of keyspace " + keyspace + " did not stop", e);
    }
  }
}
