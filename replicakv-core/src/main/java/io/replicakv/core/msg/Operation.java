package io.replicakv.core.msg;

import io.replicakv.core.util.Check;

/** A client operation on one key. Sealed so that each replica handles every kind. */
public sealed interface Operation permits Operation.Get, Operation.Put {
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

  /** Overwrites the key's value. */
  record Put(String key, String value) implements Operation {
    public Put {
      checkKey(key);
      Check.argument(value != null, "value is null");
    }
  }

  private static void checkKey(String key) {
    Check.argument(key != null, "key is null");
    Check.argument(
        key.length() <= KEY_CHARS_MAX, "key %s chars over %s", key.length(), KEY_CHARS_MAX);
  }
}
