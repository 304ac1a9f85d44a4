package io.replicakv.server.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicakv.server.conformance.RespWireClient.Wire;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The script runner's own pieces: a comparison that is too lenient would hide real differences. */
class DifferentialScriptTest {
  private static Wire bulk(String s) {
    return Wire.scalar('$', s);
  }

  @Test
  void tokenizerHandlesQuotesEscapesAndEmptyArguments() {
    assertThat(DifferentialScript.tokenize("SET k \"two words\" \"\" \"a\\\"b\" \"\\x41\\r\\n\""))
        .containsExactly("SET", "k", "two words", "", "a\"b", "A\r\n");
  }

  @Test
  void renderingDistinguishesNullEmptyAndTypes() {
    assertThat(new Wire('$', null, null).render()).isEqualTo("$-1");
    assertThat(bulk("").render()).isEqualTo("$0:");
    assertThat(Wire.scalar('_', null).render()).isEqualTo("_");
    assertThat(new Wire('*', null, List.of(bulk("a"), Wire.scalar(':', "1"))).render())
        .isEqualTo("*2[$1:a, :1]");
    assertThat(new Wire('%', null, List.of(bulk("k"), bulk("v"))).render())
        .isEqualTo("%1{$1:k=>$1:v}");
  }

  @Test
  void sortedComparisonIgnoresOrderButNotContent() {
    Wire ab = new Wire('*', null, List.of(bulk("a"), bulk("b")));
    Wire ba = new Wire('*', null, List.of(bulk("b"), bulk("a")));
    Wire ac = new Wire('*', null, List.of(bulk("a"), bulk("c")));
    assertThat(DifferentialScript.sorted(ab, false))
        .isEqualTo(DifferentialScript.sorted(ba, false));
    assertThat(DifferentialScript.sorted(ab, false))
        .isNotEqualTo(DifferentialScript.sorted(ac, false));
  }

  @Test
  void pairSortingKeepsFieldsWithTheirValues() {
    Wire x = new Wire('*', null, List.of(bulk("a"), bulk("1"), bulk("b"), bulk("2")));
    Wire swapped = new Wire('*', null, List.of(bulk("a"), bulk("2"), bulk("b"), bulk("1")));
    assertThat(DifferentialScript.sorted(x, true))
        .isNotEqualTo(DifferentialScript.sorted(swapped, true));
  }

  @Test
  void shapeSeesSizesAndTypesButNotValues() {
    Wire one = new Wire('*', null, List.of(bulk("1700000000"), bulk("123")));
    Wire other = new Wire('*', null, List.of(bulk("1800000000"), bulk("9")));
    Wire longer = new Wire('*', null, List.of(bulk("1"), bulk("2"), bulk("3")));
    assertThat(DifferentialScript.shape(one)).isEqualTo(DifferentialScript.shape(other));
    assertThat(DifferentialScript.shape(one)).isNotEqualTo(DifferentialScript.shape(longer));
  }
}
