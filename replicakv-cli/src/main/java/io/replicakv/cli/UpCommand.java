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
  static final long START_DEADLINE_MILLIS = 300_000;

  @Option(
      names = "--nodes",
      description = "number of nodes (default 1, or what the existing cluster has)")
  Integer nodes;

  @Option(
      names = "--port",
      description = "RESP port of the first node (default 6379); node i uses port + i - 1")
  Integer port;

  @Option(
      names = "--sites",
      description =
          "number of linked sites (default 1), each its own cluster and site (site-1, site-2,"
              + " ...), linked all-to-all for multi-leader keyspaces; with --nodes N each site has"
              + " N nodes (site-1-node-1, ...) and one metadata quorum")
  Integer sites;

  @Option(names = "--fsync", description = "always | interval | never (default interval)")
  String fsync = "interval";

  @Option(
      names = "--fault-proxy",
      description =
          "start a fault proxy between the nodes (one listener per ordered node pair) and route"
              + " every node's peer traffic through it (with --sites: every site link), for"
              + " 'replicakv fault cut|delay|drop|heal'")
  boolean faultProxy;

  @Option(
      names = "--small-jvms",
      description =
          "start each server JVM with the serial collector and the client compiler only"
              + " (-XX:+UseSerialGC -XX:TieredStopAtLevel=1): faster start and less CPU when many"
              + " nodes share a small machine, lower peak throughput; not for benchmarks")
  boolean smallJvms;

  /** JVM flags of {@code --small-jvms}. */
  static final List<String> SMALL_JVM_FLAGS =
      List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

  /** How long the fault proxy may take to bind its listeners and its control port. */
  static final long PROXY_START_DEADLINE_MILLIS = 60_000;

  @Override
  public Integer call() throws Exception {
    Files.createDirectories(LocalCluster.ROOT);
    int perSite = 1;
    if (sites != null && sites > 1) {
      perSite = nodes == null ? 1 : nodes;
      if (perSite < 1 || perSite > 9) {
        System.err.println("replicakv up: --nodes must be between 1 and 9");
        return 2;
      }
      if (perSite > 1 && faultProxy) {
        System.err.println(
            "replicakv up: --fault-proxy with sites of several nodes is not built (use --nodes 1)");
        return 2;
      }
      nodes = sites * perSite; // processes in all
    }
    java.util.Properties saved = new java.util.Properties();
    Path savedFile = LocalCluster.ROOT.resolve("cluster.properties");
    if (Files.isRegularFile(savedFile)) {
      try (var in = Files.newInputStream(savedFile)) {
        saved.load(in);
      }
      int savedNodes = Integer.parseInt(saved.getProperty("nodes"));
      int savedSites = Integer.parseInt(saved.getProperty("sites", "1"));
      if (sites != null && sites != savedSites) {
        System.err.println(
            "replicakv up: ./.replicakv holds "
                + savedSites
                + " site(s); run 'bin/replicakv down' and remove ./.replicakv to start a different one");
        return 2;
      }
      sites = savedSites;
      perSite = Integer.parseInt(saved.getProperty("nodes-per-site", "1"));
      int savedPort = Integer.parseInt(saved.getProperty("port"));
      faultProxy |= Boolean.parseBoolean(saved.getProperty("fault-proxy", "false"));
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
    if (sites == null) {
      sites = 1;
    }
    if (sites < 1 || sites > 9) {
      System.err.println("replicakv up: --sites must be between 1 and 9");
      return 2;
    }
    boolean siteMode = sites > 1;
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
    saved.setProperty("sites", sites.toString());
    saved.setProperty("nodes-per-site", Integer.toString(perSite));
    if (faultProxy && nodes < 2) {
      System.err.println("replicakv up: --fault-proxy needs --nodes 2 or more");
      return 2;
    }
    saved.setProperty("fault-proxy", Boolean.toString(faultProxy));
    try (var out = Files.newOutputStream(savedFile)) {
      saved.store(out, "the local cluster 'bin/replicakv up' manages");
    }
    StringBuilder voters = new StringBuilder();
    for (int i = 1; nodes > 1 && !siteMode && i <= nodes; i++) {
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
    java.util.Map<String, String> routes = java.util.Map.of();
    if (faultProxy) {
      routes = startProxy(siteMode ? "site-" : "node-", nodes, port);
      if (routes == null) {
        return 1;
      }
    }
    List<Object[]> started = new ArrayList<>();
    for (int i = 1; i <= nodes; i++) {
      int site = (i - 1) / perSite + 1;
      String name = !siteMode ? "node-" + i : siteNodeName(site, (i - 1) % perSite + 1, perSite);
      int resp = port + i - 1;
      int http = resp + 10000;
      if (!LocalCluster.portFree(resp) || !LocalCluster.portFree(http)) {
        System.err.println(
            "replicakv up: port " + resp + " or " + http + " is in use; pick another with --port");
        return 1;
      }
      Path folder = LocalCluster.nodeFolder(name).toAbsolutePath();
      Files.createDirectories(folder);
      List<String> cmd = javaCommand();
      if (smallJvms) {
        cmd.addAll(1, SMALL_JVM_FLAGS);
      }
      cmd.add("server");
      cmd.add("--port=" + resp);
      cmd.add("--http-port=" + http);
      cmd.add("--data-dir=" + folder.resolve("data"));
      cmd.add("--fsync=" + fsync);
      if (siteMode) {
        // its site's cluster (one voter per node of the site), linked to every other site's nodes
        cmd.add("--set=node-id=" + name);
        cmd.add("--set=cluster-voters=" + siteVoters(site, perSite, port));
        cmd.add("--set=site=site-" + site);
        // through the fault proxy: its ROUTES are "site-j=127.0.0.1:port,...", one listener per
        // outgoing link, which is the site-links form with '@' for '='
        cmd.add(
            "--set=site-links="
                + (routes.containsKey(name)
                    ? routes.get(name).replace('=', '@')
                    : siteLinks(sites, perSite, port, site)));
      } else if (nodes > 1) {
        cmd.add("--set=node-id=" + name);
        cmd.add("--set=cluster-voters=" + voters);
      }
      if (!siteMode && routes.containsKey(name)) {
        cmd.add("--set=peer-routes=" + routes.get(name));
      }
      Path config = folder.resolve("replicakv.yaml");
      if (Files.isRegularFile(config)) {
        cmd.add("--config=" + config);
      }
      File logFile = folder.resolve("server.log").toFile();
      Files.write(folder.resolve(LocalCluster.COMMAND_FILE), cmd);
      Process p = LocalCluster.launch(folder, cmd, logFile.toPath());
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
    for (int site = 1; siteMode && perSite > 1 && site <= sites; site++) {
      int first = port + (site - 1) * perSite;
      long deadline = System.currentTimeMillis() + START_DEADLINE_MILLIS;
      while (!LocalCluster.query(first, "CLUSTER INFO")
          .contains("cluster_known_nodes:" + perSite)) {
        if (System.currentTimeMillis() > deadline) {
          System.err.println(
              "replicakv up: the nodes of site-"
                  + site
                  + " did not form a cluster within "
                  + START_DEADLINE_MILLIS / 1000
                  + " s; see the server.log files under ./.replicakv");
          return 1;
        }
        Thread.sleep(200); // polling pace while the processes start
      }
    }
    if (nodes > 1 && !siteMode) {
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
    System.out.println(
        siteMode
            ? "ReplicaKV is up: "
                + sites
                + (perSite == 1
                    ? " linked one-node sites"
                    : " linked sites of " + perSite + " nodes")
                + " (all-to-all):"
            : "ReplicaKV is up:");
    for (LocalCluster.NodeInfo n : LocalCluster.nodes()) {
      print(n);
    }
    if (faultProxy) {
      System.out.println(
          "  fault proxy  pid "
              + LocalCluster.proxyPid()
              + "  control 127.0.0.1:"
              + Files.readString(LocalCluster.PROXY_FOLDER.resolve("control-port")).trim()
              + "  (bin/replicakv fault status | cut | delay | drop | heal)");
    }
    System.out.println(
        "try: redis-cli -p "
            + port
            + " ping"
            + (nodes > 1 && !siteMode
                ? "   (any node; redis-cli -c -p " + port + " for cluster routing)"
                : "")
            + "      stop: bin/replicakv down");
    return 0;
  }

  /** The {@code site-links} of site {@code self}: every other site's peer port (RESP + 20000). */
  static String siteLinks(int sites, int firstPort, int self) {
    return siteLinks(sites, 1, firstPort, self);
  }

  /**
   * The {@code site-links} of site {@code self} when every site has {@code perSite} nodes: each
   * other site with the peer ports of all its nodes ({@code site-j@127.0.0.1:p1|127.0.0.1:p2}).
   */
  static String siteLinks(int sites, int perSite, int firstPort, int self) {
    StringBuilder links = new StringBuilder();
    for (int j = 1; j <= sites; j++) {
      if (j != self) {
        links.append(links.isEmpty() ? "" : ",").append("site-").append(j).append('@');
        for (int k = 1; k <= perSite; k++) {
          links
              .append(k > 1 ? "|" : "")
              .append("127.0.0.1:")
              .append(firstPort + (j - 1) * perSite + k - 1 + 20000);
        }
      }
    }
    return links.toString();
  }

  /** Process name of node {@code node} of site {@code site}. */
  static String siteNodeName(int site, int node, int perSite) {
    return perSite == 1 ? "site-" + site : "site-" + site + "-node-" + node;
  }

  /**
   * The {@code cluster-voters} of site {@code site}: each of its nodes (metadata: RESP + 30000).
   */
  static String siteVoters(int site, int perSite, int firstPort) {
    StringBuilder voters = new StringBuilder();
    for (int k = 1; k <= perSite; k++) {
      voters
          .append(k > 1 ? "," : "")
          .append(siteNodeName(site, k, perSite))
          .append("@127.0.0.1:")
          .append(firstPort + (site - 1) * perSite + k - 1 + 30000);
    }
    return voters.toString();
  }

  /** The java launcher, JVM flags and class path this process runs with, then {@code Main}. */
  static List<String> javaCommand() {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("--enable-native-access=ALL-UNNAMED");
    if (Runtime.version().feature() >= 24) {
      cmd.add("--sun-misc-unsafe-memory-access=allow"); // Ratis, the metadata quorum
    }
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    return cmd;
  }

  /**
   * Starts the fault proxy for nodes {@code prefix}1..{@code prefix}{@code nodes} (peer ports
   * {@code port + 20000} onwards; "site-" for linked sites, whose links then name its listeners),
   * or reuses the one running, and returns each node's {@code peer-routes} value; null (after
   * saying why) when it does not come up.
   */
  private static java.util.Map<String, String> startProxy(String prefix, int nodes, int port)
      throws Exception {
    Path folder = LocalCluster.PROXY_FOLDER.toAbsolutePath();
    Files.createDirectories(folder);
    Path controlFile = folder.resolve("control-port");
    if (LocalCluster.proxyPid() < 0) {
      Files.deleteIfExists(controlFile);
      List<String> cmd = javaCommand();
      cmd.add("fault");
      cmd.add("proxy");
      for (int i = 1; i <= nodes; i++) {
        cmd.add("--target=" + prefix + i + "=" + (port + i - 1 + 20000));
      }
      cmd.add("--state-dir=" + folder);
      Process p = LocalCluster.launch(folder, cmd, folder.resolve("proxy.log"));
      long deadline = System.currentTimeMillis() + PROXY_START_DEADLINE_MILLIS;
      while (!Files.isRegularFile(controlFile)) {
        if (!p.isAlive() || System.currentTimeMillis() > deadline) {
          System.err.println(
              "replicakv up: the fault proxy did not start; see " + folder.resolve("proxy.log"));
          p.destroyForcibly();
          return null;
        }
        p.waitFor(100, java.util.concurrent.TimeUnit.MILLISECONDS);
      }
    }
    int controlPort = Integer.parseInt(Files.readString(controlFile).trim());
    String answer = io.replicakv.net.fault.FaultControl.send(controlPort, "ROUTES");
    if (!answer.startsWith("OK\n")) {
      System.err.println("replicakv up: the fault proxy answered ROUTES with " + answer.trim());
      return null;
    }
    java.util.Map<String, String> routes = new java.util.TreeMap<>();
    answer
        .substring(3)
        .lines()
        .map(l -> l.split(" ", 2))
        .filter(w -> w.length == 2)
        .forEach(w -> routes.put(w[0], w[1]));
    return routes;
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
