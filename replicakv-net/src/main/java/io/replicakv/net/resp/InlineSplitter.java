package io.replicakv.net.resp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Splits one inline command line into arguments with the quoting rules of Redis's {@code
 * sdssplitargs}, so that what redis-cli or telnet users type means the same here.
 *
 * <p>Rules: arguments are separated by blanks; outside quotes a space, tab, CR, LF or NUL ends an
 * argument, while leading blanks are C {@code isspace} (also VT and FF). A double quote opens a
 * quoted part in which {@code \n \r \t \b \a}, {@code \xHH} (two hex digits) and backslash before
 * any other byte (which stands for that byte) are escapes; a single quote opens a part in which
 * only {@code \'} is an escape. A quote may open in the middle of an argument ({@code ab"c d"} is
 * {@code abc d}), but a closing quote must be followed by a blank or the end of the line, and a
 * quote that never closes makes the whole line invalid ("unbalanced quotes in request"). The line
 * ends at its first NUL byte, as the C original sees it.
 */
final class InlineSplitter {
  private InlineSplitter() {}

  /**
   * Returns the arguments of {@code line[0, length)}, possibly none for a blank line, or null when
   * the quoting is unbalanced.
   */
  static byte[][] split(byte[] line, int length) {
    int end = 0;
    while (end < length && line[end] != 0) {
      end++;
    }
    List<byte[]> arguments = new ArrayList<>();
    // An argument never has more bytes than the line it came from.
    byte[] current = new byte[end];
    int position = 0;
    while (true) {
      while (position < end && isCSpace(line[position])) {
        position++;
      }
      if (position >= end) {
        return arguments.toArray(new byte[0][]);
      }
      boolean inDoubleQuotes = false;
      boolean inSingleQuotes = false;
      boolean done = false;
      int size = 0;
      while (!done) {
        byte b = at(line, end, position);
        if (inDoubleQuotes) {
          if (b == '\\'
              && at(line, end, position + 1) == 'x'
              && isHexDigit(at(line, end, position + 2))
              && isHexDigit(at(line, end, position + 3))) {
            current[size++] =
                (byte)
                    (hexValue(at(line, end, position + 2)) * 16
                        + hexValue(at(line, end, position + 3)));
            position += 3;
          } else if (b == '\\' && at(line, end, position + 1) != 0) {
            position++;
            current[size++] = unescape(line[position]);
          } else if (b == '"') {
            if (!closesCleanly(line, end, position)) {
              return null;
            }
            done = true;
          } else if (b == 0) {
            return null;
          } else {
            current[size++] = b;
          }
        } else if (inSingleQuotes) {
          if (b == '\\' && at(line, end, position + 1) == '\'') {
            position++;
            current[size++] = '\'';
          } else if (b == '\'') {
            if (!closesCleanly(line, end, position)) {
              return null;
            }
            done = true;
          } else if (b == 0) {
            return null;
          } else {
            current[size++] = b;
          }
        } else {
          switch (b) {
            case ' ', '\n', '\r', '\t', 0 -> done = true;
            case '"' -> inDoubleQuotes = true;
            case '\'' -> inSingleQuotes = true;
            default -> current[size++] = b;
          }
        }
        if (at(line, end, position) != 0) {
          position++;
        }
      }
      arguments.add(Arrays.copyOf(current, size));
    }
  }

  /** A closing quote must be followed by a blank or by the end of the line. */
  private static boolean closesCleanly(byte[] line, int end, int quotePosition) {
    byte next = at(line, end, quotePosition + 1);
    return next == 0 || isCSpace(next);
  }

  /** The byte at {@code index}, or 0 past the end, the way the C original reads its terminator. */
  private static byte at(byte[] line, int end, int index) {
    return index < end ? line[index] : 0;
  }

  private static byte unescape(byte b) {
    return switch (b) {
      case 'n' -> '\n';
      case 'r' -> '\r';
      case 't' -> '\t';
      case 'b' -> '\b';
      case 'a' -> 0x07;
      default -> b;
    };
  }

  /** C {@code isspace} in the C locale. */
  static boolean isCSpace(byte b) {
    return b == ' ' || b == '\t' || b == '\n' || b == 0x0B || b == '\f' || b == '\r';
  }

  private static boolean isHexDigit(byte b) {
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
  }

  private static int hexValue(byte b) {
    if (b <= '9') {
      return b - '0';
    }
    return (b | 0x20) - 'a' + 10;
  }
}
