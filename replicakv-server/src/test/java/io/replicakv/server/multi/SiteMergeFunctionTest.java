package io.replicakv.server.multi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.multi.MergeFunction;
import io.replicakv.core.multi.MergeFunctions;
import io.replicakv.core.multi.MergeResolver;
import io.replicakv.core.quorum.KeyspaceConfig;
import io.replicakv.core.quorum.Style;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code conflicts=merge:CLASS}: a user merge function is law-checked before a keyspace uses it.
 */
class SiteMergeFunctionTest {
  /** Largest of two integers: commutative, associative, idempotent. */
  public static final class Larger implements MergeFunction {
    public static final MergeFunction.Domain DOMAIN = MergeFunction.Domain.INTEGERS;

    @Override
    public String merge(String left, String right) {
      return Long.toString(Math.max(Long.parseLong(left), Long.parseLong(right)));
    }
  }

  /** Concatenation: neither commutative nor idempotent. */
  public static final class Glue implements MergeFunction {
    @Override
    public String merge(String left, String right) {
      return left + right;
    }
  }

  @Test
  void aLawfulClassIsRegisteredWithItsDomain() {
    MergeResolver resolver =
        (MergeResolver)
            SiteKeyspaces.resolver(config(Larger.class.getName()), new MergeFunctions());
    assertThat(resolver.domain()).isEqualTo(MergeFunction.Domain.INTEGERS);
    assertThat(resolver.strategy().toString()).isEqualTo("merge:" + Larger.class.getName());
  }

  @Test
  void aClassBreakingAMergeLawIsRefusedWithTheCounterExample() {
    assertThatThrownBy(
            () -> SiteKeyspaces.resolver(config(Glue.class.getName()), new MergeFunctions()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(Glue.class.getName())
        .hasMessageContaining("not idempotent: merge(");
  }

  @Test
  void aMissingClassIsRefusedByName() {
    assertThatThrownBy(
            () -> SiteKeyspaces.resolver(config("com.example.Nowhere"), new MergeFunctions()))
        .hasMessageContaining("com.example.Nowhere")
        .hasMessageContaining("not a MergeFunction class on the class path");
  }

  private static KeyspaceConfig config(String function) {
    KeyspaceConfig config =
        KeyspaceConfig.parse(
            "k", 1, Style.MULTI_LEADER, 1, Map.of("conflicts", "merge:" + function));
    assertThat(config.validate()).isEmpty();
    return config;
  }
}
