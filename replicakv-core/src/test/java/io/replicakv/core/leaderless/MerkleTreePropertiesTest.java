package io.replicakv.core.leaderless;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/**
 * The Merkle tree's promises, as properties: identical content gives identical roots however the
 * content was reached (and different content different roots), walking two trees down their
 * differing branches finds exactly the keys whose digests differ, and below the kept leaves the
 * virtual levels cover exactly their hash ranges and add up to the kept leaf above them.
 */
class MerkleTreePropertiesTest {
  @Provide
  Arbitrary<Map<String, Long>> contents() {
    return Arbitraries.maps(
            Arbitraries.strings().alpha().numeric().ofMinLength(1).ofMaxLength(8),
            Arbitraries.longs())
        .ofMaxSize(200);
  }

  @Provide
  Arbitrary<List<Map<String, Long>>> contentPairs() {
    Arbitrary<Map<String, Long>> base = contents();
    Arbitrary<Map<String, Long>> edits =
        Arbitraries.maps(
                Arbitraries.strings().alpha().ofMinLength(1).ofMaxLength(8),
                Arbitraries.longs().injectNull(0.3))
            .ofMaxSize(20);
    return Combinators.combine(base, edits)
        .as(
            (content, edit) -> {
              Map<String, Long> other = new TreeMap<>(content);
              edit.forEach(
                  (key, digest) -> {
                    if (digest == null) {
                      other.remove(key);
                    } else {
                      other.put(key, digest);
                    }
                  });
              return List.of(content, other);
            });
  }

  @Property(tries = 200)
  void identicalContentGivesIdenticalRootWhateverTheUpdateOrder(
      @ForAll("contents") Map<String, Long> content) {
    MerkleTree forward = build(content, false);
    MerkleTree backward = build(content, true);
    // Reach the same content through detours: insert a wrong digest first, then correct it.
    MerkleTree detour = MerkleTree.withDefaults();
    content.forEach((key, digest) -> detour.update(key, false, 0, true, digest + 1));
    content.forEach((key, digest) -> detour.update(key, true, digest + 1, true, digest));
    assertThat(backward.root()).isEqualTo(forward.root());
    assertThat(detour.root()).isEqualTo(forward.root());
  }

  @Property(tries = 300)
  void rootsDifferExactlyWhenContentDiffers(@ForAll("contentPairs") List<Map<String, Long>> pair) {
    MerkleTree a = build(pair.get(0), false);
    MerkleTree b = build(pair.get(1), false);
    assertThat(a.root() == b.root()).isEqualTo(pair.get(0).equals(pair.get(1)));
  }

  @Property(tries = 300)
  void walkingDifferingBranchesFindsExactlyTheDifferingKeys(
      @ForAll("contentPairs") List<Map<String, Long>> pair) {
    Map<String, Long> left = pair.get(0);
    Map<String, Long> right = pair.get(1);
    MerkleTree a = build(left, false);
    MerkleTree b = build(right, false);
    Set<Integer> leaves = differingLeaves(a, b);
    Set<String> found = new TreeSet<>();
    Set<String> candidates = new HashSet<>(left.keySet());
    candidates.addAll(right.keySet());
    for (String key : candidates) {
      if (leaves.contains(a.leafOf(key))
          && !java.util.Objects.equals(left.get(key), right.get(key))) {
        found.add(key);
      }
    }
    Set<String> expected = new TreeSet<>();
    for (String key : candidates) {
      if (!java.util.Objects.equals(left.get(key), right.get(key))) {
        expected.add(key);
      }
    }
    assertThat(found).isEqualTo(expected);
    // Only leaves holding a differing key are visited: the walk is not a full scan.
    Set<Integer> expectedLeaves = new TreeSet<>();
    expected.forEach(key -> expectedLeaves.add(a.leafOf(key)));
    assertThat(leaves).isEqualTo(expectedLeaves);
  }

