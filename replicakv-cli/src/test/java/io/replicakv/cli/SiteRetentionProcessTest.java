package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two linked one-node sites ({@code up --sites 2 --nodes 1 --fault-proxy}) with a small site-log
 * retention: the link is cut for far longer than retention while both sites write; site-1 keeps
 * only the retained changes in memory and compacts its site log; after heal the link is caught up
 * with the keyspace's state and both sites read the same value for every key.
 */
class SiteRetentionProcessTest {
  /** Changes each site keeps in memory for the other (the server setting). */
  static final int RETAINED_CHANGES = 100;

  static final int KEYS = 300;

  static final int WRITES = 1_500;

  static final int PORT_LOW = 20_000;

  static final int PORT_HIGH = 35_000;

  static final Duration DEADLINE = Duration.ofMinutes(4);

  @TempDir Path tmp;

  @AfterEach
  void killLeftovers() throws IOException {
    Path root = tmp.resolve(".replicakv");
    if (!Files.isDirectory(root)) {
      return;
    }
    java.util.List<Path> folders;
    try (var listing = Files.list(root)) {
      folders = listing.toList();
    }
    for (Path folder : folders) {
      Path pidFile = folder.resolve("pid");
      if (Files.isRegularFile(pidFile)) {
        long pid = Long.parseLong(Files.readString(pidFile).trim());
        ProcessHandle.of(pid)
            .ifPresent(
                p -> {
                  p.destroyForcibly();
                  p.onExit().orTimeout(30, TimeUnit.SECONDS).join();
                });
      }
    }
  }

