package io.replicakv.server.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.config.ServerConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Differential conformance: every script under {@code src/test/resources/conformance/} runs against
 * a real redis-server (the reference) and ReplicaKV, under RESP2 and RESP3, and every reply that
 * differs is a failure unless the script marks it as a documented known difference ({@code
 * @known}). See {@link DifferentialScript} for the script language. Skipped when redis-server is
 * not installed.
 */
class DifferentialConformanceTest {
  static final List<String> SCRIPTS =
      List.of("connection", "server", "strings", "keys", "expiry", "hashes", "sets", "errors");

  @TempDir static Path tempDir;

  private static RedisServerProcess redis;
  private static ReplicaKvServer replicaKv;

  @BeforeAll
  static void startServers() throws IOException {
    Assumptions.assumeTrue(RedisServerProcess.available(), "redis-server is not installed");
    Path redisDir = Files.createDirectories(tempDir.resolve("redis"));
    redis = RedisServerProcess.start(redisDir);
    ServerConfig config =
        ServerConfig.load(
            null,
            Map.of(
                "port", "0",
                "http-port", "0",
                "data-dir", tempDir.resolve("replicakv").toString()));
    replicaKv = new ReplicaKvServer(config).start();
  }

  @AfterAll
  static void stopServers() {
    if (replicaKv != null) {
      replicaKv.close();
    }
    if (redis != null) {
      redis.close();
    }
  }

  @TestFactory
  Stream<DynamicTest> scriptsMatchRedis() {
    List<DynamicTest> tests = new ArrayList<>();
    for (String script : SCRIPTS) {
      for (int protocol : new int[] {2, 3}) {
        tests.add(
            DynamicTest.dynamicTest(
                script + " RESP" + protocol, () -> runScript(script, protocol)));
      }
    }
    return tests.stream();
  }

  private static void runScript(String script, int protocol) throws IOException {
    List<String> lines = load(script);
    DifferentialScript run =
        new DifferentialScript(script, lines, protocol, redis.port(), replicaKv.port());
    run.run();
    List<DifferentialScript.Mismatch> known =
        run.mismatches().stream().filter(DifferentialScript.Mismatch::known).toList();
    List<DifferentialScript.Mismatch> failures =
        run.mismatches().stream().filter(m -> !m.known()).toList();
    known.forEach(m -> System.out.println(m));
    System.out.printf(
        "conformance %s RESP%d: %d steps, %d known differences, %d failures%n",
        script, protocol, run.stepsCompared(), known.size(), failures.size());
    assertThat(run.stepsCompared()).as("steps compared").isGreaterThan(0);
    assertThat(failures)
        .as("replies that differ from redis-server (script %s, RESP%d)", script, protocol)
        .isEmpty();
  }

  /**
   * Commands in one pipelined write; both servers must answer all of them in order, identically.
   */
  static final int PIPELINE_COMMANDS = 2_000;

  static final long PIPELINE_SEED = 20_240_601L;

  /**
   * A seeded random mix of commands over a few keys of every type, written to each server as one
   * pipelined batch and read back afterwards: replies must match one for one, including the
   * WRONGTYPE and parse errors the random mix provokes.
   */
  @TestFactory
  Stream<DynamicTest> pipelinedRandomMixMatchesRedis() {
    return Stream.of(2, 3)
        .map(
            protocol ->
                DynamicTest.dynamicTest(
                    "pipeline RESP" + protocol, () -> runPipeline(protocol, PIPELINE_SEED)));
  }

  private static void runPipeline(int protocol, long seed) throws IOException {
    List<List<byte[]>> batch = randomCommands(new java.util.Random(seed), PIPELINE_COMMANDS);
    List<String> fromRedis = pipeline(redis.port(), protocol, batch);
    List<String> fromReplicaKv = pipeline(replicaKv.port(), protocol, batch);
    List<String> differences = new ArrayList<>();
    for (int i = 0; i < batch.size(); i++) {
      if (!fromRedis.get(i).equals(fromReplicaKv.get(i))) {
        differences.add(
            "#"
                + i
                + " "
                + show(batch.get(i))
                + "\n    redis:     "
                + fromRedis.get(i)
                + "\n    replicakv: "
                + fromReplicaKv.get(i));
      }
    }
    long errors = fromRedis.stream().filter(r -> r.startsWith("-")).count();
    System.out.printf(
        "pipeline RESP%d: %d commands, %d error replies, %d differences%n",
        protocol, batch.size(), errors, differences.size());
    // the mix must reach the error paths, or it would compare only the easy half
    assertThat(fromRedis).anyMatch(r -> r.startsWith("-WRONGTYPE"));
    assertThat(fromRedis).anyMatch(r -> r.startsWith("-ERR"));
    assertThat(differences)
        .as("pipelined replies that differ (seed %d, RESP%d)", seed, protocol)
        .isEmpty();
  }

