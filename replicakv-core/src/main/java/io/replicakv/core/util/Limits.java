package io.replicakv.core.util;

/**
 * Bounds shared by the binary forms of the core data types. Decoders refuse input past these
 * bounds, so a corrupt length prefix is an error, never an allocation of gigabytes.
 */
public final class Limits {
  private Limits() {}

  /** Longest replica, node or site identifier, in UTF-8 bytes. */
  public static final int ID_MAX_BYTES = 256;

  /** Most replicas one version vector or causal context may name. */
  public static final int REPLICAS_MAX = 4_096;

  /** Largest value carried inside a data type (Redis' own limit for a string is 512 MiB). */
  public static final int VALUE_MAX_BYTES = 512 * 1024 * 1024;

  /** Most elements, fields or siblings in one decoded collection. */
  public static final int ELEMENTS_MAX = 1 << 24;
}
