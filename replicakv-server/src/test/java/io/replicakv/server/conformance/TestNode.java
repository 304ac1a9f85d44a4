package io.replicakv.server.conformance;

import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.config.ServerConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** Starts an in-process ReplicaKV node on loopback with dynamic ports, for client tests. */
final class TestNode {
  private TestNode() {}

  static ReplicaKvServer start(Path dataDirectory) throws IOException {
    ServerConfig config =
        ServerConfig.load(
            null,
            Map.of(
                "port", "0",
                "http-port", "0",
                "bind", "127.0.0.1",
                "data-dir", dataDirectory.toString()));
    return new ReplicaKvServer(config).start();
  }
}
