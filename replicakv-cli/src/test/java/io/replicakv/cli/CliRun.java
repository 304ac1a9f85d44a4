package io.replicakv.cli;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code replicakv ARGS} as a child JVM in a given working directory and collects its exit
 * code and output, for commands that are expected to finish on their own ({@code up}, {@code down},
 * a {@code server} that refuses its configuration).
 */
final class CliRun {
  /** How long a finishing command may run; {@code up} waits for its node to answer PING. */
  static final Duration RUN_DEADLINE = Duration.ofSeconds(90);

  record Result(int exitCode, String output) {}

  private CliRun() {}

  static Result run(Path workingDirectory, String... args)
      throws IOException, InterruptedException {
    return run(RUN_DEADLINE, workingDirectory, args);
  }

  /** As above with another deadline (an {@code up} of many processes on a loaded machine). */
  static Result run(Duration deadline, Path workingDirectory, String... args)
      throws IOException, InterruptedException {
    Path output = Files.createTempFile(workingDirectory, "cli-", ".out");
    Process p =
        new ProcessBuilder(ServerProcess.mainCommand(List.of(), List.of(args)))
            .directory(workingDirectory.toFile())
            .redirectErrorStream(true)
            .redirectOutput(output.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    if (!p.waitFor(deadline.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly();
      p.waitFor(RUN_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
      throw new AssertionError(
          "replicakv "
              + String.join(" ", args)
              + " did not finish within "
              + deadline
              + ":\n"
              + Files.readString(output, StandardCharsets.UTF_8));
    }
    return new Result(p.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
  }

  /**
   * A first RESP port p in [low, high) for a {@code replicakv up} of {@code processes} processes,
   * with p + i + offset free for every process i and every offset ({@code up} puts HTTP at +10000,
   * peer at +20000, metadata at +30000); at most {@code attempts} draws from {@code random}.
   */
  static int freeUpPorts(
      SplittableRandom random, int attempts, int low, int high, int processes, int... offsets) {
    for (int attempt = 0; attempt < attempts; attempt++) {
      int p = random.nextInt(low, high);
      boolean free = true;
      for (int i = 0; i < processes && free; i++) {
        for (int offset : offsets) {
          free &= LocalCluster.portFree(p + i + offset);
        }
      }
      if (free) {
        return p;
      }
    }
    throw new AssertionError(
        "no free ports for " + processes + " processes in " + attempts + " attempts");
  }

  /**
   * Kills what {@code replicakv up} left running in {@code workingDirectory} (each process under
   * {@code .replicakv/} writes its pid file there), for a test whose assertion failed before its
   * {@code down}.
   */
  static void killLeftovers(Path workingDirectory) throws IOException {
    Path root = workingDirectory.resolve(".replicakv");
    if (!Files.isDirectory(root)) {
      return;
    }
    List<Path> folders;
    try (var listing = Files.list(root)) {
      folders = listing.toList();
    }
    for (Path folder : folders) {
      Path pidFile = folder.resolve("pid");
      if (Files.isRegularFile(pidFile)) {
        long pid = Long.parseLong(Files.readString(pidFile).trim());
        ProcessHandle.of(pid)
            .ifPresent(
                p -> {
                  p.destroyForcibly();
                  p.onExit().orTimeout(30, TimeUnit.SECONDS).join();
                });
      }
    }
  }
}
