package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code replicakv server --config FILE}: a setting the server does not know, or a value it cannot
 * read, stops start-up with a non-zero exit and a message naming the setting; flags win over the
 * file.
 */
class ConfigFileTest {
  @TempDir Path tmp;
  private ServerProcess server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void unknownSettingInFileStopsStartupNamingIt() throws Exception {
    Path config = tmp.resolve("bad.yaml");
    Files.writeString(config, "port: 0\nhttp-port: 0\ncolour-of-bikeshed: blue\n");
    CliRun.Result r = serverWith("--config=" + config);
    assertThat(r.exitCode()).as(r.output()).isNotZero();
    assertThat(r.output()).contains("colour-of-bikeshed");
  }

  @Test
  void badValueInFileStopsStartupNamingTheSetting() throws Exception {
    Path config = tmp.resolve("bad.yaml");
    Files.writeString(config, "port: 0\nhttp-port: 0\nmaxmemory: lots\n");
    CliRun.Result r = serverWith("--config=" + config);
    assertThat(r.exitCode()).as(r.output()).isNotZero();
    assertThat(r.output()).contains("maxmemory").contains("lots");
  }

  @Test
  void badValueInSetFlagStopsStartupNamingTheSetting() throws Exception {
    CliRun.Result r = serverWith("--port=0", "--http-port=0", "--set", "maxclients=many");
    assertThat(r.exitCode()).as(r.output()).isNotZero();
    assertThat(r.output()).contains("maxclients");
  }

  @Test
  void missingConfigFileStopsStartup() throws Exception {
    CliRun.Result r = serverWith("--port=0", "--config=" + tmp.resolve("absent.yaml"));
    assertThat(r.exitCode()).as(r.output()).isNotZero();
    assertThat(r.output()).contains("absent.yaml");
  }

  @Test
  void flagsOverrideTheFile() throws Exception {
    int filePort = ServerProcess.freePort();
    Path config = tmp.resolve("replicakv.yaml");
    Files.writeString(
        config, "port: " + filePort + "\nfsync: always\nmaxclients: 77\nmaxmemory: 3mb\n");
    server =
        ServerProcess.start(tmp.resolve("data"), "--config=" + config, "--set", "maxclients=88");
    try (RespConnection c = server.connect()) {
      assertThat(c.call("CONFIG", "GET", "port")).isEqualTo(List.of("port", "" + server.port()));
      assertThat(c.call("CONFIG", "GET", "fsync")).isEqualTo(List.of("fsync", "always"));
      assertThat(c.call("CONFIG", "GET", "maxclients")).isEqualTo(List.of("maxclients", "88"));
      assertThat(c.call("CONFIG", "GET", "maxmemory"))
          .isEqualTo(List.of("maxmemory", "" + 3 * 1024 * 1024));
    }
    assertThat(server.port()).isNotEqualTo(filePort);
    assertThat(LocalCluster.answersPing(filePort)).isFalse();
  }

  private CliRun.Result serverWith(String... args) throws Exception {
    String[] all = new String[args.length + 2];
    all[0] = "server";
    all[1] = "--data-dir=" + tmp.resolve("data");
    System.arraycopy(args, 0, all, 2, args.length);
    return CliRun.run(tmp, all);
  }
}
