package io.replicakv.net.resp;

import io.replicakv.core.util.Check;
import java.util.List;

/** Shared reply instances and helpers behind {@link Reply}'s factories. */
final class SharedReplies {
  private SharedReplies() {}

  static final Reply.SimpleString OK = new Reply.SimpleString("OK");
  static final Reply.SimpleString PONG = new Reply.SimpleString("PONG");
  static final Reply.SimpleString QUEUED = new Reply.SimpleString("QUEUED");
  static final Reply.ArrayReply EMPTY_ARRAY = new Reply.ArrayReply(List.of());

  /** Integers in [{@value #INTEGER_CACHE_MIN}, {@value #INTEGER_CACHE_LIMIT}) are shared. */
  static final int INTEGER_CACHE_MIN = -1;

  static final int INTEGER_CACHE_LIMIT = 1024;
  static final Reply.IntegerReply[] INTEGERS =
      new Reply.IntegerReply[INTEGER_CACHE_LIMIT - INTEGER_CACHE_MIN];

  static {
    for (int i = 0; i < INTEGERS.length; i++) {
      INTEGERS[i] = new Reply.IntegerReply(i + INTEGER_CACHE_MIN);
    }
  }

  static String oneLine(String text) {
    Check.notNull(text, "text");
    if (text.indexOf('\r') < 0 && text.indexOf('\n') < 0) {
      return text;
    }
    return text.replace('\r', ' ').replace('\n', ' ');
  }

  static boolean isDecimal(String text) {
    int start = text.startsWith("-") ? 1 : 0;
    if (text.length() == start) {
      return false;
    }
    for (int i = start; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        return false;
      }
    }
    return true;
  }
}
