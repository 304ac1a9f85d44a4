package io.replicakv.net.resp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.replicakv.core.util.Check;
import java.util.Arrays;
import java.util.List;

/**
 * Turns the bytes a Redis client sends into {@link RespRequest}s, or into one {@link
 * RespProtocolError} when they are not valid RESP.
 *
 * <p><b>Model.</b> A client sends commands in one of two shapes, chosen by the first byte of each
 * command: a multibulk ({@code *<count>\r\n} followed by {@code count} bulk arguments {@code
 * $<length>\r\n<bytes>\r\n}) or, for any other first byte, an inline line (arguments separated by
 * blanks, ended by {@code \n} or {@code \r\n}, quoted per {@link InlineSplitter}). Clients
 * pipeline: one read may hold many commands and the tail of one may arrive in a later read. The
 * decoder emits every complete command it finds and keeps a partial one: a multibulk's header and
 * its completed arguments are consumed as they arrive (the state lives in this object, as in
 * Redis's {@code multibulklen}/{@code bulklen}), while the unfinished line or bulk stays in Netty's
 * cumulation buffer. A multibulk with a count of zero or less and a blank inline line are skipped
 * silently.
 *
 * <p><b>Invariants.</b> (1) Nothing is allocated in proportion to a length the client declared
 * until that many bytes have arrived: a bulk's {@code byte[]} is created only when its payload and
 * trailing CRLF are buffered, except that a large bulk (32 KiB or more) is moved out of the
 * cumulation as it arrives into an array at most twice the size of what arrived, and the argument
 * array starts at most {@value #ARGUMENT_ARRAY_INITIAL_MAX} slots and doubles as arguments actually
 * arrive. (2) Header lines and inline lines are searched for their terminator only within {@code
 * maxInlineBytes + 1} bytes, and bytes already searched are not searched again, so a slow sender
 * costs linear work. (3) The result does not depend on how the input is split into reads: every
 * decision is a function of the bytes, never of how many of them have arrived yet. (4) After a
 * protocol error exactly one {@link RespProtocolError} is emitted and every later byte is
 * discarded; the server answers {@code -ERR Protocol error: <message>} and closes.
 *
 * <p><b>Failure cases</b>, with Redis's texts: a {@code *} count that is not a number or exceeds
 * {@code maxArguments} is "invalid multibulk length"; a bulk length that is not a number, negative,
 * or above {@code maxBulkBytes} is "invalid bulk length", refused from the header alone; an
 * argument that does not start with {@code $} is "expected '$', got 'X'"; a header line without CR
 * within {@code maxInlineBytes} bytes is "too big mbulk count string" or "too big bulk count
 * string"; an inline line longer than {@code maxInlineBytes} is "too big inline request";
 * unbalanced quotes are "unbalanced quotes in request".
 *
 * <p><b>Where this differs from Redis.</b> Redis accepts an inline line longer than its limit when
 * the whole line happens to arrive in one read; here the limit holds regardless (invariant 3). As
 * in Redis, the two bytes after a bulk payload and the byte after a header's CR are skipped without
 * checking that they are CRLF and LF. Redis's search for a line end stops at a NUL byte, which can
 * stall an inline command containing one; here the line end is found regardless, and the line is
 * then cut at its first NUL as {@code sdssplitargs} sees it. Redis's stricter limits for
 * unauthenticated clients belong to the server, not to this codec.
 *
 * <p><b>Use.</b> One instance per connection (it holds that connection's parse state, so it is not
 * {@code @Sharable}); {@link #setLimits} may be called from any thread.
 *
 * <p><b>Source.</b> Redis {@code networking.c} ({@code processMultibulkBuffer}, {@code
 * processInlineBuffer}), {@code util.c} ({@code string2ll}), {@code sds.c} ({@code sdssplitargs});
 * the RESP specification at redis.io.
 */
public final class RespDecoder extends ByteToMessageDecoder {

  /** Argument slots reserved for a multibulk before its arguments arrive (Redis reserves 1024). */
  static final int ARGUMENT_ARRAY_INITIAL_MAX = 1024;

  /** Longest decimal a length header may carry, as in Redis's {@code LONG_STR_SIZE - 1}. */
  private static final int LENGTH_DIGITS_MAX = 20;

