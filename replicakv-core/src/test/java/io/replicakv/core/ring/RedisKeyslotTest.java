package io.replicakv.core.ring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compares {@link Slots#slot} with a real redis-server's {@code CLUSTER KEYSLOT} for 1,000 seeded
 * random keys, many with hash tags. Skipped when redis-server is not installed. Test code only: the
 * process and socket here never reach core's main sources.
 */
class RedisKeyslotTest {
  private static final int KEYS = 1_000;
  private static final long STARTUP_DEADLINE_MILLIS = 10_000;

  @Test
  void slotsMatchRedisClusterKeyslot(@TempDir Path dir) throws Exception {
    Path redis = findOnPath("redis-server");
    assumeTrue(redis != null, "redis-server not installed");
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    Process server =
        new ProcessBuilder(
                redis.toString(),
                "--port",
                Integer.toString(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                dir.toString())
            .redirectErrorStream(true)
            .start();
    try {
      awaitReady(server.getInputStream());
      try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
        socket.setSoTimeout((int) STARTUP_DEADLINE_MILLIS);
        OutputStream out = socket.getOutputStream();
        InputStream in = socket.getInputStream();
        Random random = new Random(16_384);
        for (int i = 0; i < KEYS; i++) {
          byte[] key = randomKey(random);
          out.write(
              command(
                  "CLUSTER".getBytes(StandardCharsets.US_ASCII),
                  "KEYSLOT".getBytes(StandardCharsets.US_ASCII),
                  key));
          out.flush();
          assertThat(Slots.slot(key)).as("key #%d", i).isEqualTo(readInteger(in));
        }
      }
    } finally {
      server.destroy();
      server.waitFor(STARTUP_DEADLINE_MILLIS, TimeUnit.MILLISECONDS);
    }
  }

  private static Path findOnPath(String name) {
    for (String directory : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path candidate = Path.of(directory, name);
      if (!directory.isEmpty() && Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    return null;
  }

  /** Reads the server log until it says it accepts connections, or fails past the deadline. */
  private static void awaitReady(InputStream log) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STARTUP_DEADLINE_MILLIS);
    BufferedReader reader = new BufferedReader(new InputStreamReader(log, StandardCharsets.UTF_8));
    String line;
    while ((line = reader.readLine()) != null && System.nanoTime() < deadline) {
      if (line.contains("Ready to accept connections")) {
        return;
      }
    }
    throw new IllegalStateException("redis-server did not become ready; last line: " + line);
  }

  /** Keys of 0 to 24 bytes from an alphabet rich in braces, so hash-tag rules are exercised. */
  private static byte[] randomKey(Random random) {
    byte[] alphabet = "{}{}ab:x1\u00007".getBytes(StandardCharsets.ISO_8859_1);
    byte[] key = new byte[random.nextInt(25)];
    for (int i = 0; i < key.length; i++) {
      key[i] =
          random.nextInt(4) == 0
              ? (byte) random.nextInt(256)
              : alphabet[random.nextInt(alphabet.length)];
    }
    return key;
  }

  private static byte[] command(byte[]... parts) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    out.writeBytes(("*" + parts.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
    for (byte[] part : parts) {
      out.writeBytes(("$" + part.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.writeBytes(part);
      out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    return out.toByteArray();
  }

  /** Reads one RESP integer reply (":123\r\n"); anything else fails the test with its text. */
  private static int readInteger(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    int b;
    while ((b = in.read()) != '\n') {
      if (b < 0) {
        throw new IOException("connection closed after '" + line + "'");
      }
      if (b != '\r') {
        line.append((char) b);
      }
    }
    assertThat(line.charAt(0)).as("reply %s", line).isEqualTo(':');
    return Integer.parseInt(line.substring(1));
  }
}
