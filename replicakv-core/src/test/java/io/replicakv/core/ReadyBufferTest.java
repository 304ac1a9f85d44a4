package io.replicakv.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.LogMessage;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.Reply;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReadyBufferTest {
  private static final PersistRecord RECORD = new PersistRecord(new byte[] {1, 2, 3});
  private static final LogMessage.AppendAck ACK = new LogMessage.AppendAck(1, 0, 7, 3, true);
  private static final ClientReply REPLY = new ClientReply(9, 1, new Reply.Written());

  @Test
  void emptyBufferIsReadyWithNothing() {
    ReadyBuffer buffer = new ReadyBuffer();
    assertThat(buffer.ready()).isSameAs(Ready.EMPTY);
    assertThat(Ready.EMPTY.isEmpty()).isTrue();
  }

  @Test
  void readyListsEverythingPendingWithTheSyncFlag() {
    ReadyBuffer buffer = new ReadyBuffer();
    buffer.persist(RECORD, true);
    buffer.send(ACK);
    buffer.reply(REPLY);
    buffer.commit(new CommittedEntry(7, 3, new Operation.Put("k", "v")));
    Ready ready = buffer.ready();
    assertThat(ready.records()).containsExactly(RECORD);
    assertThat(ready.syncBeforeSend()).isTrue();
    assertThat(ready.messages()).containsExactly(new Envelope(0, ACK));
    assertThat(ready.replies()).containsExactly(REPLY);
    assertThat(ready.committed()).hasSize(1);
    assertThat(ready.isEmpty()).isFalse();
  }

  @Test
  void advanceKeepsWhatArrivedAfterReady() {
    ReadyBuffer buffer = new ReadyBuffer();
    buffer.persist(RECORD, true);
    Ready first = buffer.ready();
    PersistRecord later = new PersistRecord(new byte[] {4});
    buffer.persist(later, false);
    buffer.advance(first);
    Ready second = buffer.ready();
    assertThat(second.records()).containsExactly(later);
    assertThat(second.syncBeforeSend()).isTrue();
    buffer.advance(second);
    assertThat(buffer.ready()).isSameAs(Ready.EMPTY);
    buffer.persist(later, false);
    assertThat(buffer.ready().syncBeforeSend()).isFalse();
  }

  @Test
  void advanceWithAReadyTheBufferDidNotHandOutFails() {
    ReadyBuffer buffer = new ReadyBuffer();
    buffer.reply(REPLY);
    Ready foreign =
        new Ready(
            List.of(),
            false,
            List.of(),
            List.of(new ClientReply(9, 2, new Reply.Written())),
            List.of());
    assertThatThrownBy(() -> buffer.advance(foreign)).isInstanceOf(IllegalArgumentException.class);
    Ready tooMuch = new Ready(List.of(RECORD), false, List.of(), List.of(), List.of());
    assertThatThrownBy(() -> buffer.advance(tooMuch)).hasMessageContaining("only 0 pending");
  }

  @Test
  void readyRefusesASyncFlagWithNothingToSync() {
    assertThatThrownBy(() -> new Ready(List.of(), true, List.of(), List.of(), List.of()))
        .hasMessageContaining("syncBeforeSend");
  }

  @Test
  void persistRecordIsCopiedAndComparedByContent() {
    byte[] bytes = {1, 2};
    PersistRecord record = new PersistRecord(bytes);
    bytes[0] = 9;
    assertThat(record).isEqualTo(new PersistRecord(new byte[] {1, 2}));
    record.payload()[1] = 9;
    assertThat(record.payload()).containsExactly(1, 2);
    assertThat(record.toString()).isEqualTo("PersistRecord[2B 0102]");
  }
}
