package io.replicakv.server.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.net.resp.RespRequest;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The forwarded-command format, with its hop count. */
class ForwardCodecTest {
  @Test
  void roundTripKeepsKeyspaceProtocolArgumentsAndHops() {
    RespRequest request =
        RespRequest.of(
            new byte[][] {
              "SET".getBytes(StandardCharsets.UTF_8),
              "k".getBytes(StandardCharsets.UTF_8),
              new byte[0]
            });
    ForwardCodec.Forward f = ForwardCodec.decode(ForwardCodec.encode(7, 3, request, 2));
    assertThat(f.keyspace()).isEqualTo(7);
    assertThat(f.protocol()).isEqualTo(3);
    assertThat(f.hops()).isEqualTo(2);
    assertThat(f.request().argc()).isEqualTo(3);
    assertThat(new String(f.request().arg(1), StandardCharsets.UTF_8)).isEqualTo("k");
    assertThat(ForwardCodec.decode(ForwardCodec.encode(0, 2, request)).hops()).isEqualTo(1);
    assertThat(f.session()).isFalse();
  }

  @Test
  void versionThreeAsksForTheSessionPositionAndKeepsTheRest() {
    RespRequest request = RespRequest.of(new byte[][] {"GET".getBytes(StandardCharsets.UTF_8)});
    byte[] encoded = ForwardCodec.encode(16, 2, request, 1, true);
    assertThat(encoded[0]).isEqualTo((byte) 3);
    ForwardCodec.Forward f = ForwardCodec.decode(encoded);
    assertThat(f.session()).isTrue();
    assertThat(f.keyspace()).isEqualTo(16);
    assertThat(f.hops()).isEqualTo(1);
    assertThat(ForwardCodec.decode(ForwardCodec.encode(16, 2, request, 1, false)).session())
        .isFalse();
    byte[] future = encoded.clone();
    future[0] = 4;
    assertThatThrownBy(() -> ForwardCodec.decode(future)).hasMessageContaining("version");
  }

  @Test
  void refusesZeroHopsAndOtherVersions() {
    RespRequest request = RespRequest.of(new byte[][] {"GET".getBytes(StandardCharsets.UTF_8)});
    byte[] encoded = ForwardCodec.encode(0, 2, request);
    byte[] zeroHops = encoded.clone();
    zeroHops[1] = 0;
    assertThatThrownBy(() -> ForwardCodec.decode(zeroHops)).hasMessageContaining("hop");
    byte[] oldVersion = encoded.clone();
    oldVersion[0] = 1;
    assertThatThrownBy(() -> ForwardCodec.decode(oldVersion)).hasMessageContaining("version");
    assertThatThrownBy(() -> ForwardCodec.encode(0, 2, request, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
