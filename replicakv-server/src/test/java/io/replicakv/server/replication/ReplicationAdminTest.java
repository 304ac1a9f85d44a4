package io.replicakv.server.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.msg.Operation;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.MutationCodec;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The divergent-writes operation texts and the decoding of answers from other members. */
class ReplicationAdminTest {
  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void divergentWriteShowsKeyAndTheCommandThatMadeIt() {
    Mutation set = new Mutation.StringSet(3, b("user:1"), b("alice"), 0);
    String[] shown =
        ReplicationAdmin.describe(new Operation.Write("user:1", MutationCodec.encode(set)));
    assertThat(shown).containsExactly("user:1", "SET user:1 alice");
    assertThat(ReplicationAdmin.text(new Mutation.StringSet(3, b("k"), b("v"), 1234)))
        .isEqualTo("SET k v PXAT 1234");
    assertThat(ReplicationAdmin.text(new Mutation.HashSet(0, b("h"), List.of(b("f"), b("1")))))
        .isEqualTo("HSET h f 1");
    assertThat(
            ReplicationAdmin.text(
                new Mutation.Batch(
                    List.of(new Mutation.Delete(0, b("a")), new Mutation.Delete(0, b("b"))))))
        .isEqualTo("DEL a; DEL b");
    String longValue = "x".repeat(ReplicationAdmin.SHOWN_CHARS_MAX + 10);
    assertThat(ReplicationAdmin.text(new Mutation.StringSet(0, b("k"), b(longValue), 0)))
        .endsWith("...")
        .hasSize("SET k ".length() + ReplicationAdmin.SHOWN_CHARS_MAX + 3);
  }

  @Test
  void answersOfOtherMembersDecode() {
    assertThat(PeerCommands.decode(b(":1\r\n"))).isEqualTo(1L);
    assertThat(PeerCommands.decode(b("+group 0/5: n1 -> n2\r\n"))).isEqualTo("group 0/5: n1 -> n2");
    assertThat(PeerCommands.decode(b("-NOTCONTROLLER n2\r\n")))
        .isEqualTo(new PeerCommands.Error("NOTCONTROLLER n2"));
    assertThat(PeerCommands.decode(b("*2\r\n*2\r\n$2\r\nn1\r\n$0\r\n\r\n$-1\r\n")))
        .isEqualTo(java.util.Arrays.asList(List.of("n1", ""), null));
    assertThatThrownBy(() -> PeerCommands.decode(b("$5\r\nab\r\n")))
        .isInstanceOf(RuntimeException.class);
    assertThatThrownBy(() -> PeerCommands.decode(b(":1\r\n:2\r\n")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> PeerCommands.decode(b("*2000000\r\n")))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
