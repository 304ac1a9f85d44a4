package io.replicakv.core.multi;

import io.replicakv.core.util.Check;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The merge functions a node knows: the built-ins ({@code union}, {@code max}, {@code min}, {@code
 * sum}, {@code concat}) and user functions registered by name.
 *
 * <p><b>Registration check.</b> A user function is accepted only after a property check over {@link
 * #CHECK_TRIALS} value triples drawn from its domain by a generator seeded by the caller (core has
 * no randomness of its own): {@code f(a,b) = f(b,a)}, {@code f(f(a,b),c) = f(a,f(b,c))}, {@code
 * f(a,a) = a}, and no exception. The first violation refuses the function with {@link
 * MergeFunctionRefusedException}, whose message shows the counter-example. A check by sampling can
 * miss a violation that needs rare inputs; it catches the usual mistakes ("first writer wins",
 * subtraction, averaging) on the first few trials.
 *
 * <p><b>Built-ins.</b> {@code union}, {@code max} and {@code min} satisfy all three laws. {@code
 * sum} is not idempotent and {@code concat} not commutative; both are still safe because a site
 * folds the exact set of live concurrent writes (each once, by dot) in dot order, which every site
 * agrees on. They are the documented exceptions and are not offered for user registration.
 */
public final class MergeFunctions {
  /** Value triples tried per law before a user function is accepted. */
  public static final int CHECK_TRIALS = 1_000;

  /** Registered user functions per node. */
  public static final int REGISTERED_MAX = 1_000;

  /** A function and the domain its values come from. */
  public record Registered(String name, MergeFunction function, MergeFunction.Domain domain) {}

  private final TreeMap<String, Registered> functions = new TreeMap<>();

  /** A registry holding only the built-ins. */
  public MergeFunctions() {
    functions.put(
        "union", new Registered("union", MergeFunctions::union, MergeFunction.Domain.SETS));
    functions.put(
        "max",
        new Registered(
            "max",
            (a, b) -> Long.toString(Math.max(Long.parseLong(a), Long.parseLong(b))),
            MergeFunction.Domain.INTEGERS));
    functions.put(
        "min",
        new Registered(
            "min",
            (a, b) -> Long.toString(Math.min(Long.parseLong(a), Long.parseLong(b))),
            MergeFunction.Domain.INTEGERS));
    functions.put(
        "sum",
        new Registered(
            "sum",
            (a, b) -> Long.toString(Math.addExact(Long.parseLong(a), Long.parseLong(b))),
            MergeFunction.Domain.INTEGERS));
    functions.put(
        "concat", new Registered("concat", (a, b) -> a + b, MergeFunction.Domain.STRINGS));
  }

  /** The function called {@code name}, if known. */
  public Optional<Registered> find(String name) {
    return Optional.ofNullable(functions.get(name));
  }

  /** Every known function by name. */
  public SortedMap<String, Registered> all() {
    return Collections.unmodifiableSortedMap(functions);
  }

  /**
   * Registers {@code function} as {@code name} after checking the merge laws on values of {@code
   * domain} drawn from a generator seeded with {@code seed}.
   *
   * @throws MergeFunctionRefusedException with the counter-example when a law fails
   */
  public Registered register(
      String name, MergeFunction function, MergeFunction.Domain domain, long seed) {
    Check.notNull(name, "name");
    Check.notNull(function, "function");
    Check.notNull(domain, "domain");
    Check.argument(!functions.containsKey(name), "merge function '%s' already exists", name);
    Check.argument(functions.size() < REGISTERED_MAX, "over %s merge functions", REGISTERED_MAX);
    Optional<String> counterExample = findCounterExample(function, domain, seed);
    if (counterExample.isPresent()) {
      throw new MergeFunctionRefusedException(name, counterExample.get());
    }
    Registered registered = new Registered(name, function, domain);
    functions.put(name, registered);
    return registered;
  }

  /** The first violated law with its values, or empty when every trial passed. */
  public static Optional<String> findCounterExample(
      MergeFunction function, MergeFunction.Domain domain, long seed) {
    SampleValues values = new SampleValues(seed);
    for (int trial = 0; trial < CHECK_TRIALS; trial++) {
      String a = values.next(domain);
      String b = values.next(domain);
      String c = values.next(domain);
      Optional<String> problem = checkTriple(function, a, b, c);
      if (problem.isPresent()) {
        return problem;
      }
    }
    return Optional.empty();
  }

  private static Optional<String> checkTriple(MergeFunction f, String a, String b, String c) {
    try {
      String ab = f.merge(a, b);
      String ba = f.merge(b, a);
      if (!ab.equals(ba)) {
        return Optional.of(
            String.format(
                "not commutative: merge(%s, %s) = %s but merge(%s, %s) = %s",
                quote(a), quote(b), quote(ab), quote(b), quote(a), quote(ba)));
      }
      String left = f.merge(ab, c);
      String bc = f.merge(b, c);
      String right = f.merge(a, bc);
      if (!left.equals(right)) {
        return Optional.of(
            String.format(
                "not associative: merge(merge(%s, %s), %s) = %s but merge(%s, merge(%s, %s)) = %s",
                quote(a),
                quote(b),
                quote(c),
                quote(left),
                quote(a),
                quote(b),
                quote(c),
                quote(right)));
      }
      String aa = f.merge(a, a);
      if (!aa.equals(a)) {
        return Optional.of(
            String.format("not idempotent: merge(%s, %s) = %s", quote(a), quote(a), quote(aa)));
      }
      return Optional.empty();
    } catch (RuntimeException e) {
      return Optional.of(
          String.format("threw %s on values %s, %s, %s", e, quote(a), quote(b), quote(c)));
    }
  }

  private static String quote(String value) {
    return value == null ? "null" : "\"" + value + "\"";
  }

  /** Set union of comma-separated elements, sorted, no duplicates; "" is the empty set. */
  static String union(String left, String right) {
    TreeSet<String> elements = new TreeSet<>();
    for (String side : new String[] {left, right}) {
      if (!side.isEmpty()) {
        elements.addAll(Arrays.asList(side.split(",", -1)));
      }
    }
    return String.join(",", elements);
  }

  /** Registered functions by name, for listing; built-ins included. */
  public Map<String, MergeFunction.Domain> domains() {
    TreeMap<String, MergeFunction.Domain> domains = new TreeMap<>();
    functions.forEach((name, registered) -> domains.put(name, registered.domain()));
    return domains;
  }

  /**
   * A small deterministic generator (SplitMix64) for the registration check: core draws no
   * randomness of its own, so the caller's seed fixes every value tried.
   */
  static final class SampleValues {
    private long state;

    SampleValues(long seed) {
      this.state = seed;
    }

    long nextLong() {
      state += 0x9E3779B97F4A7C15L;
      long z = state;
      z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
      z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
      return z ^ (z >>> 31);
    }

    int nextInt(int bound) {
      return (int) Math.floorMod(nextLong(), (long) bound);
    }

    String next(MergeFunction.Domain domain) {
      return switch (domain) {
        case INTEGERS -> Long.toString(nextInt(2001) - 1000);
        case SETS -> {
          TreeSet<String> elements = new TreeSet<>();
          int size = nextInt(4);
          for (int i = 0; i < size; i++) {
            elements.add(Character.toString('a' + nextInt(5)));
          }
          yield String.join(",", elements);
        }
        case STRINGS -> {
          StringBuilder text = new StringBuilder();
          int length = nextInt(4);
          for (int i = 0; i < length; i++) {
            text.append((char) ('a' + nextInt(3)));
          }
          yield text.toString();
        }
      };
    }
  }
}
