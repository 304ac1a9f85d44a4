package io.replicakv.net.resp;

import static io.replicakv.net.resp.Decoding.SMALL_LIMITS;
import static io.replicakv.net.resp.Decoding.decode;
import static io.replicakv.net.resp.Decoding.inline;
import static io.replicakv.net.resp.Decoding.latin1;
import static io.replicakv.net.resp.Decoding.request;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RespDecoderTest {

  private static final String PIPELINE =
      "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
          + "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"
          + "PING\r\n"
          + "\r\n"
          + "*0\r\n"
          + "*-1\r\n"
          + "set \"a b\" 'c d'\n"
          + "*1\r\n$0\r\n\r\n"
          + "*2\r\n$4\r\nECHO\r\n$6\r\na\r\nb\r\n\r\n";

  private static final List<Object> PIPELINE_REQUESTS =
      List.of(
          request("SET", "key", "value"),
          request("GET", "key"),
          inline("PING"),
          inline("set", "a b", "c d"),
          request(""),
          request("ECHO", "a\r\nb\r\n"));

  @Test
  void decodesAMultibulkCommand() {
    List<Object> out = decode("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
    assertThat(out).containsExactly(request("GET", "key"));
    RespRequest get = (RespRequest) out.get(0);
    assertThat(get.argc()).isEqualTo(2);
    assertThat(get.inline()).isFalse();
    assertThat(get.argEqualsIgnoreCase(0, "get")).isTrue();
    assertThat(get.argEqualsIgnoreCase(0, "set")).isFalse();
    assertThat(get.args()).hasSize(2);
  }

  @Test
  void decodesAWholePipelineSkippingEmptyCommands() {
    assertThat(decode(PIPELINE)).isEqualTo(PIPELINE_REQUESTS);
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 5, 7, 16, 64})
  void decodesThePipelineInAnyChunkSize(int chunkBytes) {
    assertThat(decode(RespLimits.defaults(), PIPELINE, chunkBytes)).isEqualTo(PIPELINE_REQUESTS);
  }

  @Test
  void decodesThePipelineSplitInTwoAtEveryByteBoundary() {
    byte[] input = latin1(PIPELINE);
    for (int split = 0; split <= input.length; split++) {
      EmbeddedChannel channel = new EmbeddedChannel(new RespDecoder(RespLimits.defaults()));
      channel.writeInbound(Unpooled.copiedBuffer(input, 0, split));
      channel.writeInbound(Unpooled.copiedBuffer(input, split, input.length - split));
      List<Object> out = new ArrayList<>();
      for (Object message; (message = channel.readInbound()) != null; ) {
        out.add(message);
      }
      channel.finishAndReleaseAll();
      assertThat(out).as("split at %s", split).isEqualTo(PIPELINE_REQUESTS);
    }
  }

  @Test
  void holdsAPartialCommandUntilItCompletes() {
    EmbeddedChannel channel = new EmbeddedChannel(new RespDecoder(RespLimits.defaults()));
    try {
      channel.writeInbound(Unpooled.copiedBuffer(latin1("*2\r\n$3\r\nGET\r\n$3\r\nke")));
      assertThat((Object) channel.readInbound()).isNull();
      channel.writeInbound(Unpooled.copiedBuffer(latin1("y\r")));
      assertThat((Object) channel.readInbound()).isNull();
      channel.writeInbound(Unpooled.copiedBuffer(latin1("\n*1\r\n$4\r\nPING\r\n")));
      assertThat((Object) channel.readInbound()).isEqualTo(request("GET", "key"));
      assertThat((Object) channel.readInbound()).isEqualTo(request("PING"));
    } finally {
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void inlineCommandsFollowRedisQuoting() {
    assertThat(decode("SET k \"a\\x41\\n\\tb\\\"\" 'it\\'s'\r\n"))
        .containsExactly(inline("SET", "k", "aA\n\tb\"", "it's"));
    assertThat(decode("  get   key  \n")).containsExactly(inline("get", "key"));
    assertThat(decode("echo \"\"\n")).containsExactly(inline("echo", ""));
    assertThat(decode("echo ab\"c d\"\n")).containsExactly(inline("echo", "abc d"));
    assertThat(decode("echo \"\\xZZ\"\n")).containsExactly(inline("echo", "xZZ"));
  }

  @Test
  void inlineLineEndsAtLfWithOptionalCr() {
    assertThat(decode("PING\nPING\r\n")).containsExactly(inline("PING"), inline("PING"));
  }

  @Test
  void blankInlineLinesAreSkipped() {
    assertThat(decode("\r\n\n   \r\nPING\r\n")).containsExactly(inline("PING"));
  }

  @Test
  void unbalancedQuotesAreAProtocolError() {
    assertThat(decode("SET k \"abc\r\n")).containsExactly(error("unbalanced quotes in request"));
    assertThat(decode("SET k 'abc\r\n")).containsExactly(error("unbalanced quotes in request"));
    assertThat(decode("SET k \"abc\"x\r\n")).containsExactly(error("unbalanced quotes in request"));
  }

  @Test
  void badMultibulkCountsAreProtocolErrors() {
    assertThat(decode("*abc\r\n")).containsExactly(error("invalid multibulk length"));
    assertThat(decode("*\r\n")).containsExactly(error("invalid multibulk length"));
    assertThat(decode("*01\r\n")).containsExactly(error("invalid multibulk length"));
    assertThat(decode("*+1\r\n")).containsExactly(error("invalid multibulk length"));
    assertThat(decode("*99999999999999999999\r\n"))
        .containsExactly(error("invalid multibulk length"));
  }

  @Test
  void badBulkHeadersAreProtocolErrors() {
    assertThat(decode("*1\r\n$-1\r\n")).containsExactly(error("invalid bulk length"));
    assertThat(decode("*1\r\n$x\r\n")).containsExactly(error("invalid bulk length"));
    assertThat(decode("*1\r\n$\r\n")).containsExactly(error("invalid bulk length"));
    assertThat(decode("*1\r\n:1\r\n")).containsExactly(error("expected '$', got ':'"));
    assertThat(decode("*1\r\n\r\n")).containsExactly(error("expected '$', got ' '"));
    assertThat(decode("*2\r\n$3\r\nGET\r\nkey\r\n"))
        .containsExactly(error("expected '$', got 'k'"));
  }

  @Test
  void protocolErrorRepliesAsRedisDoes() {
    assertThat(RespEncoderTest.wire(error("invalid bulk length").toReply(), 2))
        .isEqualTo("-ERR Protocol error: invalid bulk length\r\n");
  }

  @Test
  void argumentsBeforeAnErrorAreNotEmitted() {
    assertThat(decode("PING\r\n*2\r\n$3\r\nGET\r\n$-5\r\nPING\r\n"))
        .containsExactly(inline("PING"), error("invalid bulk length"));
  }

  @Test
  void oversizedBulkHeaderIsRefusedFromTheHeaderAlone() {
    RespDecoder decoder = new RespDecoder(SMALL_LIMITS);
    EmbeddedChannel channel = new EmbeddedChannel(decoder);
    try {
      channel.writeInbound(Unpooled.copiedBuffer(latin1("*1\r\n$2147483000\r\n")));
      assertThat((Object) channel.readInbound()).isEqualTo(error("invalid bulk length"));
      assertThat((Object) channel.readInbound()).isNull();
    } finally {
      channel.finishAndReleaseAll();
    }
    assertThat(decode(SMALL_LIMITS, "*1\r\n$65\r\n", 1))
        .containsExactly(error("invalid bulk length"));
    assertThat(decode(SMALL_LIMITS, "*1\r\n$64\r\n" + "x".repeat(64) + "\r\n", 1))
        .containsExactly(request("x".repeat(64)));
  }

  @Test
  void oversizedArgumentCountIsRefusedFromTheHeaderAlone() {
    assertThat(decode(SMALL_LIMITS, "*17\r\n", 1))
        .containsExactly(error("invalid multibulk length"));
    assertThat(decode(RespLimits.defaults(), "*1048577\r\n", 1))
        .containsExactly(error("invalid multibulk length"));
    assertThat(decode(RespLimits.defaults(), "*2147483648\r\n", 1))
        .containsExactly(error("invalid multibulk length"));
  }

  @Test
  void aLargeDeclaredBulkIsNotAllocatedBeforeItArrives() {
    RespLimits generous = new RespLimits(2_000_000_000L, 16, 64);
    RespDecoder decoder = new RespDecoder(generous);
    EmbeddedChannel channel = new EmbeddedChannel(decoder);
    try {
      channel.writeInbound(Unpooled.copiedBuffer(latin1("*1\r\n$2000000000\r\nabcdefgh")));
      assertThat((Object) channel.readInbound()).isNull();
      assertThat(decoder.bufferedCapacityBytes()).isLessThan(1 << 20);
      assertThat(decoder.largeBulkCapacityBytes()).isEqualTo(RespDecoder.LARGE_BULK_BYTES);
    } finally {
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void aLargeBulkLeavesTheCumulationAsItArrives() {
    int valueBytes = 3 << 20;
    byte[] value = new byte[valueBytes];
    new java.util.Random(7).nextBytes(value);
    byte[] input = Decoding.multibulk(List.of(latin1("SET"), latin1("k"), value));
    RespDecoder decoder = new RespDecoder(RespLimits.defaults());
    EmbeddedChannel channel = new EmbeddedChannel(decoder);
    int chunkBytes = 16 * 1024;
    try {
      int offset = 0;
      while (offset + chunkBytes < input.length / 2) {
        channel.writeInbound(Unpooled.copiedBuffer(input, offset, chunkBytes));
        offset += chunkBytes;
      }
      assertThat((Object) channel.readInbound()).isNull();
      assertThat(decoder.bufferedCapacityBytes()).isLessThanOrEqualTo(4 * chunkBytes);
      assertThat(decoder.largeBulkCapacityBytes()).isBetween(offset / 2, 2 * offset);
      channel.writeInbound(Unpooled.copiedBuffer(input, offset, input.length - offset));
      assertThat((Object) channel.readInbound())
          .isEqualTo(RespRequest.of(latin1("SET"), latin1("k"), value));
      assertThat(decoder.largeBulkCapacityBytes()).isZero();
    } finally {
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void aLargeDeclaredArgumentCountIsNotAllocatedBeforeItArrives() {
    RespDecoder decoder = new RespDecoder(RespLimits.defaults());
    EmbeddedChannel channel = new EmbeddedChannel(decoder);
    try {
      channel.writeInbound(Unpooled.copiedBuffer(latin1("*1048576\r\n$1\r\na\r\n")));
      assertThat((Object) channel.readInbound()).isNull();
      assertThat(decoder.argumentSlotsReserved()).isEqualTo(RespDecoder.ARGUMENT_ARRAY_INITIAL_MAX);
    } finally {
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void argumentArrayGrowsBeyondItsInitialReservation() {
    List<byte[]> args = new ArrayList<>();
    for (int i = 0; i < 3000; i++) {
      args.add(latin1("a" + i));
    }
    List<Object> out = decode(RespLimits.defaults(), Decoding.multibulk(args), 4096);
    assertThat(out).hasSize(1);
    RespRequest request = (RespRequest) out.get(0);
    assertThat(request.argc()).isEqualTo(3000);
    assertThat(request.argString(2999)).isEqualTo("a2999");
  }

  @Test
  void tooLongInlineLineIsAProtocolError() {
    String line = "x".repeat(65);
    assertThat(decode(SMALL_LIMITS, line, 1)).containsExactly(error("too big inline request"));
    assertThat(decode(SMALL_LIMITS, line + "\r\n", 100))
        .containsExactly(error("too big inline request"));
    assertThat(decode(SMALL_LIMITS, "x".repeat(64) + "\n", 1))
        .containsExactly(inline("x".repeat(64)));
  }

  @Test
  void tooLongHeaderLinesAreProtocolErrors() {
    assertThat(decode(SMALL_LIMITS, "*" + "1".repeat(70), 1))
        .containsExactly(error("too big mbulk count string"));
    assertThat(decode(SMALL_LIMITS, "*1\r\n$" + "1".repeat(70), 1))
        .containsExactly(error("too big bulk count string"));
  }

  @Test
  void everythingAfterAnErrorIsDiscarded() {
    RespDecoder decoder = new RespDecoder(RespLimits.defaults());
    EmbeddedChannel channel = new EmbeddedChannel(decoder);
    try {
      channel.writeInbound(Unpooled.copiedBuffer(latin1("*x\r\nPING\r\n")));
      channel.writeInbound(Unpooled.copiedBuffer(latin1("PING\r\n*1\r\n$4\r\nPING\r\n")));
      assertThat((Object) channel.readInbound()).isEqualTo(error("invalid multibulk length"));
      assertThat((Object) channel.readInbound()).isNull();
    } finally {
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void changedLimitsApplyToTheNextHeader() {
    RespDecoder decoder = new RespDecoder(RespLimits.defaults());
    EmbeddedChannel channel = new EmbeddedChannel(decoder);
    try {
      channel.writeInbound(Unpooled.copiedBuffer(latin1("*1\r\n$5\r\nhello\r\n")));
      assertThat((Object) channel.readInbound()).isEqualTo(request("hello"));
      decoder.setLimits(RespLimits.defaults().withMaxBulkBytes(4));
      assertThat(decoder.limits().maxBulkBytes()).isEqualTo(4);
      channel.writeInbound(Unpooled.copiedBuffer(latin1("*1\r\n$5\r\nhello\r\n")));
      assertThat((Object) channel.readInbound()).isEqualTo(error("invalid bulk length"));
    } finally {
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void binaryArgumentsSurviveUnchanged() {
    byte[] binary = new byte[256];
    for (int i = 0; i < binary.length; i++) {
      binary[i] = (byte) i;
    }
    List<Object> out =
        decode(RespLimits.defaults(), Decoding.multibulk(List.of(latin1("SET"), binary)), 1);
    assertThat(out).containsExactly(RespRequest.of(latin1("SET"), binary));
  }

  @Test
  void parseLengthFollowsString2ll() {
    assertThat(parse("0")).isZero();
    assertThat(parse("7")).isEqualTo(7);
    assertThat(parse("9223372036854775807")).isEqualTo(Long.MAX_VALUE);
    assertThat(parse("-9223372036854775808")).isEqualTo(-1);
    assertThat(parse("-5")).isEqualTo(-1);
    for (String bad :
        List.of(
            "",
            "-",
            "-0",
            "00",
            "01",
            "+1",
            " 1",
            "1 ",
            "9223372036854775808",
            "-9223372036854775809",
            "1a",
            "123456789012345678901")) {
      assertThat(parse(bad)).as("'%s'", bad).isEqualTo(Long.MIN_VALUE);
    }
  }

  private static long parse(String text) {
    var buffer = Unpooled.copiedBuffer(latin1("$" + text + "\r"));
    try {
      return RespDecoder.parseLength(buffer, 1, 1 + text.length());
    } finally {
      buffer.release();
    }
  }

  static RespProtocolError error(String message) {
    return new RespProtocolError(message);
  }
}
