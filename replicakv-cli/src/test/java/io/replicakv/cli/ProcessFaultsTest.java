package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** SIGSTOP, SIGCONT and kill -9 on a plain child process, and the duration words of the CLI. */
class ProcessFaultsTest {
  private static final Duration DEADLINE = Duration.ofSeconds(10);
  private Process child;

  @AfterEach
  void stop() {
    if (child != null) {
      child.destroyForcibly();
    }
  }

  @Test
  void pauseResumeAndKillAChildProcess() throws Exception {
    child = new ProcessBuilder("sleep", "60").start();
    long pid = child.pid();
    assertThat(ProcessFaults.paused(pid)).isFalse();
    ProcessFaults.pause(pid);
    await().atMost(DEADLINE).until(() -> ProcessFaults.paused(pid));
    ProcessFaults.resume(pid);
    await().atMost(DEADLINE).until(() -> !ProcessFaults.paused(pid));
    ProcessFaults.pause(pid);
    ProcessFaults.kill9(pid); // SIGKILL ends a stopped process too
    assertThat(child.isAlive()).isFalse();
    assertThat(ProcessFaults.paused(pid)).isFalse();
    assertThatThrownBy(() -> ProcessFaults.pause(pid))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("is not running");
    assertThatThrownBy(() -> ProcessFaults.kill9(pid)).hasMessageContaining("is not running");
  }

  @Test
  void durationsTakeMillisecondsOrSeconds() {
    assertThat(FaultCommand.millis("200ms")).isEqualTo(200);
    assertThat(FaultCommand.millis("2s")).isEqualTo(2_000);
    assertThat(FaultCommand.millis("75")).isEqualTo(75);
    assertThatThrownBy(() -> FaultCommand.millis("2 minutes"))
        .hasMessageContaining("is not a duration");
    assertThatThrownBy(() -> FaultCommand.millis("-5ms")).hasMessageContaining("is not a duration");
  }
}
