package io.replicakv.cli;

import static org.awaitility.Awaitility.await;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A ReplicaKV node running as a separate JVM ({@code io.replicakv.cli.Main server ...}) on
 * loopback, for tests that need a real process: kill -9, SIGTERM, SIGSTOP/SIGCONT ({@link #pause},
 * {@link #resume}), a restart on the same ports and data ({@link #restart}), exit codes, RSS.
 *
 * <p>The child runs on the test's own class path, binds 127.0.0.1 on ports picked free just before
 * the start, and writes stdout and stderr to a file next to its data folder so a failing test can
 * show what the server said. {@link #close()} always kills it, so a test that fails half-way leaves
 * no process behind.
 */
final class ServerProcess implements AutoCloseable {
  /**
   * How long a child JVM may take to recover its data and answer PING. It answers only once it has
   * registered with the metadata quorum; five JVMs starting at once on the shared two-core machine
   * (load 12-16) took longer than a minute to do so.
   */
  static final Duration START_DEADLINE = Duration.ofSeconds(180);

  /** How long a clean stop (SIGTERM: drain, sync, exit) may take. */
  static final Duration STOP_DEADLINE = Duration.ofSeconds(30);

  /** Heap of a child server; small, so that unbounded buffering would show as a crash. */
  static final String CHILD_HEAP = "-Xmx256m";

  private final int port;
  private final int httpPort;
  private final Path dataDir;
  private final List<String> args;
  // replaced by restart(); read by the test thread only
  private Process process;
  private Path outputFile;

  private ServerProcess(
      Process process, int port, int httpPort, Path dataDir, List<String> args, Path outputFile) {
    this.process = process;
    this.port = port;
    this.httpPort = httpPort;
    this.dataDir = dataDir;
    this.args = List.copyOf(args);
    this.outputFile = outputFile;
  }

  /** The java launcher running this test, so the child uses the same JDK. */
  static String javaBinary() {
    return ProcessHandle.current()
        .info()
        .command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }

  /** The command that runs {@code Main} with {@code args} on this test's class path. */
  static List<String> mainCommand(List<String> jvmArgs, List<String> args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(javaBinary());
    cmd.add("--enable-native-access=ALL-UNNAMED");
    if (Runtime.version().feature() >= 24) {
      cmd.add("--sun-misc-unsafe-memory-access=allow");
    }
    cmd.add("-XX:+UseSerialGC");
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(args);
    return cmd;
  }

  /**
   * Starts {@code server} on fresh free ports with {@code dataDir} and waits until it answers PING.
   * {@code extraArgs} go after the standard flags (e.g. {@code --fsync=always}, {@code --set k=v}).
   */
  static ServerProcess start(Path dataDir, String... extraArgs) throws IOException {
    int[] ports = freePorts(2);
    return start(dataDir, ports[0], ports[1], extraArgs);
  }

  /** As {@link #start(Path, String...)} on the given RESP and HTTP ports. */
  static ServerProcess start(Path dataDir, int port, int httpPort, String... extraArgs)
      throws IOException {
    List<String> args = new ArrayList<>();
    args.add("server");
    args.add("--port=" + port);
    args.add("--http-port=" + httpPort);
    args.add("--data-dir=" + dataDir);
    args.addAll(List.of(extraArgs));
    Files.createDirectories(dataDir);
    Path output = outputFileFor(dataDir);
    Process p = launch(args, output);
    ServerProcess server = new ServerProcess(p, port, httpPort, dataDir, args, output);
    server.awaitPing();
    return server;
  }

  private static Path outputFileFor(Path dataDir) {
    return dataDir.resolveSibling(dataDir.getFileName() + "-server-" + System.nanoTime() + ".log");
  }

  private static Process launch(List<String> args, Path output) throws IOException {
    return new ProcessBuilder(mainCommand(List.of(CHILD_HEAP), args))
        .redirectErrorStream(true)
        .redirectOutput(output.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
  }

  /** Waits until the process answers PING on RESP and HTTP; kills it and throws if it does not. */
  private void awaitPing() {
    Process p = process;
    ServerProcess server = this;
    try {
      await("server on port " + port + " answers PING")
          .atMost(START_DEADLINE)
          .pollInterval(Duration.ofMillis(50))
          .until(
              () -> {
                if (!p.isAlive()) {
                  throw new AssertionError(
                      "server exited with " + p.exitValue() + ":\n" + server.output());
                }
                // The RESP listener answers before the HTTP one is bound; wait for both.
                return LocalCluster.answersPing(port) && httpAnswers(httpPort);
              });
    } catch (RuntimeException | AssertionError e) {
      server.close();
      throw e;
    }
  }

  private static boolean httpAnswers(int httpPort) {
    try {
      return Http.get(httpPort, "/health").status() == 200;
    } catch (IOException e) {
      return false;
    }
  }

  /** {@code count} distinct ports, all held open together while chosen so none repeats. */
  static int[] freePorts(int count) throws IOException {
    List<ServerSocket> held = new ArrayList<>();
    try {
      int[] out = new int[count];
      for (int i = 0; i < count; i++) {
        ServerSocket s = new ServerSocket();
        held.add(s);
        s.bind(new InetSocketAddress("127.0.0.1", 0));
        out[i] = s.getLocalPort();
      }
      return out;
    } finally {
      for (ServerSocket s : held) {
        s.close();
      }
    }
  }

  /** The {@code cluster-voters} value {@code n1@127.0.0.1:p1,n2@...} for these metadata ports. */
  static String voterList(int[] metadataPorts) {
    StringBuilder voters = new StringBuilder();
    for (int i = 0; i < metadataPorts.length; i++) {
      voters.append(i > 0 ? "," : "").append("n").append(i + 1).append("@127.0.0.1:");
      voters.append(metadataPorts[i]);
    }
    return voters.toString();
  }

  /** Until every one of {@code nodes} reports {@code count} known cluster nodes. */
  static void awaitKnownNodes(List<ServerProcess> nodes, int count, Duration deadline) {
    await(count + " members registered")
        .atMost(deadline)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                nodes.stream()
                    .allMatch(
                        n ->
                            LocalCluster.query(n.port(), "CLUSTER INFO")
                                .contains("cluster_known_nodes:" + count)));
  }

  /** A port nobody listens on right now (another process may take it before we bind; rare). */
  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(false);
      s.bind(new InetSocketAddress("127.0.0.1", 0));
      return s.getLocalPort();
    }
  }

  int port() {
    return port;
  }

  int httpPort() {
    return httpPort;
  }

  long pid() {
    return process.pid();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** A new RESP connection to this server. */
  RespConnection connect() throws IOException {
    return new RespConnection(port);
  }

  /** kill -9: the JVM gets no chance to flush or sync anything. */
  void kill9() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(STOP_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("server did not die after SIGKILL");
    }
  }

  /** SIGSTOP: the process freezes (sockets open, nothing answered) until {@link #resume}. */
  void pause() throws IOException {
    ProcessFaults.pause(process.pid());
  }

  /** SIGCONT after {@link #pause}. */
  void resume() throws IOException {
    ProcessFaults.resume(process.pid());
  }

  /** Whether the process is stopped by SIGSTOP. */
  boolean paused() {
    return ProcessFaults.paused(process.pid());
  }

  /**
   * kill -9 (when still running), then a new process with the same data folder, ports and settings;
   * returns once it answers PING. Output goes to a new file; the old one stays for diagnosis.
   */
  void restart() throws IOException, InterruptedException {
    if (process.isAlive()) {
      kill9();
    }
    outputFile = outputFileFor(dataDir);
    process = launch(args, outputFile);
    awaitPing();
  }

  /** Waits for the process to exit by itself (e.g. after SHUTDOWN); returns the exit code. */
  int awaitExit() throws InterruptedException {
    if (!process.waitFor(STOP_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("server did not exit within " + STOP_DEADLINE + ":\n" + output());
    }
    return process.exitValue();
  }

  /** SIGTERM, then waits for the exit; returns the exit code. */
  int terminate() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(STOP_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError(
          "server did not exit within " + STOP_DEADLINE + " of SIGTERM:\n" + output());
    }
    return process.exitValue();
  }

  /** The resident set size of the child in bytes, or -1 where /proc is unavailable. */
  long residentBytes() {
    Path status = Path.of("/proc", Long.toString(process.pid()), "status");
    try {
      for (String line : Files.readAllLines(status)) {
        if (line.startsWith("VmRSS:")) {
          String[] parts = line.substring(6).trim().split("\\s+");
          return Long.parseLong(parts[0]) * 1024;
        }
      }
    } catch (IOException | UncheckedIOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }

  /** What the server printed so far. */
  String output() {
    try {
      return Files.readString(outputFile, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no output: " + e + ")";
    }
  }

  /** Deletes a folder a test created outside JUnit's {@code @TempDir}. */
  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (var paths = Files.walk(root)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroyForcibly();
      try {
        process.waitFor(STOP_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
