package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * {@code replicakv up --nodes 3 --fault-proxy} and the {@code replicakv fault} commands on the
 * cluster it starts, all as child processes in a fresh working directory: the proxy process and the
 * nodes' routes, cut, status and heal through the proxy's control port, pause and resume, restart
 * and kill of a node, and {@code down} stopping the proxy too.
 */
class UpFaultProxyTest {
  /** Ports are drawn from here; {@code up} uses RESP port + 0..2, and + 10000, 20000, 30000. */
  static final int PORT_LOW = 12_000;

  static final int PORT_HIGH = 30_000;

  static final int PORT_ATTEMPTS = 100;

  static final Duration DEADLINE = Duration.ofSeconds(60);

  @TempDir Path tmp;

  @AfterEach
  void killLeftovers() throws IOException {
    // up starts detached processes; if an assertion failed before down ran, stop them here.
    CliRun.killLeftovers(tmp);
  }

  private CliRun.Result fault(String... args) throws Exception {
    String[] all = new String[args.length + 1];
    all[0] = "fault";
    System.arraycopy(args, 0, all, 1, args.length);
    CliRun.Result r = CliRun.run(tmp, all);
    assertThat(r.exitCode()).as("fault " + String.join(" ", args) + ":\n" + r.output()).isZero();
    return r;
  }

  private long pid(String node) throws IOException {
    return Long.parseLong(Files.readString(tmp.resolve(".replicakv/" + node + "/pid")).trim());
  }

  @Test
  void upWithAFaultProxyAndTheFaultCommands() throws Exception {
    int port = basePort();
    CliRun.Result up = CliRun.run(tmp, "up", "--nodes", "3", "--port", "" + port, "--fault-proxy");
    assertThat(up.exitCode()).as(up.output()).isZero();
    assertThat(up.output()).contains("ReplicaKV is up").contains("fault proxy  pid");
    assertThat(Files.readString(tmp.resolve(".replicakv/node-1/server.log")))
        .contains("peer routes: node-2=127.0.0.1:");

    CliRun.Result status = fault("status");
    assertThat(status.output())
        .contains("node-3  pid " + pid("node-3") + "  running")
        .containsPattern("node-1 -> node-2  127.0.0.1:\\d+ -> " + (port + 1 + 20_000) + "  ok");

    String onNode2 = keyOwnedBy(port, "node-2");
    try (Jedis n1 = new Jedis("127.0.0.1", port, 30_000)) {
      // keyspace 0 replicates: right after `up` its group may still be electing (TRYAGAIN)
      org.awaitility.Awaitility.await("a first write succeeds")
          .atMost(java.time.Duration.ofMinutes(2))
          .pollInterval(java.time.Duration.ofMillis(250))
          .ignoreExceptions()
          .until(() -> "OK".equals(n1.set(onNode2, "v")));
      assertThat(fault("cut", "node-1", "node-2").output()).contains("node-1 -> node-2: cut");
      try {
        n1.get(onNode2); // at once, before the failure detector acts on the silence
        throw new AssertionError("a GET over a cut link must fail");
      } catch (JedisDataException e) {
        assertThat(e.getMessage()).startsWith("TRYAGAIN forwarding");
      }
      assertThat(fault("status").output())
          .containsPattern("node-2 -> node-1  127.0.0.1:\\d+ -> \\d+  cut");
      assertThat(fault("heal", "1", "2").output()).contains("node-1 -> node-2: ok");
      await("node-1 reaches node-2 after heal")
          .atMost(DEADLINE)
          .ignoreExceptions()
          .until(() -> "v".equals(n1.get(onNode2)));
    }

    // Short pause (below the failover timeout): the process is stopped, then runs again.
    long third = pid("node-3");
    fault("pause", "node-3");
    assertThat(ProcessFaults.paused(third)).isTrue();
    fault("resume", "n3");
    assertThat(ProcessFaults.paused(third)).isFalse();

    assertThat(fault("restart", "node-3", "--kill").output()).contains("restarted node-3");
    assertThat(pid("node-3")).isNotEqualTo(third);
    assertThat(LocalCluster.answersPing(port + 2)).isTrue();
    long restarted = pid("node-3");
    assertThat(fault("kill", "node-3").output()).contains("killed node-3");
    assertThat(LocalCluster.alive(restarted)).isFalse();
    CliRun.Result unknown = CliRun.run(tmp, "fault", "pause", "node-9");
    assertThat(unknown.exitCode()).isEqualTo(1);
    assertThat(unknown.output()).contains("unknown node 'node-9'");

    long proxyPid =
        Long.parseLong(Files.readString(tmp.resolve(".replicakv/fault-proxy/pid")).trim());
    CliRun.Result down = CliRun.run(tmp, "down");
    assertThat(down.exitCode()).as(down.output()).isZero();
    assertThat(down.output()).contains("stopped node-1").contains("stopped the fault proxy");
    assertThat(LocalCluster.alive(proxyPid)).isFalse();
  }

  private static String keyOwnedBy(int port, String id) {
    try (Jedis j = new Jedis("127.0.0.1", port, 30_000)) {
      List<Object> slots = j.clusterSlots();
      for (int i = 0; i < 100_000; i++) {
        String key = "k" + i;
        long slot = j.clusterKeySlot(key);
        for (Object range : slots) {
          List<?> r = (List<?>) range;
          if ((Long) r.get(0) <= slot
              && slot <= (Long) r.get(1)
              && new String((byte[]) ((List<?>) r.get(2)).get(2)).equals(id)) {
            return key;
          }
        }
      }
    }
    throw new AssertionError("no key on " + id);
  }

  /** A RESP port whose three nodes' four ports each are free; fixed seed, bounded tries. */
  private static int basePort() {
    return CliRun.freeUpPorts(
        new SplittableRandom(20_261_201),
        PORT_ATTEMPTS,
        PORT_LOW,
        PORT_HIGH,
        3,
        0,
        10_000,
        20_000,
        30_000);
  }
}
