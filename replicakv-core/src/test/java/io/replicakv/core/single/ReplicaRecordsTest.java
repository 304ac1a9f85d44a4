package io.replicakv.core.single;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.SingleLeaderMessage.Entry;
import io.replicakv.core.util.CorruptEncodingException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ReplicaRecordsTest {
  @Test
  void everyRecordRoundTrips() {
    Entry put = new Entry(3, 17, new Operation.Put("key", "välue"));
    Entry marker = new Entry(4, 18, null);
    assertThat(ReplicaRecords.decode(ReplicaRecords.append(put)))
        .isEqualTo(new ReplicaRecords.Append(put));
    assertThat(ReplicaRecords.decode(ReplicaRecords.append(marker)))
        .isEqualTo(new ReplicaRecords.Append(marker));
    assertThat(ReplicaRecords.decode(ReplicaRecords.truncate(9)))
        .isEqualTo(new ReplicaRecords.Truncate(9));
    assertThat(ReplicaRecords.decode(ReplicaRecords.promise(5)))
        .isEqualTo(new ReplicaRecords.Promise(5));
    assertThat(ReplicaRecords.decode(ReplicaRecords.incarnation(2)))
        .isEqualTo(new ReplicaRecords.Incarnation(2));
    assertThat(ReplicaRecords.decode(ReplicaRecords.controller(7, -1)))
        .isEqualTo(new ReplicaRecords.ControllerState(7, -1));
    assertThat(ReplicaRecords.decode(ReplicaRecords.controller(7, 2)))
        .isEqualTo(new ReplicaRecords.ControllerState(7, 2));
  }

  @Test
  void truncatedOrUnknownRecordsAreRefused() {
    byte[] payload = ReplicaRecords.append(new Entry(1, 1, new Operation.Put("k", "v"))).payload();
    PersistRecord cut = new PersistRecord(Arrays.copyOf(payload, payload.length - 1));
    assertThatThrownBy(() -> ReplicaRecords.decode(cut))
        .isInstanceOf(CorruptEncodingException.class);
    PersistRecord unknown = new PersistRecord(new byte[] {ReplicaRecords.VERSION, 99});
    assertThatThrownBy(() -> ReplicaRecords.decode(unknown))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("type 99");
  }
}
