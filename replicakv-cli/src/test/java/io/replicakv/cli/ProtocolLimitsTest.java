package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The RESP limits, seen from a client of a real server process: a header that announces too much
 * (bulk length, argument count) or an inline line past its limit gets {@code -ERR Protocol error:
 * ...} at once, before the client sends any payload, and the connection is closed; mistakes inside
 * a well-formed command (unknown command, wrong arity) get an error and the connection stays.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProtocolLimitsTest {
  /** How long the server may take to close a connection after a protocol error. */
  static final int CLOSE_DEADLINE_MILLIS = 5_000;

  /** Default proto-max-inline-len (64kb). */
  static final int INLINE_LIMIT_BYTES = 64 * 1024;

  /** RSS the server may gain from a declared-but-unsent huge bulk (it must not pre-allocate). */
  static final long DECLARED_BULK_RSS_GROWTH_MAX_BYTES = 100L << 20;

  private Path tmp;
  private ServerProcess server;

  @BeforeAll
  void startServer() throws IOException {
    tmp = Files.createTempDirectory("replicakv-protocol-limits");
    server = ServerProcess.start(tmp.resolve("data"));
  }

  @AfterAll
  void stopServer() throws IOException {
    server.close();
    ServerProcess.deleteTree(tmp);
  }

  @AfterEach
  void serverStillServes() throws IOException {
    assertThat(server.isAlive()).as(server.output()).isTrue();
    try (RespConnection c = server.connect()) {
      assertThat(c.call("PING")).isEqualTo("PONG");
      assertThat(c.call("CONFIG", "SET", "proto-max-bulk-len", "512mb")).isEqualTo("OK");
    }
  }

  @Test
  void hugeBulkLengthIsRefusedBeforeAnyPayload() throws IOException {
    try (RespConnection c = server.connect()) {
      c.send("*2\r\n$3\r\nGET\r\n$999999999999\r\n");
      assertProtocolErrorAndClose(c, "invalid bulk length");
    }
  }

  @Test
  void bulkPastRuntimeLimitIsRefusedAndTheLimitItselfIsAccepted() throws IOException {
    try (RespConnection admin = server.connect()) {
      assertThat(admin.call("CONFIG", "SET", "proto-max-bulk-len", "1mb")).isEqualTo("OK");
      // The new limit applies to connections that already exist, too.
      admin.send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$2000000\r\n");
      assertProtocolErrorAndClose(admin, "invalid bulk length");
    }
    try (RespConnection c = server.connect()) {
      String exactlyLimit = "v".repeat(1 << 20);
      assertThat(c.call("SET", "big", exactlyLimit)).isEqualTo("OK");
      assertThat(c.call("STRLEN", "big")).isEqualTo(1L << 20);
      c.send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$" + ((1 << 20) + 1) + "\r\n");
      assertProtocolErrorAndClose(c, "invalid bulk length");
    }
  }

  @Test
  void hugeArgumentCountIsRefusedBeforeAnyArgument() throws IOException {
    try (RespConnection c = server.connect()) {
      c.send("*99999999\r\n");
      assertProtocolErrorAndClose(c, "invalid multibulk length");
    }
  }

  @Test
  void inlineLinePastLimitIsRefusedWithoutWaitingForItsEnd() throws IOException {
    try (RespConnection c = server.connect()) {
      // No newline ever comes: the server must not wait for one.
      c.send("SET k " + "a".repeat(INLINE_LIMIT_BYTES));
      assertProtocolErrorAndClose(c, "too big inline request");
    }
  }

  @Test
  void malformedBulkHeaderIsAProtocolError() throws IOException {
    try (RespConnection c = server.connect()) {
      c.send("*1\r\n:5\r\n");
      assertProtocolErrorAndClose(c, "expected '$'");
    }
  }

  @Test
  void declaredButUnsentBulkReservesNoMemory() throws IOException {
    long before = server.residentBytes();
    try (RespConnection c = server.connect();
        RespConnection witness = server.connect()) {
      // 400 MB is under the default 512mb limit: legal, so the server waits for the payload.
      c.send("*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$400000000\r\nabc");
      assertThat(witness.call("SET", "w", "1")).isEqualTo("OK");
      assertThat(witness.call("GET", "w")).isEqualTo("1");
      assertThat(c.closedByServer(200)).as("a legal header keeps the connection").isFalse();
      long after = server.residentBytes();
      if (before > 0 && after > 0) {
        assertThat(after - before).isLessThan(DECLARED_BULK_RSS_GROWTH_MAX_BYTES);
      }
    }
  }

  @Test
  void unknownCommandIsAnErrorAndTheConnectionStays() throws IOException {
    try (RespConnection c = server.connect()) {
      Object reply = c.call("NOSUCHCOMMAND", "a", "b");
      assertThat(reply).isInstanceOf(RespConnection.Error.class);
      assertThat(((RespConnection.Error) reply).message())
          .startsWith("ERR unknown command 'NOSUCHCOMMAND'");
      assertThat(c.call("PING")).isEqualTo("PONG");
    }
  }

  @Test
  void wrongArityIsAnErrorAndTheConnectionStays() throws IOException {
    try (RespConnection c = server.connect()) {
      assertThat(c.call("GET"))
          .isEqualTo(new RespConnection.Error("ERR wrong number of arguments for 'get' command"));
      assertThat(c.call("SET", "only-key"))
          .isEqualTo(new RespConnection.Error("ERR wrong number of arguments for 'set' command"));
      assertThat(c.call("ECHO", "still here")).isEqualTo("still here");
    }
  }

  @Test
  void inlineCommandsWork() throws IOException {
    try (RespConnection c = server.connect()) {
      c.send("SET inline \"two words\"\r\nGET inline\r\nPING\n");
      assertThat(c.read()).isEqualTo("OK");
      assertThat(c.read()).isEqualTo("two words");
      assertThat(c.read()).isEqualTo("PONG");
    }
  }

  private static void assertProtocolErrorAndClose(RespConnection c, String reason)
      throws IOException {
    Object reply = c.read();
    assertThat(reply).isInstanceOf(RespConnection.Error.class);
    assertThat(((RespConnection.Error) reply).message())
        .startsWith("ERR Protocol error: ")
        .contains(reason);
    assertThat(c.closedByServer(CLOSE_DEADLINE_MILLIS))
        .as("connection closed after the protocol error")
        .isTrue();
  }
}
