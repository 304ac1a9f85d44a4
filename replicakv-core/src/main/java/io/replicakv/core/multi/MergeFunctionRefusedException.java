package io.replicakv.core.multi;

/** A user merge function failed the registration check; the message holds the counter-example. */
public final class MergeFunctionRefusedException extends IllegalArgumentException {
  private final String counterExample;

  MergeFunctionRefusedException(String name, String counterExample) {
    super("merge function '" + name + "' refused: " + counterExample);
    this.counterExample = counterExample;
  }

  /** The violated law and the values that show it. */
  public String counterExample() {
    return counterExample;
  }
}
