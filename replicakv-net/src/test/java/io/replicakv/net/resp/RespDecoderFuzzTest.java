package io.replicakv.net.resp;

import static io.replicakv.net.resp.Decoding.SMALL_LIMITS;
import static io.replicakv.net.resp.Decoding.decode;
import static io.replicakv.net.resp.Decoding.latin1;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;

/**
 * Properties of the decoder on hostile input, with small limits so that a bug that allocates by a
 * declared length or loops would show quickly. Every property runs with a fixed seed.
 */
class RespDecoderFuzzTest {

  private static final String SEED = "20261122";

  /** Sends every bulk of 3 bytes or more down the decoder's large-bulk path. */
  private static final int TINY_LARGE_BULK_BYTES = 3;

  private static final byte[] RESP_ALPHABET = latin1("*$\r\n-0123456789 \"'\\xaA\t");

  @Property(tries = 250, seed = SEED)
  void randomBytesYieldRequestsThenAtMostOneError(
      @ForAll("respLikeBytes") byte[] input, @ForAll @IntRange(min = 1, max = 40) int chunkBytes) {
    checkDecoding(input, chunkBytes);
  }

  @Property(tries = 250, seed = SEED)
  void mutatedCommandsYieldRequestsThenAtMostOneError(
      @ForAll("commands") List<List<byte[]>> commands,
      @ForAll boolean asInline,
      @ForAll long mutationSeed,
      @ForAll @IntRange(min = 1, max = 40) int chunkBytes) {
    byte[] valid = asInline ? inlineQuoted(commands) : multibulks(commands);
    byte[] mutated = mutate(valid, new Random(mutationSeed));
    checkDecoding(mutated, chunkBytes);
  }

  @Property(tries = 200, seed = SEED)
  void validMultibulksRoundTripInAnyChunking(
      @ForAll("commands") List<List<byte[]>> commands,
      @ForAll @IntRange(min = 1, max = 64) int chunkBytes) {
    List<Object> out = decode(SMALL_LIMITS, multibulks(commands), chunkBytes);
    assertThat(out).isEqualTo(expectedRequests(commands, false));
    RespDecoder largeBulkPath = new RespDecoder(SMALL_LIMITS, TINY_LARGE_BULK_BYTES);
    assertThat(decode(largeBulkPath, multibulks(commands), chunkBytes)).isEqualTo(out);
  }

  @Property(tries = 200, seed = SEED)
  void quotedInlineCommandsRoundTripInAnyChunking(
      @ForAll("commands") List<List<byte[]>> commands,
      @ForAll @IntRange(min = 1, max = 64) int chunkBytes) {
    List<Object> out = decode(RespLimits.defaults(), inlineQuoted(commands), chunkBytes);
    assertThat(out).isEqualTo(expectedRequests(commands, true));
  }

  /**
   * Decodes {@code input} whole, byte by byte and in {@code chunkBytes} reads: no exception
   * escapes, all three agree, and the output is valid requests followed by at most one error.
   */
  private static void checkDecoding(byte[] input, int chunkBytes) {
    List<Object> whole = decode(SMALL_LIMITS, input, Integer.MAX_VALUE);
    assertThat(decode(SMALL_LIMITS, input, 1)).isEqualTo(whole);
    assertThat(decode(SMALL_LIMITS, input, chunkBytes)).isEqualTo(whole);
    RespDecoder largeBulkPath = new RespDecoder(SMALL_LIMITS, TINY_LARGE_BULK_BYTES);
    assertThat(decode(largeBulkPath, input, chunkBytes)).as("large-bulk path").isEqualTo(whole);
    for (int i = 0; i < whole.size(); i++) {
      Object message = whole.get(i);
      if (message instanceof RespProtocolError) {
        assertThat(i).as("an error is the last message").isEqualTo(whole.size() - 1);
      } else {
        assertThat(message).isInstanceOf(RespRequest.class);
        assertWithinLimits((RespRequest) message);
      }
    }
  }

