package io.replicakv.core.multi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.replicakv.core.causal.Dot;
import io.replicakv.core.causal.Hlc;
import io.replicakv.core.causal.VersionVector;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class MergeFunctionsTest {
  private final MergeFunctions functions = new MergeFunctions();

  @Provide
  Arbitrary<String> integers() {
    return Arbitraries.longs().between(-1_000_000, 1_000_000).map(value -> Long.toString(value));
  }

  @Provide
  Arbitrary<String> sets() {
    return Arbitraries.strings()
        .withCharRange('a', 'f')
        .ofMinLength(1)
        .ofMaxLength(2)
        .set()
        .ofMaxSize(4)
        .map(elements -> String.join(",", new java.util.TreeSet<>(elements)));
  }

  @Property
  void maxAndMinAreCommutativeAssociativeAndIdempotent(
      @ForAll("integers") String a, @ForAll("integers") String b, @ForAll("integers") String c) {
    for (String name : List.of("max", "min")) {
      MergeFunction f = functions.find(name).orElseThrow().function();
      assertLaws(f, a, b, c);
    }
  }

  @Property
  void unionIsCommutativeAssociativeAndIdempotent(
      @ForAll("sets") String a, @ForAll("sets") String b, @ForAll("sets") String c) {
    assertLaws(functions.find("union").orElseThrow().function(), a, b, c);
  }

  private static void assertLaws(MergeFunction f, String a, String b, String c) {
    assertThat(f.merge(a, b)).isEqualTo(f.merge(b, a));
    assertThat(f.merge(f.merge(a, b), c)).isEqualTo(f.merge(a, f.merge(b, c)));
    assertThat(f.merge(a, a)).isEqualTo(a);
  }

  /**
   * Every built-in, sum and concat included, reads the same merged value whatever order the
   * concurrent writes arrived in, because the fold runs over the live set in dot order.
   */
  @Property
  void everyBuiltInReadsTheSameValueWhateverOrderConcurrentWritesArrive(
      @ForAll @Size(min = 1, max = 5) List<@IntRange(min = -50, max = 50) Integer> numbers,
      @ForAll long shuffleSeed) {
    for (String name : List.of("max", "min", "sum", "concat", "union")) {
      MergeResolver resolver = new MergeResolver(functions.find(name).orElseThrow());
      List<Change> changes = new ArrayList<>();
      for (int i = 0; i < numbers.size(); i++) {
        String value = name.equals("union") ? "e" + Math.abs(numbers.get(i)) : "" + numbers.get(i);
        changes.add(concurrentWrite("s" + i, value));
      }
      String inOrder = readAfter(resolver, changes);
      List<Change> shuffled = new ArrayList<>(changes);
      java.util.Collections.shuffle(shuffled, new java.util.Random(shuffleSeed));
      assertThat(readAfter(resolver, shuffled)).as(name).isEqualTo(inOrder);
    }
  }

  @Example
  void mergeOfAllWritesIsWhatTheReadReturns() {
    MergeResolver sum = new MergeResolver(functions.find("sum").orElseThrow());
    assertThat(
            readAfter(
                sum,
                List.of(
                    concurrentWrite("a", "5"),
                    concurrentWrite("b", "6"),
                    concurrentWrite("c", "-1"))))
        .isEqualTo("10");
  }

  private static Change concurrentWrite(String site, String value) {
    return new Change(
        new Dot(site, 1),
        VersionVector.EMPTY,
        VersionVector.EMPTY,
        new Hlc(1, 0),
        "k",
        new Mutation.Assign(value));
  }

  private static String readAfter(MergeResolver resolver, List<Change> changes) {
    KeyState state = KeyState.EMPTY;
    ConflictMetrics metrics = new ConflictMetrics("merge");
    for (Change change : changes) {
      state = resolver.apply("k", state, change, metrics);
    }
    assertThat(metrics.get(ConflictMetrics.CONCURRENT_WRITES)).isEqualTo(changes.size() - 1);
    return resolver.read(state).values().get(0);
  }

  @Example
  void firstWriterWinsIsRefusedWithACounterExample() {
    assertThatThrownBy(
            () ->
                functions.register(
                    "first-writer", (left, right) -> left, MergeFunction.Domain.STRINGS, 42))
        .isInstanceOfSatisfying(
            MergeFunctionRefusedException.class,
            refused -> {
              assertThat(refused.counterExample()).startsWith("not commutative: merge(\"");
              assertThat(refused.getMessage()).contains("'first-writer' refused");
            });
    assertThat(functions.find("first-writer")).isEmpty();
  }

  @Example
  void sumAsAUserFunctionIsRefusedAsNotIdempotent() {
    assertThatThrownBy(
            () ->
                functions.register(
                    "my-sum",
                    (a, b) -> Long.toString(Long.parseLong(a) + Long.parseLong(b)),
                    MergeFunction.Domain.INTEGERS,
                    7))
        .hasMessageContaining("not idempotent: merge(");
  }

  @Example
  void subtractionIsRefusedAndAThrowingFunctionIsRefusedWithItsInput() {
    assertThatThrownBy(
            () ->
                functions.register(
                    "minus",
                    (a, b) -> Long.toString(Long.parseLong(a) - Long.parseLong(b)),
                    MergeFunction.Domain.INTEGERS,
                    1))
        .hasMessageContaining("not commutative");
    assertThatThrownBy(
            () ->
                functions.register(
                    "parse",
                    (a, b) -> Long.toString(Math.max(Long.parseLong(a), Long.parseLong(b))),
                    MergeFunction.Domain.STRINGS,
                    1))
        .hasMessageContaining("threw java.lang.NumberFormatException");
  }

  @Example
  void aLawfulUserFunctionIsRegisteredAndUsable() {
    MergeFunctions.Registered longest =
        functions.register(
            "longest",
            (a, b) -> a.length() != b.length() ? (a.length() > b.length() ? a : b) : max(a, b),
            MergeFunction.Domain.STRINGS,
            3);
    assertThat(functions.find("longest")).contains(longest);
    assertThat(functions.all().keySet())
        .containsAll(Set.of("union", "max", "min", "sum", "concat", "longest"));
  }

  private static String max(String a, String b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  @Property
  void theRegistrationCheckIsDeterministicForASeed(@ForAll long seed) {
    MergeFunction biased = (a, b) -> a.length() > 1 ? a : b;
    assertThat(MergeFunctions.findCounterExample(biased, MergeFunction.Domain.STRINGS, seed))
        .isEqualTo(MergeFunctions.findCounterExample(biased, MergeFunction.Domain.STRINGS, seed));
  }
}
