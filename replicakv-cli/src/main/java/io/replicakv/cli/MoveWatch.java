package io.replicakv.cli;

import io.replicakv.server.move.MoveProgress;
import io.replicakv.server.move.RateWindow;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * {@code replicakv cluster moves --watch}: a progress bar with an ETA for the data movement of one
 * joining or leaving member, drawn from {@code CLUSTER MOVEPROGRESS} on every source.
 *
 * <p>Model. Every {@value #POLL_MILLIS} ms the watch asks the seed node what its metadata says of
 * the member (its state and the sources of its move) and where the members listen ({@code CLUSTER
 * NODES}), then asks each source for its copy's planned and copied data bytes. The bar is their
 * sums: a source past its copy (catching up, fenced, deleting, or finished) counts as complete, and
 * a source's copied bytes count at most its planned ones (writes during the copy can add bytes).
 * Until every source reported its plan the watch says which it waits for rather than draw a
 * fraction that would fall when a late source adds its size. The ETA is the remaining bytes over
 * the rate of the last {@value #RATE_WINDOW_SECONDS} seconds, "?" until the window has a rate.
 *
 * <p>The watch ends when the seed's metadata shows the member past its move: UP after a join or
 * LEFT after a leave (exit 0, the bar drawn at 100%), or back where it came from after a cancel
 * (exit 1). On a terminal the line is redrawn in place; otherwise one line is printed per second at
 * most, plus the last one. A source that cannot be reached keeps its last report; a seed that
 * cannot be reached for {@value #SEED_FAILURES_MAX} polls in a row ends the watch with exit 1.
 */
public final class MoveWatch {
  /** How often every source is asked. */
  static final long POLL_MILLIS = 500;

  /** Least time between two lines when the output is not a terminal. */
  static final long PLAIN_LINE_NANOS = 1_000_000_000L;

  /** How far back the rate for the ETA looks. */
  static final int RATE_WINDOW_SECONDS = 3;

  /** Rate samples kept: one per poll, with room. */
  static final int RATE_SAMPLES_MAX = 64;

  /** Characters of the bar between its brackets. */
  static final int BAR_WIDTH = 20;

  /** Consecutive failed polls of the seed before the watch gives up. */
  static final int SEED_FAILURES_MAX = 20;

  /** Read timeout of one poll's connection; a hung node must not stall the bar for long. */
  static final int POLL_TIMEOUT_MILLIS = 2_000;

  /** Exit codes. */
  static final int EXIT_DONE = 0;

  static final int EXIT_FAILED = 1;
  static final int EXIT_USAGE = 2;

  private MoveWatch() {}

  /**
   * Watches the move of {@code memberId} (null: the member the seed sees moving) through {@code
   * seedNode} (HOST:PORT; null: the local cluster), printing to standard output; returns the exit
   * code. The entry point of {@code cluster moves --watch} and of commands that start a move.
   */
  public static int watch(String seedNode, String memberId) {
    return new Watcher(seedNode, memberId, System.out, isTerminal(), System::nanoTime)
        .run(() -> TimeUnit.MILLISECONDS.sleep(POLL_MILLIS));
  }

  /**
   * Whether standard output is a terminal. From JDK 22 {@code System.console()} may exist for a
   * redirected output too, and {@code Console.isTerminal()} tells; on JDK 21 a console exists only
   * for a terminal.
   */
  static boolean isTerminal() {
    java.io.Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      return (boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException e) {
      return true;
    }
  }

  /** Waits between polls; a test may pass one that returns at once. */
  @FunctionalInterface
  interface Pause {
    void pause() throws InterruptedException;
  }

  /** One source's latest report of the watched member's move. */
  record SourceReport(String phase, long plannedBytes, long copiedBytes, long plannedKeys) {
    /** Copied bytes as the bar counts them: all of them once the copy is over. */
    long doneBytes() {
      return phase.equals("copy") ? Math.min(copiedBytes, plannedBytes) : plannedBytes;
    }
  }

  /** The watch loop, with its output, terminal mode and clock given. */
  static final class Watcher {
    private final String seedNode;
    private String memberId;
    private final PrintStream out;
    private final boolean tty;
    private final LongSupplier nanoClock;
    private final RateWindow rate;
    private final Map<String, SourceReport> reports = new TreeMap<>();
    private String startState;
    private long lastLineNanos = Long.MIN_VALUE;
    private int lastLength;
    private String lastLine = "";
    private final long startNanos;

    Watcher(
        String seedNode, String memberId, PrintStream out, boolean tty, LongSupplier nanoClock) {
      this.seedNode = seedNode;
      this.memberId = memberId;
      this.out = out;
      this.tty = tty;
      this.nanoClock = nanoClock;
      this.rate = new RateWindow(TimeUnit.SECONDS.toNanos(RATE_WINDOW_SECONDS), RATE_SAMPLES_MAX);
      this.startNanos = nanoClock.getAsLong();
    }

    int run(Pause pause) {
      int seedFailures = 0;
      boolean seedAnswered = false;
      while (true) {
        Integer exit;
        try {
          exit = poll();
          seedFailures = 0;
          seedAnswered = true;
        } catch (IOException | RuntimeException e) {
          // a seed that never answered is a wrong address, not a node restarting: fail at once
          if (!seedAnswered || ++seedFailures >= SEED_FAILURES_MAX) {
            endLine();
            out.println("replicakv cluster moves: seed node unreachable: " + e.getMessage());
            return EXIT_FAILED;
          }
          exit = null;
        }
        if (exit != null) {
          return exit;
        }
        try {
          pause.pause();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          endLine();
          return EXIT_FAILED;
        }
      }
    }

    /** One round; returns the exit code when the watch is over, else null. */
    Integer poll() throws IOException {
      Map<String, String> seed;
      Map<String, String> addresses;
      try (AdminClient c = connect(seedNode)) {
        seed =
            fields(
                call(
                    c,
                    memberId == null
                        ? new String[] {"CLUSTER", "MOVEPROGRESS"}
                        : new String[] {"CLUSTER", "MOVEPROGRESS", memberId}));
        addresses = addresses(call(c, "CLUSTER", "NODES"));
      }
      if (memberId == null) {
        memberId = seed.getOrDefault("watched", "");
        if (memberId.isEmpty()) {
          out.println("no member is joining or leaving");
          return EXIT_DONE;
        }
      }
      String state = seed.getOrDefault("watched_state", "UNKNOWN");
      if (startState == null) {
        startState = state;
        if (!moving(state)) {
          out.println(
              state.equals("UNKNOWN")
                  ? "no member " + memberId
                  : memberId + " is " + state + ": no move in progress");
          return state.equals("UNKNOWN") ? EXIT_USAGE : EXIT_DONE;
        }
      }
      if (!moving(state)) {
        return finish(state);
      }
      List<String> sources = split(seed.getOrDefault("watched_sources", ""));
      for (String source : sources) {
        String address = addresses.get(source);
        if (address != null) {
          pollSource(source, address);
        }
      }
      draw(sources);
      return null;
    }

    private void pollSource(String source, String address) {
      Map<String, String> f;
      try (AdminClient c = connect(address)) {
        f = fields(call(c, "CLUSTER", "MOVEPROGRESS", memberId));
      } catch (IOException | RuntimeException e) {
        return; // unreachable for now: its last report stands
      }
      if (memberId.equals(f.get("member"))) {
        reports.put(
            source,
            new SourceReport(
                f.getOrDefault("phase", "copy"),
                number(f, "planned_bytes"),
                number(f, "copied_bytes"),
                number(f, "planned_keys")));
      } else if (memberId.equals(f.get("last_member")) && "done".equals(f.get("last_result"))) {
        SourceReport last = reports.get(source);
        long planned = last == null ? 0 : last.plannedBytes();
        reports.put(
            source,
            new SourceReport("done", planned, planned, last == null ? 0 : last.plannedKeys()));
      }
    }

    private void draw(List<String> sources) {
      List<String> waiting = new ArrayList<>();
      long planned = 0;
      long done = 0;
      for (String source : sources) {
        SourceReport r = reports.get(source);
        if (r == null) {
          waiting.add(source);
        } else {
          planned += r.plannedBytes();
          done += r.doneBytes();
        }
      }
      long now = nanoClock.getAsLong();
      String line;
      if (sources.isEmpty() || !waiting.isEmpty()) {
        line =
            memberId
                + " "
                + startState.toLowerCase(Locale.ROOT)
                + ": waiting for "
                + (sources.isEmpty() ? "its sources" : String.join(", ", waiting))
                + " to start copying";
      } else {
        rate.add(now, done);
        line = render(done, planned, rate.perSecond(), BAR_WIDTH);
      }
      show(line, now, false);
    }

    private int finish(String state) {
      boolean success =
          (startState.equals("JOINING") && state.equals("UP"))
              || (startState.equals("LEAVING") && state.equals("LEFT"));
      long planned = 0;
      for (SourceReport r : reports.values()) {
        planned += r.plannedBytes();
      }
      long now = nanoClock.getAsLong();
      if (success) {
        show(render(planned, planned, rate.perSecond(), BAR_WIDTH), now, true);
        endLine();
        out.printf(
            Locale.ROOT,
            "%s is %s: %s moved, watched for %.1f s%n",
            memberId,
            state,
            reports.isEmpty() ? "its keys (sizes not seen)" : MoveProgress.formatBytes(planned),
            (now - startNanos) / 1e9);
        return EXIT_DONE;
      }
      endLine();
      out.println("move of " + memberId + " cancelled: it is " + state);
      return EXIT_FAILED;
    }

    /** Prints a line: redrawn in place on a terminal, at most one per second otherwise. */
    private void show(String line, long now, boolean force) {
      if (tty) {
        String padding = " ".repeat(Math.max(0, lastLength - line.length()));
        out.print("\r" + line + padding);
        out.flush();
        lastLength = line.length();
        lastLine = line;
        return;
      }
      if (force || lastLineNanos == Long.MIN_VALUE || now - lastLineNanos >= PLAIN_LINE_NANOS) {
        if (!force || !line.equals(lastLine)) {
          out.println(line);
        }
        lastLineNanos = now;
        lastLine = line;
      }
    }

    private void endLine() {
      if (tty && lastLength > 0) {
        out.println();
        lastLength = 0;
      }
    }
  }

  /** {@code [#####.....] 52% 3.1/6.0 MiB 1.2 MiB/s ETA 2s}; a rate of NaN prints "? B/s ETA ?". */
  static String render(long doneBytes, long totalBytes, double bytesPerSecond, int width) {
    long done = Math.max(0, Math.min(doneBytes, totalBytes));
    int percent = totalBytes <= 0 ? 100 : (int) (done * 100 / totalBytes);
    int filled = totalBytes <= 0 ? width : (int) (done * width / totalBytes);
    String bar = "#".repeat(filled) + ".".repeat(width - filled);
    long eta = RateWindow.etaSeconds(totalBytes - done, bytesPerSecond);
    return "["
        + bar
        + "] "
        + percent
        + "% "
        + pair(done, totalBytes)
        + " "
        + (Double.isNaN(bytesPerSecond)
            ? "? B/s"
            : MoveProgress.formatBytes(Math.round(Math.max(0, bytesPerSecond))) + "/s")
        + " ETA "
        + duration(eta);
  }

  /** "3.1/6.0 MiB": both numbers in the unit of the larger. */
  static String pair(long done, long total) {
    String totalText = MoveProgress.formatBytes(total);
    int space = totalText.indexOf(' ');
    String unit = totalText.substring(space + 1);
    if (unit.equals("B")) {
      return done + "/" + total + " B";
    }
    int exponent = List.of("KiB", "MiB", "GiB", "TiB", "PiB", "EiB").indexOf(unit) + 1;
    double scale = Math.pow(1024, exponent);
    return String.format(Locale.ROOT, "%.1f/%s", done / scale, totalText);
  }

  /** "?" for -1, else "42s", "3m05s", "2h07m". */
  static String duration(long seconds) {
    if (seconds < 0) {
      return "?";
    }
    if (seconds < 60) {
      return seconds + "s";
    }
    if (seconds < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", seconds / 60, seconds % 60);
    }
    return String.format(Locale.ROOT, "%dh%02dm", seconds / 3600, (seconds % 3600) / 60);
  }

  private static boolean moving(String state) {
    return state.equals("JOINING") || state.equals("LEAVING");
  }

  private static AdminClient connect(String node) throws IOException {
    AdminClient c = AdminClient.connect(node);
    c.readTimeoutMillis(POLL_TIMEOUT_MILLIS);
    return c;
  }

  private static String call(AdminClient c, String... args) throws IOException {
    Object reply = c.call(args);
    if (reply instanceof AdminClient.Error e) {
      throw new IOException(String.join(" ", args) + ": " + e.message());
    }
    return String.valueOf(reply);
  }

  /** "field:value" lines (CRLF or LF) to a map. */
  static Map<String, String> fields(String text) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String line : text.split("\r?\n")) {
      int colon = line.indexOf(':');
      if (colon > 0) {
        out.put(line.substring(0, colon), line.substring(colon + 1));
      }
    }
    return out;
  }

  /** Member id to HOST:PORT from CLUSTER NODES lines ("id host:port@peer flags ..."). */
  static Map<String, String> addresses(String nodes) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String line : nodes.split("\r?\n")) {
      String[] parts = line.trim().split(" ");
      if (parts.length >= 2 && parts[1].contains(":")) {
        int at = parts[1].indexOf('@');
        out.put(parts[0], at < 0 ? parts[1] : parts[1].substring(0, at));
      }
    }
    return out;
  }

  private static List<String> split(String list) {
    List<String> out = new ArrayList<>();
    for (String s : list.split(",")) {
      if (!s.isBlank()) {
        out.add(s.trim());
      }
    }
    return out;
  }

  private static long number(Map<String, String> f, String name) {
    try {
      return Long.parseLong(f.getOrDefault(name, "0"));
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
