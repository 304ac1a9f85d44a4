package io.replicakv.core.quorum;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class KeyspaceConfigTest {

  private static KeyspaceConfig leaderless(Map<String, String> options) {
    return KeyspaceConfig.parse("carts", 2, Style.LEADERLESS, 5, options);
  }

  @Test
  void defaultKeyspaceFollowsTheDesign() {
    KeyspaceConfig three = KeyspaceConfig.defaultKeyspace(5);
    assertThat(three.name()).isEqualTo("default");
    assertThat(three.number()).isZero();
    assertThat(three.style()).isEqualTo(Style.SINGLE_LEADER);
    assertThat(three.replicas()).isEqualTo(3);
    assertThat(three.acks()).isEqualTo(Acks.of(1));
    assertThat(three.validate()).isEmpty();
    KeyspaceConfig single = KeyspaceConfig.defaultKeyspace(1);
    assertThat(single.replicas()).isEqualTo(1);
    assertThat(single.acks()).isEqualTo(Acks.NONE);
    assertThat(single.validateFor(1)).isEmpty();
    assertThat(KeyspaceConfig.defaultKeyspace(2).replicas()).isEqualTo(2);
  }

  @Test
  void leaderlessDefaultsAreStrictMajorityQuorumsWithSiblings() {
    KeyspaceConfig config = leaderless(Map.of());
    assertThat(config.replicas()).isEqualTo(3);
    assertThat(config.readQuorum()).isEqualTo(2);
    assertThat(config.writeQuorum()).isEqualTo(2);
    assertThat(config.conflicts()).containsExactly(ConflictStrategy.SIBLINGS);
    assertThat(config.readRepair()).isTrue();
    assertThat(config.validate()).isEmpty();
  }

  @Test
  void readRepairIsBlockingAsyncOrOffAndBlockingNeedsOverlappingReads() {
    assertThat(leaderless(Map.of()).blockingReadRepair()).isFalse();
    KeyspaceConfig blocking = leaderless(Map.of("read-repair", "blocking"));
    assertThat(blocking.readRepair()).isTrue();
    assertThat(blocking.blockingReadRepair()).isTrue();
    assertThat(blocking.validate()).isEmpty();
    KeyspaceConfig async = leaderless(Map.of("read-repair", "async"));
    assertThat(async.readRepair()).isTrue();
    assertThat(async.blockingReadRepair()).isFalse();
    assertThat(leaderless(Map.of("read-repair", "on")).blockingReadRepair()).isFalse();
    KeyspaceConfig off = leaderless(Map.of("read-repair", "off"));
    assertThat(off.readRepair()).isFalse();
    assertThat(off.blockingReadRepair()).isFalse();
    assertThat(leaderless(Map.of("read-repair", "blocking", "r", "1")).validate())
        .singleElement()
        .asString()
        .contains("2R > N")
        .contains("r=1");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> leaderless(Map.of("read-repair", "sometimes")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("blocking, async or off");
  }

  @Test
  void followerReadsAreOffByDefaultAndRefusedOutsideSingleLeader() {
    KeyspaceConfig plain = KeyspaceConfig.parse("k", 16, Style.SINGLE_LEADER, 3, Map.of());
    assertThat(plain.followerReads()).isFalse();
    KeyspaceConfig on =
        KeyspaceConfig.parse("k", 16, Style.SINGLE_LEADER, 3, Map.of("follower-reads", "on"));
    assertThat(on.followerReads()).isTrue();
    assertThat(on.validate()).isEmpty();
    assertThat(on.toString()).contains("followerReads=true");
    assertThat(leaderless(Map.of("follower-reads", "on")).validate())
        .singleElement()
        .asString()
        .contains("single-leader keyspaces only")
        .contains("leaderless");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () ->
                KeyspaceConfig.parse(
                    "k", 16, Style.SINGLE_LEADER, 3, Map.of("follower-reads", "maybe")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("follower-reads must be on or off");
  }

  @Test
  void refusesReadYourWritesWithoutOverlappingQuorums() {
    List<String> reasons =
        leaderless(Map.of("r", "1", "w", "1", "read-your-writes", "on")).validate();
    assertThat(reasons).singleElement().asString().contains("R+W > N").contains("r=1 + w=1 <= N=3");
    assertThat(leaderless(Map.of("r", "1", "w", "1")).validate()).isEmpty();
  }

  @Test
  void refusesQuorumsLargerThanReplicasAndNoReplicas() {
    assertThat(leaderless(Map.of("r", "4", "w", "0")).validate())
        .anyMatch(reason -> reason.startsWith("r=4 not in"))
        .anyMatch(reason -> reason.startsWith("w=0 not in"));
    assertThat(leaderless(Map.of("replicas", "0")).validate())
        .singleElement()
        .asString()
        .contains("N=0 < 1");
  }

  @Test
  void refusesAcksBeyondTheFollowers() {
    KeyspaceConfig config =
        KeyspaceConfig.parse(
            "orders", 1, Style.SINGLE_LEADER, 5, Map.of("replicas", "3", "acks", "3"));
    assertThat(config.validate()).singleElement().asString().contains("acks=3").contains("(2)");
    KeyspaceConfig all =
        KeyspaceConfig.parse("orders", 1, Style.SINGLE_LEADER, 5, Map.of("acks", "all"));
    assertThat(all.validate()).isEmpty();
    assertThat(all.acks().followersRequired(3)).isEqualTo(2);
  }

  @Test
  void refusesLwwTogetherWithSiblingsAndUnknownMergeFunctions() {
    assertThat(leaderless(Map.of("conflicts", "lww,siblings")).validate())
        .singleElement()
        .asString()
        .contains("lww drops concurrent writes");
    Map<String, String> options = new LinkedHashMap<>();
    options.put("conflicts", "merge:average");
    assertThat(KeyspaceConfig.parse("m", 3, Style.MULTI_LEADER, 3, options).validate())
        .singleElement()
        .asString()
        .contains("'average'");
    options.put("conflicts", "merge:com.example.CartMerge");
    assertThat(KeyspaceConfig.parse("m", 3, Style.MULTI_LEADER, 3, options).validate()).isEmpty();
    assertThat(leaderless(Map.of("conflicts", "lock")).validate())
        .singleElement()
        .asString()
        .contains("siblings, lww or crdt");
  }

  @Test
  void starTopologyNeedsAHubAndOnlyStarTakesOne() {
    assertThat(
            KeyspaceConfig.parse("m", 4, Style.MULTI_LEADER, 3, Map.of("topology", "star"))
                .validate())
        .containsExactly("topology=star needs a hub site");
    assertThat(
            KeyspaceConfig.parse(
                    "m", 4, Style.MULTI_LEADER, 3, Map.of("topology", "star", "hub", "eu-west"))
                .validate())
        .isEmpty();
    assertThat(KeyspaceConfig.parse("m", 4, Style.MULTI_LEADER, 3, Map.of("hub", "eu")).validate())
        .singleElement()
        .asString()
        .contains("only applies to topology=star");
  }

  @Test
  void validateForRefusesMoreReplicasThanNodes() {
    KeyspaceConfig config = leaderless(Map.of("replicas", "5", "r", "3", "w", "3"));
    assertThat(config.validateFor(5)).isEmpty();
    assertThat(config.validateFor(4)).singleElement().asString().contains("N=5 > 4 nodes");
  }

  @Test
  void malformedOptionsAreRefusedWhileParsing() {
    assertThatThrownBy(() -> leaderless(Map.of("r", "two"))).hasMessageContaining("integer");
    assertThatThrownBy(() -> leaderless(Map.of("colour", "red"))).hasMessageContaining("colour");
    assertThatThrownBy(() -> leaderless(Map.of("conflicts", "vote"))).hasMessageContaining("vote");
    assertThatThrownBy(() -> Acks.parse("many")).hasMessageContaining("many");
    assertThat(ConflictStrategy.parse("home-site").toString()).isEqualTo("home-site");
    assertThat(ConflictStrategy.parse("merge:union").toString()).isEqualTo("merge:union");
  }
}
