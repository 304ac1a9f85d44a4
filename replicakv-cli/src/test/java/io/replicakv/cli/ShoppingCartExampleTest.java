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
import redis.clients.jedis.HostAndPort;

/**
 * Library mode end to end, through the example (which uses the client API only): the phone edits
 * its cart and a note offline while the shop edits them too, and after the phone comes back both
 * hold the same cart with every edit kept, the note comes back as two siblings, and the phone's
 * resolving write reaches the shop. Once with the shop as a second embedded site, once as a real
 * server process.
 */
class ShoppingCartExampleTest {
  @TempDir Path dir;

  @Test
  void anOfflinePhoneAndAnEmbeddedShopEditTheCartAndSyncBothWays() throws Exception {
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    ShoppingCartExample.Result result =
        ShoppingCartExample.runStandalone(
            dir, "1", new PrintStream(printed, true, StandardCharsets.UTF_8));
    check(result, printed);
  }

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
          ShoppingCartExample.runWithServer(
              new HostAndPort("127.0.0.1", ports[0]),
              dir.resolve("phone"),
              "1",
              new PrintStream(printed, true, StandardCharsets.UTF_8));
      check(result, printed);
      assertThat(printed.toString(StandardCharsets.UTF_8)).contains("server site hq");
      // the server created both keyspaces from the phone's announcements, and shows no lag left
      // towards the phone
      await("the server's link to the phone drains")
          .atMost(Duration.ofMinutes(3))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  LocalCluster.query(server.port(), "SITE LAG carts")
                          .contains("to=phone,changes=0,bytes=0,ms=0,acknowledged=true")
                      && LocalCluster.query(server.port(), "SITE LAG cart-notes")
                          .contains("to=phone,changes=0,bytes=0,ms=0,acknowledged=true"));
    }
  }

  private static void check(ShoppingCartExample.Result result, ByteArrayOutputStream printed) {
    // bread removed offline at the phone, apples added there, eggs added at the shop meanwhile
    assertThat(result.phoneCart()).containsExactly("apples", "eggs", "milk");
    assertThat(result.shopCart()).containsExactly("apples", "eggs", "milk");
    assertThat(result.notesAfterSync())
        .containsExactlyInAnyOrder("ring twice", "leave at the door");
    String resolved = String.join("; ", result.notesAfterSync());
    assertThat(result.phoneNote()).isEqualTo(resolved);
    assertThat(result.shopNote()).isEqualTo(resolved);
    assertThat(result.phoneStatus().inSync()).isTrue();
    assertThat(result.phoneStatus().pendingOut()).isZero();
    assertThat(result.phoneStatus().pendingIn()).isZero();
    String text = printed.toString(StandardCharsets.UTF_8);
    assertThat(text).contains("offline: phone [apples, milk]");
    assertThat(text).contains("phone connected=false, pending out=3");
  }
}
