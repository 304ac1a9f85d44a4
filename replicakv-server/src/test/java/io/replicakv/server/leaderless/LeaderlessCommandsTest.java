package io.replicakv.server.leaderless;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.leaderless.KvResult;
import io.replicakv.net.resp.Reply;
import io.replicakv.net.resp.RespEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LeaderlessCommandsTest {
  private static String wire(Reply reply) {
    ByteBuf buffer = Unpooled.buffer();
    RespEncoder.encode(reply, 2, buffer);
    return buffer.toString(StandardCharsets.UTF_8);
  }

  private static KvResult result(KvResult.Outcome outcome, String detail) {
    return new KvResult(0, 1, outcome, List.of(), VersionVector.EMPTY, 1, 2, detail);
  }

  @Test
  void errorsNameTheOutcomeAndWhetherAWriteMayHaveLanded() {
    assertThat(
            wire(
                LeaderlessCommands.error(
                    result(KvResult.Outcome.NOT_ENOUGH_REPLICAS, "not enough replicas: 1 of 3"),
                    true)))
        .isEqualTo("-NOREPLICAS not enough replicas: 1 of 3; nothing sent\r\n");
    assertThat(
            wire(LeaderlessCommands.error(result(KvResult.Outcome.TIMEOUT, "written at 1"), true)))
        .isEqualTo("-TIMEOUT written at 1; the write may have been applied\r\n");
    assertThat(wire(LeaderlessCommands.error(result(KvResult.Outcome.TIMEOUT, "read 1"), false)))
        .isEqualTo("-TIMEOUT read 1; retry the read\r\n");
    assertThat(
            wire(
                LeaderlessCommands.error(
                    result(KvResult.Outcome.REFUSED, "WRONGTYPE key holds another CRDT type"),
                    true)))
        .isEqualTo("-WRONGTYPE key holds another CRDT type\r\n");
    assertThatThrownBy(() -> LeaderlessCommands.error(result(KvResult.Outcome.OK, "fine"), false))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void contextsRoundTripThroughTheirTextAndGarbageIsRefused() {
    VersionVector context = VersionVector.of(Map.of("0", 4L, "2", 1L));
    String text = LeaderlessCommands.encodeContext(context);
    assertThat(text).isNotEmpty();
    assertThat(LeaderlessCommands.decodeContext(text)).isEqualTo(context);
    assertThat(LeaderlessCommands.encodeContext(VersionVector.EMPTY)).isEmpty();
    assertThat(LeaderlessCommands.decodeContext("")).isEqualTo(VersionVector.EMPTY);
    assertThatThrownBy(() -> LeaderlessCommands.decodeContext("not-base64!"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("context is not one KV.GET returned");
    assertThatThrownBy(() -> LeaderlessCommands.decodeContext("AAAA"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("context is not one KV.GET returned");
  }
}
