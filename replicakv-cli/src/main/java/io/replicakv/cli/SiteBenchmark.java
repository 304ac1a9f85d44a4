package io.replicakv.cli;

import io.replicakv.core.ring.Slots;
import io.replicakv.net.fault.FaultNetwork;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;

/**
 * Multi-leader site benchmark (a program, not a test; it prints numbers): two one-node sites as
 * processes on loopback, linked through an in-process fault network that adds {@code delay} ms each
 * way.
 *
 * <ol>
 *   <li>Write latency at site a for keys of a {@code siblings} keyspace (local: the write is
 *       durable at a and answered; the link ships it later), of a {@code home-site} keyspace whose
 *       keys are homed at b (the write crosses the link and back before it is answered, as a
 *       single-leader write to a leader at the remote site must), and of a {@code lock} keyspace
 *       whose lock site is b (lock request, grant, write, release).
 *   <li>Convergence after heal: the link is cut, {@code backlog} writes go to site a, the link
 *       heals, and the time until site b has the last write and a's lag is back to 0 is measured.
 * </ol>
 *
 * <pre>
 * java -cp 'replicakv-cli/target/replicakv-cli-0.1.0-SNAPSHOT.jar:replicakv-cli/target/lib/*' \
 *     io.replicakv.cli.SiteBenchmark [delay-ms=25] [writes=300] [backlog=5000]
 * </pre>
 */
public final class SiteBenchmark {
  /** How long a site may take to start and a step to finish. */
  static final long DEADLINE_MILLIS = 300_000;

  private SiteBenchmark() {}

