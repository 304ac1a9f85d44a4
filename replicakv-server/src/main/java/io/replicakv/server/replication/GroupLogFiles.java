package io.replicakv.server.replication;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.msg.Lsn;
import io.replicakv.server.leaderless.LeaderlessRecordLog;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HexFormat;
import java.util.List;

/**
 * The files of one hosted replica group: its record log {@code keyspace-K-group-G.log} (the {@link
 * LeaderlessRecordLog} format) and beside it {@code keyspace-K-group-G.members}, which names the
 * replica set and slots the log belongs to, so that a start or a new view can tell a group it may
 * resume from one that was re-formed.
 *
 * <p><b>Identity.</b> A log is resumed when its members file names the same replicas and at least
 * the group's slots now (a join only takes slots away from a group that keeps its replicas). A
 * group whose replicas changed, or that gained slots, is re-formed: its old log belongs to another
 * group's history and is deleted, and the new log starts at a formation point. A member that held
 * every slot of the group before (per the previous view, and with a replica that had data) starts
 * after a {@link #formationPoint}: its storage holds the group's state as of the formation, and the
 * point ranks how much of the previous groups' writes it held. A member that lacked some slot
 * starts empty, at {@link Lsn#ZERO}, below the point; the leader (a holder: holders have the higher
 * LSN, and the controller elects the highest) finds that the follower needs entries before its log
 * starts and sends it a partition snapshot before it can count as in sync. A log file from before
 * members files existed is resumed as it is.
 *
 * <p><b>Compaction.</b> {@link #rewrite} replaces the log with the replica's compacted records
 * (base as a snapshot point plus the retained tail): written to a temporary file and forced,
 * renamed over the log atomically, then the directory forced, so a crash leaves the old or the new
 * file, never a mix.
 */
final class GroupLogFiles {
  /**
   * The LSN of a re-formed group's state at its formation: one position past an empty log, in no
   * epoch, so every epoch's entries come after it and a member without the data ({@link Lsn#ZERO})
   * is behind it.
   */
  static final Lsn FORMATION_POINT = new Lsn(0, 1);

  /**
   * What one epoch weighs against offsets in a formation rank: two holders of one group are never
   * this many entries apart, so a later epoch always ranks higher (an LSN's order).
   */
  static final long RANK_EPOCH_WEIGHT = 1L << 32;

  /** A formation rank never passes this, so offsets after it cannot overflow. */
  static final long RANK_MAX = Long.MAX_VALUE / 4;

  /**
   * Where a holder's log starts in the re-formed group: past {@link #FORMATION_POINT} by how much
   * of the previous groups' history it held when it sealed them ({@code sealedPositions}, the last
   * LSN of each previous group its slots came from), so that the controller, which elects the
   * highest LSN, prefers the holder with the most and every other member is behind it and gets a
   * partition snapshot from it. A position ranks as {@code epoch * 2^32 + offset}: in LSN order for
   * two copies of one group's log. With slots from several previous groups (a leave) the highest
   * rank counts: exact when one holder is furthest in every group, a tie-break otherwise (a sum
   * would be exact in more cases but would double the offsets on every split and merge of a group,
   * and overflow after some dozens of joins and leaves; the max adds at most one epoch's weight per
   * formation).
   */
  static Lsn formationPoint(List<Lsn> sealedPositions) {
    long rank = 0;
    for (Lsn position : sealedPositions) {
      long epoch = Math.max(position.epoch(), 0);
      long offset = Math.max(position.offset(), 0);
      long weighted =
          epoch >= RANK_MAX / RANK_EPOCH_WEIGHT
              ? RANK_MAX
              : Math.min(RANK_MAX, epoch * RANK_EPOCH_WEIGHT + offset);
      rank = Math.max(rank, weighted);
    }
    return new Lsn(0, FORMATION_POINT.offset() + rank);
  }

