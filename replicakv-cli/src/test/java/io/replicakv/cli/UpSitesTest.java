package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code replicakv up --sites 3 --nodes 1}: three linked one-node sites; {@code keyspace create
 * --style multi-leader} at the first reaches the others, and a write at one site is read at
 * another.
 */
class UpSitesTest {
  static final int SITES = 3;

  /** Ports are drawn from here; up adds 10000 (HTTP), 20000 (peer) and 30000 (metadata). */
  static final int PORT_LOW = 20_000;

  static final int PORT_HIGH = 35_000;

  /** Each wait of the two-site, three-node case: six JVMs share two loaded cores. */
  static final Duration SIX_NODE_DEADLINE = Duration.ofMinutes(6);

  @TempDir Path tmp;

  @AfterEach
  void killLeftovers() throws IOException {
    CliRun.killLeftovers(tmp);
  }

  @Test
  void threeLinkedSitesShareAMultiLeaderKeyspace() throws Exception {
    int port = freePorts();
    CliRun.Result up = CliRun.run(tmp, "up", "--sites", "3", "--nodes", "1", "--port", "" + port);
    assertThat(up.exitCode()).as(up.output()).isZero();
    assertThat(up.output())
        .contains("3 linked one-node sites")
        .contains("site-1")
        .contains("redis://127.0.0.1:" + (port + 2));

    CliRun.Result refused = CliRun.run(tmp, "up", "--sites", "3", "--nodes", "2");
    assertThat(refused.exitCode()).isNotZero();
    assertThat(refused.output()).contains("holds a cluster of 3 node(s)");

    long[] number = {-1};
    await("keyspace created")
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofSeconds(1))
        .until(
            () -> {
              CliRun.Result created =
                  CliRun.run(
                      tmp,
                      "keyspace",
                      "create",
                      "carts",
                      "--style",
                      "multi-leader",
                      "--conflicts",
                      "lww");
              String text = created.output().trim();
              if (created.exitCode() == 0 && text.matches("(?s).*\\b\\d+\\s*$")) {
                number[0] = Long.parseLong(text.replaceAll("(?s).*\\b(\\d+)\\s*$", "$1"));
              } else if (text.contains("already exists")) {
                number[0] =
                    listedNumber(port); // an earlier attempt committed; its answer timed out
              }
              return number[0] >= 0;
            });
    await("every site serves it")
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              for (int i = 0; i < SITES; i++) {
                if (!LocalCluster.query(port + i, "SITE INFO").contains("multi_keyspace:carts,")) {
                  return false;
                }
              }
              return true;
            });
    try (RespConnection first = new RespConnection(port)) {
      assertThat(first.call("SELECT", "" + number[0])).isEqualTo("OK");
      assertThat(first.call("SET", "cart:1", "apples")).isEqualTo("OK");
    }
    await("site-3 reads the write made at site-1")
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              try (RespConnection third = new RespConnection(port + 2)) {
                third.call("SELECT", "" + number[0]);
                return "apples".equals(third.call("GET", "cart:1"));
              }
            });
    CliRun.Result down = CliRun.run(tmp, "down");
    assertThat(down.exitCode()).as(down.output()).isZero();
  }

  @Test
  void twoSitesOfThreeNodesShareAMultiLeaderKeyspaceThroughAnyNode() throws Exception {
    int port = freePorts(6);
    // six processes and two metadata quorums starting on a loaded machine: small JVMs start
    // faster, and every wait below is generous (each ends as soon as its condition holds)
    CliRun.Result up =
        CliRun.run(
            Duration.ofMinutes(12),
            tmp,
            "up",
            "--sites",
            "2",
            "--nodes",
            "3",
            "--port",
            "" + port,
            "--small-jvms");
    assertThat(up.exitCode()).as(up.output()).isZero();
    assertThat(up.output())
        .contains("2 linked sites of 3 nodes")
        .contains("site-1-node-1")
        .contains("site-2-node-3")
        .contains("redis://127.0.0.1:" + (port + 5));

    long[] number = {createKeyspace(port, SIX_NODE_DEADLINE)};
    await("each site's gateway serves it")
        .atMost(SIX_NODE_DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              for (int site = 0; site < 2; site++) {
                boolean served = false;
                for (int node = 0; node < 3; node++) {
                  served |=
                      LocalCluster.query(port + 3 * site + node, "SITE INFO")
                          .contains("multi_keyspace:carts,");
                }
                if (!served) {
                  return false;
                }
              }
              return true;
            });
    // written through one node of each site, read through another node of the other site
    awaitWrite(port + 1, number[0], "from-1", "a");
    awaitWrite(port + 5, number[0], "from-2", "b");
    awaitValue(port + 4, number[0], "from-1", "a");
    awaitValue(port + 2, number[0], "from-2", "b");
    CliRun.Result down = CliRun.run(tmp, "down");
    assertThat(down.exitCode()).as(down.output()).isZero();
  }

  /**
   * Creates the multi-leader keyspace {@code carts} (lww) at the site of {@code port} and returns
   * its number. Retried while the site's metadata quorum is still forming; an attempt whose answer
   * timed out may have committed all the same, which the next attempt learns as "already exists".
   */
  static long createKeyspace(int port, Duration deadline) {
    long[] number = {-1};
    await("keyspace created")
        .atMost(deadline)
        .pollInterval(Duration.ofSeconds(1))
        .until(
            () -> {
              String answer =
                  LocalCluster.query(port, "KEYSPACE CREATE carts style multi-leader conflicts lww")
                      .trim()
                      .replaceFirst("^:", "");
              if (answer.matches("\\d+")) {
                number[0] = Long.parseLong(answer);
              } else if (answer.contains("already exists")) {
                number[0] = listedNumber(port);
              }
              return number[0] >= 0;
            });
    return number[0];
  }

  /** The number of keyspace {@code carts} in KEYSPACE LIST at {@code port}, or -1. */
  static long listedNumber(int port) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("number\r\n:(\\d+)\r\n\\$4\r\nname\r\n\\$5\r\ncarts\r\n")
            .matcher(LocalCluster.query(port, "KEYSPACE LIST"));
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  /** SET through {@code port}, retried while the site elects the keyspace's gateway. */
  private static void awaitWrite(int port, long keyspace, String key, String value) {
    await("a write through " + port)
        .atMost(SIX_NODE_DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              try (RespConnection connection = new RespConnection(port)) {
                connection.call("SELECT", "" + keyspace);
                return "OK".equals(connection.call("SET", key, value));
              }
            });
  }

  @Test
  void sitesLinkedThroughTheFaultProxyStopReplicatingWhileCutAndCatchUpAfterHeal()
      throws Exception {
    int port = freePorts();
    CliRun.Result up =
        CliRun.run(tmp, "up", "--sites", "2", "--nodes", "1", "--port", "" + port, "--fault-proxy");
    assertThat(up.exitCode()).as(up.output()).isZero();
    assertThat(up.output()).contains("2 linked one-node sites").contains("fault proxy");

    long[] number = {createKeyspace(port, Duration.ofMinutes(6))};
    await("both sites serve it")
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofMillis(500))
        .until(
            () ->
                LocalCluster.query(port, "SITE INFO").contains("multi_keyspace:carts,")
                    && LocalCluster.query(port + 1, "SITE INFO").contains("multi_keyspace:carts,"));
    set(port, number[0], "before", "1");
    awaitValue(port + 1, number[0], "before", "1");

    CliRun.Result cut = CliRun.run(tmp, "fault", "cut", "site-1", "site-2");
    assertThat(cut.exitCode()).as(cut.output()).isZero();
    set(port, number[0], "during", "2");
    // the link is the only way between the sites: while it is cut the write stays at site-1
    await("site-1 shows lag to site-2")
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofMillis(500))
        .until(
            () ->
                LocalCluster.query(port, "SITE INFO")
                    .matches("(?s).*keyspace=carts,to=site-2,changes=[1-9].*"));
    assertThat(get(port + 1, number[0], "during")).isNull();

    CliRun.Result heal = CliRun.run(tmp, "fault", "heal");
    assertThat(heal.exitCode()).as(heal.output()).isZero();
    awaitValue(port + 1, number[0], "during", "2");
    CliRun.Result down = CliRun.run(tmp, "down");
    assertThat(down.exitCode()).as(down.output()).isZero();
  }

  private static void set(int port, long keyspace, String key, String value) throws Exception {
    try (RespConnection connection = new RespConnection(port)) {
      assertThat(connection.call("SELECT", "" + keyspace)).isEqualTo("OK");
      assertThat(connection.call("SET", key, value)).isEqualTo("OK");
    }
  }

  private static String get(int port, long keyspace, String key) throws Exception {
    try (RespConnection connection = new RespConnection(port)) {
      connection.call("SELECT", "" + keyspace);
      return (String) connection.call("GET", key);
    }
  }

  private static void awaitValue(int port, long keyspace, String key, String value) {
    await("site at " + port + " reads " + key)
        .atMost(Duration.ofMinutes(4))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> value.equals(get(port, keyspace, key)));
  }

  private static int freePorts() {
    return freePorts(SITES);
  }

  /** A first port p with p..p+count-1 (and +10000, +20000, +30000) free. */
  private static int freePorts(int count) {
    return CliRun.freeUpPorts(
        new SplittableRandom(20_261_201L ^ System.nanoTime()),
        2_000,
        PORT_LOW,
        PORT_HIGH,
        count,
        0,
        10_000,
        20_000,
        30_000);
  }
}
