package io.replicakv.server;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.slf4j.LoggerFactory;

/** Changes the log level of ReplicaKV's loggers at run time (CONFIG SET loglevel). */
public final class Logging {
  private Logging() {}

  public static void setLevel(String level) {
    if (LoggerFactory.getLogger("io.replicakv") instanceof Logger logger) {
      logger.setLevel(Level.toLevel(level, Level.INFO));
    }
  }
}
