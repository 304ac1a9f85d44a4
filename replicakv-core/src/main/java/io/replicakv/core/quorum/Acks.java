package io.replicakv.core.quorum;

import io.replicakv.core.util.Check;

/**
 * How many followers must persist a single-leader write before the client is answered: {@code all}
 * (synchronous), a count {@code k} (semi-synchronous), or {@code none} (asynchronous).
 *
 * @param all true for {@code acks=all}
 * @param followers the count for {@code acks=k}; 0 for {@code none}; ignored when {@code all}
 */
public record Acks(boolean all, int followers) {
  /** Every follower. */
  public static final Acks ALL = new Acks(true, 0);

  /** No follower: the leader answers after its own persist. */
  public static final Acks NONE = new Acks(false, 0);

  /** Validates the count. */
  public Acks {
    Check.argument(followers >= 0, "acks %s < 0", followers);
  }

  /** {@code acks=k}. */
  public static Acks of(int followers) {
    return new Acks(false, followers);
  }

  /** Parses {@code all}, {@code none} or a non-negative count. */
  public static Acks parse(String text) {
    return switch (text) {
      case "all" -> ALL;
      case "none" -> NONE;
      default -> {
        try {
          yield of(Integer.parseInt(text));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(
              "acks must be all, none or a count, got '" + text + "'");
        }
      }
    };
  }

  /** Followers that must acknowledge with {@code replicas} replicas in all (leader included). */
  public int followersRequired(int replicas) {
    return all ? Math.max(0, replicas - 1) : followers;
  }

  @Override
  public String toString() {
    return all ? "all" : followers == 0 ? "none" : Integer.toString(followers);
  }
}
