package io.replicakv.server.conformance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.server.ReplicaKvServer;
import java.nio.file.Path;
import java.util.ArrayList;
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
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.RedisProtocol;
import redis.clients.jedis.Response;
import redis.clients.jedis.args.ExpiryOption;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.params.GetExParams;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.params.SetParams;
import redis.clients.jedis.resps.ScanResult;

/**
 * Jedis 8 against a ReplicaKV node through its typed API, under RESP2 (Jedis's default, no HELLO)
 * and RESP3 (HELLO 3 on connect): every command group, a 1,000-command pipeline, and many
 * concurrent clients incrementing one counter.
 */
class JedisConformanceTest {
  static final int CLIENT_TIMEOUT_MILLIS = 10_000;
  static final int PIPELINE_COMMANDS = 1_000;
  static final int CONCURRENT_CLIENTS = 32;
  static final int INCREMENTS_PER_CLIENT = 500;
  static final long CONCURRENT_DEADLINE_SECONDS = 60;

  @TempDir static Path tempDir;
  private static ReplicaKvServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestNode.start(tempDir);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static Jedis connect(RedisProtocol protocol) {
    DefaultJedisClientConfig.Builder config =
        DefaultJedisClientConfig.builder().timeoutMillis(CLIENT_TIMEOUT_MILLIS);
    if (protocol == RedisProtocol.RESP3) {
      config.protocol(protocol); // RESP2 stays the default: Jedis sends no HELLO at all
    }
    Jedis jedis = new Jedis(new HostAndPort("127.0.0.1", server.port()), config.build());
    jedis.flushAll();
    return jedis;
  }

  @ParameterizedTest
  @EnumSource(RedisProtocol.class)
  void connectionAndServerCommands(RedisProtocol protocol) {
    try (Jedis jedis = connect(protocol)) {
      assertThat(jedis.ping()).isEqualTo("PONG");
      assertThat(jedis.ping("hi")).isEqualTo("hi");
      assertThat(jedis.echo("echo me")).isEqualTo("echo me");
      assertThat(jedis.clientSetname("jedis-conn")).isEqualTo("OK");
      assertThat(jedis.clientGetname()).isEqualTo("jedis-conn");
      assertThat(jedis.clientId()).isPositive();
      assertThat(jedis.clientInfo()).contains("name=jedis-conn").contains("id=");
      assertThat(jedis.select(3)).isEqualTo("OK");
      jedis.set("in-three", "x");
      assertThat(jedis.dbSize()).isEqualTo(1);
      jedis.select(0);
      assertThat(jedis.exists("in-three")).isFalse();
      assertThat(jedis.time()).hasSize(2);
      assertThat(jedis.commandCount()).isGreaterThan(70);
      assertThat(jedis.info("server")).contains("redis_version:");
      assertThat(jedis.configGet("maxclients")).containsEntry("maxclients", "10000");
      assertThat(jedis.configSet("hz", "15")).isEqualTo("OK");
      assertThat(jedis.configGet("hz")).containsEntry("hz", "15");
      jedis.configSet("hz", "10");
      jedis.set("a", "1");
      assertThat(jedis.flushDB()).isEqualTo("OK");
      assertThat(jedis.dbSize()).isZero();
      assertThatThrownBy(() -> jedis.select(99))
          .isInstanceOf(JedisDataException.class)
          .hasMessage("ERR DB index is out of range");
      // an embedded node refuses SHUTDOWN instead of stopping the program around it
      assertThatThrownBy(() -> jedis.shutdown())
          .isInstanceOf(JedisDataException.class)
          .hasMessageContaining("not available on an embedded node");
      assertThat(jedis.ping()).isEqualTo("PONG");
    }
  }

