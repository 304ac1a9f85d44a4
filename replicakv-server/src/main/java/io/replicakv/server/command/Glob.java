package io.replicakv.server.command;

/**
 * Redis glob-style matching on bytes ({@code KEYS}, {@code SCAN MATCH}, {@code CONFIG GET}): {@code
 * *}, {@code ?}, {@code [abc]}, {@code [^a]}, {@code [a-z]} and {@code \} escapes. Iterative with
 * backtracking to the last star, so a hostile pattern costs O(pattern x text), not exponential
 * time.
 */
public final class Glob {
  private Glob() {}

  public static boolean matches(byte[] pattern, byte[] text, boolean noCase) {
    int p = 0;
    int t = 0;
    int starP = -1;
    int starT = 0;
    while (t < text.length) {
      if (p < pattern.length) {
        byte pc = pattern[p];
        if (pc == '*') {
          while (p < pattern.length && pattern[p] == '*') {
            p++;
          }
          if (p == pattern.length) {
            return true;
          }
          starP = p;
          starT = t;
          continue;
        }
        int consumed = matchOne(pattern, p, text[t], noCase);
        if (consumed > 0) {
          p += consumed;
          t++;
          continue;
        }
      }
      if (starP < 0) {
        return false;
      }
      p = starP;
      t = ++starT;
    }
    while (p < pattern.length && pattern[p] == '*') {
      p++;
    }
    return p == pattern.length;
  }

  /** Pattern bytes consumed when the element at p matches c, else 0. */
  private static int matchOne(byte[] pattern, int p, byte c, boolean noCase) {
    byte pc = pattern[p];
    if (pc == '?') {
      return 1;
    }
    if (pc == '\\' && p + 1 < pattern.length) {
      return eq(pattern[p + 1], c, noCase) ? 2 : 0;
    }
    if (pc == '[') {
      int i = p + 1;
      boolean not = i < pattern.length && pattern[i] == '^';
      if (not) {
        i++;
      }
      boolean match = false;
      while (i < pattern.length && pattern[i] != ']') {
        if (pattern[i] == '\\' && i + 1 < pattern.length) {
          i++;
          match |= eq(pattern[i], c, noCase);
          i++;
        } else if (i + 2 < pattern.length && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
          int lo = pattern[i] & 0xff;
          int hi = pattern[i + 2] & 0xff;
          if (lo > hi) {
            int tmp = lo;
            lo = hi;
            hi = tmp;
          }
          int cc = c & 0xff;
          if (noCase) {
            int l = Character.toLowerCase(cc);
            match |= (l >= Character.toLowerCase(lo) && l <= Character.toLowerCase(hi));
          } else {
            match |= cc >= lo && cc <= hi;
          }
          i += 3;
        } else {
          match |= eq(pattern[i], c, noCase);
          i++;
        }
      }
      int end = i < pattern.length ? i + 1 : i; // unterminated class: Redis treats end as ']'
      return (match != not) ? end - p : 0;
    }
    return eq(pc, c, noCase) ? 1 : 0;
  }

  private static boolean eq(byte a, byte b, boolean noCase) {
    if (a == b) {
      return true;
    }
    return noCase && Character.toLowerCase(a & 0xff) == Character.toLowerCase(b & 0xff);
  }
}
