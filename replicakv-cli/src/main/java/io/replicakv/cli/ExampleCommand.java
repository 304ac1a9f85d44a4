package io.replicakv.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import redis.clients.jedis.HostAndPort;

/** {@code replicakv example}: runnable examples of the client API. */
@Command(
    name = "example",
    mixinStandardHelpOptions = true,
    description = "Run an example program of the Java client API.",
    subcommands = {ExampleCommand.ShoppingCart.class})
final class ExampleCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /** {@code replicakv example shopping-cart}: library mode (an offline site) with a cart. */
  @Command(
      name = "shopping-cart",
      mixinStandardHelpOptions = true,
      description = {
        "A phone embeds an offline site (library mode), edits a cart and a note while offline"
            + " and syncs both ways with a shop site when it is back online.",
        "Without --server the shop is a second embedded site in this process; with it, the shop"
            + " is a running server site (bin/replicakv up), which creates the keyspaces when"
            + " the phone announces them."
      })
  static final class ShoppingCart implements Callable<Integer> {
    @Option(
        names = "--server",
        paramLabel = "HOST:PORT",
        description = "RESP address of a server site to sync with (default: none, both embedded)")
    String server;

    @Option(
        names = "--data-dir",
        paramLabel = "DIR",
        description =
            "the phone's data folder (default: a new temporary folder; with --server"
                + " .replicakv/example-phone, kept so that the server and the phone agree on"
                + " what they exchanged)")
    Path dataDir;

    @Override
    public Integer call() throws Exception {
      String run = Long.toString(System.currentTimeMillis() / 1000);
      if (server != null) {
        Path dir = dataDir != null ? dataDir : Path.of(".replicakv", "example-phone");
        ShoppingCartExample.runWithServer(HostAndPort.from(server), dir, run, System.out);
      } else {
        Path dir = dataDir != null ? dataDir : Files.createTempDirectory("replicakv-cart-");
        ShoppingCartExample.runStandalone(dir, run, System.out);
      }
      return 0;
    }
  }
}