  @ParameterizedTest
  @EnumSource(RedisProtocol.class)
  void strings(RedisProtocol protocol) {
    try (Jedis jedis = connect(protocol)) {
      assertThat(jedis.get("missing")).isNull();
      assertThat(jedis.set("k", "v")).isEqualTo("OK");
      assertThat(jedis.set("k", "w", SetParams.setParams().nx())).isNull();
      assertThat(jedis.set("k", "w", SetParams.setParams().xx().ex(100))).isEqualTo("OK");
      assertThat(jedis.ttl("k")).isBetween(99L, 100L);
      assertThat(jedis.set("k", "x", SetParams.setParams().keepTtl())).isEqualTo("OK");
      assertThat(jedis.ttl("k")).isBetween(99L, 100L);
      assertThat(jedis.setGet("k", "y")).isEqualTo("x");
      assertThat(jedis.set("p", "v", SetParams.setParams().px(50_000))).isEqualTo("OK");
      assertThat(jedis.pttl("p")).isBetween(49_000L, 50_000L);
      assertThat(jedis.set("at", "v", SetParams.setParams().exAt(4_102_444_800L))).isEqualTo("OK");
      assertThat(jedis.expireTime("at")).isEqualTo(4_102_444_800L);
      assertThat(jedis.setnx("k", "z")).isZero();
      assertThat(jedis.setex("se", 10, "v")).isEqualTo("OK");
      assertThat(jedis.psetex("pe", 10_000, "v")).isEqualTo("OK");
      assertThat(jedis.getSet("k", "g")).isEqualTo("y");
      assertThat(jedis.getDel("k")).isEqualTo("g");
      assertThat(jedis.exists("k")).isFalse();
      jedis.set("ge", "v");
      assertThat(jedis.getEx("ge", GetExParams.getExParams().ex(100))).isEqualTo("v");
      assertThat(jedis.ttl("ge")).isBetween(99L, 100L);
      assertThat(jedis.getEx("ge", GetExParams.getExParams().persist())).isEqualTo("v");
      assertThat(jedis.ttl("ge")).isEqualTo(-1);
      assertThat(jedis.mset("a", "1", "b", "2")).isEqualTo("OK");
      assertThat(jedis.mget("a", "missing", "b")).containsExactly("1", null, "2");
      assertThat(jedis.msetnx("a", "9", "c", "3")).isZero();
      assertThat(jedis.append("s", "Hello")).isEqualTo(5);
      assertThat(jedis.append("s", " World")).isEqualTo(11);
      assertThat(jedis.strlen("s")).isEqualTo(11);
      assertThat(jedis.getrange("s", -5, -1)).isEqualTo("World");
      assertThat(jedis.setrange("s", 6, "Redis")).isEqualTo(11);
      assertThat(jedis.get("s")).isEqualTo("Hello Redis");
      assertThat(jedis.incr("n")).isEqualTo(1);
      assertThat(jedis.incrBy("n", 10)).isEqualTo(11);
      assertThat(jedis.decr("n")).isEqualTo(10);
      assertThat(jedis.decrBy("n", 4)).isEqualTo(6);
      assertThat(jedis.incrByFloat("f", 1.5)).isEqualTo(1.5);
      assertThat(jedis.incrByFloat("f", 0.25)).isEqualTo(1.75);
      assertThatThrownBy(() -> jedis.incr("s"))
          .isInstanceOf(JedisDataException.class)
          .hasMessage("ERR value is not an integer or out of range");
      jedis.set("max", Long.toString(Long.MAX_VALUE));
      assertThatThrownBy(() -> jedis.incr("max"))
          .hasMessage("ERR increment or decrement would overflow");
      jedis.hset("h", "f", "v");
      assertThatThrownBy(() -> jedis.get("h"))
          .hasMessage("WRONGTYPE Operation against a key holding the wrong kind of value");
    }
  }

