package io.replicakv.server.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.msg.Lsn;
import org.junit.jupiter.api.Test;

class SessionTokenTest {
  @Test
  void textFormRoundTripsAndKeepsTheHigherPositionPerGroup() {
    SessionToken token =
        SessionToken.EMPTY
            .with(0, 5_000, new Lsn(3, 1_000))
            .with(0, 12, new Lsn(2, 7))
            .with(17, 12, new Lsn(1, 1));
    String text = token.encode();
    assertThat(text).startsWith("1;0.c.2.7;");
    assertThat(SessionToken.parse(text)).isEqualTo(token);
    // a lower position of a known group changes nothing; a newer epoch wins over a larger offset
    assertThat(token.with(0, 12, new Lsn(2, 6))).isSameAs(token);
    assertThat(token.with(0, 12, new Lsn(3, 2)).get(0, 12)).isEqualTo(new Lsn(3, 2));
    SessionToken other = SessionToken.EMPTY.with(0, 12, new Lsn(2, 9)).with(1, 1, new Lsn(1, 4));
    SessionToken merged = token.merge(other);
    assertThat(merged.get(0, 12)).isEqualTo(new Lsn(2, 9));
    assertThat(merged.get(1, 1)).isEqualTo(new Lsn(1, 4));
    assertThat(merged.get(0, 5_000)).isEqualTo(new Lsn(3, 1_000));
    assertThat(merged.get(9, 9)).isEqualTo(Lsn.ZERO);
    assertThat(SessionToken.parse("1")).isEqualTo(SessionToken.EMPTY);
  }

  @Test
  void malformedTokensAreRefusedWithTheReason() {
    assertThatThrownBy(() -> SessionToken.parse("2;0.1.1.1")).hasMessageContaining("version");
    assertThatThrownBy(() -> SessionToken.parse("1;0.1.1")).hasMessageContaining("keyspace.group");
    assertThatThrownBy(() -> SessionToken.parse("1;0.1.1.zz!")).hasMessageContaining("base 36");
    assertThatThrownBy(() -> SessionToken.parse("1;0.1.-1.1")).hasMessageContaining("range");
    assertThatThrownBy(() -> SessionToken.parse("1;0.zzzzzzzz.1.1")).hasMessageContaining("range");
    assertThatThrownBy(() -> SessionToken.parse("1" + ";0.1.1.1".repeat(600_000)))
        .hasMessageContaining("characters");
  }

  @Test
  void forwardedAnswersCarryTheReplyAndTheToken() {
    SessionToken token = SessionToken.EMPTY.with(0, 3, new Lsn(4, 44));
    byte[] reply = "+OK\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    SessionForward.Answer answer = SessionForward.unwrap(SessionForward.wrap(reply, token));
    assertThat(answer.reply()).isEqualTo(reply);
    assertThat(answer.token()).isEqualTo(token);
    assertThatThrownBy(() -> SessionForward.unwrap(new byte[] {0, 0, 0, 9, 1}))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void tokenAnswersWaitForTrackedAnswers() {
    SessionState state = new SessionState();
    java.util.concurrent.CompletableFuture<byte[]> forwarded =
        new java.util.concurrent.CompletableFuture<>();
    state.track(forwarded);
    assertThat(state.afterPending()).isNotDone();
    state.merge(SessionToken.EMPTY.with(0, 1, new Lsn(1, 1)));
    forwarded.completeExceptionally(new RuntimeException("peer gone"));
    assertThat(state.afterPending()).isDone();
    assertThat(state.token().get(0, 1)).isEqualTo(new Lsn(1, 1));
    state.reset();
    assertThat(state.token().isEmpty()).isTrue();
  }
}
