package io.replicakv.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A multi-leader keyspace between site a (three processes, one metadata quorum, peer traffic
 * through the fault network) and site b (one process): writes at both sites, then {@code kill -9}
 * of a's gateway for the keyspace in the middle of the write load. Checks that a elects another
 * gateway with a higher epoch and writes through a surviving node of a resume (the time is
 * printed), that every write a acknowledged, before and after the kill, reads back at a and reaches
 * b, that b's writes reach a, that both sites read every key the same (key by key), and that the
 * killed node, restarted, follows the new gateway and answers the same reads.
 */
class MultiNodeSiteFailoverTest {
  static final long FAILOVER_TIMEOUT_MILLIS = 3_000;

  /** Processes start and sites converge slowly on a loaded two-core machine. */
  static final Duration DEADLINE = Duration.ofMinutes(4);

  /** The write loops stop by themselves after this long, whatever happens. */
  static final Duration WRITE_LOOP_MAX = Duration.ofMinutes(5);

  /** Acknowledged writes at a before the kill, and after writes resumed. */
  static final int WRITES_BEFORE_KILL = 150;

  static final int WRITES_AFTER_RESUME = 150;

  /** Pause after a failed write before it is retried. */
  static final long RETRY_PACE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  private static final Pattern GATEWAY =
      Pattern.compile("multi_gateway:carts,gateway=([^,]+),epoch=(\\d+)");

  @TempDir Path dir;

  private FaultCluster siteA;
  private ServerProcess siteB;

  @AfterEach
  void stop() {
    if (siteB != null) {
      siteB.close();
    }
    if (siteA != null) {
      siteA.close();
    }
  }

  @Test
  void gatewayKilledMidLoadLosesNoAcknowledgedWriteAndLinksCarryOn() throws Exception {
    long keyspace = startSites();
    String[] gateway = gateway();
    String oldGateway = gateway[0];
    long oldEpoch = Long.parseLong(gateway[1]);
    String through = siteA.ids().stream().filter(id -> !id.equals(oldGateway)).findFirst().get();
    // writes through a node that forwards them now and survives the kill
    await("a write through " + through + " succeeds")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(250))
        .until(() -> "OK".equals(call(port(through), keyspace, "SET", "warm", "w")));

