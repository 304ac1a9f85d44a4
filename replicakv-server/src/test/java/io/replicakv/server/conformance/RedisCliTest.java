package io.replicakv.server.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.server.ReplicaKvServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * redis-cli (Debian redis-tools) as a separate process against a ReplicaKV node: plain commands,
 * formatted and raw output, RESP3 ({@code -3}), database selection ({@code -n}), {@code --scan},
 * commands piped from a file, and {@code --pipe} mass insertion. Skipped when redis-cli is absent.
 */
class RedisCliTest {
  /** A redis-cli run that takes longer than this is hung. */
  static final long CLI_TIMEOUT_SECONDS = 30;

  static final int MASS_INSERT_KEYS = 10_000;

  @TempDir static Path tempDir;
  private static ReplicaKvServer server;
  private static Path redisCli;

  private record Run(int exitCode, String output) {}

  @BeforeAll
  static void start() throws IOException {
    redisCli = RedisServerProcess.onPath("redis-cli");
    Assumptions.assumeTrue(redisCli != null, "redis-cli is not installed");
    server = TestNode.start(tempDir.resolve("node"));
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @BeforeEach
  void flush() throws Exception {
    assertThat(cli(null, "flushall").output()).isEqualTo("OK\n");
  }

  /** Runs redis-cli against the node with {@code stdin} (or nothing) as input. */
  private static Run cli(Path stdin, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(redisCli.toString());
    command.add("-h");
    command.add("127.0.0.1");
    command.add("-p");
    command.add(Integer.toString(server.port()));
    command.addAll(List.of(args));
    Path out = Files.createTempFile(tempDir, "cli", ".out");
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.redirectOutput(out.toFile());
    builder.redirectInput(
        stdin == null
            ? ProcessBuilder.Redirect.from(devNull())
            : ProcessBuilder.Redirect.from(stdin.toFile()));
    Process p = builder.start();
    if (!p.waitFor(CLI_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("redis-cli " + String.join(" ", args) + " did not finish");
    }
    return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
  }

  private static java.io.File devNull() throws IOException {
    Path empty = tempDir.resolve("empty-input");
    if (!Files.exists(empty)) {
      Files.createFile(empty);
    }
    return empty.toFile();
  }

  private static Path file(String name, String content) throws IOException {
    return Files.writeString(tempDir.resolve(name), content, StandardCharsets.UTF_8);
  }

  @Test
  void plainCommandsPrintRawReplies() throws Exception {
    assertThat(cli(null, "ping").output()).isEqualTo("PONG\n");
    assertThat(cli(null, "set", "greeting", "hello world").output()).isEqualTo("OK\n");
    assertThat(cli(null, "get", "greeting").output()).isEqualTo("hello world\n");
    assertThat(cli(null, "incrby", "visits", "10").output()).isEqualTo("10\n");
    assertThat(cli(null, "set", "session", "alice", "EX", "60").output()).isEqualTo("OK\n");
    assertThat(Integer.parseInt(cli(null, "ttl", "session").output().strip())).isBetween(59, 60);
    Run wrongType = cli(null, "hget", "greeting", "f");
    // redis-cli prints raw-mode errors followed by an empty line, against Redis too
    assertThat(wrongType.output())
        .isEqualTo("WRONGTYPE Operation against a key holding the wrong kind of value\n\n");
    assertThat(cli(null, "get").output())
        .contains("ERR wrong number of arguments for 'get' command");
  }

  @Test
  void formattedOutputShowsTypes() throws Exception {
    assertThat(cli(null, "--no-raw", "get", "missing").output()).isEqualTo("(nil)\n");
    assertThat(cli(null, "--no-raw", "incr", "n").output()).isEqualTo("(integer) 1\n");
    cli(null, "sadd", "tags", "db");
    assertThat(cli(null, "--no-raw", "smembers", "tags").output()).isEqualTo("1) \"db\"\n");
    assertThat(cli(null, "--no-raw", "incr", "tags").output())
        .isEqualTo("(error) WRONGTYPE Operation against a key holding the wrong kind of value\n");
  }

  @Test
  void resp3SessionWithDashThree() throws Exception {
    String hello = cli(null, "-3", "--no-raw", "hello", "3").output();
    assertThat(hello).contains("\"proto\" => (integer) 3").contains("\"server\"");
    cli(null, "hset", "user:1", "name", "Ada");
    assertThat(cli(null, "-3", "--no-raw", "hgetall", "user:1").output())
        .isEqualTo("1# \"name\" => \"Ada\"\n");
    assertThat(cli(null, "-3", "--no-raw", "get", "missing").output()).isEqualTo("(nil)\n");
    assertThat(cli(null, "-3", "--no-raw", "sismember", "nope", "x").output())
        .isEqualTo("(integer) 0\n");
  }

  @Test
  void dashNSelectsTheKeyspace() throws Exception {
    assertThat(cli(null, "-n", "2", "set", "other-keyspace", "yes").output()).isEqualTo("OK\n");
    assertThat(cli(null, "-n", "2", "dbsize").output()).isEqualTo("1\n");
    assertThat(cli(null, "dbsize").output()).isEqualTo("0\n");
    assertThat(cli(null, "-n", "2", "get", "other-keyspace").output()).isEqualTo("yes\n");
    assertThat(cli(null, "-n", "99", "ping").output()).contains("ERR");
  }

  @Test
  void scanWithPatternListsEveryMatchingKeyOnce() throws Exception {
    StringBuilder commands = new StringBuilder();
    Set<String> users = new HashSet<>();
    for (int i = 0; i < 120; i++) {
      commands.append("SET user:").append(i).append(" v\n");
      commands.append("SET order:").append(i).append(" v\n");
      users.add("user:" + i);
    }
    cli(file("keys.txt", commands.toString()));
    List<String> lines = cli(null, "--scan", "--pattern", "user:*").output().lines().toList();
    assertThat(lines).hasSize(120).doesNotHaveDuplicates();
    assertThat(new HashSet<>(lines)).isEqualTo(users);
  }

  @Test
  void commandsPipedFromAFileRunInOrder() throws Exception {
    Path script =
        file(
            "commands.txt",
            "SET a 1\nINCR a\nINCRBY a 40\nGET a\nDEL a\nEXISTS a\nECHO \"two words\"\n");
    Run run = cli(script);
    assertThat(run.exitCode()).isZero();
    assertThat(run.output()).isEqualTo("OK\n2\n42\n42\n1\n0\ntwo words\n");
  }

  @Test
  void pipeMassInsertionOfTenThousandSets() throws Exception {
    StringBuilder protocol = new StringBuilder();
    for (int i = 0; i < MASS_INSERT_KEYS; i++) {
      String key = "mass:" + i;
      String value = "value-" + i;
      protocol
          .append("*3\r\n$3\r\nSET\r\n$")
          .append(key.length())
          .append("\r\n")
          .append(key)
          .append("\r\n$")
          .append(value.length())
          .append("\r\n")
          .append(value)
          .append("\r\n");
    }
    Run run = cli(file("mass.resp", protocol.toString()), "--pipe");
    assertThat(run.exitCode()).isZero();
    assertThat(run.output()).contains("errors: 0, replies: " + MASS_INSERT_KEYS);
    assertThat(cli(null, "dbsize").output()).isEqualTo(MASS_INSERT_KEYS + "\n");
    assertThat(cli(null, "get", "mass:9999").output()).isEqualTo("value-9999\n");
  }
}
