package io.replicakv.server.conformance;

import io.replicakv.server.conformance.RespWireClient.Wire;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Runs one conformance script against a reference server (real redis-server) and ReplicaKV, step by
 * step and interleaved, so that both see the same commands within milliseconds of each other, and
 * collects every step whose replies differ.
 *
 * <p>Script language, one step per line; {@code #} starts a comment line. A step is a command with
 * whitespace-separated arguments; {@code "..."} quotes an argument (escapes {@code \" \\ \r \n
 * \xHH}); {@code ${now+N}} and {@code ${nowms+N}} expand to the current Unix time in seconds or
 * milliseconds plus N. Modifiers in front of the command change how the two replies are compared:
 *
 * <ul>
 *   <li>{@code @sorted}: elements of the top-level aggregate compared as a sorted list
 *   <li>{@code @pairs}: like sorted, but a flat RESP2 field/value array is sorted by pairs
 *   <li>{@code @near N}: both integers, at most N apart (TTLs, times)
 *   <li>{@code @shape}: the same structure (types and aggregate sizes), not the same values
 *   <li>{@code @type}: only the same top-level type
 *   <li>{@code @keys}: a map (or RESP2 flat array) holding every key the reference has (ReplicaKV
 *       may add its own, such as HELLO's {@code replicakv-version})
 *   <li>{@code @fields}: a bulk string of {@code name=value} words with the same names
 *   <li>{@code @within a,b,c}: an aggregate of the same size whose elements are all in the list
 *   <li>{@code @scan}: a SCAN/HSCAN/SSCAN iterated from cursor 0 to the end; the union compared as
 *       a set
 *   <li>{@code @until TEXT}: repeat the command on each server until its reply renders as TEXT
 *   <li>{@code @resp2}, {@code @resp3}: run the step only under that protocol
 *   <li>{@code @known}, {@code @known2}, {@code @known3}: a documented difference (under both or
 *       one protocol): reported, not counted as a failure
 * </ul>
 *
 * Directive lines: {@code @closed} checks that both servers closed the connection (after QUIT) and
 * reconnects; {@code @reconnect} opens fresh connections.
 */
final class DifferentialScript {
  /** Upper bound on SCAN round trips for one iteration; a cursor loop past it is a bug. */
  static final int SCAN_ROUNDS_MAX = 10_000;

  /** How long {@code @until} polls before it calls the step a mismatch. */
  static final long UNTIL_TIMEOUT_MILLIS = 5_000;

  static final long UNTIL_POLL_MILLIS = 5;

  /** One difference between the two servers. */
  record Mismatch(String where, String command, String reference, String replicaKv, boolean known) {
    @Override
    public String toString() {
      return (known ? "KNOWN " : "")
          + where
          + "  "
          + command
          + "\n    redis:     "
          + reference
          + "\n    replicakv: "
          + replicaKv;
    }
  }

  private final String name;
  private final List<String> lines;
  private final int protocol;
  private final int referencePort;
  private final int replicaKvPort;
  private final List<Mismatch> mismatches = new ArrayList<>();
  private int stepsCompared;
  private RespWireClient reference;
  private RespWireClient replicaKv;

  DifferentialScript(
      String name, List<String> lines, int protocol, int referencePort, int replicaKvPort) {
    this.name = name;
    this.lines = lines;
    this.protocol = protocol;
    this.referencePort = referencePort;
    this.replicaKvPort = replicaKvPort;
  }

  List<Mismatch> mismatches() {
    return mismatches;
  }

  int stepsCompared() {
    return stepsCompared;
  }

  /** Flushes both servers, then runs every line. */
  void run() throws IOException {
    try (RespWireClient a = new RespWireClient(referencePort);
        RespWireClient b = new RespWireClient(replicaKvPort)) {
      a.call("FLUSHALL");
      b.call("FLUSHALL");
    }
    connect("connect");
    try {
      for (int i = 0; i < lines.size(); i++) {
        String line = lines.get(i).strip();
        if (line.isEmpty() || line.startsWith("#")) {
          continue;
        }
        step(name + ":" + (i + 1) + " [RESP" + protocol + "]", line);
      }
    } finally {
      reference.close();
      replicaKv.close();
    }
  }

  private void connect(String where) throws IOException {
    reference = new RespWireClient(referencePort);
    replicaKv = new RespWireClient(replicaKvPort);
    if (protocol == 3) {
      compare(where, "HELLO 3", List.of("HELLO", "3"), Mode.KEYS, null, false);
    }
  }

  private enum Mode {
    EXACT,
    SORTED,
    PAIRS,
    NEAR,
    SHAPE,
    TYPE,
    KEYS,
    FIELDS,
    WITHIN,
    SCAN,
    UNTIL
  }

  private void step(String where, String line) throws IOException {
    List<String> tokens = tokenize(line);
    Mode mode = Mode.EXACT;
    String parameter = null;
    boolean known = false;
    int i = 0;
    for (; i < tokens.size() && tokens.get(i).startsWith("@"); i++) {
      String m = tokens.get(i);
      switch (m) {
        case "@sorted" -> mode = Mode.SORTED;
        case "@pairs" -> mode = Mode.PAIRS;
        case "@shape" -> mode = Mode.SHAPE;
        case "@type" -> mode = Mode.TYPE;
        case "@keys" -> mode = Mode.KEYS;
        case "@fields" -> mode = Mode.FIELDS;
        case "@scan" -> mode = Mode.SCAN;
        case "@near", "@within", "@until" -> {
          mode = Mode.valueOf(m.substring(1).toUpperCase(java.util.Locale.ROOT));
          parameter = tokens.get(++i);
        }
        case "@resp2", "@resp3" -> {
          if (protocol != m.charAt(5) - '0') {
            return;
          }
        }
        case "@known" -> known = true;
        case "@known2", "@known3" -> known |= protocol == m.charAt(6) - '0';
        case "@closed" -> {
          closed(where);
          return;
        }
        case "@reconnect" -> {
          reference.close();
          replicaKv.close();
          connect(where);
          return;
        }
        default -> throw new IllegalArgumentException(where + ": unknown modifier " + m);
      }
    }
    List<String> args = new ArrayList<>();
    for (String t : tokens.subList(i, tokens.size())) {
      args.add(expand(t));
    }
    compare(
        where, String.join(" ", tokens.subList(i, tokens.size())), args, mode, parameter, known);
  }

  private void closed(String where) throws IOException {
    boolean a = isClosed(reference);
    boolean b = isClosed(replicaKv);
    stepsCompared++;
    if (a != b) {
      mismatches.add(new Mismatch(where, "(connection closed?)", "" + a, "" + b, false));
    }
    reference.close();
    replicaKv.close();
    connect(where);
  }

  private static boolean isClosed(RespWireClient c) throws IOException {
    try {
      return c.closedByPeer();
    } catch (SocketException e) {
      return true; // reset by peer counts as closed
    } catch (java.net.SocketTimeoutException e) {
      return false;
    }
  }

  private void compare(
      String where, String shown, List<String> args, Mode mode, String parameter, boolean known)
      throws IOException {
    String a;
    String b;
    stepsCompared++;
    if (mode == Mode.SCAN) {
      a = scanAll(reference, args);
      b = scanAll(replicaKv, args);
    } else if (mode == Mode.UNTIL) {
      a = until(reference, args, parameter);
      b = until(replicaKv, args, parameter);
    } else {
      Wire x = call(reference, args);
      Wire y = call(replicaKv, args);
      if (same(x, y, mode, parameter)) {
        if (known) {
          System.out.println("note: " + where + " marked known but now equal: " + shown);
        }
        return;
      }
      a = x.render();
      b = y.render();
    }
    if (!a.equals(b)) {
      mismatches.add(new Mismatch(where, shown, a, b, known));
    }
  }

  private static Wire call(RespWireClient c, List<String> args) throws IOException {
    List<byte[]> bytes = new ArrayList<>();
    for (String s : args) {
      bytes.add(s.getBytes(StandardCharsets.ISO_8859_1));
    }
    try {
      return c.call(bytes);
    } catch (EOFException e) {
      return Wire.scalar('!', "connection closed");
    }
  }

  private static String until(RespWireClient c, List<String> args, String expected) {
    java.util.concurrent.atomic.AtomicReference<String> last =
        new java.util.concurrent.atomic.AtomicReference<>();
    try {
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofMillis(UNTIL_TIMEOUT_MILLIS))
          .pollInterval(java.time.Duration.ofMillis(UNTIL_POLL_MILLIS))
          .until(
              () -> {
                last.set(call(c, args).render());
                return last.get().equals(expected);
              });
      return expected;
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      return "never " + expected + ", last " + last.get();
    }
  }

  private static String scanAll(RespWireClient c, List<String> args) throws IOException {
    int cursorAt = Args.is(args.get(0), "SCAN") ? 1 : 2;
    boolean pairs = Args.is(args.get(0), "HSCAN");
    List<String> call = new ArrayList<>(args);
    Set<String> seen = new TreeSet<>();
    String cursor = "0";
    for (int round = 0; round < SCAN_ROUNDS_MAX; round++) {
      call.set(cursorAt, cursor);
      Wire w = call(c, call);
      if (w.type() != '*' || w.items() == null || w.items().size() != 2) {
        return w.render(); // an error or a malformed reply is compared as it is
      }
      cursor = w.items().get(0).text();
      List<Wire> found = w.items().get(1).items();
      if (found == null) {
        return "bad elements " + w.render();
      }
      for (int i = 0; i < found.size(); i += pairs ? 2 : 1) {
        seen.add(
            pairs
                ? found.get(i).render() + "=>" + found.get(i + 1).render()
                : found.get(i).render());
      }
      if ("0".equals(cursor)) {
        return "scan " + seen;
      }
    }
    return "cursor never returned to 0 after " + SCAN_ROUNDS_MAX + " rounds";
  }

  private static boolean same(Wire x, Wire y, Mode mode, String parameter) {
    return switch (mode) {
      case EXACT -> x.render().equals(y.render());
      case SORTED -> sorted(x, false).equals(sorted(y, false));
      case PAIRS -> sorted(x, true).equals(sorted(y, true));
      case NEAR -> near(x, y, Long.parseLong(parameter));
      case SHAPE -> shape(x).equals(shape(y));
      case TYPE -> x.type() == y.type();
      case KEYS -> x.type() == y.type() && keys(y).containsAll(keys(x));
      case FIELDS -> fields(x).equals(fields(y));
      case WITHIN -> within(x, y, Set.of(parameter.split(",")));
      case SCAN, UNTIL -> throw new IllegalStateException("compared as text");
    };
  }

  static String sorted(Wire w, boolean pairs) {
    if (!w.isAggregate() || w.items() == null) {
      return w.render();
    }
    List<String> parts = new ArrayList<>();
    int step = (pairs || w.type() == '%') ? 2 : 1;
    for (int i = 0; i + step - 1 < w.items().size(); i += step) {
      parts.add(
          step == 2
              ? w.items().get(i).render() + "=>" + w.items().get(i + 1).render()
              : w.items().get(i).render());
    }
    parts.sort(Comparator.naturalOrder());
    return w.type() + "" + w.items().size() + parts;
  }

  private static boolean near(Wire x, Wire y, long tolerance) {
    if (x.type() != ':' || y.type() != ':') {
      return x.render().equals(y.render());
    }
    return Math.abs(Long.parseLong(x.text()) - Long.parseLong(y.text())) <= tolerance;
  }

  static String shape(Wire w) {
    if (!w.isAggregate() || w.items() == null) {
      return w.isNull() ? "null" : String.valueOf(w.type());
    }
    StringBuilder b = new StringBuilder().append(w.type()).append(w.items().size()).append('[');
    for (Wire item : w.items()) {
      b.append(shape(item)).append(' ');
    }
    return b.append(']').toString();
  }

  private static Set<String> keys(Wire w) {
    Set<String> keys = new TreeSet<>();
    if (!w.isAggregate() || w.items() == null) {
      keys.add(w.render());
      return keys;
    }
    for (int i = 0; i < w.items().size(); i += 2) {
      keys.add(w.items().get(i).render());
    }
    return keys;
  }

  private static String fields(Wire w) {
    if (w.text() == null) {
      return w.render();
    }
    List<String> names = new ArrayList<>();
    String body = w.type() == '=' ? w.text().substring(4) : w.text();
    for (String word : body.strip().split("\\s+")) {
      int eq = word.indexOf('=');
      names.add(eq < 0 ? word : word.substring(0, eq));
    }
    return w.type() + names.toString();
  }

  private static boolean within(Wire x, Wire y, Set<String> allowed) {
    if (x.type() != y.type()) {
      return false;
    }
    if (!x.isAggregate() || x.items() == null || y.items() == null) {
      return x.isNull() == y.isNull() && (x.isNull() || allowedScalar(x, y, allowed));
    }
    if (x.items().size() != y.items().size()) {
      return false;
    }
    for (Wire w : y.items()) {
      if (w.text() == null || !allowed.contains(w.text())) {
        return false;
      }
    }
    return true;
  }

  private static boolean allowedScalar(Wire x, Wire y, Set<String> allowed) {
    return x.type() == '$' ? allowed.contains(y.text()) : x.render().equals(y.render());
  }

  private static String expand(String token) {
    int start = token.indexOf("${");
    if (start < 0) {
      return token;
    }
    int end = token.indexOf('}', start);
    String expr = token.substring(start + 2, end);
    long base;
    String rest;
    if (expr.startsWith("nowms")) {
      base = System.currentTimeMillis();
      rest = expr.substring(5);
    } else if (expr.startsWith("now")) {
      base = System.currentTimeMillis() / 1000;
      rest = expr.substring(3);
    } else {
      throw new IllegalArgumentException("unknown placeholder " + token);
    }
    long value = base + (rest.isEmpty() ? 0 : Long.parseLong(rest.replace("+", "")));
    return token.substring(0, start) + value + token.substring(end + 1);
  }

  static List<String> tokenize(String line) {
    List<String> out = new ArrayList<>();
    int i = 0;
    int n = line.length();
    while (i < n) {
      char c = line.charAt(i);
      if (Character.isWhitespace(c)) {
        i++;
        continue;
      }
      StringBuilder b = new StringBuilder();
      if (c == '"') {
        i++;
        while (i < n && line.charAt(i) != '"') {
          char d = line.charAt(i++);
          if (d == '\\' && i < n) {
            char e = line.charAt(i++);
            switch (e) {
              case 'r' -> b.append('\r');
              case 'n' -> b.append('\n');
              case 'x' -> {
                b.append((char) Integer.parseInt(line.substring(i, i + 2), 16));
                i += 2;
              }
              default -> b.append(e);
            }
          } else {
            b.append(d);
          }
        }
        if (i >= n) {
          throw new UncheckedIOException(new IOException("unterminated quote in: " + line));
        }
        i++;
      } else {
        while (i < n && !Character.isWhitespace(line.charAt(i))) {
          b.append(line.charAt(i++));
        }
      }
      out.add(b.toString());
    }
    return out;
  }

  /** Case-insensitive keyword check for script tokens. */
  private static final class Args {
    static boolean is(String token, String upper) {
      return token.equalsIgnoreCase(upper);
    }
  }
}
