package io.replicakv.cli;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code replicakv cluster failover | drain | divergent}: the operator's side of the server's
 * {@code REPLICATION} command (planned switchover, moving every group away from a node, the
 * divergent-writes listing). Each waits for the node's answer, prints it and exits 1 when any part
 * failed.
 */
final class ReplicationAdminCommands {
  private ReplicationAdminCommands() {}

  /** A switchover waits for drains and a lease: far longer than an ordinary command. */
  static final int SWITCHOVER_READ_TIMEOUT_MILLIS = 10 * 60_000;

  @Command(
      name = "failover",
      mixinStandardHelpOptions = true,
      description =
          "Planned switchover of a replica group: the leader drains (no write lost, even with"
              + " acks=none), then --to (default: the most advanced in-sync follower) leads under a"
              + " new epoch. Answers once the new leader serves.")
  static final class Failover implements Callable<Integer> {
    @Option(names = "--keyspace", required = true, paramLabel = "K", description = "name or number")
    String keyspace;

    @Option(
        names = "--slot",
        required = true,
        paramLabel = "S",
        description = "a slot of the group, or 'all' for every group of the keyspace")
    String slot;

    @Option(names = "--to", paramLabel = "NODE", description = "the new leader's node id")
    String to;

    @Mixin NodeOption target = new NodeOption();

    @Override
    public Integer call() throws Exception {
      return to == null
          ? run(target.node, "failover", "REPLICATION", "SWITCHOVER", keyspace, slot)
          : run(target.node, "failover", "REPLICATION", "SWITCHOVER", keyspace, slot, "TO", to);
    }
  }

  @Command(
      name = "drain",
      mixinStandardHelpOptions = true,
      description =
          "Moves the leadership of every replica group NODE leads (every replicated keyspace) to"
              + " other in-sync replicas with planned switchovers, for maintenance. Preferred-leader"
              + " return leaves NODE alone until it has restarted.")
  static final class Drain implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NODE")
    String node;

    @Mixin NodeOption target = new NodeOption();

    @Override
    public Integer call() throws Exception {
      return run(target.node, "drain", "REPLICATION", "DRAIN", node);
    }
  }

  @Command(
      name = "divergent",
      mixinStandardHelpOptions = true,
      description =
          "Divergent writes of every member: writes an old leader acknowledged (acks=none) that"
              + " the group's new leader never received, truncated from its log on its return."
              + " One line each: node, keyspace, group, epoch:offset, key, operation.")
  static final class Divergent implements Callable<Integer> {
    @Option(names = "--keyspace", paramLabel = "K", description = "name or number (default: all)")
    String keyspace;

    @Mixin NodeOption target = new NodeOption();

    @Override
    public Integer call() throws Exception {
      try (AdminClient c = AdminClient.connect(target.node)) {
        c.readTimeoutMillis(SWITCHOVER_READ_TIMEOUT_MILLIS);
        Object reply = c.call("REPLICATION", "DIVERGENT", keyspace == null ? "ALL" : keyspace);
        if (reply instanceof AdminClient.Error e) {
          System.err.println("replicakv cluster divergent: " + e.message());
          return 1;
        }
        List<?> rows = (List<?>) reply;
        int unreachable = 0;
        System.out.println("node\tkeyspace\tgroup\tepoch:offset\tkey\toperation");
        for (Object row : rows) {
          List<?> f = (List<?>) row;
          if (f.size() == 7) {
            System.out.println(
                f.get(0) + "\t" + f.get(1) + "\t" + f.get(2) + "\t" + f.get(3) + ":" + f.get(4)
                    + "\t" + f.get(5) + "\t" + f.get(6));
          } else {
            unreachable++;
            System.err.println("not asked: " + f);
          }
        }
        System.out.println(
            (rows.size() - unreachable)
                + " divergent writes"
                + (unreachable > 0 ? " (incomplete)" : ""));
        return unreachable > 0 ? 1 : 0;
      }
    }
  }

  /** Sends {@code args}, prints the answer line by line; 1 on an error or any failed line. */
  static int run(String node, String what, String... args) throws Exception {
    try (AdminClient c = AdminClient.connect(node)) {
      c.readTimeoutMillis(SWITCHOVER_READ_TIMEOUT_MILLIS);
      Object reply = c.call(args);
      if (reply instanceof AdminClient.Error e) {
        System.err.println("replicakv cluster " + what + ": " + e.message());
        return 1;
      }
      if (reply instanceof List<?> lines) {
        int failed = 0;
        for (Object line : lines) {
          String text = String.valueOf(line);
          if (text.startsWith("OK ")) {
            System.out.println(text.substring(3));
          } else {
            failed++;
            System.err.println(text);
          }
        }
        if (lines.isEmpty()) {
          System.out.println("nothing to move");
        }
        return failed > 0 ? 1 : 0;
      }
      System.out.println(reply);
      return 0;
    }
  }
}
