package io.replicakv.core.single;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.SingleLeaderMessage.Entry;
import io.replicakv.core.util.ByteWriter;
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
  void opaqueWriteRoundTripsByteForByte() {
    byte[] payload = {0, (byte) 0xFF, 1, (byte) 0x80};
    Entry write = new Entry(2, 5, new Operation.Write("kéy", payload));
    ReplicaRecords.Decoded decoded = ReplicaRecords.decode(ReplicaRecords.append(write));
    assertThat(decoded).isEqualTo(new ReplicaRecords.Append(write));
    Operation.Write back = (Operation.Write) ((ReplicaRecords.Append) decoded).entry().operation();
    assertThat(back.payload()).isEqualTo(payload);
  }

  @Test
  void appendRecordsWrittenBeforeOpaqueWritesStillDecode() {
    // The layout version-1 logs had: a boolean "has operation" and then key and value strings.
    byte[] oldPut =
        new ByteWriter()
            .writeByte(ReplicaRecords.VERSION)
            .writeByte(1)
            .writeVarLong(3)
            .writeVarLong(17)
            .writeBoolean(true)
            .writeString("key")
            .writeString("value")
            .toByteArray();
    byte[] oldMarker =
        new ByteWriter()
            .writeByte(ReplicaRecords.VERSION)
            .writeByte(1)
            .writeVarLong(4)
            .writeVarLong(18)
            .writeBoolean(false)
            .toByteArray();
    assertThat(ReplicaRecords.decode(new PersistRecord(oldPut)))
        .isEqualTo(new ReplicaRecords.Append(new Entry(3, 17, new Operation.Put("key", "value"))));
    assertThat(ReplicaRecords.decode(new PersistRecord(oldMarker)))
        .isEqualTo(new ReplicaRecords.Append(new Entry(4, 18, null)));
  }

  @Test
  void theViewTellsLogRecordsFromReplicaState() {
    Entry write = new Entry(2, 5, new Operation.Write("k", new byte[] {1}));
    assertThat(ReplicaRecordView.of(ReplicaRecords.append(write)))
        .isEqualTo(new ReplicaRecordView.Appended(write));
    assertThat(ReplicaRecordView.of(ReplicaRecords.truncate(4)))
        .isEqualTo(new ReplicaRecordView.Truncated(4));
    assertThat(ReplicaRecordView.of(ReplicaRecords.promise(3)))
        .isEqualTo(new ReplicaRecordView.Other());
    assertThat(ReplicaRecordView.of(ReplicaRecords.incarnation(1)))
        .isEqualTo(new ReplicaRecordView.Other());
    assertThat(ReplicaRecordView.of(ReplicaRecords.controller(2, 1)))
        .isEqualTo(new ReplicaRecordView.Other());
  }

  @Test
  void unknownEntryKindIsRefused() {
    byte[] bad =
        new ByteWriter()
            .writeByte(ReplicaRecords.VERSION)
            .writeByte(1)
            .writeVarLong(1)
            .writeVarLong(1)
            .writeByte(9)
            .toByteArray();
    assertThatThrownBy(() -> ReplicaRecords.decode(new PersistRecord(bad)))
        .isInstanceOf(CorruptEncodingException.class)
        .hasMessageContaining("entry kind 9");
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
