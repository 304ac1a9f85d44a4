package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code replicakv up} and {@code down} in a fresh working directory: up prints the endpoints and
 * leaves a node answering RESP, down stops it cleanly, and up again finds the data of the first run
 * under {@code ./.replicakv}.
 */
class UpDownTest {
  /** Ports are drawn from here; {@code up} puts the HTTP port at RESP port + 10000. */
  static final int PORT_LOW = 20_000;

  static final int PORT_HIGH = 50_000;

  /** Attempts at finding a RESP port whose HTTP partner is free too. */
  static final int PORT_ATTEMPTS = 100;

  @TempDir Path tmp;

  @AfterEach
  void killLeftovers() throws IOException {
    // up starts a detached node; if an assertion failed before down ran, stop it here.
    CliRun.killLeftovers(tmp);
  }

  @Test
  void upPrintsEndpointsDownStopsAndUpAgainKeepsTheData() throws Exception {
    int port = portPair();
    CliRun.Result up = CliRun.run(tmp, "up", "--port", "" + port);
    assertThat(up.exitCode()).as(up.output()).isZero();
    assertThat(up.output())
        .contains("ReplicaKV is up")
        .contains("redis://127.0.0.1:" + port)
        .contains("http://127.0.0.1:" + (port + 10_000) + "/dashboard");
    long firstPid = pid();
    assertThat(ProcessHandle.of(firstPid).map(ProcessHandle::isAlive)).contains(true);
    try (RespConnection c = new RespConnection(port)) {
      assertThat(c.call("PING")).isEqualTo("PONG");
      assertThat(c.call("SET", "greeting", "hello")).isEqualTo("OK");
    }
    assertRedisCliPings(port);
    assertThat(Http.get(port + 10_000, "/health").status()).isEqualTo(200);

    CliRun.Result again = CliRun.run(tmp, "up", "--port", "" + port);
    assertThat(again.exitCode()).as(again.output()).isZero();
    assertThat(again.output()).contains("already running").contains("pid " + firstPid);

    CliRun.Result down = CliRun.run(tmp, "down");
    assertThat(down.exitCode()).as(down.output()).isZero();
    assertThat(down.output()).contains("stopped node-1");
    assertThat(ProcessHandle.of(firstPid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(LocalCluster.answersPing(port)).isFalse();
    assertThat(Files.readString(tmp.resolve(".replicakv/node-1/server.log")))
        .contains("log synced");

    CliRun.Result secondUp = CliRun.run(tmp, "up", "--port", "" + port);
    assertThat(secondUp.exitCode()).as(secondUp.output()).isZero();
    assertThat(pid()).isNotEqualTo(firstPid);
    try (RespConnection c = new RespConnection(port)) {
      assertThat(c.call("GET", "greeting")).isEqualTo("hello");
    }
    CliRun.Result secondDown = CliRun.run(tmp, "down");
    assertThat(secondDown.output()).contains("stopped node-1");
    CliRun.Result nothing = CliRun.run(tmp, "down");
    assertThat(nothing.output()).contains("nothing running");
  }

  private long pid() throws IOException {
    return Long.parseLong(Files.readString(tmp.resolve(".replicakv/node-1/pid")).trim());
  }

  /** A RESP port whose HTTP partner (port + 10000) is free as well; fixed seed, bounded tries. */
  private static int portPair() {
    return CliRun.freeUpPorts(
        new SplittableRandom(20_240_601), PORT_ATTEMPTS, PORT_LOW, PORT_HIGH, 1, 0, 10_000);
  }

  /** Real redis-cli, when installed, sees the node too. */
  private static void assertRedisCliPings(int port) throws Exception {
    Path cli = Path.of("/usr/bin/redis-cli");
    if (!Files.isExecutable(cli)) {
      return; // the RESP PING above already covers the node; redis-cli is an extra witness
    }
    Process p =
        new ProcessBuilder(cli.toString(), "-p", "" + port, "ping")
            .redirectErrorStream(true)
            .start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(new String(p.getInputStream().readAllBytes()).trim()).isEqualTo("PONG");
  }
}
