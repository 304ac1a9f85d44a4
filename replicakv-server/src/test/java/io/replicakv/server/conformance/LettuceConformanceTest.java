package io.replicakv.server.conformance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.ExpireArgs;
import io.lettuce.core.GetExArgs;
import io.lettuce.core.KeyScanArgs;
import io.lettuce.core.KeyValue;
import io.lettuce.core.LettuceFutures;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanIterator;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.protocol.ProtocolVersion;
import io.replicakv.server.ReplicaKvServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Lettuce 7 against a ReplicaKV node through its typed API, under RESP3 (Lettuce's default: HELLO 3
 * and CLIENT SETINFO on connect) and RESP2: the command groups, asynchronous pipelining with manual
 * flushing, and many threads sharing one connection.
 */
class LettuceConformanceTest {
  static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(10);
  static final int PIPELINE_COMMANDS = 1_000;
  static final int CONCURRENT_THREADS = 32;
  static final int INCREMENTS_PER_THREAD = 500;
  static final long CONCURRENT_DEADLINE_SECONDS = 60;

  @TempDir static Path tempDir;
  private static ReplicaKvServer server;
  private static RedisClient client;

  @BeforeAll
  static void start() throws Exception {
    server = TestNode.start(tempDir);
    RedisURI uri = RedisURI.builder().withHost("127.0.0.1").withPort(server.port()).build();
    uri.setTimeout(COMMAND_TIMEOUT);
    client = RedisClient.create(uri);
  }