  /** {@link #parseLength} result for text that is not an integer. */
  private static final long NOT_A_NUMBER = Long.MIN_VALUE;

  /**
   * Bulks at least this long are copied out of Netty's cumulation as they arrive (Redis's {@code
   * PROTO_MBULK_BIG_ARG} is the same 32 KiB).
   */
  static final int LARGE_BULK_BYTES = 32 * 1024;

  private static final byte[][] NO_ARGUMENTS = new byte[0][];
  private static final byte[] NO_BYTES = new byte[0];

  private final int largeBulkBytes;

  /** The large bulk being received, and how many of its bytes have arrived. */
  private byte[] largeBulk = NO_BYTES;

  private int largeBulkFilled;

  private volatile RespLimits limits;

  /** Set once a protocol error has been emitted; everything after it is discarded. */
  private boolean failed;

  /** Arguments of the multibulk in progress still to be read; 0 when between commands. */
  private int argumentsPending;

  private byte[][] arguments = NO_ARGUMENTS;
  private int argumentCount;

  /** Declared length of the bulk whose header has been read and payload not yet; -1 if none. */
  private long bulkBytesPending = -1;

  /** Bytes of the line starting at the reader index already searched for its terminator. */
  private int lineBytesSearched;

  /** A decoder enforcing {@code limits}. */
  public RespDecoder(RespLimits limits) {
    this(limits, LARGE_BULK_BYTES);
  }

  /** Tests lower {@code largeBulkBytes} to exercise the large-bulk path with small inputs. */
  RespDecoder(RespLimits limits, int largeBulkBytes) {
    Check.argument(largeBulkBytes >= 1, "largeBulkBytes %s below 1", largeBulkBytes);
    this.limits = Check.notNull(limits, "limits");
    this.largeBulkBytes = largeBulkBytes;
  }

  /** Replaces the limits (CONFIG SET); they apply from the next header the decoder reads. */
  public void setLimits(RespLimits limits) {
    this.limits = Check.notNull(limits, "limits");
  }

  /** The limits in force. */
  public RespLimits limits() {
    return limits;
  }

  /** Capacity of the buffer holding not-yet-decoded input; tests check it stays small. */
  int bufferedCapacityBytes() {
    return internalBuffer().capacity();
  }

  /** Capacity of the array receiving a large bulk; tests check it follows arrival. */
  int largeBulkCapacityBytes() {
    return largeBulk.length;
  }

  /** Slots of the argument array of the multibulk in progress; tests check the reservation. */
  int argumentSlotsReserved() {
    return arguments.length;
  }

  @Override
  protected void decode(ChannelHandlerContext context, ByteBuf in, List<Object> out) {
    if (failed) {
      in.skipBytes(in.readableBytes());
      return;
    }
    RespLimits current = limits;
    while (in.isReadable()) {
      boolean progressed;
      if (argumentsPending > 0) {
        progressed = readArguments(in, out, current);
      } else if (in.getByte(in.readerIndex()) == '*') {
        progressed = readMultibulkHeader(in, out, current);
      } else {
        progressed = readInline(in, out, current);
      }
      if (!progressed || failed) {
        return;
      }
    }
  }

  /** Reads {@code *<count>\r\n}; returns false when more input is needed or on error. */
  private boolean readMultibulkHeader(ByteBuf in, List<Object> out, RespLimits current) {
    int lineBytes = findLineEnd(in, (byte) '\r', current.maxInlineBytes());
    if (lineBytes < 0) {
      if (in.readableBytes() > current.maxInlineBytes()) {
        fail(in, out, "too big mbulk count string");
      }
      return false;
    }
    if (in.readableBytes() < lineBytes + 2) {
      return false;
    }
    int start = in.readerIndex();
    long count = parseLength(in, start + 1, start + lineBytes);
    if (count == NOT_A_NUMBER || count > current.maxArguments()) {
      fail(in, out, "invalid multibulk length");
      return false;
    }
    consumeLine(in, lineBytes + 2);
    if (count <= 0) {
      return true;
    }
    argumentsPending = (int) count;
    argumentCount = 0;
    arguments = new byte[Math.min(argumentsPending, ARGUMENT_ARRAY_INITIAL_MAX)][];
    return true;
  }

