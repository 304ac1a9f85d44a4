package io.replicakv.client;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;

/**
 * A scripted RESP server on 127.0.0.1 (dynamic port) for the client's unit tests: parses each
 * command, records it, and answers with the raw RESP the script returns. Stopped by the test.
 */
final class FakeNode implements AutoCloseable {
  private final ServerSocket socket;
  private final Function<List<String>, String> script;
  final List<List<String>> received = Collections.synchronizedList(new ArrayList<>());
  private final Thread acceptor;
  private final List<Socket> clients = Collections.synchronizedList(new ArrayList<>());

  FakeNode(Function<List<String>, String> script) throws IOException {
    this.socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.script = script;
    this.acceptor = new Thread(this::accept, "fake-node-" + socket.getLocalPort());
    acceptor.setDaemon(true);
    acceptor.start();
  }

  int port() {
    return socket.getLocalPort();
  }

  static String bulk(String text) {
    return "$" + text.getBytes(StandardCharsets.UTF_8).length + "\r\n" + text + "\r\n";
  }

  private void accept() {
    while (!socket.isClosed()) {
      try {
        Socket client = socket.accept();
        clients.add(client);
        Thread t = new Thread(() -> serve(client), "fake-node-client");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket client) {
    try (client) {
      InputStream in = new BufferedInputStream(client.getInputStream());
      OutputStream out = client.getOutputStream();
      while (true) {
        List<String> command = readCommand(in);
        if (command == null) {
          return;
        }
        received.add(command);
        out.write(script.apply(command).getBytes(StandardCharsets.UTF_8));
        out.flush();
      }
    } catch (IOException e) {
      // client went away
    }
  }

  private static List<String> readCommand(InputStream in) throws IOException {
    String header = line(in);
    if (header == null) {
      return null;
    }
    int count = Integer.parseInt(header.substring(1));
    List<String> args = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int length = Integer.parseInt(line(in).substring(1));
      byte[] data = in.readNBytes(length + 2);
      args.add(new String(data, 0, length, StandardCharsets.UTF_8));
    }
    return args;
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    int c;
    while ((c = in.read()) != -1) {
      if (c == '\r') {
        in.read();
        return b.toString();
      }
      b.append((char) c);
    }
    return null;
  }

  @Override
  public void close() throws IOException {
    socket.close();
    synchronized (clients) {
      for (Socket c : clients) {
        c.close();
      }
    }
  }
}