  @Property(tries = 200)
  void virtualLevelsBelowTheKeptLeavesAddUpToThemAndCoverExactlyTheirRanges(
      @ForAll("contents") Map<String, Long> content) {
    MerkleTree tree = build(content, false);
    int below = tree.depth() + 1;
    Map<Integer, Long> childHashes = new TreeMap<>();
    Map<Integer, Integer> leafCounts = new TreeMap<>();
    content.forEach(
        (key, digest) -> {
          long keyHash = Hashing.hashKey(key);
          int leaf = tree.indexOf(tree.depth(), keyHash);
          int child = tree.indexOf(below, keyHash);
          assertThat(child / tree.fanOut()).isEqualTo(leaf);
          for (int level = 0; level <= tree.levelsMax(); level++) {
            int index = tree.indexOf(level, keyHash);
            assertThat(Long.compareUnsigned(tree.rangeFirstHash(level, index), keyHash))
                .isLessThanOrEqualTo(0);
            assertThat(Long.compareUnsigned(keyHash, tree.rangeLastHash(level, index)))
                .isLessThanOrEqualTo(0);
          }
          childHashes.merge(
              child, MerkleTree.rangeHash(new long[] {keyHash}, new long[] {digest}), Long::sum);
          leafCounts.merge(leaf, 1, Integer::sum);
        });
    // a kept leaf's hash is the sum of its virtual children's, each hashed from its own keys
    Map<Integer, Long> leafFromChildren = new TreeMap<>();
    childHashes.forEach(
        (child, hash) -> leafFromChildren.merge(child / tree.fanOut(), hash, Long::sum));
    for (int leaf = 0; leaf < tree.width(tree.depth()); leaf++) {
      assertThat(tree.hash(tree.depth(), leaf)).isEqualTo(leafFromChildren.getOrDefault(leaf, 0L));
      assertThat(tree.count(tree.depth(), leaf)).isEqualTo(leafCounts.getOrDefault(leaf, 0));
    }
    assertThat(tree.count(0, 0)).isEqualTo(content.size());
  }

  @Test
  void emptyTreeHasRootZeroAndRemovingEveryKeyReturnsToIt() {
    MerkleTree tree = MerkleTree.withDefaults();
    assertThat(tree.root()).isZero();
    tree.update("a", false, 0, true, 42);
    assertThat(tree.root()).isNotZero();
    tree.update("a", true, 42, false, 0);
    assertThat(tree.root()).isZero();
  }

  @Test
  void shapeIsBoundedAndNamed() {
    MerkleTree tree = MerkleTree.withDefaults();
    assertThat(tree.width(tree.depth()))
        .isEqualTo((int) Math.pow(MerkleTree.DEFAULT_FAN_OUT, MerkleTree.DEFAULT_DEPTH));
    assertThat(tree.nodeCount()).isEqualTo(1 + 16 + 256);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new MerkleTree(16, 5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("leaves over");
  }

  /** The protocol's walk: from the root, descend only into children whose hashes differ. */
  static Set<Integer> differingLeaves(MerkleTree a, MerkleTree b) {
    List<Integer> frontier = new ArrayList<>(List.of(0));
    for (int level = 0; level < a.depth(); level++) {
      List<Integer> next = new ArrayList<>();
      for (int index : frontier) {
        if (a.hash(level, index) != b.hash(level, index)) {
          next.addAll(a.children(level, index));
        }
      }
      frontier = next;
    }
    Set<Integer> leaves = new TreeSet<>();
    for (int leaf : frontier) {
      if (a.hash(a.depth(), leaf) != b.hash(b.depth(), leaf)) {
        leaves.add(leaf);
      }
    }
    return leaves;
  }

  private static MerkleTree build(Map<String, Long> content, boolean reverse) {
    MerkleTree tree = MerkleTree.withDefaults();
    List<String> keys = new ArrayList<>(content.keySet());
    if (reverse) {
      java.util.Collections.reverse(keys);
    }
    keys.forEach(key -> tree.update(key, false, 0, true, content.get(key)));
    return tree;
  }
}
