package io.replicakv.core.msg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.Envelope;
import java.util.List;
import org.junit.jupiter.api.Test;

class MessagesTest {
  private static LogMessage.Entry entry(long offset) {
    return new LogMessage.Entry(1, offset, new Operation.Put("k", "v" + offset));
  }

  @Test
  void appendCarriesConsecutiveOffsetsRightAfterThePreviousOne() {
    LogMessage.Append append = new LogMessage.Append(0, 1, 1, 4, List.of(entry(5), entry(6)), 4);
    assertThat(append.entries()).hasSize(2);
    assertThatThrownBy(() -> new LogMessage.Append(0, 1, 1, 4, List.of(entry(6)), 4))
        .hasMessageContaining("expected 5");
  }

  @Test
  void envelopeMustBeAddressedWhereTheMessageGoes() {
    LogMessage.AppendAck ack = new LogMessage.AppendAck(1, 0, 1, 0, true);
    assertThat(Envelope.of(ack).to()).isZero();
    assertThatThrownBy(() -> new Envelope(2, ack)).hasMessageContaining("envelope to 2");
  }

  @Test
  void dispatchOverMessagesIsExhaustive() {
    // A switch with no default: adding a message family without handling it fails to compile.
    List<Message> messages =
        List.of(
            new ClientRequest(1, 1, new Operation.Get("k")),
            new LogMessage.Append(0, 1, 1, 0, List.of(), 0),
            new LogMessage.AppendAck(1, 0, 1, 0, false),
            new SingleLeaderMessage.Fence(3, 0, 2),
            new LeaderlessMessage.Ping(0, 1));
    List<String> kinds =
        messages.stream()
            .map(
                message ->
                    switch (message) {
                      case ClientRequest request -> "client";
                      case LogMessage.Append append -> "append";
                      case LogMessage.AppendAck ack -> "ack";
                      case SingleLeaderMessage single -> "single-leader";
                      case LeaderlessMessage leaderless -> "leaderless";
                      case SiteMessage site -> "site";
                    })
            .toList();
    assertThat(kinds).containsExactly("client", "append", "ack", "single-leader", "leaderless");
  }

  @Test
  void operationsRejectMissingParts() {
    assertThatThrownBy(() -> new Operation.Put("k", null)).hasMessageContaining("value is null");
    assertThatThrownBy(() -> new Operation.Get(null)).hasMessageContaining("key is null");
    assertThatThrownBy(() -> new ClientRequest(1, -1, new Operation.Get("k")))
        .hasMessageContaining("negative");
  }
}