  @AfterAll
  static void stop() {
    if (client != null) {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
    if (server != null) {
      server.close();
    }
  }

  private static StatefulRedisConnection<String, String> connect(ProtocolVersion protocol) {
    client.setOptions(ClientOptions.builder().protocolVersion(protocol).build());
    StatefulRedisConnection<String, String> connection = client.connect();
    connection.sync().flushall();
    return connection;
  }

  @ParameterizedTest
  @EnumSource(ProtocolVersion.class)
  void connectionAndServerCommands(ProtocolVersion protocol) {
    try (StatefulRedisConnection<String, String> c = connect(protocol)) {
      RedisCommands<String, String> r = c.sync();
      assertThat(r.ping()).isEqualTo("PONG");
      assertThat(r.echo("hello")).isEqualTo("hello");
      assertThat(r.clientSetname("lettuce-conn")).isEqualTo("OK");
      assertThat(r.clientGetname()).isEqualTo("lettuce-conn");
      assertThat(r.clientId()).isPositive();
      assertThat(r.clientInfo()).contains("name=lettuce-conn");
      assertThat(r.clientList()).contains("name=lettuce-conn");
      assertThat(r.select(5)).isEqualTo("OK");
      r.set("five", "5");
      assertThat(r.dbsize()).isEqualTo(1);
      r.select(0);
      assertThat(r.exists("five")).isZero();
      assertThat(r.time()).hasSize(2);
      assertThat(r.info("server")).contains("redis_version:");
      assertThat(r.configGet("hz")).containsEntry("hz", "10");
      assertThat(r.commandCount()).isGreaterThan(70);
      assertThat(r.commandInfo("get")).hasSize(1);
      r.set("x", "1");
      assertThat(r.flushdb()).isEqualTo("OK");
      assertThat(r.dbsize()).isZero();
    }
  }

  @ParameterizedTest
  @EnumSource(ProtocolVersion.class)
  void strings(ProtocolVersion protocol) {
    try (StatefulRedisConnection<String, String> c = connect(protocol)) {
      RedisCommands<String, String> r = c.sync();
      assertThat(r.get("missing")).isNull();
      assertThat(r.set("k", "v", SetArgs.Builder.nx().ex(100))).isEqualTo("OK");
      assertThat(r.set("k", "w", SetArgs.Builder.nx())).isNull();
      assertThat(r.set("k", "w", SetArgs.Builder.xx().keepttl())).isEqualTo("OK");
      assertThat(r.ttl("k")).isBetween(99L, 100L);
      assertThat(r.setGet("k", "x")).isEqualTo("w");
      assertThat(r.ttl("k")).isEqualTo(-1);
      assertThat(r.set("at", "v", SetArgs.Builder.pxAt(4_102_444_800_000L))).isEqualTo("OK");
      assertThat(r.pexpiretime("at")).isEqualTo(4_102_444_800_000L);
      assertThat(r.setnx("k", "y")).isFalse();
      assertThat(r.setex("se", 30, "v")).isEqualTo("OK");
      assertThat(r.psetex("pe", 30_000, "v")).isEqualTo("OK");
      assertThat(r.getset("k", "z")).isEqualTo("x");
      assertThat(r.getdel("k")).isEqualTo("z");
      r.set("ge", "v");
      assertThat(r.getex("ge", GetExArgs.Builder.px(40_000))).isEqualTo("v");
      assertThat(r.pttl("ge")).isBetween(39_000L, 40_000L);
      assertThat(r.getex("ge", GetExArgs.Builder.persist())).isEqualTo("v");
      assertThat(r.ttl("ge")).isEqualTo(-1);
      assertThat(r.mset(Map.of("a", "1", "b", "2"))).isEqualTo("OK");
      assertThat(r.mget("a", "nope", "b"))
          .containsExactly(
              KeyValue.just("a", "1"), KeyValue.empty("nope"), KeyValue.just("b", "2"));
      assertThat(r.msetnx(Map.of("a", "3", "c", "4"))).isFalse();
      assertThat(r.append("s", "abc")).isEqualTo(3);
      assertThat(r.strlen("s")).isEqualTo(3);
      assertThat(r.getrange("s", 1, -1)).isEqualTo("bc");
      assertThat(r.setrange("s", 1, "XY")).isEqualTo(3);
      assertThat(r.get("s")).isEqualTo("aXY");
      assertThat(r.incr("n")).isEqualTo(1);
      assertThat(r.incrby("n", 41)).isEqualTo(42);
      assertThat(r.decr("n")).isEqualTo(41);
      assertThat(r.decrby("n", 40)).isEqualTo(1);
      assertThat(r.incrbyfloat("f", 0.5)).isEqualTo(0.5);
      assertThatThrownBy(() -> r.incr("s"))
          .isInstanceOf(RedisCommandExecutionException.class)
          .hasMessage("ERR value is not an integer or out of range");
      r.sadd("set", "m");
      assertThatThrownBy(() -> r.append("set", "x"))
          .hasMessage("WRONGTYPE Operation against a key holding the wrong kind of value");
    }
  }

  @ParameterizedTest
  @EnumSource(ProtocolVersion.class)
  void keysAndExpiry(ProtocolVersion protocol) {
    try (StatefulRedisConnection<String, String> c = connect(protocol)) {
      RedisCommands<String, String> r = c.sync();
      for (int i = 0; i < 30; i++) {
        r.set("item:" + i, "v");
      }
      r.hset("h:1", "f", "v");
      assertThat(r.exists("item:0", "item:1", "nope")).isEqualTo(2);
      assertThat(r.type("h:1")).isEqualTo("hash");
      assertThat(r.keys("item:2*")).hasSize(11);
      Set<String> scanned = new HashSet<>();
      ScanIterator.scan(r, ScanArgs.Builder.matches("item:*").limit(4))
          .forEachRemaining(scanned::add);
      assertThat(scanned).hasSize(30);
      Set<String> hashes = new HashSet<>();
      ScanIterator.scan(r, KeyScanArgs.Builder.type("hash")).forEachRemaining(hashes::add);
      assertThat(hashes).containsExactly("h:1");
      assertThat(r.randomkey()).isNotNull();
      assertThat(r.rename("item:0", "moved")).isEqualTo("OK");
      assertThat(r.renamenx("item:1", "moved")).isFalse();
      assertThat(r.del("moved", "nope")).isEqualTo(1);
      assertThat(r.unlink("item:1")).isEqualTo(1);
      assertThat(r.expire("item:2", 100)).isTrue();
      assertThat(r.expire("item:2", 200, ExpireArgs.Builder.lt())).isFalse();
      assertThat(r.expire("item:2", 200, ExpireArgs.Builder.gt())).isTrue();
      assertThat(r.expire("item:3", 200, ExpireArgs.Builder.xx())).isFalse();
      assertThat(r.expire("item:3", 200, ExpireArgs.Builder.nx())).isTrue();
      assertThat(r.ttl("item:2")).isBetween(199L, 200L);
      assertThat(r.pexpire("item:2", 5_000)).isTrue();
      assertThat(r.pttl("item:2")).isBetween(4_000L, 5_000L);
      assertThat(r.expireat("item:4", 4_102_444_800L)).isTrue();
      assertThat(r.expiretime("item:4")).isEqualTo(4_102_444_800L);
      assertThat(r.pexpireat("item:4", 4_102_444_800_500L)).isTrue();
      assertThat(r.pexpiretime("item:4")).isEqualTo(4_102_444_800_500L);
      assertThat(r.persist("item:4")).isTrue();
      assertThat(r.ttl("item:4")).isEqualTo(-1);
      assertThat(r.pexpire("item:5", 1)).isTrue();
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> r.exists("item:5") == 0);
      assertThat(r.ttl("item:5")).isEqualTo(-2);
    }
  }

