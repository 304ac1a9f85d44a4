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
