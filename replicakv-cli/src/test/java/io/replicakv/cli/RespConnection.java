package io.replicakv.cli;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A deliberately small blocking RESP2 client for tests: it can send exactly the bytes a test wants
 * (valid, truncated, oversized or random), read one reply at a time, and tell whether the server
 * closed the connection. Real clients would hide all three.
 *
 * <p>Replies map to Java values: simple string and bulk string to {@link String}, integer to {@link
 * Long}, error to {@link Error}, array to {@link List}, nil to {@code null}.
 */
final class RespConnection implements AutoCloseable {
  /** How long one reply may take before the test fails rather than hangs. */
  static final int READ_TIMEOUT_MILLIS = 10_000;

  /** An error reply ({@code -ERR ...}), kept apart from strings so tests cannot confuse them. */
  record Error(String message) {}

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  RespConnection(int port) throws IOException {
    socket = new Socket();
    socket.connect(new InetSocketAddress("127.0.0.1", port), READ_TIMEOUT_MILLIS);
    socket.setSoTimeout(READ_TIMEOUT_MILLIS);
    socket.setTcpNoDelay(true);
    in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
    out = socket.getOutputStream();
  }

  /** Encodes {@code args} as a RESP array of bulk strings. */
  static byte[] encode(String... args) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(("*" + args.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
    for (String a : args) {
      byte[] bytes = a.getBytes(StandardCharsets.UTF_8);
      b.writeBytes(("$" + bytes.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
      b.writeBytes(bytes);
      b.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    return b.toByteArray();
  }

  /** Sends one command and reads its reply. */
  Object call(String... args) throws IOException {
    send(encode(args));
    return read();
  }

  void send(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  void send(String ascii) throws IOException {
    send(ascii.getBytes(StandardCharsets.US_ASCII));
  }

  /** Reads one reply; throws {@link EOFException} when the server closed the connection. */
  Object read() throws IOException {
    String line = readLine();
    char type = line.charAt(0);
    String rest = line.substring(1);
    return switch (type) {
      case '+' -> rest;
      case '-' -> new Error(rest);
      case ':' -> Long.parseLong(rest);
      case '$' -> readBulk(Integer.parseInt(rest));
      case '*' -> {
        int n = Integer.parseInt(rest);
        if (n < 0) {
          yield null;
        }
        List<Object> items = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          items.add(read());
        }
        yield items;
      }
      default -> throw new IOException("unexpected reply line: " + line);
    };
  }

  private String readBulk(int length) throws IOException {
    if (length < 0) {
      return null;
    }
    byte[] data = in.readNBytes(length + 2);
    if (data.length < length + 2) {
      throw new EOFException("connection closed inside a bulk reply");
    }
    return new String(data, 0, length, StandardCharsets.UTF_8);
  }

  private String readLine() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    while (true) {
      int c = in.read();
      if (c < 0) {
        throw new EOFException("connection closed by the server");
      }
      if (c == '\r') {
        int lf = in.read();
        if (lf != '\n') {
          throw new IOException("CR without LF in reply");
        }
        return b.toString(StandardCharsets.UTF_8);
      }
      b.write(c);
    }
  }

  /**
   * True when the server closed the connection within {@code timeoutMillis} (end of stream or a
   * reset), after any bytes still in flight; false when it is still open at the deadline.
   */
  boolean closedByServer(int timeoutMillis) throws IOException {
    socket.setSoTimeout(timeoutMillis);
    try {
      byte[] sink = new byte[8192];
      while (true) {
        if (in.read(sink) < 0) {
          return true;
        }
      }
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true; // connection reset: closed as well
    } finally {
      if (!socket.isClosed()) {
        socket.setSoTimeout(READ_TIMEOUT_MILLIS);
      }
    }
  }

  /** Shrinks the receive buffer, so unread replies pile up on the server side quickly. */
  void setReceiveBufferBytes(int bytes) throws IOException {
    socket.setReceiveBufferSize(bytes);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