  private static void assertWithinLimits(RespRequest request) {
    assertThat(request.argc())
        .isBetween(
            1, request.inline() ? SMALL_LIMITS.maxInlineBytes() : SMALL_LIMITS.maxArguments());
    long totalBytes = 0;
    for (byte[] arg : request.args()) {
      assertThat((long) arg.length).isLessThanOrEqualTo(SMALL_LIMITS.maxBulkBytes());
      totalBytes += arg.length;
    }
    if (request.inline()) {
      assertThat(totalBytes).isLessThanOrEqualTo(SMALL_LIMITS.maxInlineBytes());
    }
  }

  @Provide
  Arbitrary<byte[]> respLikeBytes() {
    Arbitrary<Byte> respByte =
        Arbitraries.frequencyOf(
            Tuple.of(4, Arbitraries.of(boxed(RESP_ALPHABET))), Tuple.of(1, Arbitraries.bytes()));
    return respByte.list().ofMaxSize(160).map(RespDecoderFuzzTest::unboxed);
  }

  @Provide
  Arbitrary<List<List<byte[]>>> commands() {
    Arbitrary<byte[]> argument =
        Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.of(boxed(RESP_ALPHABET))), Tuple.of(1, Arbitraries.bytes()))
            .list()
            .ofMaxSize(12)
            .map(RespDecoderFuzzTest::unboxed);
    return argument.list().ofMinSize(1).ofMaxSize(4).list().ofMinSize(1).ofMaxSize(4);
  }

  private static List<Object> expectedRequests(List<List<byte[]>> commands, boolean inline) {
    List<Object> expected = new ArrayList<>();
    for (List<byte[]> command : commands) {
      byte[][] args = command.toArray(new byte[0][]);
      expected.add(inline ? new RespRequest(args, true) : RespRequest.of(args));
    }
    return expected;
  }

  private static byte[] multibulks(List<List<byte[]>> commands) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (List<byte[]> command : commands) {
      bytes.writeBytes(Decoding.multibulk(command));
    }
    return bytes.toByteArray();
  }

  /** Each argument double-quoted with every byte written as a \xHH escape. */
  private static byte[] inlineQuoted(List<List<byte[]>> commands) {
    StringBuilder text = new StringBuilder();
    for (List<byte[]> command : commands) {
      for (byte[] arg : command) {
        text.append(" \"");
        for (byte b : arg) {
          text.append(String.format("\\x%02x", b & 0xFF));
        }
        text.append('"');
      }
      text.append("\r\n");
    }
    return latin1(text.toString());
  }

  /** One to three random edits: flip, insert, delete or truncate. */
  private static byte[] mutate(byte[] input, Random random) {
    List<Byte> bytes = new ArrayList<>(List.of(boxed(input)));
    int edits = 1 + random.nextInt(3);
    for (int i = 0; i < edits && !bytes.isEmpty(); i++) {
      int at = random.nextInt(bytes.size());
      byte replacement =
          random.nextBoolean()
              ? RESP_ALPHABET[random.nextInt(RESP_ALPHABET.length)]
              : (byte) random.nextInt(256);
      switch (random.nextInt(4)) {
        case 0 -> bytes.set(at, replacement);
        case 1 -> bytes.add(at, replacement);
        case 2 -> bytes.remove(at);
        default -> bytes.subList(at, bytes.size()).clear();
      }
    }
    return unboxed(bytes);
  }

  private static Byte[] boxed(byte[] bytes) {
    Byte[] boxed = new Byte[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      boxed[i] = bytes[i];
    }
    return boxed;
  }

  private static byte[] unboxed(List<Byte> bytes) {
    byte[] unboxed = new byte[bytes.size()];
    for (int i = 0; i < unboxed.length; i++) {
      unboxed[i] = bytes.get(i);
    }
    return unboxed;
  }
}
