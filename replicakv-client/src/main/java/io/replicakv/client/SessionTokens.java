package io.replicakv.client;

import java.util.Map;
import java.util.TreeMap;

/**
 * The client's side of the server's session token text ({@code 1;keyspace.group.epoch.offset...},
 * numbers in base 36): merging two tokens keeps, per group, the position with the larger (epoch,
 * offset). The server merges too ({@code SESSION RESUME}); the client merges so that a token handed
 * to {@code resumeSession} is not lost before the next command carries it.
 */
final class SessionTokens {
  private SessionTokens() {}

  /** Entries a token may hold at most (the server's bound). */
  static final int GROUPS_MAX = 65_536;

  /** The per-group maximum of {@code a} and {@code b}. */
  static String merge(String a, String b) {
    if (a.equals(b)) {
      return a;
    }
    TreeMap<String, long[]> positions = new TreeMap<>(SessionTokens::compareGroups);
    add(positions, a);
    add(positions, b);
    StringBuilder out = new StringBuilder("1");
    for (Map.Entry<String, long[]> e : positions.entrySet()) {
      out.append(';')
          .append(e.getKey())
          .append('.')
          .append(Long.toString(e.getValue()[0], 36))
          .append('.')
          .append(Long.toString(e.getValue()[1], 36));
    }
    return out.toString();
  }

  private static void add(TreeMap<String, long[]> positions, String token) {
    String[] parts = token.split(";", -1);
    if (!parts[0].equals("1")) {
      throw new IllegalArgumentException("session token version '" + parts[0] + "' unknown");
    }
    for (int i = 1; i < parts.length; i++) {
      String[] f = parts[i].split("\\.", -1);
      if (f.length != 4) {
        throw new IllegalArgumentException("session token entry '" + parts[i] + "' malformed");
      }
      long[] lsn;
      String group;
      try {
        group =
            Long.toString(Long.parseLong(f[0], 36), 36)
                + "."
                + Long.toString(Long.parseLong(f[1], 36), 36);
        lsn = new long[] {Long.parseLong(f[2], 36), Long.parseLong(f[3], 36)};
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("session token entry '" + parts[i] + "' malformed");
      }
      long[] known = positions.get(group);
      if (known == null || compare(lsn, known) > 0) {
        positions.put(group, lsn);
      }
      if (positions.size() > GROUPS_MAX) {
        throw new IllegalArgumentException("session token names more than " + GROUPS_MAX);
      }
    }
  }

  private static int compare(long[] a, long[] b) {
    int byEpoch = Long.compare(a[0], b[0]);
    return byEpoch != 0 ? byEpoch : Long.compare(a[1], b[1]);
  }

  /** Groups in the server's order: keyspace, then group, numerically. */
  private static int compareGroups(String a, String b) {
    String[] x = a.split("\\.");
    String[] y = b.split("\\.");
    int byKeyspace = Long.compare(Long.parseLong(x[0], 36), Long.parseLong(y[0], 36));
    return byKeyspace != 0
        ? byKeyspace
        : Long.compare(Long.parseLong(x[1], 36), Long.parseLong(y[1], 36));
  }
}
