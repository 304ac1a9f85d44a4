package io.replicakv.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Process faults on a node of this machine, by pid: kill -9, SIGSTOP and SIGCONT, as {@code
 * replicakv fault kill|pause|resume} and the multi-process tests use them.
 *
 * <p>SIGSTOP is the classic stand-in for a long GC pause or a VM freeze: the process keeps its
 * sockets and memory, the kernel keeps accepting connections into its listen backlog, but nothing
 * is read or answered until SIGCONT. Java can send SIGKILL and SIGTERM itself; for STOP and CONT it
 * runs {@code kill}, which every Linux and macOS machine has.
 */
final class ProcessFaults {
  /** How long {@code kill} may take to run, and a killed process to be gone. */
  static final long SIGNAL_DEADLINE_SECONDS = 30;

  private ProcessFaults() {}

  /** kill -9: the process gets no chance to flush or sync anything. Waits until it is gone. */
  static void kill9(long pid) throws IOException {
    Optional<ProcessHandle> p = ProcessHandle.of(pid);
    if (p.isEmpty() || !p.get().isAlive()) {
      throw new IOException("process " + pid + " is not running");
    }
    p.get().destroyForcibly();
    try {
      p.get().onExit().get(SIGNAL_DEADLINE_SECONDS, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IOException(
          "process " + pid + " still runs " + SIGNAL_DEADLINE_SECONDS + " s after SIGKILL", e);
    }
  }

  /** SIGSTOP: the process freezes until {@link #resume}. */
  static void pause(long pid) throws IOException {
    signal(pid, "STOP");
  }

  /** SIGCONT: a paused process runs again. */
  static void resume(long pid) throws IOException {
    signal(pid, "CONT");
  }

  /** Whether the process exists and is stopped by a signal (Linux {@code /proc}; else false). */
  static boolean paused(long pid) {
    Path stat = Path.of("/proc", Long.toString(pid), "stat");
    try {
      String text = Files.readString(stat, StandardCharsets.US_ASCII);
      // pid (comm) STATE ...; comm may hold spaces and parentheses, so read after the last ')'
      int close = text.lastIndexOf(')');
      return close > 0 && close + 2 < text.length() && text.charAt(close + 2) == 'T';
    } catch (IOException e) {
      return false;
    }
  }

  private static void signal(long pid, String name) throws IOException {
    if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
      throw new IOException("process " + pid + " is not running");
    }
    Process kill =
        new ProcessBuilder("kill", "-" + name, Long.toString(pid))
            .redirectErrorStream(true)
            .start();
    try {
      if (!kill.waitFor(SIGNAL_DEADLINE_SECONDS, TimeUnit.SECONDS)) {
        kill.destroyForcibly();
        throw new IOException("kill -" + name + " " + pid + " did not finish");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while sending SIG" + name + " to " + pid, e);
    }
    if (kill.exitValue() != 0) {
      throw new IOException(
          "kill -"
              + name
              + " "
              + pid
              + " failed: "
              + new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim());
    }
  }
}
