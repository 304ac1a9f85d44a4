package io.replicakv.server;

/** Versions this build reports. */
public final class Version {
  private Version() {}

  /** ReplicaKV's own version. */
  public static final String VERSION = "0.1.0";

  /**
   * The Redis protocol and command level ReplicaKV answers for, reported where clients read a
   * server version to choose features (HELLO's {@code version}, INFO's {@code redis_version}).
   */
  public static final String REDIS_COMPATIBLE = "7.2.0";
}