  @ParameterizedTest
  @EnumSource(RedisProtocol.class)
  void keysAndExpiry(RedisProtocol protocol) {
    try (Jedis jedis = connect(protocol)) {
      for (int i = 0; i < 40; i++) {
        jedis.set("user:" + i, "v");
      }
      jedis.hset("hash:1", "f", "v");
      jedis.sadd("set:1", "m");
      assertThat(jedis.exists("user:1", "user:2", "nope")).isEqualTo(2);
      assertThat(jedis.type("hash:1")).isEqualTo("hash");
      assertThat(jedis.type("set:1")).isEqualTo("set");
      assertThat(jedis.type("user:1")).isEqualTo("string");
      assertThat(jedis.type("nope")).isEqualTo("none");
      assertThat(jedis.keys("user:1*")).hasSize(11);
      assertThat(scanAll(jedis, new ScanParams().match("user:*").count(7), null)).hasSize(40);
      assertThat(scanAll(jedis, new ScanParams(), "hash")).containsExactly("hash:1");
      assertThat(jedis.randomKey()).isNotNull();
      assertThat(jedis.rename("user:0", "renamed")).isEqualTo("OK");
      assertThat(jedis.renamenx("user:1", "renamed")).isZero();
      assertThatThrownBy(() -> jedis.rename("nope", "x")).hasMessage("ERR no such key");
      assertThat(jedis.del("renamed", "user:1", "nope")).isEqualTo(2);
      assertThat(jedis.unlink("user:2")).isEqualTo(1);

      assertThat(jedis.expire("user:3", 100)).isEqualTo(1);
      assertThat(jedis.expire("user:3", 50, ExpiryOption.GT)).isZero();
      assertThat(jedis.expire("user:3", 50, ExpiryOption.LT)).isEqualTo(1);
      assertThat(jedis.expire("user:3", 10, ExpiryOption.NX)).isZero();
      assertThat(jedis.expire("user:4", 10, ExpiryOption.XX)).isZero();
      assertThat(jedis.ttl("user:3")).isBetween(49L, 50L);
      assertThat(jedis.pexpire("user:3", 70_000)).isEqualTo(1);
      assertThat(jedis.pttl("user:3")).isBetween(69_000L, 70_000L);
      assertThat(jedis.expireAt("user:5", 4_102_444_800L)).isEqualTo(1);
      assertThat(jedis.pexpireTime("user:5")).isEqualTo(4_102_444_800_000L);
      assertThat(jedis.pexpireAt("user:5", 4_102_444_800_123L)).isEqualTo(1);
      assertThat(jedis.expireTime("user:5")).isEqualTo(4_102_444_800L);
      assertThat(jedis.persist("user:5")).isEqualTo(1);
      assertThat(jedis.ttl("user:5")).isEqualTo(-1);
      assertThat(jedis.ttl("nope")).isEqualTo(-2);
      assertThat(jedis.pexpire("user:6", 1)).isEqualTo(1);
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(5))
          .until(() -> !jedis.exists("user:6"));
    }
  }

  private static Set<String> scanAll(Jedis jedis, ScanParams params, String type) {
    Set<String> found = new HashSet<>();
    String cursor = ScanParams.SCAN_POINTER_START;
    do {
      ScanResult<String> page =
          type == null ? jedis.scan(cursor, params) : jedis.scan(cursor, params, type);
      found.addAll(page.getResult());
      cursor = page.getCursor();
    } while (!"0".equals(cursor));
    return found;
  }

  @ParameterizedTest
  @EnumSource(RedisProtocol.class)
  void hashes(RedisProtocol protocol) {
    try (Jedis jedis = connect(protocol)) {
      assertThat(jedis.hset("h", Map.of("a", "1", "b", "2", "c", "3"))).isEqualTo(3);
      assertThat(jedis.hset("h", "a", "10")).isZero();
      assertThat(jedis.hget("h", "a")).isEqualTo("10");
      assertThat(jedis.hmget("h", "a", "zz", "b")).containsExactly("10", null, "2");
      assertThat(jedis.hgetAll("h")).isEqualTo(Map.of("a", "10", "b", "2", "c", "3"));
      assertThat(jedis.hkeys("h")).containsExactlyInAnyOrder("a", "b", "c");
      assertThat(jedis.hvals("h")).containsExactlyInAnyOrder("10", "2", "3");
      assertThat(jedis.hlen("h")).isEqualTo(3);
      assertThat(jedis.hexists("h", "b")).isTrue();
      assertThat(jedis.hdel("h", "b", "zz")).isEqualTo(1);
      assertThat(jedis.hincrBy("h", "a", 5)).isEqualTo(15);
      assertThat(jedis.hincrByFloat("h", "fl", 2.5)).isEqualTo(2.5);
      assertThat(jedis.hsetnx("h", "a", "x")).isZero();
      assertThat(jedis.hsetnx("h", "new", "x")).isEqualTo(1);
      for (int i = 0; i < 300; i++) {
        jedis.hset("big", "field" + i, Integer.toString(i));
      }
      Map<String, String> seen = new java.util.HashMap<>();
      String cursor = ScanParams.SCAN_POINTER_START;
      do {
        ScanResult<Map.Entry<String, String>> page =
            jedis.hscan("big", cursor, new ScanParams().count(20));
        page.getResult().forEach(e -> seen.put(e.getKey(), e.getValue()));
        cursor = page.getCursor();
      } while (!"0".equals(cursor));
      assertThat(seen).hasSize(300).containsEntry("field299", "299");
      assertThatThrownBy(() -> jedis.hincrBy("h", "new", 1))
          .hasMessage("ERR hash value is not an integer");
    }
  }

  @ParameterizedTest
  @EnumSource(RedisProtocol.class)
  void sets(RedisProtocol protocol) {
    try (Jedis jedis = connect(protocol)) {
      assertThat(jedis.sadd("s", "a", "b", "c", "a")).isEqualTo(3);
      assertThat(jedis.srem("s", "c", "zz")).isEqualTo(1);
      assertThat(jedis.smembers("s")).containsExactlyInAnyOrder("a", "b");
      assertThat(jedis.sismember("s", "a")).isTrue();
      assertThat(jedis.smismember("s", "a", "zz", "b")).containsExactly(true, false, true);
      assertThat(jedis.scard("s")).isEqualTo(2);
      for (int i = 0; i < 100; i++) {
        jedis.sadd("r", "m" + i);
      }
      assertThat(jedis.srandmember("r", 10)).hasSize(10).doesNotHaveDuplicates();
      assertThat(jedis.srandmember("r", -150)).hasSize(150);
      assertThat(jedis.spop("r", 30)).hasSize(30);
      assertThat(jedis.scard("r")).isEqualTo(70);
      assertThat(jedis.spop("r")).startsWith("m");
      Set<String> scanned = new HashSet<>();
      String cursor = ScanParams.SCAN_POINTER_START;
      do {
        ScanResult<String> page = jedis.sscan("r", cursor, new ScanParams().count(5));
        scanned.addAll(page.getResult());
        cursor = page.getCursor();
      } while (!"0".equals(cursor));
      assertThat(scanned).isEqualTo(jedis.smembers("r")).hasSize(69);
    }
  }

  @ParameterizedTest
  @EnumSource(RedisProtocol.class)
  void pipelineOfAThousandCommands(RedisProtocol protocol) {
    try (Jedis jedis = connect(protocol)) {
      Pipeline pipeline = jedis.pipelined();
      List<Response<?>> responses = new ArrayList<>();
      for (int i = 0; i < PIPELINE_COMMANDS; i++) {
        switch (i % 4) {
          case 0 -> responses.add(pipeline.set("key:" + i, "value:" + i));
          case 1 -> responses.add(pipeline.incr("counter"));
          case 2 -> responses.add(pipeline.get("key:" + (i - 2)));
          default -> responses.add(pipeline.hset("hash", "f" + i, "v"));
        }
      }
      pipeline.sync();
      for (int i = 0; i < PIPELINE_COMMANDS; i++) {
        Object reply = responses.get(i).get();
        switch (i % 4) {
          case 0 -> assertThat(reply).isEqualTo("OK");
          case 1 -> assertThat(reply).isEqualTo((long) (i / 4 + 1));
          case 2 -> assertThat(reply).isEqualTo("value:" + (i - 2));
          default -> assertThat(reply).isEqualTo(1L);
        }
      }
      assertThat(jedis.dbSize()).isEqualTo(PIPELINE_COMMANDS / 4 + 2);
      assertThat(jedis.hlen("hash")).isEqualTo(PIPELINE_COMMANDS / 4);
    }
  }

  @Test
  void concurrentClientsIncrementOneCounterExactly() throws Exception {
    try (Jedis jedis = connect(RedisProtocol.RESP2)) {
      jedis.del("shared");
    }
    ExecutorService pool = Executors.newFixedThreadPool(CONCURRENT_CLIENTS);
    try {
      List<Future<Long>> results = new ArrayList<>();
      for (int c = 0; c < CONCURRENT_CLIENTS; c++) {
        RedisProtocol protocol = c % 2 == 0 ? RedisProtocol.RESP2 : RedisProtocol.RESP3;
        results.add(
            pool.submit(
                () -> {
                  long last = 0;
                  try (Jedis jedis = clientWithoutFlush(protocol)) {
                    for (int i = 0; i < INCREMENTS_PER_CLIENT; i++) {
                      long now = jedis.incr("shared");
                      assertThat(now).isGreaterThan(last); // one client's increments are ordered
                      last = now;
                    }
                  }
                  return last;
                }));
      }
      for (Future<Long> f : results) {
        assertThat(f.get(CONCURRENT_DEADLINE_SECONDS, TimeUnit.SECONDS))
            .isBetween(
                (long) INCREMENTS_PER_CLIENT, (long) CONCURRENT_CLIENTS * INCREMENTS_PER_CLIENT);
      }
    } finally {
      pool.shutdownNow();
    }
    try (Jedis jedis = clientWithoutFlush(RedisProtocol.RESP2)) {
      assertThat(jedis.get("shared"))
          .isEqualTo(Long.toString((long) CONCURRENT_CLIENTS * INCREMENTS_PER_CLIENT));
    }
  }

  private static Jedis clientWithoutFlush(RedisProtocol protocol) {
    DefaultJedisClientConfig.Builder config =
        DefaultJedisClientConfig.builder().timeoutMillis(CLIENT_TIMEOUT_MILLIS);
    if (protocol == RedisProtocol.RESP3) {
      config.protocol(protocol);
    }
    return new Jedis(new HostAndPort("127.0.0.1", server.port()), config.build());
  }
}
