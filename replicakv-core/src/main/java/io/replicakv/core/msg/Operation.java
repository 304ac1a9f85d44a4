package io.replicakv.core.msg;

import io.replicakv.core.util.Check;
import java.util.Arrays;

/**
 * A client operation on one key. Sealed so that each replica handles every kind.
 *
 * <p>Two kinds of write exist. {@link Put} is the string register the simulator's checkers reason
 * about: a replica that receives it also keeps the value and answers {@link Get} from it. {@link
 * Write} is the server's logical change: bytes the replication layer carries, persists and hands
 * back on commit without interpreting them (the server encodes and applies them with its own
 * storage codec, so the log stays row-based as the design asks).
 */
public sealed interface Operation permits Operation.Get, Operation.Mutation {
  /** Longest key accepted, in UTF-16 chars. */
  int KEY_CHARS_MAX = 64 * 1024;

  /** The key the operation touches. */
  String key();

  /** Reads the key's current value (or its siblings). */
  record Get(String key) implements Operation {
    public Get {
      checkKey(key);
    }
  }

  /** Longest opaque payload a {@link Write} may carry, in bytes. */
  int PAYLOAD_BYTES_MAX = 16 * 1024 * 1024;

  /** An operation that changes state and is therefore replicated through a log. */
  sealed interface Mutation extends Operation permits Put, Write {
    /** Rough encoded size in bytes, for flow control and batch limits. */
    int sizeBytes();
  }

  /** Overwrites the key's value. */
  record Put(String key, String value) implements Mutation {
    public Put {
      checkKey(key);
      Check.argument(value != null, "value is null");
    }

    @Override
    public int sizeBytes() {
      return 2 * (key.length() + value.length());
    }
  }

  /**
   * An opaque change to {@code key}: the replica appends and commits {@code payload} without
   * reading it, and hands the same bytes back in {@code CommittedEntry} for the caller to apply.
   * The array is copied in and never exposed for writing, so a log entry cannot change after it was
   * appended.
   */
  record Write(String key, byte[] payload) implements Mutation {
    public Write {
      checkKey(key);
      Check.argument(payload != null, "payload is null");
      Check.argument(
          payload.length <= PAYLOAD_BYTES_MAX,
          "payload %s bytes over %s",
          payload.length,
          PAYLOAD_BYTES_MAX);
      payload = payload.clone();
    }

    /** A copy of the payload. */
    @Override
    public byte[] payload() {
      return payload.clone();
    }

    /** Payload length in bytes, without copying. */
    public int payloadLength() {
      return payload.length;
    }

    @Override
    public int sizeBytes() {
      return 2 * key.length() + payload.length;
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof Write write
          && key.equals(write.key)
          && Arrays.equals(payload, write.payload);
    }

    @Override
    public int hashCode() {
      return 31 * key.hashCode() + Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
      return "Write[key=" + key + ", payload=" + payload.length + " bytes]";
    }
  }

  private static void checkKey(String key) {
    Check.argument(key != null, "key is null");
    Check.argument(
        key.length() <= KEY_CHARS_MAX, "key %s chars over %s", key.length(), KEY_CHARS_MAX);
  }
}
