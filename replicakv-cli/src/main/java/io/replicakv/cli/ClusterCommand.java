package io.replicakv.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code replicakv cluster ...}: the cluster as a node sees it. */
@Command(
    name = "cluster",
    mixinStandardHelpOptions = true,
    description = "Cluster administration.",
    subcommands = {ClusterCommand.Status.class})
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
    @Option(
        names = "--node",
        paramLabel = "HOST:PORT",
        description = "node to ask (default: the local cluster)")
    String node;

    @Override
    public Integer call() throws Exception {
      try (AdminClient c = AdminClient.connect(node)) {
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
}
