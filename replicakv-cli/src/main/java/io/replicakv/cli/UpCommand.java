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
  static final long START_DEADLINE_MILLIS = 180_000;

  @Option(
      names = "--nodes",
      description = "number of nodes (default 1, or what the existing cluster has)")
  Integer nodes;

  @Option(
      names = "--port",
      description = "RESP port of the first node (default 6379); node i uses port + i - 1")
  Integer port;

  @Option(names = "--fsync", description = "always | interval | never (default interval)")
  String fsync = "interval";

  @Override
  public Integer call() throws Exception {
    Files.createDirectories(LocalCluster.ROOT);
    java.util.Properties saved = new java.util.Properties();
    Path savedFile = LocalCluster.ROOT.resolve("cluster.properties");
    if (Files.isRegularFile(savedFile)) {
      try (var in = Files.newInputStream(savedFile)) {
        saved.load(in);
      }
      int savedNodes = Integer.parseInt(saved.getProperty("nodes"));
      int savedPort = Integer.parseInt(saved.getProperty("port"));
      if ((nodes != null && nodes != savedNodes) || (port != null && port != savedPort)) {
        System.err.println(
            "replicakv up: ./.replicakv holds a cluster of "
                + savedNodes
                + " node(s) from port "
                + savedPort
                + "; run 'bin/replicakv down' and remove ./.replicakv to start a different one");
        return 2;
      }
      nodes = savedNodes;
      port = savedPort;
    }
    if (nodes == null) {
      nodes = 1;
    }
    if (port == null) {
      port = 6379;
    }
    if (nodes < 1 || nodes > 9) {
      System.err.println("replicakv up: --nodes must be between 1 and 9");
      return 2;
    }
    saved.setProperty("nodes", nodes.toString());
    saved.setProperty("port", port.toString());
    try (var out = Files.newOutputStream(savedFile)) {
      saved.store(out, "the local cluster 'bin/replicakv up' manages");
    }
    StringBuilder voters = new StringBuilder();
    for (int i = 1; nodes > 1 && i <= nodes; i++) {
      voters
          .append(i > 1 ? "," : "")
          .append("node-")
          .append(i)
          .append("@127.0.0.1:")
          .append(port + i - 1 + 30000);
    }
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
    List<Object[]> started = new ArrayList<>();
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
      if (Runtime.version().feature() >= 24) {
        cmd.add("--sun-misc-unsafe-memory-access=allow"); // Ratis, the metadata quorum
      }
      cmd.add("-cp");
      cmd.add(System.getProperty("java.class.path"));
      cmd.add(Main.class.getName());
      cmd.add("server");
      cmd.add("--port=" + resp);
      cmd.add("--http-port=" + http);
      cmd.add("--data-dir=" + folder.resolve("data"));
      cmd.add("--fsync=" + fsync);
      if (nodes > 1) {
        cmd.add("--set=node-id=" + name);
        cmd.add("--set=cluster-voters=" + voters);
      }
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
      started.add(new Object[] {name, p, resp, logFile});
    }
    for (Object[] entry : started) {
      String name = (String) entry[0];
      Process p = (Process) entry[1];
      int resp = (Integer) entry[2];
      File logFile = (File) entry[3];
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
    if (nodes > 1) {
      long deadline = System.currentTimeMillis() + START_DEADLINE_MILLIS;
      while (!LocalCluster.query(port, "CLUSTER INFO").contains("cluster_known_nodes:" + nodes)) {
        if (System.currentTimeMillis() > deadline) {
          System.err.println(
              "replicakv up: the nodes did not form a cluster within "
                  + START_DEADLINE_MILLIS / 1000
                  + " s; see the server.log files under ./.replicakv");
          return 1;
        }
        Thread.sleep(200); // polling pace while the processes start
      }
    }
    System.out.println("ReplicaKV is up:");
    for (LocalCluster.NodeInfo n : LocalCluster.nodes()) {
      print(n);
    }
    System.out.println(
        "try: redis-cli -p "
            + port
            + " ping"
            + (nodes > 1 ? "   (any node; redis-cli -c -p " + port + " for cluster routing)" : "")
            + "      stop: bin/replicakv down");
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
            + "/dashboard"
            + "  data "
            + n.folder().resolve("data")
            + "  log "
            + n.folder().resolve("server.log"));
  }
}
