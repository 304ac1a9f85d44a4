package io.replicakv.net.fault;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The control port of a {@link FaultNetwork}: plain text over TCP on 127.0.0.1, one command per
 * connection, so {@code replicakv fault ...}, a test or {@code nc} can drive it.
 *
 * <h2>Protocol</h2>
 *
 * <p>The client sends one line; the server answers {@code OK} followed by zero or more lines, or
 * {@code ERR reason}, and closes the connection. Words are separated by spaces; command names are
 * case-insensitive; node names are ids or their short forms ({@link FaultNetwork#resolve}).
 *
 * <pre>
 * CUT a b [ONE-WAY]                      traffic a to b (and b to a) is held
 * DELAY a b MILLIS [JITTER_MILLIS] [ONE-WAY]
 * DROP a b PROBABILITY [ONE-WAY]          each chunk lost (connection closed) at this rate
 * HEAL [a b]                              the pair, or every link
 * STATUS                                  one line per ordered pair
 * ROUTES                                  one line per node: id and its peer-routes value
 * </pre>
 *
 * <p>Bounds: a command line of at most {@value #LINE_MAX_CHARS} characters, read within {@value
 * #READ_TIMEOUT_MILLIS} ms; connections are served one at a time, which is enough for a tool.
 */
public final class FaultControl implements AutoCloseable {
  /** Longest command line accepted. */
  static final int LINE_MAX_CHARS = 1_024;

  /** How long the server waits for a client's command line. */
  static final int READ_TIMEOUT_MILLIS = 5_000;

  private final FaultNetwork network;
  private final ServerSocket listener;
  private final Thread acceptor;

  private FaultControl(FaultNetwork network, ServerSocket listener) {
    this.network = network;
    this.listener = listener;
    this.acceptor = Thread.ofPlatform().daemon().name("fault-control").unstarted(this::serve);
  }

  /** Serves {@code network} on 127.0.0.1:{@code port} (0 picks a free port). */
  public static FaultControl start(FaultNetwork network, int port) throws IOException {
    ServerSocket listener = new ServerSocket();
    listener.setReuseAddress(true);
    listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    FaultControl control = new FaultControl(network, listener);
    control.acceptor.start();
    return control;
  }

  /** The port the control server listens on. */
  public int port() {
    return listener.getLocalPort();
  }

  private void serve() {
    while (!listener.isClosed()) {
      try (Socket client = listener.accept()) {
        client.setSoTimeout(READ_TIMEOUT_MILLIS);
        String line = readLine(client);
        String answer = line == null ? "ERR no command line\n" : execute(line);
        OutputStream out = client.getOutputStream();
        out.write(answer.getBytes(StandardCharsets.UTF_8));
        out.flush();
      } catch (SocketTimeoutException slowClient) {
        // a client that sends nothing loses its connection; the next one is served
      } catch (IOException closedOrBroken) {
        if (listener.isClosed()) {
          return;
        }
      }
    }
  }

  private static String readLine(Socket client) throws IOException {
    BufferedReader in =
        new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8));
    StringBuilder b = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0 && c != '\n') {
      if (b.length() >= LINE_MAX_CHARS) {
        return "";
      }
      if (c != '\r') {
        b.append((char) c);
      }
    }
    return c < 0 && b.isEmpty() ? null : b.toString();
  }

  /** Runs one command line against the network; the answer as sent on the wire. */
  String execute(String line) {
    List<String> words = new ArrayList<>(List.of(line.trim().split("\\s+")));
    if (words.isEmpty() || words.get(0).isEmpty()) {
      return "ERR empty command\n";
    }
    String name = words.remove(0).toUpperCase(Locale.ROOT);
    boolean oneWay = words.removeIf(w -> w.equalsIgnoreCase("ONE-WAY"));
    try {
      switch (name) {
        case "CUT" -> {
          expect(words, 2, 2, "CUT a b [ONE-WAY]");
          network.cut(words.get(0), words.get(1), oneWay);
          return ok(describe(words.get(0), words.get(1), oneWay));
        }
        case "DELAY" -> {
          expect(words, 3, 4, "DELAY a b MILLIS [JITTER_MILLIS] [ONE-WAY]");
          long jitter = words.size() == 4 ? number(words.get(3)) : 0;
          network.delay(words.get(0), words.get(1), number(words.get(2)), jitter, oneWay);
          return ok(describe(words.get(0), words.get(1), oneWay));
        }
        case "DROP" -> {
          expect(words, 3, 3, "DROP a b PROBABILITY [ONE-WAY]");
          double p;
          try {
            p = Double.parseDouble(words.get(2));
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + words.get(2) + "' is not a probability");
          }
          network.drop(words.get(0), words.get(1), p, oneWay);
          return ok(describe(words.get(0), words.get(1), oneWay));
        }
        case "HEAL" -> {
          if (words.isEmpty()) {
            network.heal();
            return ok("");
          }
          expect(words, 2, 2, "HEAL [a b]");
          network.heal(words.get(0), words.get(1));
          return ok(describe(words.get(0), words.get(1), false));
        }
        case "STATUS" -> {
          expect(words, 0, 0, "STATUS");
          return ok(network.status());
        }
        case "ROUTES" -> {
          expect(words, 0, 0, "ROUTES");
          StringBuilder b = new StringBuilder();
          for (String id : network.nodes()) {
            b.append(id).append(' ').append(network.peerRoutes(id)).append('\n');
          }
          return ok(b.toString());
        }
        default -> {
          return "ERR unknown command '" + name + "' (CUT DELAY DROP HEAL STATUS ROUTES)\n";
        }
      }
    } catch (IllegalArgumentException e) {
      return "ERR " + e.getMessage().replace('\n', ' ') + "\n";
    } catch (RuntimeException e) {
      // a bug here must not stop the control port: report it to the one client that hit it
      return "ERR internal error: " + String.valueOf(e).replace('\n', ' ') + "\n";
    }
  }

  private String describe(String a, String b, boolean oneWay) {
    String from = network.resolve(a);
    String to = network.resolve(b);
    String line = from + " -> " + to + ": " + network.link(from, to) + "\n";
    return oneWay ? line : line + to + " -> " + from + ": " + network.link(to, from) + "\n";
  }

  private static String ok(String body) {
    return "OK\n" + body;
  }

  private static void expect(List<String> words, int min, int max, String usage) {
    if (words.size() < min || words.size() > max) {
      throw new IllegalArgumentException("usage: " + usage);
    }
  }

  private static long number(String word) {
    try {
      return Long.parseLong(word);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + word + "' is not a whole number of milliseconds");
    }
  }

  /**
   * Sends {@code commandLine} to the control port at 127.0.0.1:{@code port} and returns the answer
   * (its first line {@code OK} or {@code ERR ...}).
   */
  public static String send(int port, String commandLine) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(
          new InetSocketAddress(InetAddress.getLoopbackAddress(), port), READ_TIMEOUT_MILLIS);
      socket.setSoTimeout(READ_TIMEOUT_MILLIS);
      OutputStream out = socket.getOutputStream();
      out.write((commandLine + "\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      socket.shutdownOutput();
      return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /** Stops listening; the network stays as it is (its owner closes it). */
  @Override
  public void close() {
    try {
      listener.close();
    } catch (IOException ignored) {
      // closing at shutdown: nothing to report
    }
  }
}
