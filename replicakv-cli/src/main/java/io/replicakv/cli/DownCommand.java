package io.replicakv.cli;

import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;

/** {@code replicakv down}: stops the local cluster cleanly (SIGTERM, then waits). */
@Command(
    name = "down",
    mixinStandardHelpOptions = true,
    description = "Stop the local cluster started by 'up'.")
final class DownCommand implements Callable<Integer> {
  /** How long a node may take to sync and exit after SIGTERM before it is killed. */
  static final long STOP_DEADLINE_SECONDS = 30;

  @Override
  public Integer call() throws Exception {
    int stopped = 0;
    for (LocalCluster.NodeInfo n : LocalCluster.nodes()) {
      Optional<ProcessHandle> p = ProcessHandle.of(n.pid());
      if (p.isEmpty() || !p.get().isAlive()) {
        continue;
      }
      if (ProcessFaults.paused(n.pid())) {
        ProcessFaults.resume(n.pid()); // a node paused by 'fault pause' cannot act on SIGTERM
      }
      p.get().destroy();
      try {
        p.get().onExit().get(STOP_DEADLINE_SECONDS, TimeUnit.SECONDS);
        System.out.println("stopped " + n.name() + " (pid " + n.pid() + ")");
      } catch (java.util.concurrent.TimeoutException e) {
        p.get().destroyForcibly();
        System.out.println(
            "killed "
                + n.name()
                + " (pid "
                + n.pid()
                + "): it did not stop within "
                + STOP_DEADLINE_SECONDS
                + " s");
      }
      stopped++;
    }
    long proxyPid = LocalCluster.proxyPid();
    if (proxyPid > 0) {
      ProcessHandle proxy = ProcessHandle.of(proxyPid).orElseThrow();
      proxy.destroy();
      try {
        proxy.onExit().get(STOP_DEADLINE_SECONDS, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        proxy.destroyForcibly();
      }
      System.out.println("stopped the fault proxy (pid " + proxyPid + ")");
      stopped++;
    }
    if (stopped == 0) {
      System.out.println("nothing running");
    }
    return 0;
  }
}
