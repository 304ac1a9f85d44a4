package io.replicakv.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code replicakv cluster ...}: the cluster as a node sees it. */
@Command(
    name = "cluster",
    mixinStandardHelpOptions = true,
    description = "Cluster administration.",
    subcommands = {
      ClusterCommand.Status.class,
      ClusterCommand.Plan.class,
      ClusterCommand.Commit.class,
      ClusterCommand.Moves.class,
      ClusterCommand.Cancel.class,
      ReplicationAdminCommands.Failover.class,
      ReplicationAdminCommands.Drain.class,
      ReplicationAdminCommands.Divergent.class
    })
final class ClusterCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(
      name = "status",
      mixinStandardHelpOptions = true,
      description =
          "Members, their state and share of the ring, keyspaces and the metadata version.")
  static final class Status implements Callable<Integer> {
    @picocli.CommandLine.Mixin NodeOption target = new NodeOption();

    @Override
    public Integer call() throws Exception {
      try (AdminClient c = AdminClient.connect(target.node)) {
        Object reply = c.call("CLUSTER", "STATUS");
        if (reply instanceof AdminClient.Error e) {
          if (e.message().contains("cluster support disabled")) {
            Object info = c.call("INFO", "server");
            System.out.println("single node (no cluster configured)");
            System.out.print(info);
            return 0;
          }
          System.err.println("replicakv cluster status: " + e.message());
          return 1;
        }
        System.out.print(reply);
        return 0;
      }
    }
  }

  /** Sends one CLUSTER subcommand and prints the reply; 1 on an error reply. */
  static int clusterCall(String node, String what, String... args) throws Exception {
    try (AdminClient c = AdminClient.connect(node)) {
      Object reply = c.call(args);
      if (reply instanceof AdminClient.Error e) {
        System.err.println("replicakv cluster " + what + ": " + e.message());
        return 1;
      }
      String text = String.valueOf(reply);
      System.out.print(text.endsWith("\n") ? text : text + "\n");
      return 0;
    }
  }

  /** The CLUSTER arguments of a plan or commit: KIND ID, or REPLACE OLD NEW; null if malformed. */
  static String[] changeArguments(String verb, String kind, java.util.List<String> ids) {
    String k = kind.toUpperCase(java.util.Locale.ROOT);
    int expected = k.equals("REPLACE") ? 2 : 1;
    if (!(k.equals("JOIN") || k.equals("LEAVE") || k.equals("REPLACE")) || ids.size() != expected) {
      return null;
    }
    java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("CLUSTER", verb, k));
    args.addAll(ids);
    return args.toArray(String[]::new);
  }

  static final String CHANGE_USAGE = "join ID | leave ID | replace OLD NEW";

  @Command(
      name = "plan",
      mixinStandardHelpOptions = true,
      description =
          "Which slot ranges would move if node ID joined or left, or if NEW replaced OLD, between"
              + " which nodes, and how many keys each source holds in them.")
  static final class Plan implements Callable<Integer> {
    @picocli.CommandLine.Parameters(index = "0", paramLabel = "join|leave|replace")
    String kind;

    @picocli.CommandLine.Parameters(index = "1..*", arity = "1..2", paramLabel = "ID")
    java.util.List<String> ids;

    @picocli.CommandLine.Mixin NodeOption target = new NodeOption();

    @Override
    public Integer call() throws Exception {
      String[] args = changeArguments("PLAN", kind, ids);
      if (args == null) {
        System.err.println("replicakv cluster plan: " + CHANGE_USAGE);
        return 2;
      }
      return clusterCall(target.node, "plan", args);
    }
  }

  @Command(
      name = "commit",
      mixinStandardHelpOptions = true,
      description =
          "Carries out a planned change. join ID: a STAGED node (started with --set"
              + " join=HOST:PORT) takes over its share of the slots and keys; leave ID: the node's"
              + " slots and keys move to the others, then it is LEFT; replace OLD NEW: the STAGED"
              + " node NEW takes over exactly OLD's slots and keys, then OLD is LEFT.")
  static final class Commit implements Callable<Integer> {
    @picocli.CommandLine.Parameters(index = "0", paramLabel = "join|leave|replace")
    String kind;

    @picocli.CommandLine.Parameters(index = "1..*", arity = "1..2", paramLabel = "ID")
    java.util.List<String> ids;

    @picocli.CommandLine.Mixin NodeOption target = new NodeOption();

    @picocli.CommandLine.Option(
        names = "--no-wait",
        description = "return once the change is committed, without the progress bar")
    boolean noWait;

    @Override
    public Integer call() throws Exception {
      String[] args = changeArguments("COMMIT", kind, ids);
      if (args == null) {
        System.err.println("replicakv cluster commit: " + CHANGE_USAGE);
        return 2;
      }
      int committed = clusterCall(target.node, "commit", args);
      if (committed != 0 || noWait) {
        return committed;
      }
      // the member whose move runs: the joiner, the leaver, or the heir of a replacement
      String moving = ids.get(ids.size() - 1);
      return MoveWatch.watch(target.node, moving);
    }
  }

  @Command(
      name = "moves",
      mixinStandardHelpOptions = true,
      description =
          "Progress of key movement on one node: keys and bytes sent, remaining, received. With"
              + " --watch, a progress bar with an ETA for a joining or leaving member's move,"
              + " summed over every node that sends its keys, until the move ends.")
  static final class Moves implements Callable<Integer> {
    @picocli.CommandLine.Mixin NodeOption target = new NodeOption();

    @picocli.CommandLine.Option(
        names = "--watch",
        description = "draw a progress bar with an ETA until the move ends")
    boolean watch;

    @picocli.CommandLine.Option(
        names = "--member",
        paramLabel = "ID",
        description = "with --watch: the joining or leaving member (default: the one moving)")
    String member;

    @Override
    public Integer call() throws Exception {
      if (watch) {
        return MoveWatch.watch(target.node, member);
      }
      if (member != null) {
        System.err.println("replicakv cluster moves: --member needs --watch");
        return 2;
      }
      return clusterCall(target.node, "moves", "CLUSTER", "MOVESTATUS");
    }
  }

  @Command(
      name = "cancel",
      mixinStandardHelpOptions = true,
      description =
          "Stops a staged or running join (the joiner becomes LEFT) or leave (the node becomes UP"
              + " again); keys stay with their current owners. Refused once a source has handed"
              + " its slots over.")
  static final class Cancel implements Callable<Integer> {
    @picocli.CommandLine.Parameters(index = "0", paramLabel = "ID")
    String id;

    @picocli.CommandLine.Mixin NodeOption target = new NodeOption();

    @Override
    public Integer call() throws Exception {
      return clusterCall(target.node, "cancel", "CLUSTER", "CANCEL", id);
    }
  }
}