  public static void main(String[] args) throws Exception {
    long delay = args.length > 0 ? Long.parseLong(args[0]) : 25;
    int writes = args.length > 1 ? Integer.parseInt(args[1]) : 300;
    int backlog = args.length > 2 ? Integer.parseInt(args[2]) : 5_000;
    Path dir = Files.createTempDirectory("replicakv-site-bench");
    int[] ports = freePorts(10);
    Map<String, Integer> peerPorts = new TreeMap<>(Map.of("a", ports[2], "b", ports[6]));
    int[] next = {8};
    List<Process> processes = new ArrayList<>();
    try (FaultNetwork network = FaultNetwork.start(peerPorts, 7, () -> ports[next[0]++])) {
      for (int i = 0; i < 2; i++) {
        String site = i == 0 ? "a" : "b";
        String other = i == 0 ? "b" : "a";
        List<String> cmd = UpCommand.javaCommand();
        cmd.addAll(
            List.of(
                "server",
                "--port=" + ports[4 * i],
                "--http-port=" + ports[4 * i + 1],
                "--data-dir=" + dir.resolve(site),
                "--fsync=interval",
                "--set=node-id=" + site,
                "--set=site=" + site,
                "--set=peer-port=" + ports[4 * i + 2],
                "--set=metadata-port=" + ports[4 * i + 3],
                "--set=cluster-voters=" + site + "@127.0.0.1:" + ports[4 * i + 3],
                "--set=site-links=" + other + "@127.0.0.1:" + network.proxy(site, other).port()));
        processes.add(
            new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve(site + ".log").toFile())
                .start());
      }
      int a = ports[0];
      int b = ports[4];
      waitFor(() -> LocalCluster.query(a, "SITE INFO").contains("site:a"));
      waitFor(() -> LocalCluster.query(b, "SITE INFO").contains("site:b"));
      long local = create(a, b, "local", "siblings");
      long home = create(a, b, "homed", "home-site");
      long locked = create(a, b, "locked", "lock");
      network.delay("a", "b", delay, 0, false);

      System.out.printf(
          "two sites on loopback, link delay %d ms each way, %d sequential writes at site a%n%n",
          delay, writes);
      System.out.println("| write | p50 ms | p99 ms | max ms |");
      System.out.println("|---|---|---|---|");
      row("multi-leader (siblings), local", latencies(a, local, writes, key -> true));
      row(
          "home-site, key homed at the remote site",
          latencies(a, home, writes, SiteBenchmark::homedAtB));
      row(
          "lock, lock site is the remote site",
          latencies(a, locked, writes, SiteBenchmark::homedAtB));

      network.cut("a", "b", false);
      try (RespCalls connection = new RespCalls(a)) {
        connection.call("SELECT", Long.toString(local));
        for (int i = 0; i < backlog; i++) {
          connection.call("SET", "backlog" + i, "v" + i);
        }
      }
      String lag = String.valueOf(RespCalls.once(a, 0, "SITE", "LAG", "local"));
      long healed = System.nanoTime();
      network.heal();
      String last = "backlog" + (backlog - 1);
      waitFor(() -> ("v" + (backlog - 1)).equals(RespCalls.once(b, local, "GET", last)));
      double visible = (System.nanoTime() - healed) / 1e6;
      waitFor(() -> LocalCluster.query(a, "SITE LAG local").contains("to=b,changes=0,"));
      double drained = (System.nanoTime() - healed) / 1e6;
      System.out.printf(
          "%nbacklog of %d writes at a while cut (%s); after heal: last write visible at b after"
              + " %.0f ms, a's lag to b at 0 after %.0f ms (lag refresh period 500 ms)%n",
          backlog, lag.trim().replace("\r", "").replace("\n", " "), visible, drained);
    } finally {
      for (Process p : processes) {
        p.destroy();
        p.waitFor();
      }
    }
  }

  private static boolean homedAtB(String key) {
    return Slots.slot(key) % 2 == 1; // sites [a, b]: index 1 is b
  }

  private static long create(int a, int b, String name, String conflicts) throws Exception {
    long[] number = {-1};
    waitFor(
        () -> {
          Object reply =
              RespCalls.once(
                  a,
                  0,
                  "KEYSPACE",
                  "CREATE",
                  name,
                  "style",
                  "multi-leader",
                  "conflicts",
                  conflicts);
          if (String.valueOf(reply).startsWith(":")) {
            number[0] = Long.parseLong(String.valueOf(reply).substring(1));
          }
          return number[0] >= 0;
        });
    waitFor(() -> LocalCluster.query(b, "SITE INFO").contains("multi_keyspace:" + name + ","));
    return number[0];
  }

  private interface KeyFilter {
    boolean test(String key);
  }

  private static double[] latencies(int port, long keyspace, int writes, KeyFilter keys) {
    double[] millis = new double[writes];
    try (RespCalls connection = new RespCalls(port)) {
      connection.call("SELECT", Long.toString(keyspace));
      int key = 0;
      for (int i = 0; i < writes; i++) {
        while (!keys.test("k" + key)) {
          key++;
        }
        long started = System.nanoTime();
        Object reply = connection.call("SET", "k" + key, "v" + i);
        millis[i] = (System.nanoTime() - started) / 1e6;
        if (!"+OK".equals(reply)) {
          throw new IllegalStateException("SET k" + key + " answered " + reply);
        }
        key++;
      }
    }
    return millis;
  }

  private static void row(String name, double[] millis) {
    double[] sorted = millis.clone();
    Arrays.sort(sorted);
    System.out.printf(
        "| %s | %.2f | %.2f | %.2f |%n",
        name,
        sorted[sorted.length / 2],
        sorted[(int) Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)],
        sorted[sorted.length - 1]);
  }

  private static void waitFor(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.currentTimeMillis() + DEADLINE_MILLIS;
    while (!condition.getAsBoolean()) {
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException("gave up after " + DEADLINE_MILLIS + " ms");
      }
      Thread.sleep(20); // polling pace of a benchmark driver; the deadline bounds it
    }
  }

  private static int[] freePorts(int count) throws IOException {
    List<ServerSocket> sockets = new ArrayList<>();
    try {
      int[] ports = new int[count];
      for (int i = 0; i < count; i++) {
        ServerSocket socket = new ServerSocket();
        socket.setReuseAddress(true);
        socket.bind(new InetSocketAddress("127.0.0.1", 0));
        sockets.add(socket);
        ports[i] = socket.getLocalPort();
      }
      return ports;
    } finally {
      for (ServerSocket socket : sockets) {
        socket.close();
      }
    }
  }
}
