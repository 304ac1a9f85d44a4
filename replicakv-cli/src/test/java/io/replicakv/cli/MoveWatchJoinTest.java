package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.config.ServerConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;

/**
 * The progress bar of a real join: a second node joins a one-node cluster (its Raft metadata in
 * process) with a throttle that makes the copy last a few seconds; the watch, pointed at the first
 * node, prints percentages that never fall and end at 100%, and exits 0 once the joiner is UP.
 */
class MoveWatchJoinTest {
  static final int KEY_COUNT = 1_500;
  static final int VALUE_BYTES = 100;

  /** About 80 KB of data moves, sent in batches of about 15 KB: four to six seconds. */
  static final String THROTTLE_BYTES_PER_SECOND = "20000";

  static final Duration DEADLINE = Duration.ofSeconds(90);
  static final Pattern PERCENT = Pattern.compile("\\] (\\d+)% ");

  @TempDir Path dir;
  private final List<ReplicaKvServer> servers = new ArrayList<>();
  private final ExecutorService watchThread = Executors.newSingleThreadExecutor();

  @AfterEach
  void stop() {
    watchThread.shutdownNow();
    servers.forEach(ReplicaKvServer::close);
  }

  private ReplicaKvServer start(String id, Map<String, String> extra) throws Exception {
    Map<String, String> settings = new HashMap<>(extra);
    settings.put("port", "0");
    settings.put("http-port", "0");
    settings.put("peer-port", "0");
    settings.put("bind", "127.0.0.1");
    settings.put("data-dir", dir.resolve(id).toString());
    settings.put("node-id", id);
    settings.put("heartbeat-interval-ms", "200");
    // KeyMover semantics (data on the ring owner alone); joins on replicated keyspaces are step 9
    settings.put("replication", "off");
    settings.put("move-throttle-bytes-per-sec", THROTTLE_BYTES_PER_SECOND);
    ReplicaKvServer server = new ReplicaKvServer(ServerConfig.load(null, settings)).start();
    servers.add(server);
    return server;
  }

  @Test
  void theWatchOfAJoinClimbsToOneHundredPercentAndEndsWhenTheJoinerIsUp() throws Exception {
    int metadataPort = ServerProcess.freePorts(1)[0];
    ReplicaKvServer first =
        start(
            "n1",
            Map.of(
                "cluster-voters",
                "n1@127.0.0.1:" + metadataPort,
                "metadata-port",
                String.valueOf(metadataPort)));
    await("n1 owns the ring")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> LocalCluster.query(first.port(), "CLUSTER INFO").contains("cluster_state:ok"));
    try (Jedis j = new Jedis("127.0.0.1", first.port())) {
      Pipeline p = j.pipelined();
      for (int i = 0; i < KEY_COUNT; i++) {
        p.set("key:" + i, "v".repeat(VALUE_BYTES));
      }
      p.sync();
      assertThat(j.dbSize()).isEqualTo(KEY_COUNT);
    }
    start("n2", Map.of("join", "127.0.0.1:" + first.port()));
    await("n2 registered (STAGED)")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> LocalCluster.query(first.port(), "CLUSTER NODES").contains("n2 "));
    assertThat(LocalCluster.query(first.port(), "CLUSTER COMMIT JOIN n2")).contains("OK");

    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8);
    MoveWatch.Watcher watcher =
        new MoveWatch.Watcher("127.0.0.1:" + first.port(), "n2", out, false, System::nanoTime);
    Future<Integer> exit =
        watchThread.submit(
            () -> watcher.run(() -> TimeUnit.MILLISECONDS.sleep(MoveWatch.POLL_MILLIS)));
    int code = exit.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    String printed = captured.toString(StandardCharsets.UTF_8);
    System.out.print(printed);
    assertThat(code).as(printed).isZero();

    List<Integer> percents = new ArrayList<>();
    for (String line : printed.split("\n")) {
      Matcher m = PERCENT.matcher(line);
      if (m.find()) {
        percents.add(Integer.parseInt(m.group(1)));
      }
    }
    assertThat(percents).as(printed).hasSizeGreaterThanOrEqualTo(3);
    for (int i = 1; i < percents.size(); i++) {
      assertThat(percents.get(i)).as(printed).isGreaterThanOrEqualTo(percents.get(i - 1));
    }
    assertThat(percents.getLast()).isEqualTo(100);
    assertThat(percents).as("seen in flight").anyMatch(p -> p > 0 && p < 100);
    assertThat(printed)
        .contains("n2 is UP: ")
        .as("a rate and an ETA were known while copying")
        .containsPattern("\\d+\\.\\d KiB/s ETA \\d+s");
    // and through the command line, once the move is over: nothing to watch, exit 0
    java.io.PrintStream saved = System.out;
    ByteArrayOutputStream cli = new ByteArrayOutputStream();
    int cliCode;
    try {
      System.setOut(new PrintStream(cli, true, StandardCharsets.UTF_8));
      cliCode =
          new picocli.CommandLine(new Main())
              .execute(
                  "cluster",
                  "moves",
                  "--watch",
                  "--member",
                  "n2",
                  "--node=127.0.0.1:" + first.port());
    } finally {
      System.setOut(saved);
    }
    assertThat(cliCode).isZero();
    assertThat(cli.toString(StandardCharsets.UTF_8)).contains("n2 is UP: no move in progress");
  }
}