    Writer atA = new Writer(port(through), keyspace, "a-");
    Writer atB = new Writer(siteB.port(), keyspace, "b-");
    atA.start();
    atB.start();
    try {
      await("writes acknowledged at a before the kill")
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(100))
          .until(() -> atA.acknowledged.size() >= WRITES_BEFORE_KILL);
      long killNanos = System.nanoTime();
      siteA.kill9(oldGateway);
      atA.killedAtNanos.set(System.nanoTime());
      await("writes at a resume after the gateway's kill")
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(100))
          .until(() -> atA.firstOkAfterKillNanos.get() != 0);
      long resumeMillis =
          TimeUnit.NANOSECONDS.toMillis(atA.firstOkAfterKillNanos.get() - killNanos);
      int acknowledgedAtKill = atA.acknowledged.size();
      await("writes acknowledged at a after the failover")
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(100))
          .until(() -> atA.acknowledged.size() >= acknowledgedAtKill + WRITES_AFTER_RESUME);
      System.out.printf(
          "multi-node site: kill -9 of gateway %s (epoch %d): writes at site a resumed after %d ms"
              + " (failover timeout %d ms); %d writes failed meanwhile%n",
          oldGateway, oldEpoch, resumeMillis, FAILOVER_TIMEOUT_MILLIS, atA.failures.get());
    } finally {
      atA.stop();
      atB.stop();
    }
    String newGateway = checkAfterFailover(keyspace, oldGateway, oldEpoch, through, atA, atB);

    // The killed gateway comes back as a follower: it copies the new gateway's log and forwards.
    siteA.restart(oldGateway);
    await(oldGateway + " follows the new gateway")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .until(() -> copyRecords(port(oldGateway)) > 0);
    assertThat(gateway()[0]).isEqualTo(newGateway);
    List<String> every = new ArrayList<>(atA.attempted);
    every.addAll(atB.attempted);
    await("reads through the restarted node match b")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptionsInstanceOf(IOException.class)
        .until(() -> divergent(port(oldGateway), siteB.port(), keyspace, every).isEmpty());
  }

  /**
   * The gateway paused (SIGSTOP) past the failover timeout, so that another is elected while it
   * still holds writes in flight, then resumed: it acknowledges nothing the new gateway lacks, and
   * steps down.
   */
  @Test
  void pausedGatewayIsDeposedAndAcknowledgesNoWriteItsSuccessorLacks() throws Exception {
    long keyspace = startSites();
    String[] gateway = gateway();
    String oldGateway = gateway[0];
    long oldEpoch = Long.parseLong(gateway[1]);
    String through = siteA.ids().stream().filter(id -> !id.equals(oldGateway)).findFirst().get();
    await("a write at the gateway succeeds")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(250))
        .until(() -> "OK".equals(call(port(oldGateway), keyspace, "SET", "warm", "w")));
    // one writer at the gateway itself (its replies come from the paused process), one through
    // another node
    Writer atGateway = new Writer(port(oldGateway), keyspace, "g-");
    Writer atA = new Writer(port(through), keyspace, "a-");
    Writer atB = new Writer(siteB.port(), keyspace, "b-");
    atGateway.start();
    atA.start();
    atB.start();
    try {
      await("writes acknowledged before the pause")
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(100))
          .until(() -> atGateway.acknowledged.size() >= 50 && atA.acknowledged.size() >= 50);
      siteA.pause(oldGateway);
      atA.killedAtNanos.set(System.nanoTime());
      await("writes through " + through + " resume at a new gateway")
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(100))
          .until(() -> atA.firstOkAfterKillNanos.get() != 0);
      siteA.resume(oldGateway);
      int acknowledgedAtResume = atA.acknowledged.size();
      await("writes continue after the old gateway resumed")
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(100))
          .until(() -> atA.acknowledged.size() >= acknowledgedAtResume + 50);
    } finally {
      atGateway.stop();
      atA.stop();
      atB.stop();
    }
    checkAfterFailover(keyspace, oldGateway, oldEpoch, through, atA, atB);
    List<String> ackedAtGateway = List.copyOf(atGateway.acknowledged);
    assertThat(ackedAtGateway).hasSizeGreaterThanOrEqualTo(50);
    assertThat(missing(port(through), keyspace, ackedAtGateway))
        .as("writes the paused gateway acknowledged")
        .isEmpty();
    await("the resumed node no longer serves the keyspace")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .until(() -> copyRecords(port(oldGateway)) > 0);
  }

  /**
   * After a failover: a new gateway at a higher epoch; every write acknowledged at a reads back at
   * a and reaches b, b's reach a, and both sites read every key alike. Returns the new gateway.
   */
  private String checkAfterFailover(
      long keyspace, String oldGateway, long oldEpoch, String through, Writer atA, Writer atB)
      throws IOException {
    assertThat(atA.error.get()).as("writer at a").isNull();
    assertThat(atB.error.get()).as("writer at b").isNull();
    String[] now = gateway();
    assertThat(now[0]).as("new gateway").isNotEqualTo(oldGateway);
    assertThat(Long.parseLong(now[1])).as("new epoch").isGreaterThan(oldEpoch);

    List<String> ackedA = List.copyOf(atA.acknowledged);
    List<String> ackedB = List.copyOf(atB.acknowledged);
    assertThat(ackedA).hasSizeGreaterThanOrEqualTo(100);
    assertThat(missing(port(through), keyspace, ackedA))
        .as("acknowledged writes at a missing at a")
        .isEmpty();
    await("a's acknowledged writes reached b")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptionsInstanceOf(IOException.class)
        .until(() -> missing(siteB.port(), keyspace, ackedA).isEmpty());
    await("b's acknowledged writes reached a")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptionsInstanceOf(IOException.class)
        .until(() -> missing(port(through), keyspace, ackedB).isEmpty());
    List<String> every = new ArrayList<>();
    every.addAll(atA.attempted);
    every.addAll(atB.attempted);
    await("every key reads the same at both sites")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptionsInstanceOf(IOException.class)
        .until(() -> divergent(port(through), siteB.port(), keyspace, every).isEmpty());
    return now[0];
  }

  /** Starts site a (3 nodes) and b (1 node), links them, creates carts; returns its number. */
  private long startSites() throws Exception {
    siteA =
        FaultCluster.start(
            dir.resolve("a"),
            3,
            "--set=site=a",
            "--set=heartbeat-interval-ms=200",
            "--set=failover-timeout-ms=" + FAILOVER_TIMEOUT_MILLIS);
    int[] b = ServerProcess.freePorts(4);
    List<String> aAddresses = new ArrayList<>();
    for (String id : siteA.ids()) {
      aAddresses.add("127.0.0.1:" + siteA.peerPort(id));
    }
    siteB =
        ServerProcess.start(
            dir.resolve("b"),
            b[0],
            b[1],
            "--set=node-id=b1",
            "--set=site=b",
            "--set=cluster-voters=b1@127.0.0.1:" + b[3],
            "--set=peer-port=" + b[2],
            "--set=metadata-port=" + b[3],
            "--set=site-links=a@" + String.join("|", aAddresses));
    try {
      for (String id : siteA.ids()) {
        assertThat(call(port(id), 0, "SITE", "LINK", "ADD", "b", "127.0.0.1:" + b[2]))
            .as("SITE LINK ADD at %s", id)
            .isEqualTo("OK");
      }
      long keyspace = createAtA();
      await("carts served at b")
          .atMost(DEADLINE)
          .pollInterval(Duration.ofMillis(500))
          .until(() -> siteInfo(siteB.port()).contains("multi_keyspace:carts,"));
      return keyspace;
    } catch (org.awaitility.core.ConditionTimeoutException | AssertionError e) {
      throw new AssertionError(e.getMessage() + "\n" + describe(), e);
    }
  }

  /** Creates carts at a (retrying while a's metadata settles) and waits until a serves it. */
  private long createAtA() {
    long[] number = {-1};
    String first = siteA.ids().get(0);
    await("carts created at a")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofSeconds(1))
        .until(
            () -> {
              Object reply =
                  call(
                      port(first),
                      0,
                      "KEYSPACE",
                      "CREATE",
                      "carts",
                      "style",
                      "multi-leader",
                      "conflicts",
                      "siblings");
              if (reply instanceof Long n) {
                number[0] = n;
              }
              return number[0] >= 0;
            });
    await("a gateway serves carts at a")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () ->
                siteA.ids().stream()
                    .anyMatch(id -> siteInfo(port(id)).contains("multi_keyspace:carts,")));
    return number[0];
  }

  /** The gateway and epoch site a's nodes agree on (asked of every live node). */
  private String[] gateway() {
    String[][] found = {null};
    await("a's nodes agree on the gateway")
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              String[] seen = null;
              for (String id : siteA.ids()) {
                if (!siteA.node(id).isAlive()) {
                  continue;
                }
                Matcher m = GATEWAY.matcher(siteInfo(port(id)));
                if (!m.find()) {
                  return false;
                }
                String[] here = {m.group(1), m.group(2)};
                if (seen != null && !List.of(seen).equals(List.of(here))) {
                  return false;
                }
                seen = here;
              }
              String[] candidate = seen;
              boolean serving =
                  candidate != null
                      && siteA.node(candidate[0]).isAlive()
                      && siteInfo(port(candidate[0])).contains("multi_keyspace:carts,");
              found[0] = candidate;
              return serving;
            });
    return found[0];
  }

  /** For a failure message: SITE INFO of every node and the end of each one's output. */
  private String describe() {
    StringBuilder b = new StringBuilder(siteA.describe());
    for (String id : siteA.ids()) {
      b.append("== SITE INFO ").append(id).append('\n').append(siteInfo(port(id)));
    }
    List<String> lines = siteB.output().lines().toList();
    b.append("== b\n")
        .append(siteInfo(siteB.port()))
        .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size())));
    return b.toString();
  }

  private long copyRecords(int port) {
    Matcher m = Pattern.compile("here=copy,records=(\\d+)").matcher(siteInfo(port));
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  private int port(String id) {
    return siteA.node(id).port();
  }

  private static String siteInfo(int port) {
    return LocalCluster.query(port, "SITE INFO");
  }

  /** Keys whose live values at {@code port} are not exactly the key itself (one connection). */
  private static List<String> missing(int port, long keyspace, List<String> keys)
      throws IOException {
    List<String> out = new ArrayList<>();
    try (RespConnection connection = selected(port, keyspace)) {
      for (String key : keys) {
        if (!liveValues(connection.call("KV.GET", key)).equals(List.of(key))) {
          out.add(key);
        }
      }
    }
    return out;
  }

  /** Keys whose KV.GET (context and values) differs between the two ports (two connections). */
  private static List<String> divergent(int portA, int portB, long keyspace, List<String> keys)
      throws IOException {
    List<String> out = new ArrayList<>();
    try (RespConnection a = selected(portA, keyspace);
        RespConnection b = selected(portB, keyspace)) {
      for (String key : keys) {
        if (!String.valueOf(a.call("KV.GET", key)).equals(String.valueOf(b.call("KV.GET", key)))) {
          out.add(key);
        }
      }
    }
    return out;
  }

  private static RespConnection selected(int port, long keyspace) throws IOException {
    RespConnection connection = new RespConnection(port);
    Object reply = connection.call("SELECT", Long.toString(keyspace));
    if (!"OK".equals(reply)) {
      connection.close();
      throw new IOException("SELECT " + keyspace + " at " + port + ": " + reply);
    }
    return connection;
  }

  private static List<String> liveValues(Object reply) {
    if (!(reply instanceof List<?> list)) {
      throw new AssertionError("KV.GET: " + reply);
    }
    return list.subList(1, list.size()).stream().map(String::valueOf).sorted().toList();
  }

  private static Object call(int port, long keyspace, String... args) {
    try (RespConnection connection = new RespConnection(port)) {
      if (keyspace != 0) {
        Object selected = connection.call("SELECT", Long.toString(keyspace));
        if (!"OK".equals(selected)) {
          return selected;
        }
      }
      return connection.call(args);
    } catch (IOException e) {
      return new RespConnection.Error("io: " + e);
    }
  }

  /**
   * Writes keys prefix+i with the value prefix+i, one at a time on one connection; a key whose
   * write failed is written again until it is acknowledged (same value, so a write that applied
   * without its OK changes nothing), so every key but the last is acknowledged.
   */
  private static final class Writer {
    final int port;
    final long keyspace;
    final String prefix;
    final Queue<String> acknowledged = new ConcurrentLinkedQueue<>();
    final Queue<String> attempted = new ConcurrentLinkedQueue<>();
    final AtomicLong failures = new AtomicLong();
    final AtomicLong killedAtNanos = new AtomicLong();
    final AtomicLong firstOkAfterKillNanos = new AtomicLong();
    final AtomicBoolean running = new AtomicBoolean(true);
    final java.util.concurrent.atomic.AtomicReference<Throwable> error =
        new java.util.concurrent.atomic.AtomicReference<>();
    private Thread thread;

    Writer(int port, long keyspace, String prefix) {
      this.port = port;
      this.keyspace = keyspace;
      this.prefix = prefix;
    }

    void start() {
      thread = new Thread(this::run, "writer-" + prefix);
      thread.setDaemon(true);
      thread.start();
    }

    void stop() throws InterruptedException {
      running.set(false);
      thread.join(Duration.ofMinutes(1));
    }

    private void run() {
      long endNanos = System.nanoTime() + WRITE_LOOP_MAX.toNanos();
      RespConnection connection = null;
      try {
        int i = 0;
        attempted.add(prefix + i);
        while (running.get() && System.nanoTime() < endNanos) {
          String key = prefix + i;
          boolean startedAfterKill = killedAtNanos.get() != 0;
          Object reply;
          try {
            if (connection == null) {
              connection = new RespConnection(port);
              connection.call("SELECT", Long.toString(keyspace));
            }
            reply = connection.call("SET", key, key);
          } catch (IOException e) {
            reply = e;
            closeQuietly(connection);
            connection = null;
          }
          if ("OK".equals(reply)) {
            acknowledged.add(key);
            if (startedAfterKill) {
              firstOkAfterKillNanos.compareAndSet(0, System.nanoTime());
            }
            i++;
            attempted.add(prefix + i);
          } else {
            // the same key again (same value): a retry changes nothing if the write did apply;
            // paced so a site without a gateway is not hammered (a rate, not a wait for a state)
            failures.incrementAndGet();
            java.util.concurrent.locks.LockSupport.parkNanos(RETRY_PACE_NANOS);
          }
        }
      } catch (Throwable t) {
        error.set(t);
      } finally {
        closeQuietly(connection);
      }
    }

    private static void closeQuietly(RespConnection connection) {
      if (connection == null) {
        return;
      }
      try {
        connection.close();
      } catch (IOException e) {
        // the connection is dropped either way
      }
    }
  }
}
