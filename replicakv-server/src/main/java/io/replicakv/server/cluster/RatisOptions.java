package io.replicakv.server.cluster;

import io.replicakv.core.util.Check;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * How to start a {@link RatisMetadataStore}.
 *
 * @param memberId this node's id; a voter's id must be one of {@code voters}
 * @param directory where a voter keeps its Raft log and snapshots (unused by non-voters)
 * @param voters the metadata quorum: 1, 3 or 5 voters
 * @param isVoter whether this node runs a Raft server or only follows
 * @param clusterId the cluster's id; it names the Raft group, so two clusters never mix
 * @param requestTimeoutMillis how long a proposal may wait for the quorum before failing with
 *     {@link MetadataUnavailableException}
 */
public record RatisOptions(
    String memberId,
    Path directory,
    List<VoterAddress> voters,
    boolean isVoter,
    String clusterId,
    long requestTimeoutMillis) {

  /** Allowed quorum sizes: odd, so a majority is well defined, and small, so commits stay fast. */
  public static final Set<Integer> VOTER_COUNTS = Set.of(1, 3, 5);

  /** Shortest request timeout: below this, one leader election cannot complete. */
  public static final long REQUEST_TIMEOUT_MIN_MILLIS = 500;

  /** Validates the options. */
  public RatisOptions {
    Check.argument(memberId != null && !memberId.isBlank(), "memberId must be non-empty");
    Check.notNull(directory, "directory");
    voters = List.copyOf(voters);
    Check.argument(
        VOTER_COUNTS.contains(voters.size()),
        "%s voters; the metadata quorum needs 1, 3 or 5",
        voters.size());
    Set<String> ids = new HashSet<>();
    voters.forEach(v -> Check.argument(ids.add(v.id()), "voter %s listed twice", v.id()));
    Check.argument(
        !isVoter || ids.contains(memberId), "member %s is a voter but not in %s", memberId, ids);
    Check.argument(clusterId != null && !clusterId.isBlank(), "clusterId must be non-empty");
    Check.argument(
        requestTimeoutMillis >= REQUEST_TIMEOUT_MIN_MILLIS,
        "requestTimeoutMillis %s < %s",
        requestTimeoutMillis,
        REQUEST_TIMEOUT_MIN_MILLIS);
  }
}