  @ParameterizedTest
  @EnumSource(ProtocolVersion.class)
  void hashesAndSets(ProtocolVersion protocol) {
    try (StatefulRedisConnection<String, String> c = connect(protocol)) {
      RedisCommands<String, String> r = c.sync();
      assertThat(r.hset("h", Map.of("a", "1", "b", "2"))).isEqualTo(2);
      assertThat(r.hget("h", "a")).isEqualTo("1");
      assertThat(r.hmget("h", "a", "zz"))
          .containsExactly(KeyValue.just("a", "1"), KeyValue.empty("zz"));
      assertThat(r.hgetall("h")).isEqualTo(Map.of("a", "1", "b", "2"));
      assertThat(r.hkeys("h")).containsExactlyInAnyOrder("a", "b");
      assertThat(r.hvals("h")).containsExactlyInAnyOrder("1", "2");
      assertThat(r.hlen("h")).isEqualTo(2);
      assertThat(r.hexists("h", "a")).isTrue();
      assertThat(r.hincrby("h", "a", 9)).isEqualTo(10);
      assertThat(r.hincrbyfloat("h", "g", 1.25)).isEqualTo(1.25);
      assertThat(r.hsetnx("h", "a", "x")).isFalse();
      assertThat(r.hdel("h", "a", "zz")).isEqualTo(1);
      for (int i = 0; i < 200; i++) {
        r.hset("big", "f" + i, "v" + i);
        r.sadd("members", "m" + i);
      }
      Map<String, String> fields = new HashMap<>();
      ScanIterator.hscan(r, "big", ScanArgs.Builder.limit(13))
          .forEachRemaining(kv -> fields.put(kv.getKey(), kv.getValue()));
      assertThat(fields).hasSize(200).containsEntry("f7", "v7");
      Set<String> members = new HashSet<>();
      ScanIterator.sscan(r, "members", ScanArgs.Builder.matches("m1*"))
          .forEachRemaining(members::add);
      assertThat(members).hasSize(111); // m1, m10..m19, m100..m199

      assertThat(r.sadd("s", "a", "b", "c")).isEqualTo(3);
      assertThat(r.srem("s", "c")).isEqualTo(1);
      assertThat(r.smembers("s")).containsExactlyInAnyOrder("a", "b");
      assertThat(r.sismember("s", "a")).isTrue();
      assertThat(r.smismember("s", "a", "z")).containsExactly(true, false);
      assertThat(r.scard("s")).isEqualTo(2);
      assertThat(r.srandmember("members", 20)).hasSize(20).doesNotHaveDuplicates();
      assertThat(r.spop("members", 50)).hasSize(50);
      assertThat(r.scard("members")).isEqualTo(150);
      assertThat(r.spop("s")).isIn("a", "b");
    }
  }

  @ParameterizedTest
  @EnumSource(ProtocolVersion.class)
  void asyncPipelineWithManualFlush(ProtocolVersion protocol) {
    try (StatefulRedisConnection<String, String> c = connect(protocol)) {
      RedisAsyncCommands<String, String> async = c.async();
      c.setAutoFlushCommands(false);
      List<RedisFuture<?>> futures = new ArrayList<>();
      for (int i = 0; i < PIPELINE_COMMANDS; i++) {
        switch (i % 3) {
          case 0 -> futures.add(async.set("p:" + i, Integer.toString(i)));
          case 1 -> futures.add(async.incr("pipeline-counter"));
          default -> futures.add(async.sadd("pipeline-set", "m" + i));
        }
      }
      assertThat(futures.get(0).isDone()).isFalse(); // nothing went out before the flush
      c.flushCommands();
      assertThat(LettuceFutures.awaitAll(COMMAND_TIMEOUT, futures.toArray(new RedisFuture<?>[0])))
          .isTrue();
      c.setAutoFlushCommands(true);
      for (int i = 0; i < PIPELINE_COMMANDS; i++) {
        Object reply = futures.get(i).toCompletableFuture().join();
        switch (i % 3) {
          case 0 -> assertThat(reply).isEqualTo("OK");
          case 1 -> assertThat(reply).isEqualTo((long) (i / 3 + 1));
          default -> assertThat(reply).isEqualTo(1L);
        }
      }
      RedisCommands<String, String> r = c.sync();
      assertThat(r.get("pipeline-counter")).isEqualTo("333");
      assertThat(r.scard("pipeline-set")).isEqualTo(333);
      assertThat(r.get("p:999")).isEqualTo("999");
    }
  }

  @Test
  void threadsSharingOneConnectionIncrementExactly() throws Exception {
    try (StatefulRedisConnection<String, String> c = connect(ProtocolVersion.RESP3)) {
      RedisCommands<String, String> r = c.sync();
      ExecutorService pool = Executors.newFixedThreadPool(CONCURRENT_THREADS);
      try {
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < CONCURRENT_THREADS; t++) {
          done.add(
              pool.submit(
                  () -> {
                    for (int i = 0; i < INCREMENTS_PER_THREAD; i++) {
                      r.incr("shared");
                    }
                  }));
        }
        for (Future<?> f : done) {
          f.get(CONCURRENT_DEADLINE_SECONDS, TimeUnit.SECONDS);
        }
      } finally {
        pool.shutdownNow();
      }
      assertThat(r.get("shared"))
          .isEqualTo(Long.toString((long) CONCURRENT_THREADS * INCREMENTS_PER_THREAD));
    }
  }
}
