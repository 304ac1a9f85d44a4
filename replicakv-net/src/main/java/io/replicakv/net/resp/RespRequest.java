package io.replicakv.net.resp;

import io.replicakv.core.util.Check;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * One decoded command. The arguments are copied out of the Netty buffer, so the caller owns them
 * and may keep them after the buffer is released. The first argument is the command name, in the
 * case the client sent it.
 */
public final class RespRequest {
  private final byte[][] args;
  private final boolean inline;

  RespRequest(byte[][] args, boolean inline) {
    Check.argument(args.length >= 1, "a request needs at least one argument, got %s", args.length);
    this.args = args;
    this.inline = inline;
  }

  /** Builds a request from arguments, as the decoder would produce it from a multibulk command. */
  public static RespRequest of(byte[]... args) {
    Check.argument(args.length >= 1, "a request needs at least one argument");
    for (byte[] arg : args) {
      Check.notNull(arg, "argument");
    }
    return new RespRequest(args.clone(), false);
  }

  /** Builds a request from UTF-8 strings (tests, internal commands). */
  public static RespRequest ofStrings(String... args) {
    byte[][] bytes = new byte[args.length][];
    for (int i = 0; i < args.length; i++) {
      bytes[i] = args[i].getBytes(StandardCharsets.UTF_8);
    }
    return of(bytes);
  }

  /** Number of arguments including the command name; always at least 1. */
  public int argc() {
    return args.length;
  }

  /** The argument at {@code index}; 0 is the command name. The array is the caller's. */
  public byte[] arg(int index) {
    return args[index];
  }

  /** All arguments, in order; a read-only view over the same arrays {@link #arg} returns. */
  public List<byte[]> args() {
    return Collections.unmodifiableList(Arrays.asList(args));
  }

  /** True when the command arrived as an inline (telnet-style) line rather than a multibulk. */
  public boolean inline() {
    return inline;
  }

  /**
   * Whether argument {@code index} equals {@code ascii}, ignoring ASCII case, without building a
   * String: the cheap way to match command names and option keywords.
   */
  public boolean argEqualsIgnoreCase(int index, String ascii) {
    byte[] arg = args[index];
    if (arg.length != ascii.length()) {
      return false;
    }
    for (int i = 0; i < arg.length; i++) {
      if (lowerAscii(arg[i]) != lowerAscii((byte) ascii.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  /** Argument {@code index} decoded as UTF-8 (malformed bytes become U+FFFD). */
  public String argString(int index) {
    return new String(args[index], StandardCharsets.UTF_8);
  }

  private static int lowerAscii(byte b) {
    return (b >= 'A' && b <= 'Z') ? b + ('a' - 'A') : b;
  }

  /** Equal when both hold the same argument bytes in the same order and arrived the same way. */
  @Override
  public boolean equals(Object other) {
    return other instanceof RespRequest request
        && inline == request.inline
        && Arrays.deepEquals(args, request.args);
  }

  @Override
  public int hashCode() {
    return Arrays.deepHashCode(args) * 31 + (inline ? 1 : 0);
  }

  @Override
  public String toString() {
    StringBuilder text = new StringBuilder(inline ? "RespRequest[inline](" : "RespRequest(");
    for (int index = 0; index < args.length; index++) {
      byte[] arg = args[index];
      text.append(index > 0 ? ", " : "").append('"');
      for (byte b : arg) {
        int unsigned = b & 0xFF;
        if (unsigned >= 0x20 && unsigned < 0x7F && unsigned != '"' && unsigned != '\\') {
          text.append((char) unsigned);
        } else {
          text.append(String.format("\\x%02x", unsigned));
        }
      }
      text.append('"');
    }
    return text.append(')').toString();
  }
}
