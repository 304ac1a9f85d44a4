package io.replicakv.server.conformance;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A deliberately small RESP2/RESP3 client for differential tests: it writes one command as a RESP
 * array of bulk strings and reads one reply into a {@link Wire} tree that renders to a canonical
 * text. It shares no code with the server's codec, so a codec bug cannot hide itself by being on
 * both sides of the comparison.
 *
 * <p>Canonical texts: {@code +OK}, {@code -ERR ...}, {@code :5}, {@code $3:foo}, {@code $-1} (RESP2
 * null bulk), {@code *-1} (RESP2 null array), {@code _} (RESP3 null), {@code *2[a, b]}, {@code
 * %1{k=>v}}, {@code ~2{a, b}}, {@code #t}, {@code ,1.5}, {@code (123}, {@code =txt:...}, {@code
 * >2[...]}. Attributes ({@code |}) are read and dropped, as clients do when they do not ask for
 * them.
 */
final class RespWireClient implements AutoCloseable {
  /** A reply that has not come within this long is a hung server, not a slow one. */
  static final int READ_TIMEOUT_MILLIS = 10_000;

  static final int CONNECT_TIMEOUT_MILLIS = 5_000;

  /** Largest bulk string or aggregate this client accepts; the tests never come close. */
  static final int BULK_MAX_BYTES = 64 * 1024 * 1024;

  static final int AGGREGATE_MAX_ELEMENTS = 1_000_000;

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  RespWireClient(int port) throws IOException {
    socket = new Socket();
    socket.connect(new InetSocketAddress("127.0.0.1", port), CONNECT_TIMEOUT_MILLIS);
    socket.setSoTimeout(READ_TIMEOUT_MILLIS);
    socket.setTcpNoDelay(true);
    in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
    out = socket.getOutputStream();
  }

  /** One reply element; {@code text} is null for the null forms, {@code items} for aggregates. */
  record Wire(char type, String text, List<Wire> items) {
    static Wire scalar(char type, String text) {
      return new Wire(type, text, List.of());
    }

    boolean isAggregate() {
      return type == '*' || type == '%' || type == '~' || type == '>';
    }

    boolean isNull() {
      return type == '_' || ((type == '$' || type == '*') && text == null && items == null);
    }

    boolean isError() {
      return type == '-';
    }

    String render() {
      return switch (type) {
        case '$' -> text == null ? "$-1" : "$" + text.length() + ":" + escape(text);
        case '*', '>' -> items == null ? type + "-1" : type + "" + items.size() + list(items);
        case '~' -> "~" + items.size() + "{" + join(items) + "}";
        case '%' -> "%" + (items.size() / 2) + "{" + pairs(items) + "}";
        case '_' -> "_";
        default -> type + escape(text);
      };
    }

    private static String list(List<Wire> items) {
      return "[" + join(items) + "]";
    }

    private static String join(List<Wire> items) {
      StringBuilder b = new StringBuilder();
      for (Wire w : items) {
        if (!b.isEmpty()) {
          b.append(", ");
        }
        b.append(w.render());
      }
      return b.toString();
    }

    private static String pairs(List<Wire> items) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i + 1 < items.size(); i += 2) {
        if (!b.isEmpty()) {
          b.append(", ");
        }
        b.append(items.get(i).render()).append("=>").append(items.get(i + 1).render());
      }
      return b.toString();
    }

    private static String escape(String s) {
      return s.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n");
    }
  }

  /** Sends one command and reads its reply. */
  Wire call(List<byte[]> args) throws IOException {
    send(args);
    return read();
  }

  Wire call(String... args) throws IOException {
    List<byte[]> bytes = new ArrayList<>();
    for (String a : args) {
      bytes.add(a.getBytes(StandardCharsets.UTF_8));
    }
    return call(bytes);
  }

  void send(List<byte[]> args) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(("*" + args.size() + "\r\n").getBytes(StandardCharsets.US_ASCII));
    for (byte[] a : args) {
      b.writeBytes(("$" + a.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
      b.writeBytes(a);
      b.writeBytes(new byte[] {'\r', '\n'});
    }
    out.write(b.toByteArray());
    out.flush();
  }

  /** True when the server has closed the connection (QUIT): the next read sees end of stream. */
  boolean closedByPeer() throws IOException {
    return in.read() < 0;
  }

  Wire read() throws IOException {
    int type = in.read();
    if (type < 0) {
      throw new EOFException("connection closed before a reply");
    }
    String line = readLine();
    return switch (type) {
      case '+', '-', ':', ',', '(' -> Wire.scalar((char) type, line);
      case '#' -> Wire.scalar('#', line);
      case '_' -> Wire.scalar('_', null);
      case '$', '=', '!' -> readBulk((char) type, Integer.parseInt(line));
      case '*', '~', '>' -> readAggregate((char) type, Integer.parseInt(line), 1);
      case '%' -> readAggregate('%', Integer.parseInt(line), 2);
      case '|' -> {
        readAggregate('%', Integer.parseInt(line), 2); // attributes carry nothing we compare
        yield read();
      }
      default -> throw new IOException("unknown RESP type byte " + type + " line " + line);
    };
  }

  private Wire readBulk(char type, int length) throws IOException {
    if (length < 0) {
      return new Wire('$', null, null);
    }
    if (length > BULK_MAX_BYTES) {
      throw new IOException("bulk of " + length + " bytes is past the test limit");
    }
    byte[] data = in.readNBytes(length);
    if (data.length != length || in.read() != '\r' || in.read() != '\n') {
      throw new IOException("bulk string not terminated by CRLF");
    }
    String text = new String(data, StandardCharsets.ISO_8859_1);
    return Wire.scalar(type == '!' ? '-' : type, text);
  }

  private Wire readAggregate(char type, int count, int perEntry) throws IOException {
    if (count < 0) {
      return new Wire(type, null, null);
    }
    if ((long) count * perEntry > AGGREGATE_MAX_ELEMENTS) {
      throw new IOException("aggregate of " + count + " entries is past the test limit");
    }
    List<Wire> items = new ArrayList<>(count * perEntry);
    for (int i = 0; i < count * perEntry; i++) {
      items.add(read());
    }
    return new Wire(type, null, items);
  }

  private String readLine() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    while (true) {
      int c = in.read();
      if (c < 0) {
        throw new EOFException("connection closed inside a reply line");
      }
      if (c == '\r') {
        if (in.read() != '\n') {
          throw new IOException("CR not followed by LF");
        }
        return b.toString(StandardCharsets.ISO_8859_1);
      }
      b.write(c);
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
