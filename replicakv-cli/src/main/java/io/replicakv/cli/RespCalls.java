package io.replicakv.cli;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A minimal blocking RESP2 connection for the examples and benchmarks of this module: commands as
 * arrays of bulk strings; replies as {@code String} (simple strings and errors keep their {@code +}
 * or {@code -}, integers their {@code :}), bulk text, {@code null} or {@code List}.
 */
final class RespCalls implements AutoCloseable {
  /** How long one reply may take. */
  static final int READ_TIMEOUT_MILLIS = 120_000;

  private final Socket socket;
  private final OutputStream output;
  private final DataInputStream input;

  RespCalls(int port) {
    try {
      socket = new Socket("127.0.0.1", port);
      socket.setSoTimeout(READ_TIMEOUT_MILLIS);
      socket.setTcpNoDelay(true);
      output = socket.getOutputStream();
      input = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Sends one command and reads its reply. */
  Object call(String... args) {
    try {
      output.write(encode(args));
      return readReply(input);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** One command on a fresh connection after {@code SELECT keyspace}. */
  static Object once(int port, long keyspace, String... command) {
    try (RespCalls connection = new RespCalls(port)) {
      connection.call("SELECT", Long.toString(keyspace));
      return connection.call(command);
    }
  }

  private static byte[] encode(String... args) {
    StringBuilder b = new StringBuilder("*").append(args.length).append("\r\n");
    for (String arg : args) {
      byte[] bytes = arg.getBytes(StandardCharsets.UTF_8);
      b.append('$').append(bytes.length).append("\r\n").append(arg).append("\r\n");
    }
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static Object readReply(DataInputStream input) throws IOException {
    StringBuilder line = new StringBuilder();
    int c;
    while ((c = input.read()) != '\n') {
      if (c < 0) {
        throw new EOFException("connection closed");
      }
      if (c != '\r') {
        line.append((char) c);
      }
    }
    String rest = line.substring(1);
    return switch (line.charAt(0)) {
      case '+', '-', ':' -> line.toString();
      case '$' -> {
        int length = Integer.parseInt(rest);
        if (length < 0) {
          yield null;
        }
        byte[] data = new byte[length + 2];
        input.readFully(data);
        yield new String(data, 0, length, StandardCharsets.UTF_8);
      }
      case '*' -> {
        int count = Integer.parseInt(rest);
        List<Object> items = new ArrayList<>();
        for (int i = 0; i < count; i++) {
          items.add(readReply(input));
        }
        yield count < 0 ? null : items;
      }
      default -> throw new IOException("unexpected reply " + line);
    };
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
