package io.replicakv.core.ring;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SlotsTest {

  @Test
  void crc16MatchesTheRedisClusterSpecificationVector() {
    // Redis Cluster specification, appendix A: CRC16 of "123456789" is 0x31C3.
    assertThat(Slots.crc16("123456789".getBytes(StandardCharsets.US_ASCII))).isEqualTo(0x31C3);
    assertThat(Slots.crc16(new byte[0])).isZero();
  }

  /** Slots as CLUSTER KEYSLOT reports them (cross-checked with Python's binascii.crc_hqx). */
  @ParameterizedTest
  @CsvSource({
    "foo, 12182",
    "bar, 5061",
    "hello, 866",
    "somekey, 11058",
    "user1000, 3443",
    "123456789, 12739",
    "a, 15495",
    "key:0, 2592",
    "mykey, 14687",
    "{user1000}.following, 3443",
    "{user1000}.followers, 3443",
    "foo{bar}{zap}, 5061",
    "{}foo, 9500",
  })
  void knownKeysLandOnKnownSlots(String key, int slot) {
    assertThat(Slots.slot(key)).isEqualTo(slot);
  }

  @Test
  void hashTagRulesFollowRedis() {
    // Empty tag: the whole key is hashed.
    assertThat(Slots.slot("foo{}{bar}")).isEqualTo(crcSlot("foo{}{bar}"));
    // Only the first '{' and the first '}' after it count.
    assertThat(Slots.slot("foo{{bar}}zap")).isEqualTo(crcSlot("{bar"));
    // An unclosed tag hashes the whole key.
    assertThat(Slots.slot("foo{bar")).isEqualTo(crcSlot("foo{bar"));
    assertThat(Slots.slot("}{x}")).isEqualTo(crcSlot("x"));
    assertThat(Slots.slot(new byte[] {(byte) 0xFF, '{', (byte) 0x80, '}'}))
        .isEqualTo(Slots.crc16(new byte[] {(byte) 0x80}) % Slots.SLOT_COUNT);
  }

  private static int crcSlot(String text) {
    return Slots.crc16(text.getBytes(StandardCharsets.UTF_8)) % Slots.SLOT_COUNT;
  }
}
