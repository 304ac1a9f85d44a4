package io.replicakv.net.resp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.replicakv.core.util.Check;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Writes {@link Reply} values as RESP2 or RESP3.
 *
 * <p><b>Model.</b> The connection's protocol version (2 until the client says {@code HELLO 3})
 * decides the wire types. RESP3 has a type for every reply; RESP2 downgrades as redis-server does:
 *
 * <pre>
 *   reply        RESP3                    RESP2
 *   null bulk    _\r\n                    $-1\r\n
 *   null array   _\r\n                    *-1\r\n
 *   map          %pairs, key, value, ...  *2·pairs, key, value, ...
 *   set          ~count                   *count
 *   push         >count                   *count
 *   double       ,text\r\n                $len\r\ntext\r\n   (text per RedisDoubleFormat)
 *   boolean      #t\r\n / #f\r\n          :1\r\n / :0\r\n
 *   verbatim     =len\r\nfmt:text\r\n     $len\r\ntext\r\n
 *   big number   (digits\r\n              $len\r\ndigits\r\n
 * </pre>
 *
 * Simple strings, errors, integers, bulk strings and arrays are the same in both.
 *
 * <p><b>Hot path.</b> GET and SET replies dominate redis-benchmark, so common encodings are
 * precomputed byte arrays ({@code +OK}, {@code +PONG}, {@code $-1}, integers -1..1023, bulk and
 * array headers for lengths below 1024) and other numbers are written as ASCII digits straight into
 * the buffer, never through a String or {@code String.format}.
 *
 * <p><b>Failure cases.</b> A protocol version other than 2 or 3 is a caller bug and throws. Nesting
 * depth is bounded only by the reply the caller built.
 */
public final class RespEncoder {
  private RespEncoder() {}

  /** Lengths and integers below this have their header or reply bytes precomputed. */
  static final int CACHED_NUMBERS_LIMIT = 1024;

  private static final short CRLF = ('\r' << 8) | '\n';
  private static final byte[] NULL_BULK_RESP2 = ascii("$-1\r\n");
  private static final byte[] NULL_ARRAY_RESP2 = ascii("*-1\r\n");
  private static final byte[] NULL_RESP3 = ascii("_\r\n");
  private static final byte[] TRUE_RESP3 = ascii("#t\r\n");
  private static final byte[] FALSE_RESP3 = ascii("#f\r\n");
  private static final byte[] OK = ascii("+OK\r\n");
  private static final byte[] PONG = ascii("+PONG\r\n");
  private static final byte[] QUEUED = ascii("+QUEUED\r\n");
  private static final byte[] LONG_MIN_DIGITS = ascii(Long.toString(Long.MIN_VALUE));
  private static final byte[][] BULK_HEADERS = headers('$');
  private static final byte[][] ARRAY_HEADERS = headers('*');
  private static final byte[][] INTEGER_REPLIES = headers(':');
  private static final byte[] MINUS_ONE_INTEGER = ascii(":-1\r\n");

  /**
   * Appends {@code reply} to {@code out} encoded for {@code protocolVersion} (2 or 3).
   *
   * @throws IllegalArgumentException if {@code protocolVersion} is neither 2 nor 3
   */
  public static void encode(Reply reply, int protocolVersion, ByteBuf out) {
    Check.argument(
        protocolVersion == 2 || protocolVersion == 3,
        "protocol version %s is neither 2 nor 3",
        protocolVersion);
    write(reply, protocolVersion == 3, out);
  }

  private static void write(Reply reply, boolean resp3, ByteBuf out) {
    switch (reply) {
      case Reply.BulkString bulk -> writeBulk(bulk.value(), out);
      case Reply.SimpleString simple -> writeSimple(simple, out);
      case Reply.IntegerReply integer -> writeInteger(integer.value(), out);
      case Reply.NullBulk ignored -> out.writeBytes(resp3 ? NULL_RESP3 : NULL_BULK_RESP2);
      case Reply.ErrorReply error -> writeLine('-', error.text(), out);
      case Reply.ArrayReply array -> writeAggregate('*', array.items(), resp3, out);
      case Reply.NullArray ignored -> out.writeBytes(resp3 ? NULL_RESP3 : NULL_ARRAY_RESP2);
      case Reply.MapReply map -> writeMap(map.flatKeyValues(), resp3, out);
      case Reply.SetReply set -> writeAggregate(resp3 ? '~' : '*', set.items(), resp3, out);
      case Reply.PushReply push -> writeAggregate(resp3 ? '>' : '*', push.items(), resp3, out);
      case Reply.DoubleReply number -> writeDouble(number.value(), resp3, out);
      case Reply.BooleanReply bool -> writeBoolean(bool.value(), resp3, out);
      case Reply.VerbatimString verbatim -> writeVerbatim(verbatim, resp3, out);
      case Reply.BigNumber big -> {
        if (resp3) {
          writeLine('(', big.decimal(), out);
        } else {
          writeBulk(big.decimal().getBytes(StandardCharsets.US_ASCII), out);
        }
      }
    }
  }

  private static void writeSimple(Reply.SimpleString simple, ByteBuf out) {
    if (simple == SharedReplies.OK) {
      out.writeBytes(OK);
    } else if (simple == SharedReplies.PONG) {
      out.writeBytes(PONG);
    } else if (simple == SharedReplies.QUEUED) {
      out.writeBytes(QUEUED);
    } else {
      writeLine('+', simple.text(), out);
    }
  }

  /** {@code <type><text>\r\n} with {@code text} in UTF-8. */
  private static void writeLine(char type, String text, ByteBuf out) {
    out.writeByte(type);
    ByteBufUtil.writeUtf8(out, text);
    out.writeShort(CRLF);
  }

  private static void writeBulk(byte[] value, ByteBuf out) {
    out.ensureWritable(value.length + 16);
    writeHeader('$', BULK_HEADERS, value.length, out);
    out.writeBytes(value);
    out.writeShort(CRLF);
  }

  private static void writeInteger(long value, ByteBuf out) {
    if (value >= 0 && value < CACHED_NUMBERS_LIMIT) {
      out.writeBytes(INTEGER_REPLIES[(int) value]);
    } else if (value == -1) {
      out.writeBytes(MINUS_ONE_INTEGER);
    } else {
      out.writeByte(':');
      writeDecimal(value, out);
      out.writeShort(CRLF);
    }
  }

  private static void writeAggregate(char type, List<Reply> items, boolean resp3, ByteBuf out) {
    if (type == '*') {
      writeHeader('*', ARRAY_HEADERS, items.size(), out);
    } else {
      writeHeader(type, null, items.size(), out);
    }
    for (int i = 0, n = items.size(); i < n; i++) {
      write(items.get(i), resp3, out);
    }
  }

  private static void writeMap(List<Reply> flatKeyValues, boolean resp3, ByteBuf out) {
    if (resp3) {
      writeHeader('%', null, flatKeyValues.size() / 2, out);
    } else {
      writeHeader('*', ARRAY_HEADERS, flatKeyValues.size(), out);
    }
    for (int i = 0, n = flatKeyValues.size(); i < n; i++) {
      write(flatKeyValues.get(i), resp3, out);
    }
  }

  private static void writeDouble(double value, boolean resp3, ByteBuf out) {
    String text = RedisDoubleFormat.format(value);
    if (resp3) {
      writeLine(',', text, out);
    } else {
      writeBulk(text.getBytes(StandardCharsets.US_ASCII), out);
    }
  }

  private static void writeBoolean(boolean value, boolean resp3, ByteBuf out) {
    if (resp3) {
      out.writeBytes(value ? TRUE_RESP3 : FALSE_RESP3);
    } else {
      out.writeBytes(INTEGER_REPLIES[value ? 1 : 0]);
    }
  }

  private static void writeVerbatim(Reply.VerbatimString verbatim, boolean resp3, ByteBuf out) {
    byte[] text = verbatim.text().getBytes(StandardCharsets.UTF_8);
    if (!resp3) {
      writeBulk(text, out);
      return;
    }
    // The length counts the format, its colon and the text.
    out.writeByte('=');
    writeDecimal(text.length + 4L, out);
    out.writeShort(CRLF);
    out.writeCharSequence(verbatim.format(), StandardCharsets.US_ASCII);
    out.writeByte(':');
    out.writeBytes(text);
    out.writeShort(CRLF);
  }

  /** {@code <type><count>\r\n}, from {@code cache} when it holds {@code count}. */
  private static void writeHeader(char type, byte[][] cache, long count, ByteBuf out) {
    if (cache != null && count < CACHED_NUMBERS_LIMIT) {
      out.writeBytes(cache[(int) count]);
      return;
    }
    out.writeByte(type);
    writeDecimal(count, out);
    out.writeShort(CRLF);
  }

  /** Writes {@code value} as ASCII decimal digits directly into {@code out}. */
  static void writeDecimal(long value, ByteBuf out) {
    if (value == Long.MIN_VALUE) {
      out.writeBytes(LONG_MIN_DIGITS);
      return;
    }
    long magnitude = Math.abs(value);
    int size = decimalDigits(magnitude) + (value < 0 ? 1 : 0);
    out.ensureWritable(size);
    int end = out.writerIndex() + size;
    int position = end;
    do {
      out.setByte(--position, (int) ('0' + magnitude % 10));
      magnitude /= 10;
    } while (magnitude != 0);
    if (value < 0) {
      out.setByte(--position, '-');
    }
    out.writerIndex(end);
  }

  /** Number of decimal digits of a non-negative {@code value}. */
  static int decimalDigits(long value) {
    long bound = 10;
    for (int digits = 1; digits < 19; digits++) {
      if (value < bound) {
        return digits;
      }
      bound *= 10;
    }
    return 19;
  }

  private static byte[][] headers(char type) {
    byte[][] headers = new byte[CACHED_NUMBERS_LIMIT][];
    for (int i = 0; i < headers.length; i++) {
      headers[i] = ascii(type + Integer.toString(i) + "\r\n");
    }
    return headers;
  }

  private static byte[] ascii(String text) {
    return text.getBytes(StandardCharsets.US_ASCII);
  }
}
