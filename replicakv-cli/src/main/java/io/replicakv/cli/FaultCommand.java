package io.replicakv.cli;

import io.replicakv.net.fault.FaultControl;
import io.replicakv.net.fault.FaultNetwork;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code replicakv fault ...}: network faults between the nodes of a local cluster (through the
 * fault proxy that {@code up --fault-proxy} starts, or any {@code fault proxy} given with {@code
 * --control}) and process faults on its nodes (kill -9, SIGSTOP, SIGCONT, restart).
 */
@Command(
    name = "fault",
    mixinStandardHelpOptions = true,
    description = "Inject network and process faults into a local cluster (testing only).",
    subcommands = {
      FaultCommand.Proxy.class,
      FaultCommand.Cut.class,
      FaultCommand.Delay.class,
      FaultCommand.Drop.class,
      FaultCommand.Heal.class,
      FaultCommand.Status.class,
      FaultCommand.Kill.class,
      FaultCommand.Pause.class,
      FaultCommand.Resume.class,
      FaultCommand.Restart.class
    })
final class FaultCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  /** The {@code --control PORT} option of the network fault commands. */
  static final class ControlOption {
    @Option(
        names = "--control",
        paramLabel = "PORT",
        description =
            "control port of the fault proxy (default: the one 'up --fault-proxy' started here)")
    Integer port;

    int resolve() throws IOException {
      if (port != null) {
        return port;
      }
      Path file = LocalCluster.PROXY_FOLDER.resolve("control-port");
      if (LocalCluster.proxyPid() < 0 || !Files.isRegularFile(file)) {
        throw new IOException(
            "no fault proxy runs here: start the cluster with 'bin/replicakv up --nodes 3"
                + " --fault-proxy' or pass --control PORT");
      }
      return Integer.parseInt(Files.readString(file).trim());
    }
  }

  /** Sends one control line and prints the answer's body; 1 on ERR or when no proxy answers. */
  static int control(ControlOption option, String what, String line) {
    String answer;
    try {
      answer = FaultControl.send(option.resolve(), line);
    } catch (IOException e) {
      System.err.println("replicakv fault " + what + ": " + e.getMessage());
      return 1;
    }
    if (!answer.startsWith("OK\n")) {
      System.err.println(
          "replicakv fault " + what + ": " + answer.replaceFirst("^ERR ", "").trim());
      return 1;
    }
    System.out.print(answer.substring(3));
    return 0;
  }

  private static final Pattern DURATION = Pattern.compile("([0-9]+)\\s*(ms|s)?");

  /** Milliseconds of {@code 200ms}, {@code 2s} or {@code 200} (milliseconds). */
  static long millis(String text) {
    Matcher m = DURATION.matcher(text.trim());
    if (!m.matches()) {
      throw new picocli.CommandLine.TypeConversionException(
          "'" + text + "' is not a duration (examples: 200ms, 2s)");
    }
    long value = Long.parseLong(m.group(1));
    return "s".equals(m.group(2)) ? TimeUnit.SECONDS.toMillis(value) : value;
  }

  @Command(
      name = "proxy",
      mixinStandardHelpOptions = true,
      description =
          "Run a fault proxy in the foreground: one listener per ordered pair of the given nodes,"
              + " and a control port. Start each node with the peer-routes it prints.")
  static final class Proxy implements Callable<Integer> {
    @Option(
        names = "--target",
        paramLabel = "ID=PEER_PORT",
        required = true,
        description = "a node and its peer port on 127.0.0.1; give one per node (2 or more)")
    List<String> targets = new ArrayList<>();

    @Option(
        names = "--control-port",
        description = "control port on 127.0.0.1 (default 0: a free one, printed)")
    int controlPort;

    @Option(
        names = "--state-dir",
        description = "folder to write control-port into once the proxy listens")
    Path stateDir;

    @Option(names = "--seed", description = "seed of the jitter and loss draws (default 1)")
    long seed = 1;

    @Override
    public Integer call() throws Exception {
      Map<String, Integer> peerPorts = new LinkedHashMap<>();
      for (String t : targets) {
        int equals = t.indexOf('=');
        try {
          peerPorts.put(t.substring(0, equals), Integer.parseInt(t.substring(equals + 1)));
        } catch (RuntimeException e) {
          System.err.println("replicakv fault proxy: --target '" + t + "' is not ID=PEER_PORT");
          return 2;
        }
      }
      FaultNetwork network;
      try {
        network = FaultNetwork.start(peerPorts, seed);
      } catch (IllegalArgumentException e) {
        System.err.println("replicakv fault proxy: " + e.getMessage());
        return 2;
      }
      FaultControl control = FaultControl.start(network, controlPort);
      CountDownLatch stopped = new CountDownLatch(1);
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    control.close();
                    network.close();
                    stopped.countDown();
                  },
                  "fault-proxy-shutdown"));
      System.out.println("fault proxy control port 127.0.0.1:" + control.port());
      for (String id : network.nodes()) {
        System.out.println("  " + id + "  --set peer-routes=" + network.peerRoutes(id));
      }
      System.out.flush();
      if (stateDir != null) {
        Files.createDirectories(stateDir);
        Path temp = stateDir.resolve("control-port.tmp");
        Files.writeString(temp, control.port() + "\n");
        Files.move(
            temp,
            stateDir.resolve("control-port"),
            StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.ATOMIC_MOVE);
      }
      stopped.await(); // until SIGTERM or SIGINT
      return 0;
    }
  }

  /** The two nodes of a link and the direction option, shared by cut, delay and drop. */
  static final class Link {
    @Parameters(index = "0", paramLabel = "FROM", description = "node id (node-1, n1 or 1)")
    String from;

    @Parameters(index = "1", paramLabel = "TO", description = "node id")
    String to;

    @Option(names = "--one-way", description = "only the traffic FROM -> TO (default: both ways)")
    boolean oneWay;

    String line(String command, String... middle) {
      return command
          + " "
          + from
          + " "
          + to
          + (middle.length > 0 ? " " + String.join(" ", middle) : "")
          + (oneWay ? " ONE-WAY" : "");
    }
  }

  @Command(
      name = "cut",
      mixinStandardHelpOptions = true,
      description =
          "Partition two nodes: their peer traffic is held (connections stay open, requests time"
              + " out) until healed.")
  static final class Cut implements Callable<Integer> {
    @Mixin Link link = new Link();
    @Mixin ControlOption control = new ControlOption();

    @Override
    public Integer call() {
      return control(control, "cut", link.line("CUT"));
    }
  }

  @Command(
      name = "delay",
      mixinStandardHelpOptions = true,
      description = "Add latency between two nodes (0 removes it).")
  static final class Delay implements Callable<Integer> {
    @Mixin Link link = new Link();

    @Parameters(index = "2", paramLabel = "DELAY", description = "e.g. 200ms or 1s")
    String delay;

    @Option(names = "--jitter", description = "plus a uniform draw up to this, e.g. 50ms")
    String jitter = "0";

    @Mixin ControlOption control = new ControlOption();

    @Override
    public Integer call() {
      return control(control, "delay", link.line("DELAY", "" + millis(delay), "" + millis(jitter)));
    }
  }

  @Command(
      name = "drop",
      mixinStandardHelpOptions = true,
      description =
          "Lose each chunk of peer traffic between two nodes with this probability; a lost chunk"
              + " breaks its TCP connection (0 turns it off).")
  static final class Drop implements Callable<Integer> {
    @Mixin Link link = new Link();

    @Parameters(index = "2", paramLabel = "PROBABILITY", description = "0..1, e.g. 0.2")
    String probability;

    @Mixin ControlOption control = new ControlOption();

    @Override
    public Integer call() {
      return control(control, "drop", link.line("DROP", probability));
    }
  }

  @Command(
      name = "heal",
      mixinStandardHelpOptions = true,
      description = "Heal the link between two nodes, or every link.")
  static final class Heal implements Callable<Integer> {
    @Parameters(arity = "0..2", paramLabel = "NODE", description = "two nodes, or none for all")
    List<String> pair = new ArrayList<>();

    @Mixin ControlOption control = new ControlOption();

    @Override
    public Integer call() {
      if (pair.size() == 1) {
        System.err.println("replicakv fault heal: give two nodes, or none to heal every link");
        return 2;
      }
      return control(control, "heal", pair.isEmpty() ? "HEAL" : "HEAL " + String.join(" ", pair));
    }
  }

  @Command(
      name = "status",
      mixinStandardHelpOptions = true,
      description = "Every link's faults and connections, and whether each local node runs.")
  static final class Status implements Callable<Integer> {
    @Mixin ControlOption control = new ControlOption();

    @Override
    public Integer call() throws Exception {
      List<LocalCluster.NodeInfo> nodes = LocalCluster.nodes();
      for (LocalCluster.NodeInfo n : nodes) {
        String state =
            !LocalCluster.alive(n.pid())
                ? "not running"
                : ProcessFaults.paused(n.pid()) ? "paused (SIGSTOP)" : "running";
        System.out.println(n.name() + "  pid " + n.pid() + "  " + state);
      }
      boolean proxyKnown = control.port != null || LocalCluster.proxyPid() > 0;
      if (!proxyKnown) {
        if (nodes.isEmpty()) {
          System.err.println("replicakv fault status: no local cluster and no fault proxy here");
          return 1;
        }
        System.out.println("no fault proxy (start the cluster with 'up --fault-proxy')");
        return 0;
      }
      return control(control, "status", "STATUS");
    }
  }

  /** The local node a user names (node-2, n2 or 2). */
  static LocalCluster.NodeInfo localNode(String name) throws IOException {
    List<LocalCluster.NodeInfo> nodes = LocalCluster.nodes();
    String id =
        FaultNetwork.resolveNode(name, nodes.stream().map(LocalCluster.NodeInfo::name).toList());
    return nodes.stream().filter(n -> n.name().equals(id)).findFirst().orElseThrow();
  }

  /** Runs a process fault, printing what happened; 1 with the reason when it cannot. */
  private interface ProcessAction {
    String apply(LocalCluster.NodeInfo node) throws Exception;
  }

  static int onNode(String what, String name, ProcessAction action) {
    try {
      System.out.println(action.apply(localNode(name)));
      return 0;
    } catch (Exception e) {
      System.err.println("replicakv fault " + what + ": " + e.getMessage());
      return 1;
    }
  }

  @Command(name = "kill", mixinStandardHelpOptions = true, description = "kill -9 a local node.")
  static final class Kill implements Callable<Integer> {
    @Parameters(paramLabel = "NODE")
    String node;

    @Override
    public Integer call() {
      return onNode(
          "kill",
          node,
          n -> {
            ProcessFaults.kill9(n.pid());
            return "killed " + n.name() + " (pid " + n.pid() + ") with SIGKILL";
          });
    }
  }

  @Command(
      name = "pause",
      mixinStandardHelpOptions = true,
      description = "Freeze a local node with SIGSTOP (a stand-in for a long GC pause).")
  static final class Pause implements Callable<Integer> {
    @Parameters(paramLabel = "NODE")
    String node;

    @Override
    public Integer call() {
      return onNode(
          "pause",
          node,
          n -> {
            ProcessFaults.pause(n.pid());
            return "paused " + n.name() + " (pid " + n.pid() + "); 'fault resume' continues it";
          });
    }
  }

  @Command(
      name = "resume",
      mixinStandardHelpOptions = true,
      description = "Continue a paused local node with SIGCONT.")
  static final class Resume implements Callable<Integer> {
    @Parameters(paramLabel = "NODE")
    String node;

    @Override
    public Integer call() {
      return onNode(
          "resume",
          node,
          n -> {
            ProcessFaults.resume(n.pid());
            return "resumed " + n.name() + " (pid " + n.pid() + ")";
          });
    }
  }

  @Command(
      name = "restart",
      mixinStandardHelpOptions = true,
      description =
          "Stop a local node (SIGTERM, or SIGKILL with --kill) and start it again with the same"
              + " command line; waits until it answers PING.")
  static final class Restart implements Callable<Integer> {
    @Parameters(paramLabel = "NODE")
    String node;

    @Option(names = "--kill", description = "crash it with SIGKILL instead of a clean stop")
    boolean kill;

    @Override
    public Integer call() {
      return onNode(
          "restart",
          node,
          n -> {
            List<String> command = LocalCluster.savedCommand(n.folder());
            stop(n);
            Process p = LocalCluster.launch(n.folder(), command, n.folder().resolve("server.log"));
            long deadline = System.currentTimeMillis() + UpCommand.START_DEADLINE_MILLIS;
            while (!LocalCluster.answersPing(n.port())) {
              if (!p.isAlive()) {
                throw new IOException(
                    n.name() + " exited with " + p.exitValue() + "; see its server.log");
              }
              if (System.currentTimeMillis() > deadline) {
                throw new IOException(n.name() + " did not answer PING; see its server.log");
              }
              p.waitFor(100, TimeUnit.MILLISECONDS);
            }
            return "restarted " + n.name() + " (pid " + p.pid() + ")";
          });
    }

    private void stop(LocalCluster.NodeInfo n) throws Exception {
      if (!LocalCluster.alive(n.pid())) {
        return;
      }
      if (kill) {
        ProcessFaults.kill9(n.pid());
        return;
      }
      if (ProcessFaults.paused(n.pid())) {
        ProcessFaults.resume(n.pid());
      }
      ProcessHandle p = ProcessHandle.of(n.pid()).orElseThrow();
      p.destroy();
      try {
        p.onExit().get(DownCommand.STOP_DEADLINE_SECONDS, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        ProcessFaults.kill9(n.pid());
      }
    }
  }
}
