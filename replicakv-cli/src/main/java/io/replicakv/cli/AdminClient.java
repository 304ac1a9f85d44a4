package io.replicakv.cli;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A minimal RESP2 client for the admin commands of the CLI. */
final class AdminClient implements AutoCloseable {
  /** Largest reply element the CLI reads; admin replies are small. */
  static final int ELEMENT_MAX_BYTES = 64 << 20;

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  AdminClient(String host, int port) throws IOException {
    socket = new Socket();
    socket.connect(new InetSocketAddress(host, port), 2000);
    socket.setSoTimeout(30_000);
    in = new BufferedInputStream(socket.getInputStream());
    out = socket.getOutputStream();
  }

  /** Changes how long a reply may take before the call fails. */
  void readTimeoutMillis(int millis) throws IOException {
    socket.setSoTimeout(millis);
  }

  /** The node to talk to: --node HOST:PORT, else the first node of the local cluster. */
  static AdminClient connect(String node) throws IOException {
    if (node != null) {
      int colon = node.lastIndexOf(':');
      if (colon <= 0) {
        throw new IOException("--node expects HOST:PORT, got " + node);
      }
      return new AdminClient(node.substring(0, colon), Integer.parseInt(node.substring(colon + 1)));
    }
    List<LocalCluster.NodeInfo> nodes = LocalCluster.nodes();
    for (LocalCluster.NodeInfo n : nodes) {
      if (LocalCluster.alive(n.pid())) {
        return new AdminClient("127.0.0.1", n.port());
      }
    }
    throw new IOException(
        "no running local cluster in ./.replicakv; start one with 'bin/replicakv up' or name a node with --node HOST:PORT");
  }

  /** Sends a command; returns the reply as String, Long, List or an {@link Error}. */
  Object call(String... args) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(("*" + args.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
    for (String a : args) {
      byte[] bytes = a.getBytes(StandardCharsets.UTF_8);
      b.write(("$" + bytes.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
      b.write(bytes);
      b.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    out.write(b.toByteArray());
    out.flush();
    return read();
  }

  /** An error reply. */
  record Error(String message) {}

  private Object read() throws IOException {
    int type = in.read();
    String line = line();
    switch (type) {
      case '+' -> {
        return line;
      }
      case '-' -> {
        return new Error(line);
      }
      case ':' -> {
        return Long.parseLong(line);
      }
      case '$' -> {
        int len = Integer.parseInt(line);
        if (len < 0) {
          return null;
        }
        if (len > ELEMENT_MAX_BYTES) {
          throw new IOException("reply element of " + len + " bytes is too large");
        }
        byte[] data = in.readNBytes(len);
        in.readNBytes(2);
        return new String(data, StandardCharsets.UTF_8);
      }
      case '*' -> {
        int n = Integer.parseInt(line);
        if (n < 0) {
          return null;
        }
        List<Object> items = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          items.add(read());
        }
        return items;
      }
      case -1 -> throw new IOException("connection closed by the node");
      default -> throw new IOException("unexpected reply type '" + (char) type + "'");
    }
  }

  private String line() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) != -1) {
      if (c == '\r') {
        in.read();
        break;
      }
      b.write(c);
    }
    return b.toString(StandardCharsets.UTF_8);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
