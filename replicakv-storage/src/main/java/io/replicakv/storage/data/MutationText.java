package io.replicakv.storage.data;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/** Content-based equality and readable, bounded rendering of {@link Mutation} components. */
final class MutationText {
  /** Bytes shown per byte string in log lines; the rest is summarised by its length. */
  static final int SHOWN_BYTES_MAX = 64;

  /** Elements shown per list in log lines. */
  static final int SHOWN_ELEMENTS_MAX = 16;

  private MutationText() {}

  static boolean equal(List<byte[]> a, List<byte[]> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      if (!Arrays.equals(a.get(i), b.get(i))) {
        return false;
      }
    }
    return true;
  }

  static int hash(List<byte[]> elements) {
    int h = 1;
    for (byte[] element : elements) {
      h = 31 * h + Arrays.hashCode(element);
    }
    return h;
  }

  /** Printable ASCII as a quoted string, anything else as hex; long strings are cut. */
  static String show(byte[] bytes) {
    int shown = Math.min(bytes.length, SHOWN_BYTES_MAX);
    boolean printable = true;
    for (int i = 0; i < shown && printable; i++) {
      printable = bytes[i] >= 0x20 && bytes[i] < 0x7F;
    }
    String head =
        printable
            ? "\"" + new String(bytes, 0, shown, StandardCharsets.US_ASCII) + "\""
            : "0x" + HexFormat.of().formatHex(bytes, 0, shown);
    return shown == bytes.length ? head : head + "...(" + bytes.length + " bytes)";
  }

  static String show(List<byte[]> elements) {
    StringBuilder out = new StringBuilder("[");
    int shown = Math.min(elements.size(), SHOWN_ELEMENTS_MAX);
    for (int i = 0; i < shown; i++) {
      out.append(i == 0 ? "" : ", ").append(show(elements.get(i)));
    }
    if (shown < elements.size()) {
      out.append(", ...(").append(elements.size()).append(" elements)");
    }
    return out.append(']').toString();
  }
}
