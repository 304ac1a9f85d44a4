package io.replicakv.core.causal;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

class VersionVectorTest {

  @Provide
  Arbitrary<VersionVector> vectors() {
    return Arbitraries.maps(Arbitraries.of("a", "b", "c", "d"), Arbitraries.longs().between(0, 4))
        .ofMaxSize(4)
        .map(VersionVector::of);
  }

  @Property(seed = "101")
  void orderIsReflexive(@ForAll("vectors") VersionVector a) {
    assertThat(a.compare(a)).isEqualTo(Causality.EQUAL);
    assertThat(a.descends(a)).isTrue();
  }

  @Property(seed = "102")
  void orderIsAntisymmetric(
      @ForAll("vectors") VersionVector a, @ForAll("vectors") VersionVector b) {
    if (a.descends(b) && b.descends(a)) {
      assertThat(a).isEqualTo(b);
    }
    Causality forward = a.compare(b);
    Causality backward = b.compare(a);
    switch (forward) {
      case BEFORE -> assertThat(backward).isEqualTo(Causality.AFTER);
      case AFTER -> assertThat(backward).isEqualTo(Causality.BEFORE);
      case EQUAL -> assertThat(backward).isEqualTo(Causality.EQUAL);
      case CONCURRENT -> assertThat(backward).isEqualTo(Causality.CONCURRENT);
    }
  }

  @Property(seed = "103")
  void orderIsTransitive(
      @ForAll("vectors") VersionVector a,
      @ForAll("vectors") VersionVector b,
      @ForAll("vectors") VersionVector c) {
    // Build chains so the premise holds often, not only by chance.
    VersionVector ab = a.merge(b);
    VersionVector abc = ab.merge(c);
    assertThat(abc.descends(ab) && ab.descends(a)).isTrue();
    assertThat(abc.descends(a)).isTrue();
    if (c.descends(b) && b.descends(a)) {
      assertThat(c.descends(a)).isTrue();
    }
  }

  @Property(seed = "104")
  void mergeIsCommutativeAssociativeIdempotent(
      @ForAll("vectors") VersionVector a,
      @ForAll("vectors") VersionVector b,
      @ForAll("vectors") VersionVector c) {
    assertThat(a.merge(b)).isEqualTo(b.merge(a));
    assertThat(a.merge(b).merge(c)).isEqualTo(a.merge(b.merge(c)));
    assertThat(a.merge(a)).isEqualTo(a);
  }

  @Property(seed = "105")
  void mergeIsLeastUpperBound(
      @ForAll("vectors") VersionVector a, @ForAll("vectors") VersionVector b) {
    VersionVector joined = a.merge(b);
    assertThat(joined.descends(a) && joined.descends(b)).isTrue();
    for (var entry : joined.entries().entrySet()) {
      assertThat(entry.getValue())
          .isEqualTo(Math.max(a.get(entry.getKey()), b.get(entry.getKey())));
    }
  }

  @Property(seed = "106")
  void incrementMovesStrictlyAfter(@ForAll("vectors") VersionVector a) {
    VersionVector next = a.increment("b");
    assertThat(next.compare(a)).isEqualTo(Causality.AFTER);
    assertThat(next.contains(a.nextDot("b"))).isTrue();
  }

  @Property(seed = "107")
  void binaryFormRoundTrips(@ForAll("vectors") VersionVector a) {
    byte[] bytes = a.toBytes();
    assertThat(bytes[0]).isEqualTo((byte) 1);
    assertThat(VersionVector.fromBytes(bytes)).isEqualTo(a);
  }

  @Property(seed = "108")
  void dottedVersionVectorsOrderByDots(
      @ForAll("vectors") VersionVector seen, @ForAll("vectors") VersionVector context) {
    DottedVersionVector first = DottedVersionVector.forWrite(context, seen, "a");
    DottedVersionVector second =
        DottedVersionVector.forWrite(
            first.toVersionVector(), seen.merge(first.toVersionVector()), "b");
    DottedVersionVector blind =
        DottedVersionVector.forWrite(VersionVector.EMPTY, seen.merge(context), "c");
    assertThat(first.compare(second)).isEqualTo(Causality.BEFORE);
    assertThat(second.compare(first)).isEqualTo(Causality.AFTER);
    assertThat(first.compare(blind)).isEqualTo(Causality.CONCURRENT);
    assertThat(DottedVersionVector.fromBytes(second.toBytes())).isEqualTo(second);
  }
}
