package io.replicakv.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.exceptions.JedisDataException;

/** The client's session and retry logic against scripted RESP nodes on loopback. */
class ReplicaKvClientTest {
  private static ReplicaKvClient client(ReplicaKvClient.Options options, FakeNode... nodes) {
    List<HostAndPort> addresses =
        java.util.Arrays.stream(nodes).map(n -> new HostAndPort("127.0.0.1", n.port())).toList();
    return new ReplicaKvClient(addresses, options);
  }

  /** What {@code node} received, without the CLIENT SETINFO Jedis sends on connecting. */
  private static List<List<String>> commands(FakeNode node) {
    synchronized (node.received) {
      return node.received.stream().filter(c -> !c.get(0).equalsIgnoreCase("CLIENT")).toList();
    }
  }

  @Test
  void carriesTheTokenFromNodeToNodeAndResumesOnlyWhenTheConnectionLacksIt() throws Exception {
    AtomicInteger writes = new AtomicInteger();
    try (FakeNode writer =
            new FakeNode(
                c ->
                    switch (c.get(0).toUpperCase()) {
                      case "SET" -> {
                        writes.incrementAndGet();
                        yield "+OK\r\n";
                      }
                      case "SESSION" ->
                          c.get(1).equalsIgnoreCase("TOKEN")
                              ? FakeNode.bulk("1;0.5.1." + Integer.toString(writes.get(), 36))
                              : "+OK\r\n";
                      default -> "-ERR unexpected\r\n";
                    });
        FakeNode reader =
            new FakeNode(
                c ->
                    switch (c.get(0).toUpperCase()) {
                      case "GET" -> FakeNode.bulk("v");
                      case "SESSION" ->
                          c.get(1).equalsIgnoreCase("TOKEN")
                              ? FakeNode.bulk("1;0.5.1.2;0.9.1.1")
                              : "+OK\r\n";
                      default -> "-ERR unexpected\r\n";
                    });
        ReplicaKvClient w = client(ReplicaKvClient.Options.defaults(), writer);
        ReplicaKvClient r = client(ReplicaKvClient.Options.defaults(), reader)) {
      assertThat(w.set("k", "a")).isEqualTo("OK");
      assertThat(w.set("k", "b")).isEqualTo("OK");
      assertThat(w.sessionToken()).isEqualTo("1;0.5.1.2");
      // the writer's connection already had its token: no RESUME went out
      assertThat(commands(writer))
          .extracting(c -> c.get(0) + " " + c.get(1))
          .doesNotContain("SESSION RESUME");
      r.resumeSession(w.sessionToken());
      assertThat(r.get("k")).isEqualTo("v");
      assertThat(commands(reader).get(0)).containsExactly("SESSION", "RESUME", "1;0.5.1.2");
      assertThat(commands(reader).get(1)).containsExactly("GET", "k");
      assertThat(commands(reader).get(2)).containsExactly("SESSION", "TOKEN");
      assertThat(r.sessionToken()).isEqualTo("1;0.5.1.2;0.9.1.1");
      r.get("k");
      assertThat(commands(reader)).hasSize(5); // GET and TOKEN only: the connection is in step
    }
  }