  private static List<String> pipeline(int port, int protocol, List<List<byte[]>> batch)
      throws IOException {
    try (RespWireClient c = new RespWireClient(port)) {
      c.call("FLUSHALL");
      if (protocol == 3) {
        c.call("HELLO", "3");
      }
      for (List<byte[]> command : batch) {
        c.send(command);
      }
      List<String> replies = new ArrayList<>();
      for (int i = 0; i < batch.size(); i++) {
        replies.add(c.read().render());
      }
      return replies;
    }
  }

  private static final String[] KEYS = {"a", "b", "c", "n", "h", "s"};
  private static final String[][] SHAPES = {
    {"SET", "K", "V"},
    {"GET", "K"},
    {"INCR", "K"},
    {"INCRBY", "K", "I"},
    {"APPEND", "K", "V"},
    {"STRLEN", "K"},
    {"GETRANGE", "K", "I", "I"},
    {"SETRANGE", "K", "U", "V"},
    {"GETDEL", "K"},
    {"GETSET", "K", "V"},
    {"SETNX", "K", "V"},
    {"MGET", "K", "K", "K"},
    {"MSET", "K", "V", "K", "V"},
    {"HSET", "K", "F", "V"},
    {"HGET", "K", "F"},
    {"HDEL", "K", "F"},
    {"HLEN", "K"},
    {"HINCRBY", "K", "F", "I"},
    {"HEXISTS", "K", "F"},
    {"HSETNX", "K", "F", "V"},
    {"HMGET", "K", "F", "F"},
    {"SADD", "K", "M", "M"},
    {"SREM", "K", "M"},
    {"SCARD", "K"},
    {"SISMEMBER", "K", "M"},
    {"SMISMEMBER", "K", "M", "M"},
    {"DEL", "K"},
    {"EXISTS", "K", "K"},
    {"TYPE", "K"},
    {"RENAME", "K", "K"},
    {"RENAMENX", "K", "K"},
    {"EXPIREAT", "K", "T"},
    {"EXPIRETIME", "K"},
    {"PERSIST", "K"},
    {"DBSIZE"},
    {"ECHO", "V"},
    {"INCRBYFLOAT", "K", "D"}
  };

  static List<List<byte[]>> randomCommands(java.util.Random random, int count) {
    List<List<byte[]>> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String[] shape = SHAPES[random.nextInt(SHAPES.length)];
      List<byte[]> command = new ArrayList<>();
      for (String part : shape) {
        String arg =
            switch (part) {
              case "K" -> KEYS[random.nextInt(KEYS.length)];
              case "V" -> random.nextInt(4) == 0 ? Integer.toString(random.nextInt(100)) : "v" + i;
              case "I" -> Integer.toString(random.nextInt(21) - 10);
              case "U" -> Integer.toString(random.nextInt(8));
              case "F" -> "f" + random.nextInt(3);
              case "M" -> "m" + random.nextInt(4);
              case "T" -> Long.toString(4_102_444_800L + random.nextInt(1000));
              case "D" -> (random.nextInt(9) - 4) + ".5";
              default -> part;
            };
        command.add(arg.getBytes(StandardCharsets.UTF_8));
      }
      out.add(command);
    }
    return out;
  }

  private static String show(List<byte[]> command) {
    StringBuilder b = new StringBuilder();
    for (byte[] arg : command) {
      b.append(new String(arg, StandardCharsets.UTF_8)).append(' ');
    }
    return b.toString().strip();
  }

  private static List<String> load(String script) throws IOException {
    String resource = "/conformance/" + script + ".txt";
    try (InputStream in = DifferentialConformanceTest.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IOException("missing script " + resource);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    }
  }
}
