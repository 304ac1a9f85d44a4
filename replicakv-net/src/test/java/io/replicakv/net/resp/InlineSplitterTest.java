package io.replicakv.net.resp;

import static io.replicakv.net.resp.Decoding.latin1;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class InlineSplitterTest {

  private static List<String> split(String line) {
    byte[] bytes = latin1(line);
    byte[][] args = InlineSplitter.split(bytes, bytes.length);
    return args == null
        ? null
        : Arrays.stream(args).map(a -> new String(a, StandardCharsets.ISO_8859_1)).toList();
  }

  @Test
  void blanksSeparateArguments() {
    assertThat(split("set  key\tvalue")).containsExactly("set", "key", "value");
    assertThat(split("\u000b\f get k")).containsExactly("get", "k");
    assertThat(split("")).isEmpty();
    assertThat(split(" \t ")).isEmpty();
  }

  @Test
  void doubleQuotesTakeCEscapes() {
    assertThat(split("\"a\\nb\\rc\\td\\be\\af\\\\g\\\"h\\zi\""))
        .containsExactly("a\nb\rc\td\be\u0007f\\g\"hzi");
    assertThat(split("\"\\x00\\xff\\x7F\"")).containsExactly("\u0000\u00ff\u007f");
    assertThat(split("\"\\x4\"")).containsExactly("x4");
  }

  @Test
  void singleQuotesOnlyEscapeTheQuote() {
    assertThat(split("'a\\nb\\'c'")).containsExactly("a\\nb'c");
    assertThat(split("'say \"hi\"'")).containsExactly("say \"hi\"");
  }

  @Test
  void quotesMayOpenInsideAnArgument() {
    assertThat(split("key\"with space\" x")).containsExactly("keywith space", "x");
    assertThat(split("a'b c'")).containsExactly("ab c");
  }

  @Test
  void aClosingQuoteMustEndTheArgument() {
    assertThat(split("\"a\"b")).isNull();
    assertThat(split("'a'b")).isNull();
    assertThat(split("\"a\" b")).containsExactly("a", "b");
    assertThat(split("\"a\"\tb")).containsExactly("a", "b");
  }

  @Test
  void unterminatedQuotesAreUnbalanced() {
    assertThat(split("\"abc")).isNull();
    assertThat(split("'abc")).isNull();
    assertThat(split("\"abc\\")).isNull();
    assertThat(split("\"abc\\\"")).isNull();
  }

  @Test
  void theLineEndsAtItsFirstNulByte() {
    assertThat(split("get k\u0000ignored \"")).containsExactly("get", "k");
    assertThat(split("get \"k\u0000\"")).isNull();
  }
}
