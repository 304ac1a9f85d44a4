package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Garbage on one connection never hurts another: random bytes and mutated valid RESP go to a fuzz
 * connection while a witness connection, after every try, still gets PONG and a SET/GET round trip
 * with its own value, and the server process stays alive.
 *
 * <p>The corpus only touches {@code fuzz:*} keys and has no command with global effect (CONFIG,
 * FLUSHALL, CLIENT KILL), so a mutation cannot legitimately disturb the witness. Sizes are bounded
 * ({@link #FUZZ_BYTES_MAX}); seeds are fixed so a failure replays.
 */
class BadInputPropertyTest {
  /** Most bytes one try sends. */
  static final int FUZZ_BYTES_MAX = 2_048;

  /** Most mutations applied to one valid pipeline. */
  static final int MUTATIONS_MAX = 6;

  /** Valid commands the mutations start from, inline and multibulk. */
  static final List<byte[]> CORPUS =
      List.of(
          RespConnection.encode("SET", "fuzz:a", "hello"),
          RespConnection.encode("GET", "fuzz:a"),
          RespConnection.encode("INCRBY", "fuzz:n", "7"),
          RespConnection.encode("HSET", "fuzz:h", "f1", "v1", "f2", "v2"),
          RespConnection.encode("SADD", "fuzz:s", "x", "y", "z"),
          RespConnection.encode("EXPIRE", "fuzz:a", "100", "NX"),
          RespConnection.encode("MSET", "fuzz:b", "1", "fuzz:c", "2"),
          RespConnection.encode("SCAN", "0", "MATCH", "fuzz:*", "COUNT", "10"),
          RespConnection.encode("ECHO", "payload with spaces"),
          RespConnection.encode("HELLO", "3"),
          "PING\r\n".getBytes(StandardCharsets.US_ASCII),
          "SET fuzz:q \"quoted \\x41 value\"\r\n".getBytes(StandardCharsets.US_ASCII),
          "GETRANGE fuzz:a 0 -1\n".getBytes(StandardCharsets.US_ASCII));

  private static Path tmp;
  private static ServerProcess server;
  private static RespConnection witness;
  private static long witnessRound;

  @BeforeContainer
  static void startServer() throws IOException {
    tmp = Files.createTempDirectory("replicakv-bad-input");
    server = ServerProcess.start(tmp.resolve("data"));
    witness = server.connect();
  }

  @AfterContainer
  static void stopServer() throws IOException {
    try {
      if (server != null && server.isAlive()) {
        // The tries must have reached the decoder's error paths, or they tested nothing.
        String metrics = Http.get(server.httpPort(), "/metrics").body();
        double protocolErrors = Http.sample(metrics, "replicakv_protocol_errors_total");
        System.out.printf(
            "bad input: %.0f protocol errors, %.0f connections%n",
            protocolErrors, Http.sample(metrics, "replicakv_connections_received_total"));
        assertThat(protocolErrors).isGreaterThan(0);
      }
    } finally {
      if (witness != null) {
        witness.close();
      }
      if (server != null) {
        server.close();
      }
      ServerProcess.deleteTree(tmp);
    }
  }

  @Property(tries = 200, seed = "4242")
  void randomBytesLeaveOtherConnectionsWorking(@ForAll("randomBytes") byte[] garbage)
      throws IOException {
    sendAndCheckWitness(garbage);
  }

  @Property(tries = 200, seed = "2424")
  void mutatedRespLeavesOtherConnectionsWorking(@ForAll("mutatedResp") byte[] mutated)
      throws IOException {
    sendAndCheckWitness(mutated);
  }

  @Provide
  Arbitrary<byte[]> randomBytes() {
    return Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(FUZZ_BYTES_MAX);
  }

  /** One to four corpus commands, pipelined, then up to {@link #MUTATIONS_MAX} byte edits. */
  @Provide
  Arbitrary<byte[]> mutatedResp() {
    Arbitrary<List<Integer>> commands =
        Arbitraries.integers().between(0, CORPUS.size() - 1).list().ofMinSize(1).ofMaxSize(4);
    Arbitrary<Mutation> mutation =
        Combinators.combine(
                Arbitraries.integers().between(0, 4),
                Arbitraries.integers().between(0, Integer.MAX_VALUE),
                Arbitraries.bytes())
            .as(Mutation::new);
    return Combinators.combine(commands, mutation.list().ofMinSize(1).ofMaxSize(MUTATIONS_MAX))
        .as(BadInputPropertyTest::build);
  }

  /** kind: 0 replace, 1 delete, 2 insert, 3 truncate, 4 duplicate a stretch. */
  record Mutation(int kind, int position, byte value) {}

  static byte[] build(List<Integer> commands, List<Mutation> mutations) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    commands.forEach(i -> b.writeBytes(CORPUS.get(i)));
    byte[] bytes = b.toByteArray();
    for (Mutation m : mutations) {
      bytes = apply(bytes, m);
    }
    return bytes.length > FUZZ_BYTES_MAX ? java.util.Arrays.copyOf(bytes, FUZZ_BYTES_MAX) : bytes;
  }

  private static byte[] apply(byte[] in, Mutation m) {
    if (in.length == 0) {
      return new byte[] {m.value()};
    }
    int at = m.position() % in.length;
    ByteArrayOutputStream out = new ByteArrayOutputStream(in.length + 64);
    switch (m.kind()) {
      case 0 -> {
        byte[] copy = in.clone();
        copy[at] = m.value();
        return copy;
      }
      case 1 -> {
        out.write(in, 0, at);
        out.write(in, at + 1, in.length - at - 1);
      }
      case 2 -> {
        out.write(in, 0, at);
        out.write(m.value());
        out.write(in, at, in.length - at);
      }
      case 3 -> out.write(in, 0, at);
      default -> {
        int length = Math.min(in.length - at, 1 + (m.value() & 0x3f));
        out.write(in, 0, at + length);
        out.write(in, at, in.length - at);
      }
    }
    return out.toByteArray();
  }

  private static void sendAndCheckWitness(byte[] bytes) throws IOException {
    try (RespConnection fuzz = server.connect()) {
      try {
        fuzz.send(bytes);
      } catch (IOException e) {
        // The server may already have closed after a protocol error; that is allowed.
      }
      long round = ++witnessRound;
      assertThat(witness.call("PING")).isEqualTo("PONG");
      assertThat(witness.call("SET", "witness", "round-" + round)).isEqualTo("OK");
      assertThat(witness.call("GET", "witness")).isEqualTo("round-" + round);
    }
    assertThat(server.isAlive()).as("server alive:\n%s", server.output()).isTrue();
  }
}
