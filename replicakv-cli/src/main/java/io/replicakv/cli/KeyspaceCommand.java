package io.replicakv.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code replicakv keyspace ...}: create, alter, drop and list keyspaces. */
@Command(
    name = "keyspace",
    mixinStandardHelpOptions = true,
    description = "Keyspace administration.",
    subcommands = {
      KeyspaceCommand.Create.class,
      KeyspaceCommand.Alter.class,
      KeyspaceCommand.Drop.class,
      KeyspaceCommand.ListKeyspaces.class,
      KeyspaceCommand.Repair.class
    })
final class KeyspaceCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  /** Replication options shared by create and alter. */
  static class ReplicationOptions {
    @picocli.CommandLine.Mixin NodeOption target = new NodeOption();

    @Option(names = "--replicas", description = "N, copies of each partition")
    Integer replicas;

    @Option(names = "--acks", description = "single-leader: all | K | none")
    String acks;

    @Option(names = "--r", description = "leaderless read quorum")
    Integer r;

    @Option(names = "--w", description = "leaderless write quorum")
    Integer w;

    @Option(
        names = "--conflicts",
        description = "siblings | lww | crdt | merge:NAME | lock | home-site")
    String conflicts;

    @Option(names = "--topology", description = "multi-leader: all-to-all | star | circular")
    String topology;

    @Option(names = "--set", paramLabel = "OPTION=VALUE", description = "any other keyspace option")
    List<String> more = List.of();

    List<String> args() {
      List<String> out = new ArrayList<>();
      add(out, "replicas", replicas);
      add(out, "acks", acks);
      add(out, "r", r);
      add(out, "w", w);
      add(out, "conflicts", conflicts);
      add(out, "topology", topology);
      for (String kv : more) {
        int eq = kv.indexOf('=');
        if (eq > 0) {
          out.add(kv.substring(0, eq));
          out.add(kv.substring(eq + 1));
        }
      }
      return out;
    }

    private static void add(List<String> out, String key, Object value) {
      if (value != null) {
        out.add(key);
        out.add(value.toString());
      }
    }
  }

  static int run(String node, String... args) throws Exception {
    try (AdminClient c = AdminClient.connect(node)) {
      Object reply = c.call(args);
      if (reply instanceof AdminClient.Error e) {
        System.err.println("replicakv keyspace: " + e.message());
        return 1;
      }
      if (reply instanceof Long number) {
        System.out.println(number);
      } else if (reply instanceof List<?> items) {
        for (Object item : items) {
          if (item instanceof List<?> fields) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i + 1 < fields.size(); i += 2) {
              b.append(i == 0 ? "" : "  ")
                  .append(fields.get(i))
                  .append('=')
                  .append(fields.get(i + 1));
            }
            System.out.println(b);
          }
        }
      } else {
        System.out.println(reply);
      }
      return 0;
    }
  }

  @Command(
      name = "create",
      mixinStandardHelpOptions = true,
      description = "Create a keyspace; prints its number (use it with SELECT).")
  static final class Create extends ReplicationOptions implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Option(
        names = "--style",
        required = true,
        description = "single-leader | leaderless | multi-leader")
    String style;

    @Override
    public Integer call() throws Exception {
      List<String> args = new ArrayList<>(List.of("KEYSPACE", "CREATE", name, "style", style));
      args.addAll(args());
      return run(target.node, args.toArray(String[]::new));
    }
  }

  @Command(
      name = "alter",
      mixinStandardHelpOptions = true,
      description = "Change a keyspace's replication options.")
  static final class Alter extends ReplicationOptions implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Override
    public Integer call() throws Exception {
      List<String> args = new ArrayList<>(List.of("KEYSPACE", "ALTER", name));
      args.addAll(args());
      return run(target.node, args.toArray(String[]::new));
    }
  }

  @Command(name = "drop", mixinStandardHelpOptions = true, description = "Drop a keyspace.")
  static final class Drop implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @picocli.CommandLine.Mixin NodeOption target = new NodeOption();

    @Override
    public Integer call() throws Exception {
      return run(target.node, "KEYSPACE", "DROP", name);
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "List keyspaces.")
  static final class ListKeyspaces implements Callable<Integer> {
    @picocli.CommandLine.Mixin NodeOption target = new NodeOption();

    @Override
    public Integer call() throws Exception {
      return run(target.node, "KEYSPACE", "LIST");
    }
  }

  @Command(
      name = "repair",
      mixinStandardHelpOptions = true,
      description =
          "Run an anti-entropy pass over a leaderless keyspace on every member now; prints what it"
              + " found and repaired. Exit status 2 when it did not converge.")
  static final class Repair implements Callable<Integer> {
    /** How long the client waits for the pass (the server gives up after 5 minutes). */
    static final int REPAIR_TIMEOUT_MILLIS = 360_000;

    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @picocli.CommandLine.Mixin NodeOption target = new NodeOption();

    @Override
    public Integer call() throws Exception {
      try (AdminClient c = AdminClient.connect(target.node)) {
        c.readTimeoutMillis(REPAIR_TIMEOUT_MILLIS);
        Object reply = c.call("KV.REPAIR", name);
        if (reply instanceof AdminClient.Error e) {
          System.err.println("replicakv keyspace repair: " + e.message());
          return 1;
        }
        boolean converged = false;
        if (reply instanceof List<?> fields) {
          for (int i = 0; i + 1 < fields.size(); i += 2) {
            System.out.println(fields.get(i) + ": " + fields.get(i + 1));
            converged |=
                "converged".equals(fields.get(i)) && Long.valueOf(1).equals(fields.get(i + 1));
          }
        } else {
          System.out.println(reply);
        }
        return converged ? 0 : 2;
      }
    }
  }
}
