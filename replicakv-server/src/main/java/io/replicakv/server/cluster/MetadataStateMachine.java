package io.replicakv.server.cluster;

import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.apache.ratis.io.MD5Hash;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.MD5FileUtil;

/**
 * The Ratis state machine of the metadata group: a {@link ClusterView} folded over the log.
 *
 * <p>Each committed log entry is one {@link MetadataChange}. Applying it is {@link
 * ClusterView#apply}, which is deterministic, so every voter computes the same view; a refused
 * change stays in the log as a no-op on every voter and its proposer gets the reason back. The
 * reply of an accepted change carries the whole new view, so the proposer can complete with it even
 * when its own copy lags.
 *
 * <p>Snapshots are the view's {@link ClusterView#toBytes()} in Ratis' single-file layout (file
 * named by term and index, MD5 beside it), written to a temporary file and renamed, so a crash
 * mid-write leaves the previous snapshot. After a restart Ratis loads the newest snapshot and
 * replays the log after it.
 *
 * <p>Followers that are not voters ask {@link #query} for "changes since version v": the last
 * {@link #HISTORY_MAX} accepted changes are kept so they can fold every version themselves; one
 * that has fallen further behind gets the whole view instead (and skips the versions between).
 */
final class MetadataStateMachine extends BaseStateMachine {
  /** Accepted changes kept for followers that poll; past this they receive a whole view. */
  static final int HISTORY_MAX = 1_024;

  /** Longest reason text sent back for a refused change, in bytes. */
  static final int REASON_MAX_BYTES = 4_096;

  /** Largest view carried in a reply or snapshot, in bytes. */
  static final int VIEW_MAX_BYTES = 64 * 1024 * 1024;

  private static final int FORMAT_VERSION = 1;
  private static final int OUTCOME_APPLIED = 0;
  private static final int OUTCOME_REJECTED = 1;
  private static final int QUERY_SINCE = 1;
  private static final int ANSWER_CHANGES = 0;
  private static final int ANSWER_VIEW = 1;

  private record Applied(long version, byte[] change) {}

  private final SimpleStateMachineStorage storage = new SimpleStateMachineStorage();
  private final ReentrantLock lock = new ReentrantLock();
  private final Deque<Applied> history = new ArrayDeque<>();
  private final Consumer<ClusterView> onView;
  private volatile ClusterView view;

  /** Starts from an empty view of {@code clusterId}; {@code onView} hears every new version. */
  MetadataStateMachine(String clusterId, Consumer<ClusterView> onView) {
    this.view = ClusterView.empty(clusterId);
    this.onView = onView;
  }

