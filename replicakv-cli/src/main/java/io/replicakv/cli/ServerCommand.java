package io.replicakv.cli;

import io.replicakv.server.ReplicaKvServer;
import io.replicakv.server.config.ConfigException;
import io.replicakv.server.config.ServerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code replicakv server}: runs one node in the foreground until SIGTERM or SIGINT. */
@Command(
    name = "server",
    mixinStandardHelpOptions = true,
    description = "Start a node in the foreground. Flags override the config file.")
final class ServerCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(ServerCommand.class);
  static volatile boolean running;

  @Option(names = "--config", paramLabel = "FILE", description = "YAML config file")
  Path configFile;

  @Option(names = "--port", description = "RESP port (default 6379)")
  Integer port;

  @Option(names = "--http-port", description = "HTTP port (default: port + 10000)")
  Integer httpPort;

  @Option(names = "--bind", description = "listen address (default 127.0.0.1)")
  String bind;

  @Option(names = "--data-dir", paramLabel = "DIR", description = "data folder (default ./data)")
  Path dataDir;

  @Option(names = "--fsync", description = "always | interval | never")
  String fsync;

  @Option(
      names = {"--set", "-c"},
      paramLabel = "KEY=VALUE",
      description = "any setting, repeatable")
  List<String> settings = List.of();

  @Override
  public Integer call() throws Exception {
    Map<String, String> overrides = new LinkedHashMap<>();
    for (String kv : settings) {
      int eq = kv.indexOf('=');
      if (eq <= 0) {
        System.err.println("replicakv: --set expects KEY=VALUE, got '" + kv + "'");
        return 2;
      }
      overrides.put(kv.substring(0, eq).trim(), kv.substring(eq + 1));
    }
    if (port != null) {
      overrides.put("port", port.toString());
    }
    if (httpPort != null) {
      overrides.put("http-port", httpPort.toString());
    }
    if (bind != null) {
      overrides.put("bind", bind);
    }
    if (dataDir != null) {
      overrides.put("data-dir", dataDir.toString());
    }
    if (fsync != null) {
      overrides.put("fsync", fsync);
    }
    if (configFile != null && !Files.isRegularFile(configFile)) {
      System.err.println("replicakv: config file " + configFile + " does not exist");
      return 2;
    }
    ServerConfig config;
    try {
      config = ServerConfig.load(configFile, overrides);
    } catch (ConfigException e) {
      System.err.println("replicakv: bad configuration: " + e.getMessage());
      return 2;
    }
    io.replicakv.server.Logging.setLevel(config.get("loglevel"));
    ReplicaKvServer server = new ReplicaKvServer(config);
    try {
      server.start();
    } catch (Exception e) {
      log.error("cannot start: {}", e.getMessage());
      server.close();
      return 1;
    }
    running = true;
    Runnable stop =
        () -> {
          server.close();
          Runtime.getRuntime().halt(0);
        };
    server.onShutdownCommand(stop);
    // SIGTERM and SIGINT: stop accepting, finish what was read, sync the log, exit 0.
    for (String signal : new String[] {"TERM", "INT"}) {
      sun.misc.Signal.handle(
          new sun.misc.Signal(signal), sig -> new Thread(stop, "replicakv-shutdown").start());
    }
    return 0;
  }
}