  @Test
  void aReadRefusedWithTryagainMovesToTheNextNodeAndAWriteOfUnknownOutcomeIsNotResent()
      throws Exception {
    String tokenReply = FakeNode.bulk("1");
    try (FakeNode behind =
            new FakeNode(
                c ->
                    c.get(0).equalsIgnoreCase("SESSION")
                        ? c.get(1).equalsIgnoreCase("TOKEN") ? tokenReply : "+OK\r\n"
                        : c.get(0).equalsIgnoreCase("GET")
                            ? "-TRYAGAIN replica has not applied the session token\r\n"
                            : "-TRYAGAIN write outcome unknown: timeout (the write may or may not"
                                + " be applied)\r\n");
        FakeNode caughtUp =
            new FakeNode(
                c ->
                    c.get(0).equalsIgnoreCase("SESSION")
                        ? c.get(1).equalsIgnoreCase("TOKEN") ? tokenReply : "+OK\r\n"
                        : FakeNode.bulk("fresh"));
        ReplicaKvClient client =
            client(ReplicaKvClient.Options.defaults().withAttempts(3), behind, caughtUp)) {
      assertThat(client.get("k")).isEqualTo("fresh");
      assertThat(client.retries()).isEqualTo(1);
      assertThatThrownBy(() -> client.incr("n"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("outcome unknown");
      assertThat(commands(caughtUp)).extracting(c -> c.get(0)).doesNotContain("INCR");
    }
  }

  @Test
  void spreadReadsVisitEveryNode() throws Exception {
    String tokenReply = FakeNode.bulk("1");
    java.util.function.Function<List<String>, String> script =
        c -> c.get(0).equalsIgnoreCase("SESSION") ? tokenReply : FakeNode.bulk("x");
    try (FakeNode a = new FakeNode(script);
        FakeNode b = new FakeNode(script);
        FakeNode c = new FakeNode(script);
        ReplicaKvClient client =
            client(ReplicaKvClient.Options.defaults().withSpreadReads(true), a, b, c)) {
      for (int i = 0; i < 6; i++) {
        client.get("k" + i);
      }
      for (FakeNode node : List.of(a, b, c)) {
        assertThat(commands(node)).extracting(x -> x.get(0)).filteredOn("GET"::equals).hasSize(2);
      }
    }
  }

  @Test
  void writeErrorsSayingNothingRanAreRetryableAndOthersAreNot() {
    assertThat(ReplicaKvClient.retryable("TRYAGAIN slot 3 has no leader right now (x)", false))
        .isTrue();
    assertThat(ReplicaKvClient.retryable("NOREPLICAS 0 in-sync followers, acks=1", false)).isTrue();
    assertThat(ReplicaKvClient.retryable("TRYAGAIN write outcome unknown: timeout", false))
        .isFalse();
    assertThat(
            ReplicaKvClient.retryable(
                "TRYAGAIN forwarding to the key's owner failed; the command may or may not have"
                    + " been applied",
                false))
        .isFalse();
    assertThat(ReplicaKvClient.retryable("TRYAGAIN anything", true)).isTrue();
    assertThat(ReplicaKvClient.retryable("WRONGTYPE", true)).isFalse();
  }

  @Test
  void tokensMergePerGroupByEpochThenOffset() {
    assertThat(SessionTokens.merge("1;0.5.1.9", "1;0.5.2.1;0.a.1.1"))
        .isEqualTo("1;0.5.2.1;0.a.1.1");
    assertThat(SessionTokens.merge("1;0.b.1.9", "1;0.a.1.1")).isEqualTo("1;0.a.1.1;0.b.1.9");
    assertThat(SessionTokens.merge("1", "1;1.0.3.3")).isEqualTo("1;1.0.3.3");
    assertThatThrownBy(() -> SessionTokens.merge("1", "9;x"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anyCommandGoesOutWithTheSessionAndComesBackAsStringsLongsAndLists() throws Exception {
    try (FakeNode node =
            new FakeNode(
                c ->
                    switch (c.get(0).toUpperCase()) {
                      case "SMEMBERS" -> "*2\r\n$5\r\nbread\r\n$4\r\nmilk\r\n";
                      case "SADD" -> ":1\r\n";
                      case "SITE" -> "-ERR unknown site\r\n";
                      case "SESSION" -> FakeNode.bulk("1;0.5.1.1");
                      default -> "+OK\r\n";
                    });
        ReplicaKvClient client = client(ReplicaKvClient.Options.defaults(), node)) {
      assertThat(client.command("SADD", "cart", "bread")).isEqualTo(1L);
      assertThat(client.command("SMEMBERS", "cart")).isEqualTo(List.of("bread", "milk"));
      assertThatThrownBy(() -> client.command("SITE", "LINK", "ADD", "x", "h:1"))
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("unknown site");
      assertThat(commands(node))
          .contains(List.of("SADD", "cart", "bread"), List.of("SMEMBERS", "cart"));
      assertThat(client.sessionToken()).isEqualTo("1;0.5.1.1");
    }
  }
}
