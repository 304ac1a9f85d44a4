package io.replicakv.cli;

import picocli.CommandLine.Option;

/** The {@code --node HOST:PORT} option every admin command takes. */
final class NodeOption {
  @Option(
      names = "--node",
      paramLabel = "HOST:PORT",
      description = "node to talk to (default: the local cluster started by 'up' here)")
  String node;
}