  /**
   * Reads bulk arguments of the multibulk in progress and emits the request once all are there;
   * returns false when more input is needed or on error.
   */
  private boolean readArguments(ByteBuf in, List<Object> out, RespLimits current) {
    while (argumentsPending > 0) {
      if (bulkBytesPending < 0 && !readBulkHeader(in, out, current)) {
        return false;
      }
      byte[] argument = bulkBytesPending >= largeBulkBytes ? readLargeBulk(in) : readSmallBulk(in);
      if (argument == null) {
        return false;
      }
      bulkBytesPending = -1;
      if (argumentCount == arguments.length) {
        int grown = (int) Math.min(arguments.length * 2L, (long) argumentCount + argumentsPending);
        arguments = Arrays.copyOf(arguments, grown);
      }
      arguments[argumentCount++] = argument;
      argumentsPending--;
    }
    Check.state(argumentCount >= 1, "multibulk completed with %s arguments", argumentCount);
    byte[][] complete =
        argumentCount == arguments.length ? arguments : Arrays.copyOf(arguments, argumentCount);
    arguments = NO_ARGUMENTS;
    argumentCount = 0;
    out.add(new RespRequest(complete, false));
    return true;
  }

  /** The pending bulk once it and its CRLF are buffered, else null; it stays in the cumulation. */
  private byte[] readSmallBulk(ByteBuf in) {
    if (in.readableBytes() < bulkBytesPending + 2) {
      return null;
    }
    byte[] argument = new byte[(int) bulkBytesPending];
    in.readBytes(argument);
    in.skipBytes(2);
    return argument;
  }

  /**
   * Moves the pending bulk's arrived bytes out of the cumulation into {@link #largeBulk}, and
   * returns the bulk once it and its CRLF have arrived, else null. Netty's cumulation grows in 4
   * MiB steps past 4 MiB, copying everything each time, which is quadratic for a bulk of hundreds
   * of MiB; this array doubles instead, capped at the declared length, so it never holds more than
   * twice the bytes that arrived (or {@link #largeBulkBytes}).
   */
  private byte[] readLargeBulk(ByteBuf in) {
    // The header check bounded the length by maxBulkBytes, itself below the array ceiling.
    Check.state(
        bulkBytesPending <= RespLimits.MAX_BULK_BYTES_CEILING,
        "pending bulk of %s bytes passed the header check",
        bulkBytesPending);
    int declared = (int) bulkBytesPending;
    int arriving = Math.min(in.readableBytes(), declared - largeBulkFilled);
    if (arriving > 0) {
      int needed = largeBulkFilled + arriving;
      if (needed > largeBulk.length) {
        long doubled = Math.max((long) largeBulk.length * 2, largeBulkBytes);
        largeBulk = Arrays.copyOf(largeBulk, (int) Math.min(declared, Math.max(doubled, needed)));
      }
      in.readBytes(largeBulk, largeBulkFilled, arriving);
      largeBulkFilled += arriving;
    }
    if (largeBulkFilled < declared || in.readableBytes() < 2) {
      return null;
    }
    in.skipBytes(2);
    byte[] argument = largeBulk.length == declared ? largeBulk : Arrays.copyOf(largeBulk, declared);
    largeBulk = NO_BYTES;
    largeBulkFilled = 0;
    return argument;
  }

  /**
   * Reads {@code $<length>\r\n} into {@link #bulkBytesPending}; false if incomplete or on error.
   */
  private boolean readBulkHeader(ByteBuf in, List<Object> out, RespLimits current) {
    if (!in.isReadable()) {
      return false;
    }
    int lineBytes = findLineEnd(in, (byte) '\r', current.maxInlineBytes());
    if (lineBytes < 0) {
      if (in.readableBytes() > current.maxInlineBytes()) {
        fail(in, out, "too big bulk count string");
      }
      return false;
    }
    if (in.readableBytes() < lineBytes + 2) {
      return false;
    }
    int start = in.readerIndex();
    byte first = in.getByte(start);
    if (first != '$') {
      fail(in, out, "expected '$', got '" + printable(first) + "'");
      return false;
    }
    long length = parseLength(in, start + 1, start + lineBytes);
    if (length == NOT_A_NUMBER || length < 0 || length > current.maxBulkBytes()) {
      fail(in, out, "invalid bulk length");
      return false;
    }
    consumeLine(in, lineBytes + 2);
    bulkBytesPending = length;
    return true;
  }

