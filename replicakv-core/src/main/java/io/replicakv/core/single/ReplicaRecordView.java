package io.replicakv.core.single;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.SingleLeaderMessage.Entry;

/**
 * What a persisted single-leader record means to the storage that keeps it. The server stores a
 * partition's log entries in its shared log, indexed per partition, and everything else a replica
 * persists (promises, incarnations, controller decisions) as small opaque records; this tells the
 * two apart without exposing the record format, which stays private to this package.
 */
public final class ReplicaRecordView {
  private ReplicaRecordView() {}

  /** One record's meaning. */
  public sealed interface Kind permits Appended, Truncated, Installed, Other {}

  /** The replica appended {@code entry} to its log. */
  public record Appended(Entry entry) implements Kind {}

  /** The replica cut its log after {@code offset}. */
  public record Truncated(long offset) implements Kind {}

  /**
   * The replica installed a partition snapshot at {@code lsn}: its log starts after it (store the
   * record as it is too; replaying it on restart restarts the log there).
   */
  public record Installed(Lsn lsn) implements Kind {}

  /** Replica or controller state that is not part of the log; store it as it is. */
  public record Other() implements Kind {}

  /**
   * Decodes {@code record}.
   *
   * @throws io.replicakv.core.util.CorruptEncodingException when it is not a single-leader record
   */
  public static Kind of(PersistRecord record) {
    return switch (ReplicaRecords.decode(record)) {
      case ReplicaRecords.Append append -> new Appended(append.entry());
      case ReplicaRecords.Truncate truncate -> new Truncated(truncate.offset());
      case ReplicaRecords.Installed installed -> new Installed(installed.lsn());
      case ReplicaRecords.Promise p -> new Other();
      case ReplicaRecords.ControllerState c -> new Other();
      case ReplicaRecords.Incarnation i -> new Other();
    };
  }
}
