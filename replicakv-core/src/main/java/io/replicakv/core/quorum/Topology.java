package io.replicakv.core.quorum;

/**
 * How multi-leader sites pass changes to each other (DDIA chapter 5, "Multi-leader topologies").
 */
public enum Topology {
  /** Every site sends to every other site. */
  ALL_TO_ALL("all-to-all"),
  /** Sites send to a hub site, which forwards to the others. */
  STAR("star"),
  /** Each site forwards to the next in a ring of sites. */
  CIRCULAR("circular");

  private final String text;

  Topology(String text) {
    this.text = text;
  }

  /** The configuration word. */
  public String text() {
    return text;
  }

  /** The topology named by {@code text}. */
  public static Topology parse(String text) {
    for (Topology topology : values()) {
      if (topology.text.equals(text)) {
        return topology;
      }
    }
    throw new IllegalArgumentException("unknown topology '" + text + "'");
  }
}
