package io.replicakv.server.config;

/** A setting that is unknown or has a value it cannot take; the message names the setting. */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message);
  }
}