  @Test
  void aLinkCutForLongerThanRetentionConvergesKeyByKeyAfterHeal() throws Exception {
    for (String site : new String[] {"site-1", "site-2"}) {
      Path folder = tmp.resolve(".replicakv").resolve(site);
      Files.createDirectories(folder);
      Files.writeString(
          folder.resolve("replicakv.yaml"),
          "site-log-retention-changes: "
              + RETAINED_CHANGES
              + "\nsite-log-compaction-records: 200\n");
    }
    int port = freePorts(2);
    CliRun.Result up =
        CliRun.run(
            Duration.ofMinutes(5),
            tmp,
            "up",
            "--sites",
            "2",
            "--nodes",
            "1",
            "--port",
            "" + port,
            "--fault-proxy");
    assertThat(up.exitCode()).as(up.output()).isZero();

    long[] number = {-1};
    String[] lastAnswer = {""};
    await("keyspace created")
        .atMost(DEADLINE)
        .conditionEvaluationListener(
            condition -> {
              if (!condition.isSatisfied() && condition.getRemainingTimeInMS() < 2_000) {
                System.out.println("KEYSPACE CREATE still answers: " + lastAnswer[0]);
              }
            })
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
                // an earlier attempt committed although its answer timed out
                Matcher m =
                    Pattern.compile("number\r\n:(\\d+)\r\n\\$4\r\nname\r\n\\$5\r\ncarts\r\n")
                        .matcher(LocalCluster.query(port, "KEYSPACE LIST"));
                if (m.find()) {
                  number[0] = Long.parseLong(m.group(1));
                }
              } else {
                lastAnswer[0] = answer;
              }
              return number[0] >= 0;
            });
    await("both sites serve it")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () ->
                LocalCluster.query(port, "SITE INFO").contains("multi_keyspace:carts,")
                    && LocalCluster.query(port + 1, "SITE INFO").contains("multi_keyspace:carts,"));
    long keyspace = number[0];
    try (RespConnection first = new RespConnection(port)) {
      first.call("SELECT", "" + keyspace);
      assertThat(first.call("SET", "before", "1")).isEqualTo("OK");
    }
    awaitValue(port + 1, keyspace, "before", "1");

    CliRun.Result cut = CliRun.run(tmp, "fault", "cut", "site-1", "site-2");
    assertThat(cut.exitCode()).as(cut.output()).isZero();
    TreeMap<String, String> expected = new TreeMap<>();
    expected.put("before", "1");
    try (RespConnection first = new RespConnection(port);
        RespConnection second = new RespConnection(port + 1)) {
      first.call("SELECT", "" + keyspace);
      second.call("SELECT", "" + keyspace);
      for (int i = 0; i < WRITES; i++) {
        String key = "k" + (i % KEYS);
        assertThat(first.call("SET", key, "v" + i)).isEqualTo("OK");
        expected.put(key, "v" + i);
        if (i % 50 == 0) {
          String other = "s2-" + i; // keys only site-2 writes while cut
          assertThat(second.call("SET", other, "w" + i)).isEqualTo("OK");
          expected.put(other, "w" + i);
        }
      }
    }
    String info = LocalCluster.query(port, "SITE INFO");
    assertThat(field(info, "retained_changes")).isLessThanOrEqualTo(RETAINED_CHANGES);
    assertThat(field(info, "compactions")).as(info).isPositive();
    assertThat(field(info, "file_records")).as(info).isLessThan(WRITES / 2);
    assertThat(get(port + 1, keyspace, "k0")).as("the cut holds").isNull();

    CliRun.Result heal = CliRun.run(tmp, "fault", "heal");
    assertThat(heal.exitCode()).as(heal.output()).isZero();
    await("both sites read every key the same")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofSeconds(1))
        .until(() -> reads(port, keyspace, expected) && reads(port + 1, keyspace, expected));
    await("the catch-ups are counted")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () ->
                field(LocalCluster.query(port, "SITE INFO"), "catch_ups_sent") >= 1
                    && field(LocalCluster.query(port + 1, "SITE INFO"), "catch_ups_received") >= 1);
    CliRun.Result down = CliRun.run(tmp, "down");
    assertThat(down.exitCode()).as(down.output()).isZero();
  }

  /** Whether every key of {@code expected} reads its value at the site on {@code port}. */
  private static boolean reads(int port, long keyspace, TreeMap<String, String> expected)
      throws Exception {
    try (RespConnection connection = new RespConnection(port)) {
      connection.call("SELECT", "" + keyspace);
      for (var entry : expected.entrySet()) {
        if (!entry.getValue().equals(connection.call("GET", entry.getKey()))) {
          return false;
        }
      }
      return true;
    }
  }

  /** A number of the {@code multi_keyspace:carts,...} line of SITE INFO. */
  private static long field(String info, String name) {
    Matcher m =
        Pattern.compile("multi_keyspace:carts,[^\r\n]*\\b" + name + "=(\\d+)").matcher(info);
    assertThat(m.find()).as("%s in %s", name, info).isTrue();
    return Long.parseLong(m.group(1));
  }

  private static String get(int port, long keyspace, String key) throws Exception {
    try (RespConnection connection = new RespConnection(port)) {
      connection.call("SELECT", "" + keyspace);
      return (String) connection.call("GET", key);
    }
  }

  private static void awaitValue(int port, long keyspace, String key, String value) {
    await("site at " + port + " reads " + key)
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> value.equals(get(port, keyspace, key)));
  }

  /** A first port p with p..p+count-1 (and +10000, +20000, +30000) free. */
  private static int freePorts(int count) {
    SplittableRandom random = new SplittableRandom(20_261_201L ^ System.nanoTime());
    for (int attempt = 0; attempt < 2_000; attempt++) {
      int p = random.nextInt(PORT_LOW, PORT_HIGH);
      boolean free = true;
      for (int i = 0; i < count && free; i++) {
        for (int offset : new int[] {0, 10_000, 20_000, 30_000}) {
          free &= LocalCluster.portFree(p + i + offset);
        }
      }
      if (free) {
        return p;
      }
    }
    throw new IllegalStateException("no free port range for " + count + " processes");
  }
}