  /** Reads one inline line; returns false when more input is needed or on error. */
  private boolean readInline(ByteBuf in, List<Object> out, RespLimits current) {
    int lineBytes = findLineEnd(in, (byte) '\n', current.maxInlineBytes());
    if (lineBytes < 0) {
      if (in.readableBytes() > current.maxInlineBytes()) {
        fail(in, out, "too big inline request");
      }
      return false;
    }
    int start = in.readerIndex();
    int contentBytes = lineBytes;
    if (contentBytes > 0 && in.getByte(start + contentBytes - 1) == '\r') {
      contentBytes--;
    }
    byte[] line = new byte[contentBytes];
    in.getBytes(start, line);
    byte[][] split = InlineSplitter.split(line, contentBytes);
    if (split == null) {
      fail(in, out, "unbalanced quotes in request");
      return false;
    }
    consumeLine(in, lineBytes + 1);
    if (split.length > 0) {
      out.add(new RespRequest(split, true));
    }
    return true;
  }

  /**
   * Offset from the reader index of the first {@code terminator} within the first {@code
   * lineBytesMax + 1} readable bytes, or -1. Bytes searched by an earlier call for the same line
   * are skipped.
   */
  private int findLineEnd(ByteBuf in, byte terminator, int lineBytesMax) {
    int start = in.readerIndex();
    int window = (int) Math.min(in.readableBytes(), (long) lineBytesMax + 1);
    if (lineBytesSearched >= window) {
      return -1;
    }
    int found = in.indexOf(start + lineBytesSearched, start + window, terminator);
    if (found < 0) {
      lineBytesSearched = window;
      return -1;
    }
    return found - start;
  }

  private void consumeLine(ByteBuf in, int bytes) {
    in.skipBytes(bytes);
    lineBytesSearched = 0;
  }

  private void fail(ByteBuf in, List<Object> out, String message) {
    failed = true;
    arguments = NO_ARGUMENTS;
    argumentCount = 0;
    argumentsPending = 0;
    bulkBytesPending = -1;
    largeBulk = NO_BYTES;
    largeBulkFilled = 0;
    in.skipBytes(in.readableBytes());
    out.add(new RespProtocolError(message));
  }

  /**
   * Parses {@code in[from, to)} with Redis's {@code string2ll} rules (optional minus, no plus, no
   * leading zeros, no blanks, at most 20 characters). Returns {@link #NOT_A_NUMBER} for anything
   * else, and -1 for every valid negative number, because callers only need to know that it is
   * negative.
   */
  static long parseLength(ByteBuf in, int from, int to) {
    int length = to - from;
    if (length <= 0 || length > LENGTH_DIGITS_MAX) {
      return NOT_A_NUMBER;
    }
    int position = from;
    boolean negative = in.getByte(position) == '-';
    if (negative) {
      position++;
    }
    if (position == to) {
      return NOT_A_NUMBER;
    }
    byte first = in.getByte(position);
    if (first == '0') {
      return (length == 1) ? 0 : NOT_A_NUMBER;
    }
    long value = 0;
    for (; position < to; position++) {
      int digit = in.getByte(position) - '0';
      if (digit < 0 || digit > 9) {
        return NOT_A_NUMBER;
      }
      if (value > (Long.MAX_VALUE - digit) / 10) {
        // Beyond Long.MAX_VALUE; only -9223372036854775808 is still valid, and it is negative.
        return negative && isLongMinMagnitude(value, digit, position, to) ? -1 : NOT_A_NUMBER;
      }
      value = value * 10 + digit;
    }
    return negative ? -1 : value;
  }

  private static boolean isLongMinMagnitude(long value, int digit, int position, int to) {
    return position == to - 1 && value == Long.MAX_VALUE / 10 && digit == 8;
  }

  /** The offending byte as Redis prints it with %c, with CR and LF blanked to keep one line. */
  private static String printable(byte b) {
    char c = (char) (b & 0xFF);
    return (c == '\r' || c == '\n') ? " " : String.valueOf(c);
  }
}
