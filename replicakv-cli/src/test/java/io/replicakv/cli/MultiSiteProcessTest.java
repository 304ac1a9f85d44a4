package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.replicakv.net.fault.FaultNetwork;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three one-node sites as real processes, linked all-to-all through a {@link FaultNetwork} (each
 * site's {@code site-links} name the proxies of its outgoing links): a multi-leader keyspace
 * created at one site reaches the others over the links; writes at all three sites while site c is
 * cut off become conflicts that every site resolves the same way once the links heal; deletes made
 * while cut off do not come back.
 */
class MultiSiteProcessTest {
  /** How long processes may take to start and sites to converge on a loaded two-core machine. */
  static final Duration DEADLINE = Duration.ofMinutes(4);

  static final List<String> SITES = List.of("a", "b", "c");

  /** Keys each site writes. */
  static final int KEYS = 12;

  @TempDir Path dir;

  private final Map<String, ServerProcess> sites = new LinkedHashMap<>();
  private FaultNetwork network;

  @AfterEach
  void stop() throws Exception {
    for (ServerProcess site : sites.values()) {
      site.close();
    }
    if (network != null) {
      network.close();
    }
  }

  @Test
  void sitesConvergeKeyByKeyAfterALinkCutWithConflictsCounted() throws Exception {
    startSites();
    long siblings = createEverywhere("carts", "siblings");
    long lww = createEverywhere("prices", "lww");

    // Before the cut: values every site has, some of which c deletes while cut off.
    for (int i = 0; i < KEYS; i++) {
      call("a", siblings, "SET", "old" + i, "before");
      call("a", lww, "SET", "old" + i, "before");
    }
    awaitEverywhere(siblings, "old" + (KEYS - 1), List.of("before"));
    awaitEverywhere(lww, "old" + (KEYS - 1), List.of("before"));

    network.cut("a", "c", false);
    network.cut("b", "c", false);
    for (int i = 0; i < KEYS; i++) {
      for (String site : SITES) {
        // the same key at every site: c's write is concurrent with a's and b's
        call(site, siblings, "SET", "shared" + i, site + "-" + i);
        call(site, lww, "SET", "shared" + i, site + "-" + i);
        call(site, siblings, "SET", site + "-own" + i, "x" + i);
      }
      call("c", siblings, "DEL", "old" + i);
      call("c", lww, "DEL", "old" + i);
    }
    // The cut shows as lag at c, in changes and bytes.
    await("c's links lag while cut")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .until(() -> lagChanges("c", "carts", "a") > 0 && lagChanges("c", "prices", "b") > 0);
    assertThat(siteText("c", "LAG", "carts"))
        .containsPattern("to=a,changes=[1-9][0-9]*,bytes=[1-9]");

    network.heal();
    await("every key reads the same at every site")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofSeconds(1))
        .until(() -> divergentKeys(siblings).isEmpty() && divergentKeys(lww).isEmpty());
    await("links drained")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () ->
                SITES.stream().allMatch(s -> !siteText(s, "LAG").matches("(?s).*changes=[1-9].*")));

    for (int i = 0; i < KEYS; i++) {
      for (String site : SITES) {
        // siblings: c's value survives next to the a/b one; nothing silently dropped
        List<String> values = values(site, siblings, "shared" + i);
        assertThat(values).as("%s shared%s", site, i).contains("c-" + i).hasSizeGreaterThan(1);
        assertThat(values(site, siblings, "old" + i)).as("deleted at c").isEmpty();
        assertThat(values(site, lww, "old" + i)).as("deleted at c").isEmpty();
        assertThat(values(site, lww, "shared" + i)).hasSize(1);
        for (String writer : SITES) {
          assertThat(values(site, siblings, writer + "-own" + i)).containsExactly("x" + i);
        }
      }
    }
    for (String site : SITES) {
      assertThat(counter(site, "carts", "multi_concurrent_writes_total")).isPositive();
      assertThat(counter(site, "carts", "multi_siblings_created_total")).isPositive();
      assertThat(counter(site, "prices", "multi_lww_overwrites_total")).isPositive();
      Object lost = call(site, 0, "SITE", "LOST", "prices", "1000");
      assertThat((List<?>) lost).as("lww losers listed at %s", site).isNotEmpty();
      String metrics = Http.get(sites.get(site).httpPort(), "/metrics").body();
      assertThat(metrics).contains("replicakv_multi_concurrent_writes_total{keyspace=\"carts\"");
      assertThat(metrics).contains("replicakv_site_link_lag_changes{keyspace=\"prices\"");
    }

    // A write with the context of a read resolves the siblings at every site.
    List<?> read = (List<?>) call("b", siblings, "KV.GET", "shared0");
    assertThat(call("b", siblings, "KV.PUT", "shared0", (String) read.get(0), "resolved"))
        .isEqualTo("OK");
    for (String site : SITES) {
      await()
          .atMost(DEADLINE)
          .until(() -> values(site, siblings, "shared0").equals(List.of("resolved")));
    }
  }

  private void startSites() throws IOException {
    int[] ports = ServerProcess.freePorts(4 * SITES.size() + SITES.size() * (SITES.size() - 1));
    Map<String, Integer> peerPorts = new TreeMap<>();
    for (int i = 0; i < SITES.size(); i++) {
      peerPorts.put(SITES.get(i), ports[4 * i + 2]);
    }
    int[] next = {4 * SITES.size()};
    network = FaultNetwork.start(peerPorts, 7, () -> ports[next[0]++]);
    for (int i = 0; i < SITES.size(); i++) {
      String site = SITES.get(i);
      List<String> links = new ArrayList<>();
      for (String other : SITES) {
        if (!other.equals(site)) {
          links.add(other + "@127.0.0.1:" + network.proxy(site, other).port());
        }
      }
      sites.put(
          site,
          ServerProcess.start(
              dir.resolve(site),
              ports[4 * i],
              ports[4 * i + 1],
              "--set=node-id=" + site,
              "--set=site=" + site,
              "--set=cluster-voters=" + site + "@127.0.0.1:" + ports[4 * i + 3],
              "--set=peer-port=" + ports[4 * i + 2],
              "--set=metadata-port=" + ports[4 * i + 3],
              "--set=site-links=" + String.join(",", links)));
    }
  }

  /**
   * Creates a multi-leader keyspace at site a (retrying while a's metadata quorum elects itself)
   * and waits until the announcement made every site serve it; returns its number at a.
   */
  private long createEverywhere(String name, String conflicts) {
    long[] number = {-1};
    await("keyspace " + name + " created at a")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofSeconds(1))
        .until(
            () -> {
              Object reply =
                  call(
                      "a",
                      0,
                      "KEYSPACE",
                      "CREATE",
                      name,
                      "style",
                      "multi-leader",
                      "conflicts",
                      conflicts);
              if (reply instanceof Long n) {
                number[0] = n;
              }
              return number[0] >= 0 || String.valueOf(reply).contains("exists");
            });
    await("keyspace " + name + " served at every site")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () ->
                SITES.stream()
                    .allMatch(
                        s ->
                            LocalCluster.query(sites.get(s).port(), "SITE INFO")
                                .contains("multi_keyspace:" + name + ",")));
    for (String site : SITES) {
      assertThat(keyspaceNumber(site, name)).as("%s numbers %s", site, name).isEqualTo(number[0]);
    }
    return number[0];
  }

  private long keyspaceNumber(String site, String name) {
    String raw = LocalCluster.query(sites.get(site).port(), "KEYSPACE LIST");
    Matcher m =
        Pattern.compile("number\r\n:(\\d+)\r\n\\$4\r\nname\r\n\\$\\d+\r\n" + name + "\r\n")
            .matcher(raw);
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  /** Keys whose KV.GET (context and values) differs between sites. */
  private List<String> divergentKeys(long keyspace) {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < KEYS; i++) {
      keys.add("shared" + i);
      keys.add("old" + i);
      for (String writer : SITES) {
        keys.add(writer + "-own" + i);
      }
    }
    List<String> divergent = new ArrayList<>();
    for (String key : keys) {
      Object first = null;
      for (String site : SITES) {
        Object read = call(site, keyspace, "KV.GET", key);
        if (first == null) {
          first = read;
        } else if (!first.equals(read)) {
          divergent.add(key);
          break;
        }
      }
    }
    return divergent;
  }

  private void awaitEverywhere(long keyspace, String key, List<String> expected) {
    await(key + " everywhere")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> SITES.stream().allMatch(s -> values(s, keyspace, key).equals(expected)));
  }

  /** The values KV.GET returns (sorted, so sibling order does not matter). */
  private List<String> values(String site, long keyspace, String key) {
    List<?> reply = (List<?>) call(site, keyspace, "KV.GET", key);
    return reply.subList(1, reply.size()).stream().map(String::valueOf).sorted().toList();
  }

  private long lagChanges(String site, String keyspace, String to) {
    Matcher m =
        Pattern.compile("keyspace=" + keyspace + ",to=" + to + ",changes=(\\d+)")
            .matcher(siteText(site, "LAG"));
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  private long counter(String site, String keyspace, String name) {
    Matcher m =
        Pattern.compile("keyspace=" + keyspace + " " + name + "\\{[^}]*\\} (\\d+)")
            .matcher(siteText(site, "CONFLICTS"));
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  private String siteText(String site, String... args) {
    String[] command = new String[args.length + 1];
    command[0] = "SITE";
    System.arraycopy(args, 0, command, 1, args.length);
    return String.valueOf(call(site, 0, command));
  }

  private Object call(String site, long keyspace, String... args) {
    try (RespConnection connection = new RespConnection(sites.get(site).port())) {
      if (keyspace != 0) {
        assertThat(connection.call("SELECT", Long.toString(keyspace))).isEqualTo("OK");
      }
      Object reply = connection.call(args);
      if (reply instanceof RespConnection.Error error && !(args[0].equals("KEYSPACE"))) {
        throw new AssertionError(site + " " + String.join(" ", args) + ": " + error.message());
      }
      return reply;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
