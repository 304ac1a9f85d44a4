package io.replicakv.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The local cluster that {@code up} starts and {@code down} stops: one folder per node under {@code
 * .replicakv/} in the working directory, holding the node's data, its log file, its pid and its
 * ports.
 */
final class LocalCluster {
  static final Path ROOT = Path.of(".replicakv");

  record NodeInfo(String name, Path folder, long pid, int port, int httpPort) {}

  /** Where {@code up --fault-proxy} keeps the proxy's pid, control port and log. */
  static final Path PROXY_FOLDER = ROOT.resolve("fault-proxy");

  /** The file in a node's folder that holds the command line that starts it, one word a line. */
  static final String COMMAND_FILE = "command";

  static Path nodeFolder(String name) {
    return ROOT.resolve(name);
  }

  /**
   * Starts {@code command} in the background with its output appended to {@code logFile} and writes
   * its pid to {@code folder/pid}.
   */
  static Process launch(Path folder, List<String> command, Path logFile) throws IOException {
    Process p =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    Files.writeString(folder.resolve("pid"), p.pid() + "\n");
    return p;
  }

  /** The command line kept in a node's folder by {@code up}, for {@code fault restart}. */
  static List<String> savedCommand(Path folder) throws IOException {
    Path file = folder.resolve(COMMAND_FILE);
    if (!Files.isRegularFile(file)) {
      throw new IOException(
          "no " + file + ": the node was started by an older 'up'; run 'up' again after 'down'");
    }
    return Files.readAllLines(file, StandardCharsets.UTF_8).stream()
        .filter(l -> !l.isEmpty())
        .toList();
  }

  /** The pid of the local cluster's fault proxy when it runs, else -1. */
  static long proxyPid() throws IOException {
    Path pidFile = PROXY_FOLDER.resolve("pid");
    if (!Files.isRegularFile(pidFile)) {
      return -1;
    }
    long pid = Long.parseLong(Files.readString(pidFile).trim());
    return alive(pid) ? pid : -1;
  }

  static List<NodeInfo> nodes() throws IOException {
    List<NodeInfo> out = new ArrayList<>();
    if (!Files.isDirectory(ROOT)) {
      return out;
    }
    try (var dirs = Files.list(ROOT)) {
      for (Path folder : dirs.sorted().toList()) {
        Path pidFile = folder.resolve("pid");
        Path portsFile = folder.resolve("ports");
        if (Files.isRegularFile(pidFile) && Files.isRegularFile(portsFile)) {
          long pid = Long.parseLong(Files.readString(pidFile).trim());
          String[] ports = Files.readString(portsFile).trim().split("\\s+");
          out.add(
              new NodeInfo(
                  folder.getFileName().toString(),
                  folder,
                  pid,
                  Integer.parseInt(ports[0]),
                  Integer.parseInt(ports[1])));
        }
      }
    }
    return out;
  }

  static boolean alive(long pid) {
    Optional<ProcessHandle> p = ProcessHandle.of(pid);
    return p.isPresent() && p.get().isAlive();
  }

  /** True when the node answers PING on its RESP port. */
  static boolean answersPing(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      s.setSoTimeout(500);
      s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      byte[] buf = new byte[7];
      int n = s.getInputStream().read(buf);
      return n > 0 && new String(buf, 0, n, StandardCharsets.US_ASCII).startsWith("+PONG");
    } catch (IOException e) {
      return false;
    }
  }

  /** Sends one inline command and returns the raw reply text (up to 64 KiB), or "" on failure. */
  static String query(int port, String inlineCommand) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      s.setSoTimeout(2000);
      s.getOutputStream().write((inlineCommand + "\r\n").getBytes(StandardCharsets.US_ASCII));
      byte[] buf = new byte[65536];
      int n = s.getInputStream().read(buf);
      return n > 0 ? new String(buf, 0, n, StandardCharsets.UTF_8) : "";
    } catch (IOException e) {
      return "";
    }
  }

  static boolean portFree(int port) {
    try (java.net.ServerSocket s = new java.net.ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress("127.0.0.1", port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
