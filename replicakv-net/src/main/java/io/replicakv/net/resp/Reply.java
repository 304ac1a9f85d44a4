package io.replicakv.net.resp;

import io.replicakv.core.util.Check;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A reply to a client, independent of the protocol version; {@link RespEncoder} writes it as RESP3
 * types on a connection that said {@code HELLO 3} and downgrades it to RESP2 types otherwise (see
 * {@link RespEncoder} for the mapping).
 *
 * <p>Replies are immutable. Lists are copied on construction; {@code byte[]} payloads are not (a
 * bulk reply takes ownership of the array it is given). Texts of simple strings and errors cannot
 * carry CR or LF, so those are replaced by spaces, as Redis does for error texts.
 */
public sealed interface Reply
    permits Reply.SimpleString,
        Reply.ErrorReply,
        Reply.IntegerReply,
        Reply.BulkString,
        Reply.NullBulk,
        Reply.NullArray,
        Reply.ArrayReply,
        Reply.MapReply,
        Reply.SetReply,
        Reply.DoubleReply,
        Reply.BooleanReply,
        Reply.VerbatimString,
        Reply.BigNumber,
        Reply.PushReply {

  /** {@code +OK}. */
  static Reply ok() {
    return SharedReplies.OK;
  }

  /** {@code +PONG}. */
  static Reply pong() {
    return SharedReplies.PONG;
  }

  /** {@code +QUEUED}, the reply to a command inside MULTI. */
  static Reply queued() {
    return SharedReplies.QUEUED;
  }

  /** A simple (status) string such as {@code OK}. */
  static Reply simple(String text) {
    return switch (text) {
      case "OK" -> SharedReplies.OK;
      case "PONG" -> SharedReplies.PONG;
      case "QUEUED" -> SharedReplies.QUEUED;
      default -> new SimpleString(text);
    };
  }

  /**
   * An error with its full text, code first: {@code "ERR syntax error"}, {@code "WRONGTYPE
   * Operation against a key holding the wrong kind of value"}.
   */
  static Reply error(String fullText) {
    return new ErrorReply(fullText);
  }

  /** An integer; small values are shared instances with cached encodings. */
  static Reply integer(long value) {
    if (value >= SharedReplies.INTEGER_CACHE_MIN && value < SharedReplies.INTEGER_CACHE_LIMIT) {
      return SharedReplies.INTEGERS[(int) (value - SharedReplies.INTEGER_CACHE_MIN)];
    }
    return new IntegerReply(value);
  }

  /** A bulk string; the reply takes ownership of {@code bytes}. */
  static Reply bulk(byte[] bytes) {
    return new BulkString(bytes);
  }

  /** A bulk string holding the UTF-8 encoding of {@code utf8}. */
  static Reply bulk(String utf8) {
    return new BulkString(utf8.getBytes(StandardCharsets.UTF_8));
  }

  /** The null bulk string ({@code $-1} in RESP2, {@code _} in RESP3), e.g. GET of a missing key. */
  static Reply nil() {
    return NullBulk.INSTANCE;
  }

  /** The null array ({@code *-1} in RESP2, {@code _} in RESP3), e.g. a timed-out BLPOP. */
  static Reply nilArray() {
    return NullArray.INSTANCE;
  }

  /** An empty array. */
  static Reply emptyArray() {
    return SharedReplies.EMPTY_ARRAY;
  }

  /** An array of replies. */
  static Reply array(List<? extends Reply> items) {
    return new ArrayReply(List.copyOf(items));
  }

  /**
   * A map given as a flat list {@code key1, value1, key2, value2, ...}; RESP2 sends that flat list
   * as an array.
   */
  static Reply map(List<? extends Reply> flatKeyValues) {
    return new MapReply(List.copyOf(flatKeyValues));
  }

  /** A set (RESP3 {@code ~}); an array in RESP2. */
  static Reply set(List<? extends Reply> items) {
    return new SetReply(List.copyOf(items));
  }

  /** A double (RESP3 {@code ,}); a bulk string formatted as Redis formats doubles in RESP2. */
  static Reply doubleValue(double value) {
    return new DoubleReply(value);
  }

  /** A boolean (RESP3 {@code #t}/{@code #f}); the integer 1 or 0 in RESP2. */
  static Reply bool(boolean value) {
    return value ? BooleanReply.TRUE : BooleanReply.FALSE;
  }

  /**
   * A verbatim string (RESP3 {@code =}) with its three-character format such as {@code txt} or
   * {@code mkd}; a bulk string of {@code text} in RESP2.
   */
  static Reply verbatim(String format3chars, String text) {
    return new VerbatimString(format3chars, text);
  }

  /** A big number (RESP3 {@code (}) given as decimal digits with an optional minus sign. */
  static Reply bigNumber(String decimal) {
    return new BigNumber(decimal);
  }

  /** An array of bulk strings; a null element becomes the null bulk string. */
  static Reply bulkArray(List<byte[]> items) {
    List<Reply> replies = new ArrayList<>(items.size());
    for (byte[] item : items) {
      replies.add(item == null ? NullBulk.INSTANCE : new BulkString(item));
    }
    return new ArrayReply(List.copyOf(replies));
  }

  /** An out-of-band push (RESP3 {@code >}, e.g. pub/sub messages); an array in RESP2. */
  static Reply push(List<? extends Reply> items) {
    return new PushReply(List.copyOf(items));
  }

  /** {@code +text}. */
  record SimpleString(String text) implements Reply {
    public SimpleString {
      text = SharedReplies.oneLine(text);
    }
  }

  /** {@code -text}; {@code text} starts with the error code, such as {@code ERR}. */
  record ErrorReply(String text) implements Reply {
    public ErrorReply {
      text = SharedReplies.oneLine(text);
      if (text.startsWith("-")) {
        text = text.substring(1);
      }
      Check.argument(!text.isEmpty(), "an error reply needs a text");
    }
  }

  /** {@code :value}. */
  record IntegerReply(long value) implements Reply {}

  /** {@code $length\r\nbytes}; equality compares contents. */
  record BulkString(byte[] value) implements Reply {
    public BulkString {
      Check.notNull(value, "value");
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof BulkString bulk && Arrays.equals(value, bulk.value);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(value);
    }

    @Override
    public String toString() {
      return "BulkString[" + new String(value, StandardCharsets.UTF_8) + "]";
    }
  }

  /** The null bulk string. */
  record NullBulk() implements Reply {
    static final NullBulk INSTANCE = new NullBulk();
  }

  /** The null array. */
  record NullArray() implements Reply {
    static final NullArray INSTANCE = new NullArray();
  }

  /** An array. */
  record ArrayReply(List<Reply> items) implements Reply {}

  /** A map as a flat key, value list. */
  record MapReply(List<Reply> flatKeyValues) implements Reply {
    public MapReply {
      Check.argument(
          flatKeyValues.size() % 2 == 0,
          "a map needs an even number of keys and values, got %s",
          flatKeyValues.size());
    }
  }

  /** A set. */
  record SetReply(List<Reply> items) implements Reply {}

  /** A double. */
  record DoubleReply(double value) implements Reply {}

  /** A boolean. */
  record BooleanReply(boolean value) implements Reply {
    static final BooleanReply TRUE = new BooleanReply(true);
    static final BooleanReply FALSE = new BooleanReply(false);
  }

  /** A verbatim string with a three-character format. */
  record VerbatimString(String format, String text) implements Reply {
    public VerbatimString {
      Check.argument(
          format.length() == 3 && format.chars().allMatch(c -> c > ' ' && c < 0x7F && c != ':'),
          "a verbatim format is three printable ASCII characters, got '%s'",
          format);
      Check.notNull(text, "text");
    }
  }

  /** A big number. */
  record BigNumber(String decimal) implements Reply {
    public BigNumber {
      Check.argument(SharedReplies.isDecimal(decimal), "not a decimal integer: '%s'", decimal);
    }
  }

  /** An out-of-band push. */
  record PushReply(List<Reply> items) implements Reply {}
}
