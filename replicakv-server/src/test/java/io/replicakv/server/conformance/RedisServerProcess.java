package io.replicakv.server.conformance;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} child process on a free loopback port, without persistence, used as
 * the reference in differential tests. Tests call {@link #available()} first and skip when the
 * binary is missing.
 */
final class RedisServerProcess implements AutoCloseable {
  static final Duration START_TIMEOUT = Duration.ofSeconds(10);
  static final long STOP_TIMEOUT_MILLIS = 5_000;

  private final Process process;
  private final int port;

  private RedisServerProcess(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  /** The path of an executable on PATH, or null. */
  static Path onPath(String binary) {
    String path = System.getenv("PATH");
    if (path == null) {
      return null;
    }
    for (String dir : path.split(java.io.File.pathSeparator)) {
      Path candidate = Path.of(dir, binary);
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    return null;
  }

  static boolean available() {
    return onPath("redis-server") != null;
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Starts redis-server with its files under {@code dir} and waits until it answers PING. */
  static RedisServerProcess start(Path dir) throws IOException {
    int port = freePort();
    List<String> command =
        List.of(
            onPath("redis-server").toString(),
            "--port",
            Integer.toString(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            dir.toString(),
            "--logfile",
            dir.resolve("redis.log").toString());
    Process p =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("redis.out").toFile())
            .start();
    RedisServerProcess server = new RedisServerProcess(p, port);
    try {
      await()
          .atMost(START_TIMEOUT)
          .pollInterval(Duration.ofMillis(20))
          .ignoreExceptions()
          .until(server::answersPing);
    } catch (RuntimeException e) {
      server.close();
      throw e;
    }
    return server;
  }

  private boolean answersPing() throws IOException {
    if (!process.isAlive()) {
      throw new IllegalStateException("redis-server exited with " + process.exitValue());
    }
    try (RespWireClient c = new RespWireClient(port)) {
      return "+PONG".equals(c.call("PING").render());
    }
  }

  int port() {
    return port;
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(STOP_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)) {
        process.destroyForcibly().waitFor(STOP_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
