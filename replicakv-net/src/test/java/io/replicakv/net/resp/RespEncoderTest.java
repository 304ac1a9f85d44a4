package io.replicakv.net.resp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RespEncoderTest {

  /** The wire bytes of {@code reply} for {@code version}, as a Latin-1 string (bytes 1:1). */
  static String wire(Reply reply, int version) {
    ByteBuf out = Unpooled.buffer();
    try {
      RespEncoder.encode(reply, version, out);
      return out.toString(StandardCharsets.ISO_8859_1);
    } finally {
      out.release();
    }
  }

  private static void assertWire(Reply reply, String resp2, String resp3) {
    assertThat(wire(reply, 2)).as("RESP2 of %s", reply).isEqualTo(resp2);
    assertThat(wire(reply, 3)).as("RESP3 of %s", reply).isEqualTo(resp3);
  }

  @Test
  void simpleStringsAndErrorsAreTheSameInBothVersions() {
    assertWire(Reply.ok(), "+OK\r\n", "+OK\r\n");
    assertWire(Reply.pong(), "+PONG\r\n", "+PONG\r\n");
    assertWire(Reply.simple("OK"), "+OK\r\n", "+OK\r\n");
    assertWire(Reply.simple("QUEUED"), "+QUEUED\r\n", "+QUEUED\r\n");
    assertWire(
        Reply.simple("Background saving started"),
        "+Background saving started\r\n",
        "+Background saving started\r\n");
    assertWire(Reply.error("ERR syntax error"), "-ERR syntax error\r\n", "-ERR syntax error\r\n");
    assertWire(
        Reply.error("WRONGTYPE Operation against a key holding the wrong kind of value"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  }

  @Test
  void lineBreaksInsideSimpleTextsBecomeSpaces() {
    assertWire(Reply.error("ERR bad\r\nthing"), "-ERR bad  thing\r\n", "-ERR bad  thing\r\n");
    assertWire(Reply.simple("a\nb"), "+a b\r\n", "+a b\r\n");
    assertWire(Reply.error("-ERR leading dash"), "-ERR leading dash\r\n", "-ERR leading dash\r\n");
  }

  @ParameterizedTest
  @CsvSource({
    "0, 0",
    "1, 1",
    "-1, -1",
    "-2, -2",
    "1023, 1023",
    "1024, 1024",
    "1000000007, 1000000007",
    "-1000000007, -1000000007",
    "9223372036854775807, 9223372036854775807",
    "-9223372036854775808, -9223372036854775808",
  })
  void integersAreTheSameInBothVersions(long value, String digits) {
    assertWire(Reply.integer(value), ":" + digits + "\r\n", ":" + digits + "\r\n");
  }

  @Test
  void bulkStringsCarryTheirLength() {
    assertWire(Reply.bulk("hello"), "$5\r\nhello\r\n", "$5\r\nhello\r\n");
    assertWire(Reply.bulk(new byte[0]), "$0\r\n\r\n", "$0\r\n\r\n");
    assertWire(Reply.bulk("a\r\nb"), "$4\r\na\r\nb\r\n", "$4\r\na\r\nb\r\n");
    assertWire(Reply.bulk("é"), "$2\r\n\u00c3\u00a9\r\n", "$2\r\n\u00c3\u00a9\r\n");
    String big = "x".repeat(5000);
    assertWire(Reply.bulk(big), "$5000\r\n" + big + "\r\n", "$5000\r\n" + big + "\r\n");
  }

  @Test
  void nullsDowngradeToTheirResp2Forms() {
    assertWire(Reply.nil(), "$-1\r\n", "_\r\n");
    assertWire(Reply.nilArray(), "*-1\r\n", "_\r\n");
  }

  @Test
  void arraysNestAndMayHoldNulls() {
    assertWire(Reply.emptyArray(), "*0\r\n", "*0\r\n");
    assertWire(
        Reply.array(List.of(Reply.integer(1), Reply.bulk("a"), Reply.nil())),
        "*3\r\n:1\r\n$1\r\na\r\n$-1\r\n",
        "*3\r\n:1\r\n$1\r\na\r\n_\r\n");
    assertWire(
        Reply.array(List.of(Reply.array(List.of(Reply.ok())), Reply.nilArray())),
        "*2\r\n*1\r\n+OK\r\n*-1\r\n",
        "*2\r\n*1\r\n+OK\r\n_\r\n");
    assertWire(
        Reply.bulkArray(java.util.Arrays.asList("k".getBytes(StandardCharsets.UTF_8), null)),
        "*2\r\n$1\r\nk\r\n$-1\r\n",
        "*2\r\n$1\r\nk\r\n_\r\n");
  }

  @Test
  void largeAggregatesWriteTheirCountDigitByDigit() {
    List<Reply> items = java.util.Collections.nCopies(1500, Reply.integer(7));
    String body = ":7\r\n".repeat(1500);
    assertWire(Reply.array(items), "*1500\r\n" + body, "*1500\r\n" + body);
    assertWire(Reply.set(items), "*1500\r\n" + body, "~1500\r\n" + body);
    assertWire(Reply.map(items), "*1500\r\n" + body, "%750\r\n" + body);
  }

  @Test
  void mapsFlattenInResp2() {
    Reply map =
        Reply.map(
            List.of(
                Reply.bulk("server"), Reply.bulk("redis"), Reply.bulk("proto"), Reply.integer(3)));
    assertWire(
        map,
        "*4\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n",
        "%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n");
  }

  @Test
  void mapsNeedPairs() {
    assertThatThrownBy(() -> Reply.map(List.of(Reply.ok())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("even");
  }

  @Test
  void setsAndPushesBecomeArraysInResp2() {
    assertWire(
        Reply.set(List.of(Reply.bulk("a"), Reply.bulk("b"))),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        "~2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assertWire(
        Reply.push(List.of(Reply.bulk("message"), Reply.bulk("ch"), Reply.bulk("hi"))),
        "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
  }

  @Test
  void booleansBecomeIntegersInResp2() {
    assertWire(Reply.bool(true), ":1\r\n", "#t\r\n");
    assertWire(Reply.bool(false), ":0\r\n", "#f\r\n");
  }

  @Test
  void verbatimStringsCountFormatAndColon() {
    assertWire(
        Reply.verbatim("txt", "Some string"),
        "$11\r\nSome string\r\n",
        "=15\r\ntxt:Some string\r\n");
    assertWire(Reply.verbatim("mkd", ""), "$0\r\n\r\n", "=4\r\nmkd:\r\n");
    assertThatThrownBy(() -> Reply.verbatim("text", "x"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void bigNumbersBecomeBulkStringsInResp2() {
    String digits = "3492890328409238509324850943850943825024385";
    assertWire(
        Reply.bigNumber(digits),
        "$" + digits.length() + "\r\n" + digits + "\r\n",
        "(" + digits + "\r\n");
    assertWire(Reply.bigNumber("-12"), "$3\r\n-12\r\n", "(-12\r\n");
    assertThatThrownBy(() -> Reply.bigNumber("12a")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void doublesUseRedisTextInBothVersions() {
    assertWire(Reply.doubleValue(1.5), "$3\r\n1.5\r\n", ",1.5\r\n");
    assertWire(Reply.doubleValue(Double.POSITIVE_INFINITY), "$3\r\ninf\r\n", ",inf\r\n");
    assertWire(Reply.doubleValue(Double.NEGATIVE_INFINITY), "$4\r\n-inf\r\n", ",-inf\r\n");
    assertWire(Reply.doubleValue(Double.NaN), "$3\r\nnan\r\n", ",nan\r\n");
    assertWire(Reply.doubleValue(10), "$2\r\n10\r\n", ",10\r\n");
  }

  @ParameterizedTest
  @CsvSource({
    "0.0, 0",
    "-0.0, -0",
    "1.0, 1",
    "-3.0, -3",
    "1.1, 1.1",
    "0.1, 0.1",
    "-0.25, -0.25",
    "3.141592653589793, 3.141592653589793",
    "123456.789, 123456.789",
    "0.0001, 0.0001",
    "0.00001, 0.00001",
    "0.000001, 0.000001",
    "1.0E-7, 1e-7",
    "1.5E-7, 1.5e-7",
    "1.2345E-10, 1.2345e-10",
    "4.611686018427388E18, 4611686018427387904",
    "1.0E19, 1e+19",
    "1.5E19, 1.5e+19",
    "1.0E21, 1e+21",
    "1.7976931348623157E308, 1.7976931348623157e+308",
    "1.2345678901234567E19, 12345678901234567000",
    "2.5E-300, 2.5e-300",
    "-2.5E-300, -2.5e-300",
    "1.0000000000000002, 1.0000000000000002",
    "10.5, 10.5",
    "0.30000000000000004, 0.30000000000000004",
  })
  void doublesFollowRedisD2string(double value, String expected) {
    assertThat(RedisDoubleFormat.format(value)).isEqualTo(expected);
    if (!expected.contains("inf") && !expected.equals("nan")) {
      assertThat(Double.parseDouble(expected)).isEqualTo(value);
    }
  }

  @Test
  void unknownProtocolVersionsAreRefused() {
    ByteBuf out = Unpooled.buffer();
    try {
      assertThatThrownBy(() -> RespEncoder.encode(Reply.ok(), 1, out))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("protocol version 1");
      assertThat(out.readableBytes()).isZero();
    } finally {
      out.release();
    }
  }

  @Test
  void sharedRepliesAreReused() {
    assertThat(Reply.integer(5)).isSameAs(Reply.integer(5));
    assertThat(Reply.integer(-1)).isSameAs(Reply.integer(-1));
    assertThat(Reply.integer(5000)).isEqualTo(Reply.integer(5000));
    assertThat(Reply.simple("OK")).isSameAs(Reply.ok());
    assertThat(Reply.bulk("x")).isEqualTo(Reply.bulk("x".getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void decimalDigitsCountsEveryMagnitude() {
    long power = 1;
    for (int digits = 1; digits <= 18; digits++) {
      assertThat(RespEncoder.decimalDigits(power)).as("digits of %s", power).isEqualTo(digits);
      assertThat(RespEncoder.decimalDigits(power * 10 - 1)).isEqualTo(digits);
      power *= 10;
    }
    assertThat(RespEncoder.decimalDigits(0)).isEqualTo(1);
    assertThat(RespEncoder.decimalDigits(Long.MAX_VALUE)).isEqualTo(19);
  }
}
