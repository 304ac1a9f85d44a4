package io.replicakv.cli;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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
}
