package io.replicakv.storage.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class BytesTest {
  @Test
  void hashIsMurmur3WithTheClassSeedOnPublishedVectors() {
    // Reference values of MurmurHash3_x86_32 with seed 0x9747b28c.
    assertThat(Bytes.murmur3(ascii("Hello, world!"))).isEqualTo(0x24884CBA);
    assertThat(Bytes.murmur3(ascii("The quick brown fox jumps over the lazy dog")))
        .isEqualTo(0x2FA826CD);
  }

  @Test
  void equalContentsAreEqualWithEqualHashes() {
    Bytes a = Bytes.utf8("key:1");
    Bytes b = Bytes.of("key:1".getBytes(StandardCharsets.UTF_8));
    assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
    assertThat(a).isNotEqualTo(Bytes.utf8("key:2"));
    assertThat(a.hashCode()).isNotEqualTo(Bytes.utf8("key:2").hashCode());
  }

  @Test
  void ordersUnsignedLexicographically() {
    Bytes low = Bytes.of(new byte[] {0x01});
    Bytes high = Bytes.of(new byte[] {(byte) 0xFF});
    assertThat(low.compareTo(high)).isNegative();
    assertThat(Bytes.utf8("ab").compareTo(Bytes.utf8("abc"))).isNegative();
    assertThat(Bytes.utf8("b").compareTo(Bytes.utf8("abc"))).isPositive();
  }

  @Test
  void wrapsWithoutCopyingAndDecodesForLogs() {
    byte[] raw = ascii("value");
    assertThat(Bytes.of(raw).array()).isSameAs(raw);
    assertThat(Bytes.copyOf(raw).array()).isNotSameAs(raw).isEqualTo(raw);
    assertThat(Bytes.of(raw).toString()).isEqualTo("value");
    assertThat(Bytes.of(raw).length()).isEqualTo(5);
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
