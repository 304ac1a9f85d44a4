package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Library mode end to end: a server site as a real process and the shopping-cart example's embedded
 * phone site in this JVM; the phone edits its cart offline while the server edits it too, and after
 * the phone comes back both hold the same cart with every edit kept.
 */
class ShoppingCartExampleTest {
  @TempDir Path dir;

  @Test
  void anOfflinePhoneAndTheServerEditTheCartAndSyncBothWays() throws Exception {
    int[] ports = ServerProcess.freePorts(4);
    try (ServerProcess server =
        ServerProcess.start(
            dir.resolve("hq"),
            ports[0],
            ports[1],
            "--set=node-id=hq",
            "--set=site=hq",
            "--set=cluster-voters=hq@127.0.0.1:" + ports[3],
            "--set=peer-port=" + ports[2],
            "--set=metadata-port=" + ports[3])) {
      ByteArrayOutputStream printed = new ByteArrayOutputStream();
      ShoppingCartExample.Result result =
          ShoppingCartExample.run(
              ports[0],
              ports[2],
              dir.resolve("phone"),
              new PrintStream(printed, true, StandardCharsets.UTF_8));
      // bread removed offline at the phone, apples added there, eggs added at the server meanwhile
      assertThat(result.phone()).containsExactly("apples", "eggs", "milk");
      assertThat(result.server()).isEqualTo("apples,eggs,milk");
      assertThat(printed.toString(StandardCharsets.UTF_8))
          .contains("offline: phone [apples, milk]  server bread,eggs,milk");
      // the server lists the phone's link and shows no lag left towards it
      await("the server's link to the phone drains")
          .atMost(Duration.ofMinutes(2))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  LocalCluster.query(server.port(), "SITE LAG carts")
                      .contains("to=phone,changes=0,bytes=0,ms=0,acknowledged=true"));
    }
  }
}
