package io.replicakv.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Headless Chromium for tests of the pages the servers serve: loads a page, lets its scripts run
 * for a bounded virtual time, and returns the DOM they left. A test on a machine without Chromium
 * is skipped from the call on (with the reason), after whatever it checked over plain HTTP.
 */
public final class HeadlessBrowser {
  /** Where Debian's package installs the browser. */
  static final Path CHROMIUM = Path.of("/usr/bin/chromium");

  /** Virtual time the page's scripts get before the DOM is dumped. */
  static final Duration SCRIPT_BUDGET = Duration.ofSeconds(5);

  /** How long the browser process may take in all. */
  static final Duration EXIT_DEADLINE = Duration.ofSeconds(60);

  private HeadlessBrowser() {}

  /**
   * The DOM of {@code url} after its scripts ran, Chromium's profile kept under {@code profileDir};
   * skips the test (JUnit assumption) when Chromium is not installed.
   */
  public static String dumpDom(String url, Path profileDir)
      throws IOException, InterruptedException {
    Assumptions.assumeTrue(
        Files.isExecutable(CHROMIUM), "chromium not installed; page checked over HTTP only");
    Process p =
        new ProcessBuilder(
                CHROMIUM.toString(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--user-data-dir=" + profileDir,
                "--virtual-time-budget=" + SCRIPT_BUDGET.toMillis(),
                "--dump-dom",
                url)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    String dom = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(EXIT_DEADLINE.toMillis(), TimeUnit.MILLISECONDS))
        .as("chromium exited")
        .isTrue();
    return dom;
  }
}
