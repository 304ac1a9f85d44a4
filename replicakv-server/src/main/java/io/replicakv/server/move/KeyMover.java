package io.replicakv.server.move;

import io.replicakv.core.ring.RingDiff;
import io.replicakv.core.ring.Slots;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.FrameHandler;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.cluster.MetadataChange;
import io.replicakv.storage.StorageEngine;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.HashValue;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.MutationCodec;
import io.replicakv.storage.data.SetValue;
import io.replicakv.storage.data.StringValue;
import io.replicakv.storage.data.Value;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves keys when a member joins or leaves: Redis Cluster's key-by-key migration, adapted to a ring
 * whose ownership lives in the metadata log.
 *
 * <p>Model. A move is announced by a member's state: JOINING (it owns nothing yet) or LEAVING (it
 * still owns its slots). Every node that sees such a member computes, from the same metadata
 * version, {@code RingDiff.between(ringNow, ringAfterFlip)} where the flip is JOINING to UP or
 * LEAVING to LEFT. The moves whose source is this node are its work. The source streams the current
 * state of every key whose slot moves to the new owner (peer frame {@link #TYPE_MOVE_BATCH}:
 * mutations in {@link MutationCodec} form, applied by the target through its {@link StorageEngine},
 * so they are logged and survive a restart), then re-sends every key the change feed ({@link
 * StorageEngine#readChanges}) shows changed since the previous round, until a round finds at most
 * {@link #FINAL_DELTA_KEYS_MAX} keys. Then it fences: writes to moving slots answer {@code
 * -TRYAGAIN}, it sends the last delta, and reports ready to the coordinator (the joiner, or the
 * leaver itself). The coordinator proposes the flip once every source is ready. When a source sees
 * the flip it lifts the fence (the router now sends those slots to the new owner) and deletes the
 * moved keys with logged deletes.
 *
 * <p>Invariant: no acknowledged write is lost. A write to a moving slot is accepted by the source
 * only before its fence, and every such write is in the change feed the last delta reads while
 * fenced; the flip happens only after every source's last delta was acknowledged by its target.
 * After the flip a node with a stale view still sends the command to the old owner, which forwards
 * it again (the hop count in the forward frame stops ping-pong between two stale views).
 *
 * <p>Failure cases. A copy starts with the targets deleting whatever they hold in the moving slots
 * (leftovers of a cancelled or restarted move cannot come back to life). A source that restarts
 * mid-move starts its copy again; before it accepts writes to the moving slots it withdraws any
 * ready report it sent before (if the coordinator already proposed the flip on it, the source stays
 * fenced until the flip arrives). Fenced sources repeat their ready report until they see the flip,
 * so a restarted coordinator learns it again. If the change feed was trimmed by a snapshot, the
 * copy restarts. Catch-up fences early when a delta stops shrinking (writes as fast as the
 * throttle). CLUSTER CANCEL (JOINING to LEFT, LEAVING to UP) lifts the fence.
 *
 * <p>Limits. A source that is down keeps the join waiting, and a source that dies while fenced
 * leaves its moving slots answering TRYAGAIN until it returns or the move is cancelled.
 * FLUSHDB/FLUSHALL on a source during a move is not sent to the target. One move at a time (members
 * are taken in id order). All state here is touched on the node loop only.
 */
public final class KeyMover {
  private static final Logger log = LoggerFactory.getLogger(KeyMover.class);

  /** Peer frame: a batch of mutations for the target to apply; answered by the reply type. */
  public static final int TYPE_MOVE_BATCH = 18;

  public static final int TYPE_MOVE_BATCH_REPLY = 19;

  /** Peer frame: "member\nsource", a source finished its last delta for that member's move. */
  public static final int TYPE_MOVE_READY = 20;

  public static final int TYPE_MOVE_READY_REPLY = 21;

  /**
   * Peer frame: count this node's keys and bytes in slot ranges ({@code [u32 n]([u16 first][u16
   * last])*}, then optionally {@code [u8 reply version]}: the newest reply form the asker reads; a
   * node that ignores it answers version 1).
   */
  public static final int TYPE_MOVE_COUNT = 22;

  /**
   * Reply to {@link #TYPE_MOVE_COUNT}, per range in order. Version 1 (the request names none):
   * {@code [u64 keys]*}. Version 2: {@code [u8 2][u32 n]([u64 keys][u64 bytes])*}, bytes being the
   * data bytes of the storage's slot counters. The lengths (8n and 5 + 16n) never coincide, so an
   * asker tells them apart without trusting the version byte alone.
   */
  public static final int TYPE_MOVE_COUNT_REPLY = 23;

  /** Newest {@link #TYPE_MOVE_COUNT_REPLY} form this node writes and reads. */
  static final int COUNT_REPLY_VERSION = 2;

  /**
   * Peer frame: the target deletes (logged) every key it holds in these ranges (payload as {@link
   * #TYPE_MOVE_COUNT}), so leftovers of a cancelled or restarted move cannot come back to life.
   */
  public static final int TYPE_MOVE_CLEAR = 24;

  public static final int TYPE_MOVE_CLEAR_REPLY = 25;

  /** Keys visited per scan step of the bulk phase. */
  static final int SCAN_KEYS_PER_STEP = 256;

  /** A delta round at most this large is sent under the write fence. */
  static final int FINAL_DELTA_KEYS_MAX = 64;

  /** From this round on, a delta no smaller than the previous one fences (no progress). */
  static final int DELTA_ROUNDS_BEFORE_STALL_CHECK = 3;

  /** After this many delta rounds the source fences anyway (writes outrun the stream). */
  static final int DELTA_ROUNDS_MAX = 50;

  /**
   * How often a fenced source repeats its ready report until it sees the flip (the coordinator may
   * have restarted and forgotten it).
   */
  static final long READY_REPEAT_MILLIS = 1_000;

  /** How long a failed batch waits before it is sent again. */
  static final long RETRY_DELAY_MILLIS = 200;

  /** Format version byte of a batch payload. */
  static final byte BATCH_FORMAT_VERSION = 1;

  private enum Phase {
    BULK,
    DELTA,
    FENCED,
    DELETING
  }

  private final String selfId;
  private final StorageEngine engine;
  private final PeerClient peers;
  private final ScheduledExecutorService loop;
  private final Function<MetadataChange, CompletableFuture<ClusterView>> proposer;
  private final long throttleBytesPerSecond;
  private final MoveProgress progress;

  private volatile boolean[] fencedSlots = new boolean[Slots.SLOT_COUNT];

  // source side (node loop only)
  private Outgoing outgoing;
  private ClusterView lastView;
  // coordinator side (node loop only)
  private String coordinating;
  private MemberState coordinatingFlipTo;
  private Set<String> expectedSources = Set.of();
  private final Set<String> readySources = new HashSet<>();
  private boolean flipProposed;

  // progress, read by metrics from any thread
  private volatile long keysSent;
  private volatile long bytesSent;
  private volatile long keysReceived;
  private volatile long keysDeleted;
  private volatile long movesCompleted;
  private volatile long keysRemaining;
  private volatile String status = "idle";

  /**
   * @param throttleBytesPerSecond most bytes per second this node streams to targets; 0 is
   *     unlimited
   */
  public KeyMover(
      String selfId,
      StorageEngine engine,
      PeerClient peers,
      ScheduledExecutorService loop,
      Function<MetadataChange, CompletableFuture<ClusterView>> proposer,
      long throttleBytesPerSecond) {
    this.selfId = selfId;
    this.engine = engine;
    this.peers = peers;
    this.loop = loop;
    this.proposer = proposer;
    this.throttleBytesPerSecond = throttleBytesPerSecond;
    this.progress = new MoveProgress(throttleBytesPerSecond, System::nanoTime);
  }

  /** The outgoing move's planned and sent keys and bytes, for CLUSTER MOVEPROGRESS (any thread). */
  public MoveProgress progress() {
    return progress;
  }

  private volatile io.replicakv.server.route.PeerRoutes routes =
      io.replicakv.server.route.PeerRoutes.DIRECT;

  /** Where this node's move requests go for each member (the {@code peer-routes} setting). */
  public void setPeerRoutes(io.replicakv.server.route.PeerRoutes routes) {
    this.routes = routes;
  }

  /** True when a write to {@code slot} must answer TRYAGAIN (any thread). */
  public boolean refusesWrite(int slot) {
    return fencedSlots[slot];
  }

  /** Keys this node streamed to targets so far. */
  public long keysSent() {
    return keysSent;
  }

  /** Payload bytes this node streamed to targets so far. */
  public long bytesSent() {
    return bytesSent;
  }

  /** Keys (mutations) this node applied as a move target. */
  public long keysReceived() {
    return keysReceived;
  }

  /** Moved keys this node deleted after a flip. */
  public long keysDeleted() {
    return keysDeleted;
  }

  /**
   * Keys the current move still has to send, as the last delta round found them (0 when idle or in
   * the bulk phase, whose remainder is not counted).
   */
  public long keysRemainingEstimate() {
    return keysRemaining;
  }

  /** Moves this node finished as a source. */
  public long movesCompleted() {
    return movesCompleted;
  }

  /** A one-line description of the current move, for /admin and CLUSTER MOVESTATUS. */
  public String status() {
    return status;
  }

  private static final class Outgoing {
    final String member;
    final MemberState flipTo;
    final String[] targetBySlot = new String[Slots.SLOT_COUNT];
    final Map<String, Member> targets = new HashMap<>();
    Phase phase = Phase.BULK;
    int keyspace;
    long cursor;
    long sinceSequence;
    int deltaRounds;
    long lastDeltaKeys = Long.MAX_VALUE;

    Outgoing(String member, MemberState flipTo) {
      this.member = member;
      this.flipTo = flipTo;
    }
  }

  /** Acts on a new metadata version; call on the node loop. */
  public void onView(ClusterView view) {
    lastView = view;
    Member moving = null;
    for (Member m : view.members().values()) {
      if ((m.state() == MemberState.JOINING && m.peerPort() != 0)
          || m.state() == MemberState.LEAVING) {
        moving = m;
        break;
      }
    }
    if (outgoing != null) {
      Member m = view.members().get(outgoing.member);
      boolean flipped = m == null || m.state() == outgoing.flipTo;
      boolean cancelled = m != null && !flipped && m.state() != expectedState(outgoing.flipTo);
      if (flipped || cancelled) {
        finishOutgoing(flipped);
      }
    }
    if (coordinating != null && (moving == null || !moving.id().equals(coordinating))) {
      coordinating = null;
      readySources.clear();
      flipProposed = false;
    }
    if (moving == null) {
      return;
    }
    MemberState flipTo = moving.state() == MemberState.JOINING ? MemberState.UP : MemberState.LEFT;
    List<RingDiff.SlotMove> moves;
    try {
      moves =
          RingDiff.between(
              view.ring(),
              view.apply(new MetadataChange.SetMemberState(moving.id(), flipTo)).ring());
    } catch (RuntimeException e) {
      log.warn("cannot plan the move of {}: {}", moving.id(), e.toString());
      return;
    }
    if (moving.id().equals(selfId) && coordinating == null) {
      coordinating = moving.id();
      coordinatingFlipTo = flipTo;
      Set<String> sources = new HashSet<>();
      for (RingDiff.SlotMove move : moves) {
        sources.add(move.fromNode());
      }
      expectedSources = sources;
      log.info("coordinating the move of {}: waiting for sources {}", selfId, sources);
      maybeFlip();
    }
    if (outgoing == null || !outgoing.member.equals(moving.id())) {
      if (outgoing != null) {
        return; // one move at a time; the other finishes first
      }
      Outgoing out = new Outgoing(moving.id(), flipTo);
      for (RingDiff.SlotMove move : moves) {
        if (!move.fromNode().equals(selfId)) {
          continue;
        }
        Member target = view.members().get(move.toNode());
        if (target == null) {
          continue;
        }
        out.targets.put(target.id(), target);
        for (int s = move.firstSlot(); s <= move.lastSlot(); s++) {
          out.targetBySlot[s] = target.id();
        }
      }
      if (out.targets.isEmpty()) {
        return;
      }
      out.sinceSequence = engine.lastSequence();
      outgoing = out;
      progress.start(out.member, out.targets.keySet());
      log.info(
          "moving keys for {} ({}) to {} from sequence {}",
          out.member,
          flipTo == MemberState.UP ? "join" : "leave",
          out.targets.keySet(),
          out.sinceSequence);
      status = "bulk copy for " + out.member;
      if (out.member.equals(selfId)) {
        clearTargets(out); // a leaver coordinates itself
      } else {
        fence(out);
        withdrawReady(out);
      }
    }
  }

  private void fence(Outgoing out) {
    boolean[] fenced = new boolean[Slots.SLOT_COUNT];
    for (int s = 0; s < Slots.SLOT_COUNT; s++) {
      fenced[s] = out.targetBySlot[s] != null;
    }
    fencedSlots = fenced;
  }

  /**
   * Before a (re)started copy accepts writes, the coordinator must forget any ready report this
   * node sent before it restarted (that report promised that no more writes would come). The moving
   * slots stay fenced until the coordinator answers; if it already proposed the flip on that old
   * report, they stay fenced until the flip arrives, which loses nothing, since the node was fenced
   * from its old report until now.
   */
  private void withdrawReady(Outgoing out) {
    Member coordinator = out.targets.containsKey(out.member) ? address(out, out.member) : null;
    if (coordinator == null) {
      fencedSlots = new boolean[Slots.SLOT_COUNT];
      clearTargets(out);
      return;
    }
    byte[] payload = (out.member + "\n" + selfId + "\nwithdraw").getBytes(StandardCharsets.UTF_8);
    peers
        .request(
            routes.host(coordinator), routes.port(coordinator), Frame.of(TYPE_MOVE_READY, payload))
        .whenComplete(
            (reply, error) ->
                loop.execute(
                    () -> {
                      if (outgoing != out) {
                        return;
                      }
                      if (error != null || reply.isError()) {
                        loop.schedule(
                            () -> withdrawReady(out), RETRY_DELAY_MILLIS, TimeUnit.MILLISECONDS);
                      } else if (reply.payloadText().equals(WITHDRAW_TOO_LATE)) {
                        out.phase = Phase.FENCED;
                        progress.phase(MoveProgress.Phase.FENCED);
                        status = "ready (before a restart), waiting for the flip of " + out.member;
                      } else {
                        fencedSlots = new boolean[Slots.SLOT_COUNT];
                        clearTargets(out);
                      }
                    }));
  }

  /** The coordinator's answer to a withdrawal after it proposed the flip. */
  static final String WITHDRAW_TOO_LATE = "flipping";

  private static MemberState expectedState(MemberState flipTo) {
    return flipTo == MemberState.UP ? MemberState.JOINING : MemberState.LEAVING;
  }

  /** One step of the source's state machine; re-schedules itself until the fence is reached. */
  private void step(Outgoing out) {
    if (outgoing != out) {
      return;
    }
    switch (out.phase) {
      case BULK -> bulkStep(out);
      case DELTA -> deltaStep(out);
      case FENCED, DELETING -> {}
    }
  }

  private void bulkStep(Outgoing out) {
    MemoryState state = engine.state();
    if (out.keyspace >= state.keyspaceCount()) {
      out.phase = Phase.DELTA;
      progress.phase(MoveProgress.Phase.DELTA);
      status = "catching up for " + out.member;
      deltaStep(out);
      return;
    }
    Map<String, List<Mutation>> batches = new HashMap<>();
    int[] keys = {0};
    long nowMillis = System.currentTimeMillis();
    int ks = out.keyspace;
    out.cursor =
        state.scan(
            ks,
            out.cursor,
            SCAN_KEYS_PER_STEP,
            (key, value) -> {
              String target = out.targetBySlot[Slots.slot(key.array())];
              if (target != null) {
                keys[0]++;
                currentState(
                    state,
                    ks,
                    key,
                    nowMillis,
                    batches.computeIfAbsent(target, t -> new ArrayList<>()));
              }
            });
    if (out.cursor == 0) {
      out.keyspace++;
    }
    send(out, batches, keys[0], () -> step(out));
  }

  /**
   * Starts (or restarts) the bulk phase: the targets first drop whatever they hold in the moving
   * slots, then every key is copied afresh from the change-feed position taken now.
   */
  private void clearTargets(Outgoing out) {
    out.phase = Phase.BULK;
    out.keyspace = 0;
    out.cursor = 0;
    out.sinceSequence = engine.lastSequence();
    progress.copyStarted(engine.state(), out.targetBySlot);
    List<CompletableFuture<Frame>> acks = new ArrayList<>();
    for (String targetId : out.targets.keySet()) {
      Member target = address(out, targetId);
      List<int[]> ranges = new ArrayList<>();
      for (int s = 0; s < Slots.SLOT_COUNT; s++) {
        if (target.id().equals(out.targetBySlot[s])) {
          if (!ranges.isEmpty() && ranges.getLast()[1] == s - 1) {
            ranges.getLast()[1] = s;
          } else {
            ranges.add(new int[] {s, s});
          }
        }
      }
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + 4 * ranges.size());
      b.putInt(ranges.size());
      for (int[] r : ranges) {
        b.putShort((short) r[0]).putShort((short) r[1]);
      }
      acks.add(
          peers.request(
              routes.host(target), routes.port(target), Frame.of(TYPE_MOVE_CLEAR, b.array())));
    }
    CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new))
        .whenComplete(
            (ok, error) -> {
              boolean failed = error != null || acks.stream().anyMatch(a -> a.join().isError());
              if (failed) {
                log.warn("move of {}: a target did not clear its slots; again", out.member);
                loop.schedule(
                    () -> {
                      if (outgoing == out) {
                        clearTargets(out);
                      }
                    },
                    RETRY_DELAY_MILLIS,
                    TimeUnit.MILLISECONDS);
                return;
              }
              loop.execute(() -> step(out));
            });
  }

  private void deltaStep(Outgoing out) {
    Set<Map.Entry<Integer, Bytes>> changed;
    try {
      changed = changedSince(out);
    } catch (IOException e) {
      // the log was trimmed past our position (a snapshot ran): copy everything again
      log.warn(
          "move of {}: change feed unavailable ({}); restarting the copy",
          out.member,
          e.toString());
      status = "restarting bulk copy for " + out.member;
      clearTargets(out);
      return;
    }
    out.deltaRounds++;
    keysRemaining = changed.size();
    // fence when the delta is small, or stops shrinking (writes arrive as fast as the throttle
    // lets changes out), or after too many rounds
    boolean stalled =
        out.deltaRounds >= DELTA_ROUNDS_BEFORE_STALL_CHECK && changed.size() >= out.lastDeltaKeys;
    out.lastDeltaKeys = changed.size();
    boolean fence =
        changed.size() <= FINAL_DELTA_KEYS_MAX || stalled || out.deltaRounds >= DELTA_ROUNDS_MAX;
    if (fence) {
      boolean[] fenced = new boolean[Slots.SLOT_COUNT];
      for (int s = 0; s < Slots.SLOT_COUNT; s++) {
        fenced[s] = out.targetBySlot[s] != null;
      }
      fencedSlots = fenced;
      out.phase = Phase.FENCED;
      progress.phase(MoveProgress.Phase.FENCED);
      status = "fenced, last delta for " + out.member;
      try {
        changed.addAll(changedSince(out)); // nothing new can arrive after this
      } catch (IOException e) {
        log.warn(
            "move of {}: change feed unavailable under the fence ({}); restarting",
            out.member,
            e.toString());
        fencedSlots = new boolean[Slots.SLOT_COUNT];
        status = "restarting bulk copy for " + out.member;
        clearTargets(out);
        return;
      }
    }
    Map<String, List<Mutation>> batches = new HashMap<>();
    long nowMillis = System.currentTimeMillis();
    MemoryState state = engine.state();
    for (Map.Entry<Integer, Bytes> e : changed) {
      String target = out.targetBySlot[Slots.slot(e.getValue().array())];
      currentState(
          state,
          e.getKey(),
          e.getValue(),
          nowMillis,
          batches.computeIfAbsent(target, t -> new ArrayList<>()));
    }
    send(out, batches, changed.size(), fence ? () -> reportReady(out) : () -> step(out));
  }

  private Set<Map.Entry<Integer, Bytes>> changedSince(Outgoing out) throws IOException {
    Set<Map.Entry<Integer, Bytes>> changed = new LinkedHashSet<>();
    long upTo = engine.lastSequence();
    engine.readChanges(
        out.sinceSequence,
        (sequence, partition, m) -> {
          for (byte[] key : keysOf(m)) {
            if (out.targetBySlot[Slots.slot(key)] != null) {
              changed.add(Map.entry(m.keyspace(), Bytes.copyOf(key)));
            }
          }
        });
    out.sinceSequence = upTo;
    return changed;
  }

  private static List<byte[]> keysOf(Mutation m) {
    return switch (m) {
      case Mutation.StringSet s -> List.of(s.key());
      case Mutation.Delete d -> List.of(d.key());
      case Mutation.Expire e -> List.of(e.key());
      case Mutation.HashSet h -> List.of(h.key());
      case Mutation.HashDelete h -> List.of(h.key());
      case Mutation.SetAdd s -> List.of(s.key());
      case Mutation.SetRemove s -> List.of(s.key());
      case Mutation.Rename r -> List.of(r.from(), r.to());
      case Mutation.FlushKeyspace f -> List.of();
      case Mutation.FlushAll f -> List.of();
      case Mutation.Batch b -> b.parts().stream().flatMap(part -> keysOf(part).stream()).toList();
    };
  }

  /** The mutations that make a target's copy of one key equal to this node's (absent: delete). */
  static void currentState(
      MemoryState state, int keyspace, Bytes key, long nowMillis, List<Mutation> out) {
    byte[] k = key.array();
    Value value = state.get(keyspace, key);
    if (value == null || state.isExpired(keyspace, key, nowMillis)) {
      out.add(new Mutation.Delete(keyspace, k));
      return;
    }
    long expireAt = Math.max(0, state.expireAtMillis(keyspace, key));
    switch (value) {
      case StringValue s -> out.add(new Mutation.StringSet(keyspace, k, s.bytes(), expireAt));
      case HashValue h -> {
        out.add(new Mutation.Delete(keyspace, k));
        List<byte[]> fields = new ArrayList<>();
        h.fields()
            .forEach(
                (f, v) -> {
                  fields.add(f.array());
                  fields.add(v);
                });
        out.add(new Mutation.HashSet(keyspace, k, fields));
        if (expireAt > 0) {
          out.add(new Mutation.Expire(keyspace, k, expireAt));
        }
      }
      case SetValue s -> {
        out.add(new Mutation.Delete(keyspace, k));
        List<byte[]> members = new ArrayList<>();
        s.members().forEach((mem, present) -> members.add(mem.array()));
        out.add(new Mutation.SetAdd(keyspace, k, members));
        if (expireAt > 0) {
          out.add(new Mutation.Expire(keyspace, k, expireAt));
        }
      }
    }
  }

  /** A target's newest addresses (it may have restarted on other ports during the move). */
  private Member address(Outgoing out, String id) {
    Member m = lastView == null ? null : lastView.members().get(id);
    return m != null && m.peerPort() != 0 ? m : out.targets.get(id);
  }

  /** Sends one batch per target, waits for every acknowledgement, then runs {@code next}. */
  private void send(Outgoing out, Map<String, List<Mutation>> batches, int keys, Runnable next) {
    if (batches.isEmpty()) {
      loop.execute(next);
      return;
    }
    long startNanos = System.nanoTime();
    List<CompletableFuture<Frame>> acks = new ArrayList<>();
    long bytes = 0;
    for (Map.Entry<String, List<Mutation>> e : batches.entrySet()) {
      byte[] payload = encodeBatch(e.getValue());
      bytes += payload.length;
      Member target = address(out, e.getKey());
      acks.add(
          peers.request(
              routes.host(target), routes.port(target), Frame.of(TYPE_MOVE_BATCH, payload)));
    }
    long sentBytes = bytes;
    CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new))
        .whenComplete(
            (ok, error) -> {
              boolean failed = error != null || acks.stream().anyMatch(a -> a.join().isError());
              if (failed) {
                log.warn(
                    "move of {}: a batch was not acknowledged ({}); sending it again",
                    out.member,
                    error);
                loop.schedule(
                    () -> send(out, batches, keys, next),
                    RETRY_DELAY_MILLIS,
                    TimeUnit.MILLISECONDS);
                return;
              }
              keysSent += keys;
              bytesSent += sentBytes;
              // this callback runs on a transport thread; the progress belongs to the node loop
              loop.execute(
                  () -> {
                    if (outgoing == out) {
                      progress.onBatchesAcknowledged(keys, batches.values(), sentBytes);
                    }
                  });
              long delayMillis = 0;
              if (throttleBytesPerSecond > 0) {
                long budgetMillis = sentBytes * 1000 / throttleBytesPerSecond;
                long spentMillis = (System.nanoTime() - startNanos) / 1_000_000;
                delayMillis = Math.max(0, budgetMillis - spentMillis);
              }
              loop.schedule(next, delayMillis, TimeUnit.MILLISECONDS);
            });
  }

  private void reportReady(Outgoing out) {
    if (outgoing != out) {
      return;
    }
    status = "ready, waiting for the flip of " + out.member;
    if (out.member.equals(selfId)) {
      onReady(out.member, selfId);
      return;
    }
    // the coordinator is the joiner; its address is in the targets
    Member coordinator = out.targets.containsKey(out.member) ? address(out, out.member) : null;
    if (coordinator == null) {
      log.warn("move of {}: the coordinator is not a target of this node", out.member);
      return;
    }
    byte[] payload = (out.member + "\n" + selfId).getBytes(StandardCharsets.UTF_8);
    peers
        .request(
            routes.host(coordinator), routes.port(coordinator), Frame.of(TYPE_MOVE_READY, payload))
        .whenComplete(
            (reply, error) -> {
              boolean failed = error != null || reply.isError();
              loop.schedule(
                  () -> {
                    if (outgoing == out && out.phase == Phase.FENCED) {
                      reportReady(out);
                    }
                  },
                  failed ? RETRY_DELAY_MILLIS : READY_REPEAT_MILLIS,
                  TimeUnit.MILLISECONDS);
            });
  }

  private void onReady(String member, String source) {
    if (!member.equals(coordinating)) {
      readySources.add(source); // may arrive before this node applied the view that starts it
      return;
    }
    readySources.add(source);
    maybeFlip();
  }

  private void maybeFlip() {
    if (flipProposed || coordinating == null || !readySources.containsAll(expectedSources)) {
      return;
    }
    flipProposed = true;
    String member = coordinating;
    MemberState to = coordinatingFlipTo;
    log.info("every source is ready: proposing {} -> {}", member, to);
    MemberState target = to;
    proposer
        .apply(new MetadataChange.SetMemberState(member, target))
        .whenComplete(
            (v, error) -> {
              if (error != null) {
                log.warn("proposing {} -> {} failed: {}", member, target, error.toString());
                loop.execute(
                    () -> {
                      flipProposed = false;
                      loop.schedule(this::maybeFlip, RETRY_DELAY_MILLIS, TimeUnit.MILLISECONDS);
                    });
              }
            });
  }

  /** The flip (or a cancel) was seen: lift the fence and, after a flip, delete the moved keys. */
  private void finishOutgoing(boolean flipped) {
    Outgoing out = outgoing;
    fencedSlots = new boolean[Slots.SLOT_COUNT];
    if (!flipped) {
      log.info("move of {} cancelled", out.member);
      outgoing = null;
      progress.finish(false);
      status = "idle";
      return;
    }
    out.phase = Phase.DELETING;
    progress.phase(MoveProgress.Phase.DELETING);
    status = "deleting moved keys of " + out.member;
    out.keyspace = 0;
    out.cursor = 0;
    deleteStep(out);
  }

  private void deleteStep(Outgoing out) {
    MemoryState state = engine.state();
    if (out.keyspace >= state.keyspaceCount()) {
      log.info("move of {} done: {} keys sent, {} deleted", out.member, keysSent, keysDeleted);
      if (outgoing == out) {
        outgoing = null;
      }
      movesCompleted++;
      progress.finish(true);
      keysRemaining = 0;
      status = "idle";
      if (lastView != null) {
        onView(lastView); // a move that waited for this one may start now
      }
      return;
    }
    List<byte[]> doomed = new ArrayList<>();
    out.cursor =
        state.scan(
            out.keyspace,
            out.cursor,
            SCAN_KEYS_PER_STEP,
            (key, value) -> {
              if (out.targetBySlot[Slots.slot(key.array())] != null) {
                doomed.add(key.array());
              }
            });
    for (byte[] key : doomed) {
      engine.apply(new Mutation.Delete(out.keyspace, key));
    }
    keysDeleted += doomed.size();
    if (out.cursor == 0) {
      out.keyspace++;
    }
    engine.flush();
    loop.execute(() -> deleteStep(out));
  }

  /** True for the peer frame types {@link #onFrame} handles. */
  public static boolean handles(int frameType) {
    return frameType == TYPE_MOVE_BATCH
        || frameType == TYPE_MOVE_READY
        || frameType == TYPE_MOVE_COUNT
        || frameType == TYPE_MOVE_CLEAR;
  }

  /** The peer handler for the move, ready and count frames. */
  public void onFrame(Frame request, FrameHandler.Responder responder) {
    if (request.type() == TYPE_MOVE_BATCH) {
      List<Mutation> mutations;
      try {
        mutations = decodeBatch(request.payload());
      } catch (RuntimeException e) {
        responder.fail("bad move batch: " + e.getMessage());
        return;
      }
      loop.execute(
          () -> {
            for (Mutation m : mutations) {
              engine.apply(m);
            }
            engine.flush();
            keysReceived += mutations.size();
            responder.reply(new Frame(TYPE_MOVE_BATCH_REPLY, request.correlationId(), new byte[0]));
          });
    } else if (request.type() == TYPE_MOVE_CLEAR) {
      loop.execute(
          () -> {
            long deleted;
            try {
              deleted = deleteKeysIn(request.payload());
            } catch (RuntimeException e) {
              responder.fail("bad clear request: " + e.getMessage());
              return;
            }
            if (deleted > 0) {
              log.info("cleared {} leftover keys before receiving a move", deleted);
            }
            responder.reply(new Frame(TYPE_MOVE_CLEAR_REPLY, request.correlationId(), new byte[0]));
          });
    } else if (request.type() == TYPE_MOVE_COUNT) {
      loop.execute(
          () -> {
            byte[] answer;
            try {
              answer = countReply(engine.state(), request.payload());
            } catch (RuntimeException e) {
              responder.fail("bad count request: " + e.getMessage());
              return;
            }
            responder.reply(new Frame(TYPE_MOVE_COUNT_REPLY, request.correlationId(), answer));
          });
    } else {
      String[] parts = new String(request.payload(), StandardCharsets.UTF_8).split("\n", 3);
      if (parts.length < 2 || (parts.length == 3 && !parts[2].equals("withdraw"))) {
        responder.fail("bad move ready frame");
        return;
      }
      loop.execute(
          () -> {
            String answer = "ok";
            if (parts.length == 3) {
              if (parts[0].equals(coordinating) && flipProposed) {
                answer = WITHDRAW_TOO_LATE;
              } else {
                readySources.remove(parts[1]);
              }
            } else {
              onReady(parts[0], parts[1]);
            }
            responder.reply(
                new Frame(
                    TYPE_MOVE_READY_REPLY,
                    request.correlationId(),
                    answer.getBytes(StandardCharsets.UTF_8)));
          });
    }
  }

  /**
   * One range of a plan with the keys and data bytes its source holds there (key length plus value
   * data, from the source's slot counters); -1 for both when the source did not answer, bytes -1
   * alone when it answered in the version-1 form (keys only).
   */
  public record PlannedMove(
      int firstSlot, int lastSlot, String fromNode, String toNode, long keys, long bytes) {
    /** Slots in the range. */
    public int slotCount() {
      return lastSlot - firstSlot + 1;
    }
  }

  /**
   * The slot ranges that would move if {@code memberId} joined ({@code join}) or left: a join of an
   * unknown id plans with a placeholder member (ring tokens depend on the id only).
   *
   * @throws IllegalArgumentException when the member cannot make that change
   */
  public static List<RingDiff.SlotMove> plan(ClusterView view, String memberId, boolean join) {
    Member known = view.members().get(memberId);
    ClusterView after;
    if (join) {
      if (known == null) {
        after =
            view.apply(
                new MetadataChange.AddMember(
                    new Member(
                        memberId, "0.0.0.0", 0, 0, 0, 0, "site-1", "", MemberState.UP, false)));
      } else if (known.state() == MemberState.JOINING) {
        after = view.apply(new MetadataChange.SetMemberState(memberId, MemberState.UP));
      } else {
        throw new IllegalArgumentException(memberId + " is " + known.state() + ", not joining");
      }
    } else {
      if (known == null || !known.state().ownsSlots()) {
        throw new IllegalArgumentException(memberId + " owns no slots");
      }
      ClusterView leaving =
          known.state() == MemberState.LEAVING
              ? view
              : view.apply(new MetadataChange.SetMemberState(memberId, MemberState.LEAVING));
      after = leaving.apply(new MetadataChange.SetMemberState(memberId, MemberState.LEFT));
    }
    return RingDiff.between(view.ring(), after.ring());
  }

  /**
   * {@link #plan} with each source's key and byte counts per range (sources are asked over the peer
   * transport; this node answers its own on the node loop, from its slot counters). Completes on
   * any thread.
   */
  public CompletableFuture<List<PlannedMove>> planWithCounts(
      ClusterView view, String memberId, boolean join) {
    List<RingDiff.SlotMove> moves = plan(view, memberId, join);
    Map<String, List<RingDiff.SlotMove>> bySource = new java.util.TreeMap<>();
    for (RingDiff.SlotMove m : moves) {
      bySource.computeIfAbsent(m.fromNode(), k -> new ArrayList<>()).add(m);
    }
    Map<RingDiff.SlotMove, long[]> counts = new java.util.concurrent.ConcurrentHashMap<>();
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    for (Map.Entry<String, List<RingDiff.SlotMove>> e : bySource.entrySet()) {
      List<RingDiff.SlotMove> ranges = e.getValue();
      byte[] request = encodeRanges(ranges);
      CompletableFuture<long[][]> answer;
      Member source = view.members().get(e.getKey());
      if (e.getKey().equals(selfId)) {
        answer = new CompletableFuture<>();
        CompletableFuture<long[][]> local = answer;
        loop.execute(
            () -> local.complete(decodeCounts(countReply(engine.state(), request), ranges.size())));
      } else if (source == null || source.peerPort() == 0) {
        answer = CompletableFuture.completedFuture(null);
      } else {
        answer =
            peers
                .request(
                    routes.host(source), routes.port(source), Frame.of(TYPE_MOVE_COUNT, request))
                .thenApply(f -> f.isError() ? null : decodeCounts(f.payload(), ranges.size()))
                .exceptionally(t -> null);
      }
      parts.add(
          answer.thenAccept(
              c -> {
                for (int i = 0; i < ranges.size(); i++) {
                  counts.put(ranges.get(i), c == null ? new long[] {-1, -1} : c[i]);
                }
              }));
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
        .thenApply(
            ok -> {
              List<PlannedMove> out = new ArrayList<>();
              for (RingDiff.SlotMove m : moves) {
                long[] c = counts.get(m);
                out.add(
                    new PlannedMove(
                        m.firstSlot(), m.lastSlot(), m.fromNode(), m.toNode(), c[0], c[1]));
              }
              return out;
            });
  }

  /** A {@link #TYPE_MOVE_COUNT} request asking for the version-2 reply. */
  static byte[] encodeRanges(List<RingDiff.SlotMove> ranges) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + 4 * ranges.size() + 1);
    b.putInt(ranges.size());
    for (RingDiff.SlotMove m : ranges) {
      b.putShort((short) m.firstSlot()).putShort((short) m.lastSlot());
    }
    b.put((byte) COUNT_REPLY_VERSION);
    return b.array();
  }

  /**
   * Per range {@code {keys, bytes}} from either reply form; bytes are -1 in a version-1 reply.
   *
   * @throws IllegalArgumentException when the payload is neither form for {@code expected} ranges
   */
  static long[][] decodeCounts(byte[] payload, int expected) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(payload);
    long[][] out = new long[expected][];
    if (payload.length == 8L * expected) {
      for (int i = 0; i < expected; i++) {
        out[i] = new long[] {b.getLong(), -1};
      }
      return out;
    }
    if (payload.length != 5 + 16L * expected) {
      throw new IllegalArgumentException(
          "count reply of " + payload.length + " bytes for " + expected + " ranges");
    }
    int version = b.get();
    int n = b.getInt();
    if (version != COUNT_REPLY_VERSION || n != expected) {
      throw new IllegalArgumentException(
          "count reply version " + version + " with " + n + " ranges, expected " + expected);
    }
    for (int i = 0; i < expected; i++) {
      long keys = b.getLong();
      long bytes = b.getLong();
      if (keys < 0 || bytes < 0) {
        throw new IllegalArgumentException("negative count " + keys + " keys " + bytes + " bytes");
      }
      out[i] = new long[] {keys, bytes};
    }
    return out;
  }

  /**
   * This node's answer to a {@link #TYPE_MOVE_COUNT} payload (node loop): per range the keys and
   * data bytes its slot counters hold over every keyspace, O(keyspaces in use x slots), no walk
   * over keys. Version 2 when the request asks for it, else version 1.
   */
  static byte[] countReply(MemoryState state, byte[] payload) {
    List<int[]> ranges = decodeRangeList(payload);
    java.nio.ByteBuffer rest =
        java.nio.ByteBuffer.wrap(
            payload, 4 + 4 * ranges.size(), payload.length - 4 - 4 * ranges.size());
    int version = rest.hasRemaining() ? Math.min(rest.get(), COUNT_REPLY_VERSION) : 1;
    long[][] counts = countKeysAndBytes(state, ranges);
    java.nio.ByteBuffer b;
    if (version >= 2) {
      b = java.nio.ByteBuffer.allocate(5 + 16 * counts.length);
      b.put((byte) COUNT_REPLY_VERSION).putInt(counts.length);
      for (long[] c : counts) {
        b.putLong(c[0]).putLong(c[1]);
      }
    } else {
      b = java.nio.ByteBuffer.allocate(8 * counts.length);
      for (long[] c : counts) {
        b.putLong(c[0]);
      }
    }
    return b.array();
  }

  /** Per range {@code {keys, bytes}} from the slot counters of every keyspace. */
  static long[][] countKeysAndBytes(MemoryState state, List<int[]> ranges) {
    long[][] counts = new long[ranges.size()][2];
    for (int ks = 0; ks < state.keyspaceCount(); ks++) {
      if (state.isEmpty(ks)) {
        continue;
      }
      for (int i = 0; i < ranges.size(); i++) {
        int[] r = ranges.get(i);
        counts[i][0] += state.keysInSlots(ks, r[0], r[1]);
        counts[i][1] += state.bytesInSlots(ks, r[0], r[1]);
      }
    }
    return counts;
  }

  /** The ranges {@code {first, last}} of {@code [u32 n]([u16 first][u16 last])*}, validated. */
  static List<int[]> decodeRangeList(byte[] payload) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(payload);
    if (payload.length < 4) {
      throw new IllegalArgumentException("range list of " + payload.length + " bytes");
    }
    int n = b.getInt();
    if (n < 0 || n > b.remaining() / 4) {
      throw new IllegalArgumentException("bad range count " + n);
    }
    List<int[]> ranges = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      int first = Short.toUnsignedInt(b.getShort());
      int last = Short.toUnsignedInt(b.getShort());
      if (first > last || last >= Slots.SLOT_COUNT) {
        throw new IllegalArgumentException("bad range " + first + "-" + last);
      }
      ranges.add(new int[] {first, last});
    }
    return ranges;
  }

  /** Deletes, with logged deletes, every key this node holds in the ranges of a payload. */
  private long deleteKeysIn(byte[] payload) {
    int[] rangeBySlot = decodeRanges(payload);
    List<Map.Entry<Integer, byte[]>> doomed = new ArrayList<>();
    forEachKeyIn(rangeBySlot, (ks, key, range) -> doomed.add(Map.entry(ks, key.array())));
    for (Map.Entry<Integer, byte[]> e : doomed) {
      engine.apply(new Mutation.Delete(e.getKey(), e.getValue()));
    }
    engine.flush();
    return doomed.size();
  }

  private interface RangeKeyVisitor {
    void visit(int keyspace, Bytes key, int range);
  }

  /** Visits every key (all keyspaces) whose slot is in a range; does not mutate while visiting. */
  private void forEachKeyIn(int[] rangeBySlot, RangeKeyVisitor visitor) {
    MemoryState state = engine.state();
    for (int ks = 0; ks < state.keyspaceCount(); ks++) {
      if (state.size(ks) == 0) {
        continue;
      }
      int keyspace = ks;
      long cursor = 0;
      do {
        cursor =
            state.scan(
                ks,
                cursor,
                SCAN_KEYS_PER_STEP,
                (key, value) -> {
                  int r = rangeBySlot[Slots.slot(key.array())];
                  if (r >= 0) {
                    visitor.visit(keyspace, key, r);
                  }
                });
      } while (cursor != 0);
    }
  }

  /** Slot to range index (-1: in none) from {@code [u32 n]([u16 first][u16 last])*}. */
  private static int[] decodeRanges(byte[] payload) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(payload);
    int n = b.getInt();
    if (n < 0 || n > b.remaining() / 4) {
      throw new IllegalArgumentException("bad range count " + n);
    }
    int[] rangeBySlot = new int[Slots.SLOT_COUNT];
    java.util.Arrays.fill(rangeBySlot, -1);
    for (int i = 0; i < n; i++) {
      int first = Short.toUnsignedInt(b.getShort());
      int last = Short.toUnsignedInt(b.getShort());
      if (first > last || last >= Slots.SLOT_COUNT) {
        throw new IllegalArgumentException("bad range " + first + "-" + last);
      }
      for (int s = first; s <= last; s++) {
        rangeBySlot[s] = i;
      }
    }
    return rangeBySlot;
  }

  /** {@code [u8 version][u32 count]([u32 length][mutation])*}. */
  static byte[] encodeBatch(List<Mutation> mutations) {
    List<byte[]> encoded = new ArrayList<>(mutations.size());
    int size = 1 + 4;
    for (Mutation m : mutations) {
      byte[] b = MutationCodec.encode(m);
      encoded.add(b);
      size += 4 + b.length;
    }
    java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(size);
    buf.put(BATCH_FORMAT_VERSION).putInt(encoded.size());
    for (byte[] b : encoded) {
      buf.putInt(b.length).put(b);
    }
    return buf.array();
  }

  static List<Mutation> decodeBatch(byte[] payload) {
    java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(payload);
    try {
      byte version = buf.get();
      if (version != BATCH_FORMAT_VERSION) {
        throw new IllegalArgumentException("unsupported move batch version " + version);
      }
      int count = buf.getInt();
      if (count < 0 || count > buf.remaining() / 4) {
        throw new IllegalArgumentException("bad mutation count " + count);
      }
      List<Mutation> out = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        int len = buf.getInt();
        if (len < 0 || len > buf.remaining()) {
          throw new IllegalArgumentException("bad mutation length " + len);
        }
        byte[] b = new byte[len];
        buf.get(b);
        out.add(MutationCodec.decode(b));
      }
      if (buf.hasRemaining()) {
        throw new IllegalArgumentException(buf.remaining() + " trailing bytes");
      }
      return out;
    } catch (java.nio.BufferUnderflowException e) {
      throw new IllegalArgumentException("truncated move batch", e);
    }
  }
}
