package io.replicakv.core.quorum;

/** How a keyspace replicates its partitions (DESIGN.md, "Keyspace replication config"). */
public enum Style {
  /** One leader per partition streams its log to followers. */
  SINGLE_LEADER("single-leader"),
  /** Dynamo style: any node coordinates, N/R/W quorums. */
  LEADERLESS("leaderless"),
  /** Every site accepts writes; changes flow between sites over a topology. */
  MULTI_LEADER("multi-leader");

  private final String text;

  Style(String text) {
    this.text = text;
  }

  /** The configuration word, such as {@code single-leader}. */
  public String text() {
    return text;
  }

  /** The style named by {@code text}. */
  public static Style parse(String text) {
    for (Style style : values()) {
      if (style.text.equals(text)) {
        return style;
      }
    }
    throw new IllegalArgumentException("unknown style '" + text + "'");
  }
}