  /**
   * An opened log.
   *
   * @param store the record log, its surviving records in {@code recovered()}
   * @param startAfter where the replica's log starts when the records do not say
   * @param how "resumed", "formed as a holder" or "formed without the data", for the log line
   * @param formed whether the group was (re-)formed here: the caller persists the base
   */
  record Opened(LeaderlessRecordLog store, Lsn startAfter, String how, boolean formed) {}

  private GroupLogFiles() {}

  /**
   * Opens the log of {@code group} at {@code log}: resumed when its members file matches, else
   * re-formed with this node as a holder of the data or not.
   */
  static Opened open(Path log, ReplicaGroups.Group group, Lsn formationPoint) {
    boolean holder = formationPoint != null;
    Path members = membersFile(log);
    String wanted = describe(group.replicas(), group.slots());
    try {
      if (Files.exists(members)) {
        if (matches(Files.readString(members, StandardCharsets.UTF_8), group)) {
          return new Opened(new LeaderlessRecordLog(log), Lsn.ZERO, "resumed", false);
        }
      } else if (Files.exists(log) && Files.size(log) > 0) {
        writeAtomically(members, wanted.getBytes(StandardCharsets.UTF_8));
        return new Opened(
            new LeaderlessRecordLog(log), Lsn.ZERO, "resumed (no members file)", false);
      }
      Files.deleteIfExists(log);
      writeAtomically(members, wanted.getBytes(StandardCharsets.UTF_8));
      return new Opened(
          new LeaderlessRecordLog(log),
          holder ? formationPoint : Lsn.ZERO,
          holder ? "formed as a holder of its data" : "formed without its data",
          true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open replica group log " + log, e);
    }
  }

  /** Replaces the log at {@code log} with {@code records}; returns the new store, opened. */
  static LeaderlessRecordLog rewrite(
      Path log, LeaderlessRecordLog current, List<PersistRecord> records) {
    Path temporary = log.resolveSibling(log.getFileName() + ".compact");
    try {
      Files.deleteIfExists(temporary);
      try (LeaderlessRecordLog fresh = new LeaderlessRecordLog(temporary)) {
        fresh.append(records, true);
      }
      current.close();
      Files.move(
          temporary, log, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      forceDirectory(log.toAbsolutePath().getParent());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot compact replica group log " + log, e);
    }
    return new LeaderlessRecordLog(log);
  }

  static Path membersFile(Path log) {
    String name = log.getFileName().toString();
    String base = name.endsWith(".log") ? name.substring(0, name.length() - 4) : name;
    return log.resolveSibling(base + ".members");
  }

  private static String describe(List<String> replicas, BitSet slots) {
    return "replicas="
        + String.join(",", replicas)
        + "\nslots="
        + HexFormat.of().formatHex(slots.toByteArray())
        + "\n";
  }

  private static boolean matches(String text, ReplicaGroups.Group group) {
    String replicas = null;
    BitSet slots = null;
    for (String line : text.split("\n")) {
      if (line.startsWith("replicas=")) {
        replicas = line.substring("replicas=".length());
      } else if (line.startsWith("slots=")) {
        try {
          slots = BitSet.valueOf(HexFormat.of().parseHex(line.substring("slots=".length())));
        } catch (IllegalArgumentException e) {
          return false;
        }
      }
    }
    if (replicas == null || slots == null) {
      return false;
    }
    if (!Arrays.asList(replicas.split(",")).equals(group.replicas())) {
      return false;
    }
    BitSet gained = (BitSet) group.slots().clone();
    gained.andNot(slots);
    return gained.isEmpty();
  }

  private static void writeAtomically(Path file, byte[] bytes) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
    try (FileChannel channel =
        FileChannel.open(
            temporary,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      channel.write(java.nio.ByteBuffer.wrap(bytes));
      channel.force(true);
    }
    Files.move(
        temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    forceDirectory(file.toAbsolutePath().getParent());
  }

  private static void forceDirectory(Path directory) throws IOException {
    try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException e) {
      // Some file systems refuse to open a directory for forcing; the rename is still atomic.
      if (!e.getClass().getSimpleName().contains("AccessDenied")) {
        throw e;
      }
    }
  }
}