  ClusterView view() {
    return view;
  }

  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage)
      throws IOException {
    super.initialize(server, groupId, raftStorage);
    storage.init(raftStorage);
    loadSnapshot(storage.loadLatestSnapshot());
  }

  @Override
  public void reinitialize() throws IOException {
    loadSnapshot(storage.loadLatestSnapshot());
  }

  @Override
  public SimpleStateMachineStorage getStateMachineStorage() {
    return storage;
  }

  private void loadSnapshot(SingleFileSnapshotInfo snapshot) throws IOException {
    if (snapshot == null) {
      return;
    }
    Path file = snapshot.getFile().getPath();
    if (snapshot.hasMd5()) {
      MD5FileUtil.verifySavedMD5(file.toFile(), snapshot.getFile().getFileDigest());
    }
    ClusterView loaded = ClusterView.fromBytes(Files.readAllBytes(file));
    lock.lock();
    try {
      Check.state(
          loaded.clusterId().equals(view.clusterId()),
          "snapshot of cluster %s in the directory of cluster %s",
          loaded.clusterId(),
          view.clusterId());
      setLastAppliedTermIndex(snapshot.getTermIndex());
      if (loaded.version() > view.version()) {
        view = loaded;
        history.clear();
        onView.accept(loaded);
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long takeSnapshot() throws IOException {
    lock.lock();
    try {
      TermIndex last = getLastAppliedTermIndex();
      if (last == null || last.getIndex() < 0) {
        return -1;
      }
      Path file = storage.getSnapshotFile(last.getTerm(), last.getIndex()).toPath();
      Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
      Files.write(temporary, view.toBytes());
      Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE);
      MD5Hash digest = MD5FileUtil.computeAndSaveMd5ForFile(file.toFile());
      storage.updateLatestSnapshot(new SingleFileSnapshotInfo(new FileInfo(file, digest), last));
      return last.getIndex();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext transaction) {
    LogEntryProto entry = transaction.getLogEntry();
    byte[] data = transaction.getStateMachineLogEntry().getLogData().toByteArray();
    lock.lock();
    try {
      updateLastAppliedTermIndex(entry.getTerm(), entry.getIndex());
      MetadataChange change;
      try {
        change = MetadataChange.fromBytes(data);
      } catch (CorruptEncodingException e) {
        return reply(rejected("corrupt metadata change: " + e.getMessage()));
      }
      ClusterView next;
      try {
        next = view.apply(change);
      } catch (MetadataRejectedException e) {
        return reply(rejected(e.getMessage()));
      }
      view = next;
      history.addLast(new Applied(next.version(), data));
      while (history.size() > HISTORY_MAX) {
        history.removeFirst();
      }
      onView.accept(next);
      return reply(
          new ByteWriter()
              .writeByte(FORMAT_VERSION)
              .writeByte(OUTCOME_APPLIED)
              .writeBytes(next.toBytes())
              .toByteArray());
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CompletableFuture<Message> query(Message request) {
    long since;
    try {
      ByteReader reader =
          ByteReader.open(request.getContent().toByteArray(), FORMAT_VERSION, "metadata query");
      Check.argument(reader.readByte() == QUERY_SINCE, "unknown metadata query");
      since = reader.readVarLong();
      reader.finish();
    } catch (CorruptEncodingException | IllegalArgumentException e) {
      return CompletableFuture.failedFuture(e);
    }
    lock.lock();
    try {
      ByteWriter answer = new ByteWriter().writeByte(FORMAT_VERSION);
      long oldestKept = history.isEmpty() ? view.version() + 1 : history.peekFirst().version();
      if (since >= view.version() || since + 1 >= oldestKept) {
        List<Applied> newer = new ArrayList<>();
        history.stream().filter(a -> a.version() > since).forEach(newer::add);
        answer.writeByte(ANSWER_CHANGES).writeVarInt(newer.size());
        newer.forEach(a -> answer.writeVarLong(a.version()).writeBytes(a.change()));
      } else {
        answer.writeByte(ANSWER_VIEW).writeBytes(view.toBytes());
      }
      return reply(answer.toByteArray());
    } finally {
      lock.unlock();
    }
  }

  private static byte[] rejected(String reason) {
    return new ByteWriter()
        .writeByte(FORMAT_VERSION)
        .writeByte(OUTCOME_REJECTED)
        .writeString(reason.length() > 1_000 ? reason.substring(0, 1_000) : reason)
        .toByteArray();
  }

  private static CompletableFuture<Message> reply(byte[] bytes) {
    return CompletableFuture.completedFuture(Message.valueOf(ByteString.copyFrom(bytes)));
  }

  /** The question a follower asks: every change after {@code version}. */
  static byte[] querySince(long version) {
    return new ByteWriter()
        .writeByte(FORMAT_VERSION)
        .writeByte(QUERY_SINCE)
        .writeVarLong(version)
        .toByteArray();
  }

  /**
   * Decodes the reply to a proposal: the view that includes it, or throws {@link
   * MetadataRejectedException} with the reason.
   */
  static ClusterView decodeOutcome(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "metadata outcome");
    int outcome = reader.readByte();
    if (outcome == OUTCOME_REJECTED) {
      String reason = reader.readString(REASON_MAX_BYTES);
      reader.finish();
      throw new MetadataRejectedException(reason);
    }
    if (outcome != OUTCOME_APPLIED) {
      throw new CorruptEncodingException("metadata outcome: unknown kind " + outcome);
    }
    ClusterView view = ClusterView.fromBytes(reader.readBytes(VIEW_MAX_BYTES));
    reader.finish();
    return view;
  }

  /**
   * Folds the answer to {@link #querySince} onto {@code base}, handing each new view to {@code
   * sink} in order; returns the newest view.
   */
  static ClusterView foldAnswer(ClusterView base, byte[] bytes, Consumer<ClusterView> sink) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "metadata answer");
    int kind = reader.readByte();
    ClusterView newest = base;
    if (kind == ANSWER_VIEW) {
      ClusterView whole = ClusterView.fromBytes(reader.readBytes(VIEW_MAX_BYTES));
      if (whole.version() > newest.version()) {
        newest = whole;
        sink.accept(whole);
      }
    } else if (kind == ANSWER_CHANGES) {
      int count = reader.readCount(HISTORY_MAX);
      for (int i = 0; i < count; i++) {
        long version = reader.readVarLong();
        MetadataChange change = MetadataChange.fromBytes(reader.readBytes(VIEW_MAX_BYTES));
        if (version <= newest.version()) {
          continue;
        }
        Check.state(
            version == newest.version() + 1,
            "metadata answer skips from %s to %s",
            newest.version(),
            version);
        newest = newest.apply(change);
        sink.accept(newest);
      }
    } else {
      throw new CorruptEncodingException("metadata answer: unknown kind " + kind);
    }
    reader.finish();
    return newest;
  }
}
