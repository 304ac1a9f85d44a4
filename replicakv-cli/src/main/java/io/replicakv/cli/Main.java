package io.replicakv.cli;

import io.replicakv.server.Version;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code replicakv} command. */
@Command(
    name = "replicakv",
    mixinStandardHelpOptions = true,
    versionProvider = Main.VersionProvider.class,
    description = "ReplicaKV: a distributed key-value database that speaks the Redis protocol.",
    subcommands = {
      ServerCommand.class,
      UpCommand.class,
      DownCommand.class,
      ClusterCommand.class,
      KeyspaceCommand.class,
      FaultCommand.class,
      ExampleCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    int code = new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
    if (code != 0 || !ServerCommand.running) {
      System.exit(code);
    }
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  static final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {
        "replicakv " + Version.VERSION + " (Redis protocol " + Version.REDIS_COMPATIBLE + ")",
        "Java " + Runtime.version() + " " + System.getProperty("java.vendor", "")
      };
    }
  }
}
