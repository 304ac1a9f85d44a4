package io.replicakv.cli;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code replicakv up}: starts the local cluster in the background and prints its endpoints. */
@Command(
    name = "up",
    mixinStandardHelpOptions = true,
    description =
        "Start the local cluster in the background (folders under ./.replicakv) and print its endpoints.")
final class UpCommand implements Callable<Integer> {
  /** How long a node may take to answer PING after it was started. */
  static final long START_DEADLINE_MILLIS = 60_000;

  @Option(
      names = "--nodes",
      description = "number of nodes (default 1; clusters arrive with membership)")
  int nodes = 1;

  @Option(
      names = "--port",
      description = "RESP port of the first node (default 6379); node i uses port + i - 1")
  int port = 6379;

  @Option(names = "--fsync", description = "always | interval | never (default interval)")
  String fsync = "interval";

  @Override
  public Integer call() throws Exception {
    if (nodes != 1) {
      System.err.println(
          "replicakv up: only --nodes 1 exists in this version (multi-node clusters come with membership)");
      return 2;
    }
    Files.createDirectories(LocalCluster.ROOT);
    List<LocalCluster.NodeInfo> running = new ArrayList<>();
    for (LocalCluster.NodeInfo n : LocalCluster.nodes()) {
      if (LocalCluster.alive(n.pid())) {
        running.add(n);
      }
    }
    if (!running.isEmpty()) {
      System.out.println("already running:");
      running.forEach(UpCommand::print);
      return 0;
    }
    for (int i = 1; i <= nodes; i++) {
      String name = "node-" + i;
      int resp = port + i - 1;
      int http = resp + 10000;
      if (!LocalCluster.portFree(resp) || !LocalCluster.portFree(http)) {
        System.err.println(
            "replicakv up: port " + resp + " or " + http + " is in use; pick another with --port");
        return 1;
      }
      Path folder = LocalCluster.nodeFolder(name).toAbsolutePath();
      Files.createDirectories(folder);
      List<String> cmd = new ArrayList<>();
      cmd.add(ProcessHandle.current().info().command().orElse("java"));
      cmd.add("--enable-native-access=ALL-UNNAMED");
      cmd.add("-cp");
      cmd.add(System.getProperty("java.class.path"));
      cmd.add(Main.class.getName());
      cmd.add("server");
      cmd.add("--port=" + resp);
      cmd.add("--http-port=" + http);
      cmd.add("--data-dir=" + folder.resolve("data"));
      cmd.add("--fsync=" + fsync);
      Path config = folder.resolve("replicakv.yaml");
      if (Files.isRegularFile(config)) {
        cmd.add("--config=" + config);
      }
      File logFile = folder.resolve("server.log").toFile();
      Process p =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile))
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .start();
      Files.writeString(folder.resolve("pid"), p.pid() + "\n");
      Files.writeString(folder.resolve("ports"), resp + " " + http + "\n");
      long deadline = System.currentTimeMillis() + START_DEADLINE_MILLIS;
      while (!LocalCluster.answersPing(resp)) {
        if (!p.isAlive()) {
          System.err.println(
              "replicakv up: " + name + " exited with " + p.exitValue() + "; see " + logFile);
          return 1;
        }
        if (System.currentTimeMillis() > deadline) {
          System.err.println(
              "replicakv up: "
                  + name
                  + " did not answer within "
                  + START_DEADLINE_MILLIS / 1000
                  + " s; see "
                  + logFile);
          return 1;
        }
        p.waitFor(100, java.util.concurrent.TimeUnit.MILLISECONDS);
      }
    }
    System.out.println("ReplicaKV is up:");
    for (LocalCluster.NodeInfo n : LocalCluster.nodes()) {
      print(n);
    }
    System.out.println("try: redis-cli -p " + port + " ping      stop: bin/replicakv down");
    return 0;
  }

  static void print(LocalCluster.NodeInfo n) {
    System.out.println(
        "  "
            + n.name()
            + "  pid "
            + n.pid()
            + "  redis://127.0.0.1:"
            + n.port()
            + "  http://127.0.0.1:"
            + n.httpPort()
            + "/metrics"
            + "  data "
            + n.folder().resolve("data")
            + "  log "
            + n.folder().resolve("server.log"));
  }
}
