package io.replicakv.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps replicakv-core pure (STYLE.md §2): scans the main sources for names that read the clock,
 * draw unseeded randomness, start or block threads, or touch files and sockets, and fails listing
 * every {@code file:line}. Comments and string literals are blanked first, so an essay may mention
 * what the code must not do.
 */
class PurityTest {
  private static final Path MAIN_SOURCES = Path.of("src", "main", "java");

  /** Fewer files than this means the scan looked in the wrong place and proved nothing. */
  private static final int SOURCE_FILES_MIN = 20;

  private static final List<Pattern> FORBIDDEN =
      Stream.of(
              "\\bSystem\\s*\\.\\s*currentTimeMillis\\b",
              "\\bSystem\\s*\\.\\s*nanoTime\\b",
              "\\bnew\\s+Random\\s*\\(",
              "\\bThreadLocalRandom\\b",
              "\\bSecureRandom\\b",
              "\\bThread\\s*\\.\\s*sleep\\b",
              "\\bnew\\s+Thread\\s*\\(",
              "\\bsynchronized\\b",
              "\\bExecutors\\b",
              "\\bExecutorService\\b",
              "\\bCompletableFuture\\b",
              "\\bInstant\\s*\\.\\s*now\\b",
              "\\bLocalDateTime\\s*\\.\\s*now\\b",
              "\\bClock\\s*\\.\\s*system",
              "\\bjava\\s*\\.\\s*io\\s*\\.",
              "\\bjava\\s*\\.\\s*net\\s*\\.",
              "\\bjava\\s*\\.\\s*nio\\s*\\.\\s*file\\s*\\.",
              "\\bjava\\s*\\.\\s*nio\\s*\\.\\s*channels\\s*\\.")
          .map(Pattern::compile)
          .toList();

  @Test
  void coreMainSourcesAreFreeOfClocksRandomnessThreadsAndIo() throws IOException {
    List<String> violations = new ArrayList<>();
    int files = 0;
    try (Stream<Path> paths = Files.walk(MAIN_SOURCES)) {
      for (Path path : paths.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
        files++;
        violations.addAll(scan(path.toString(), Files.readString(path, StandardCharsets.UTF_8)));
      }
    }
    assertThat(files).isGreaterThanOrEqualTo(SOURCE_FILES_MIN);
    assertThat(violations).as("forbidden names in replicakv-core main sources").isEmpty();
  }

  @Test
  void scannerReportsEveryForbiddenNameWithItsLine() {
    String source =
        """
        package x;
        import java.io.File;
        class Bad {
          // System.nanoTime() in a comment is fine
          String s = "Executors.newFixedThreadPool(2) in a string is fine";
          long t = System.currentTimeMillis();
          synchronized void f() { new Random(1); }
          /* java.net.Socket in a block comment is fine */ Object o = java.net.Socket.class;
        }
        """;
    assertThat(scan("Bad.java", source))
        .containsExactly(
            "Bad.java:2: \\bjava\\s*\\.\\s*io\\s*\\.",
            "Bad.java:6: \\bSystem\\s*\\.\\s*currentTimeMillis\\b",
            "Bad.java:7: \\bnew\\s+Random\\s*\\(",
            "Bad.java:7: \\bsynchronized\\b",
            "Bad.java:8: \\bjava\\s*\\.\\s*net\\s*\\.");
    assertThat(scan("Good.java", "class Good { java.nio.charset.Charset c; }")).isEmpty();
  }

  /** Each forbidden pattern found on a code line, as {@code file:line: pattern}. */
  static List<String> scan(String fileName, String source) {
    String[] lines = blankCommentsAndLiterals(source).split("\n", -1);
    List<String> violations = new ArrayList<>();
    for (int i = 0; i < lines.length; i++) {
      for (Pattern pattern : FORBIDDEN) {
        Matcher matcher = pattern.matcher(lines[i]);
        if (matcher.find()) {
          violations.add(fileName + ":" + (i + 1) + ": " + pattern.pattern());
        }
      }
    }
    return violations;
  }

  /** Replaces comment and literal characters with spaces, keeping newlines so lines still count. */
  static String blankCommentsAndLiterals(String source) {
    StringBuilder out = new StringBuilder(source.length());
    int i = 0;
    while (i < source.length()) {
      int end;
      if (source.startsWith("//", i)) {
        end = source.indexOf('\n', i);
        end = end < 0 ? source.length() : end;
      } else if (source.startsWith("/*", i)) {
        end = source.indexOf("*/", i + 2);
        end = end < 0 ? source.length() : end + 2;
      } else if (source.startsWith("\"\"\"", i)) {
        end = source.indexOf("\"\"\"", i + 3);
        end = end < 0 ? source.length() : end + 3;
      } else if (source.charAt(i) == '"' || source.charAt(i) == '\'') {
        end = endOfQuoted(source, i);
      } else {
        out.append(source.charAt(i++));
        continue;
      }
      for (int j = i; j < end; j++) {
        out.append(source.charAt(j) == '\n' ? '\n' : ' ');
      }
      i = end;
    }
    return out.toString();
  }

  private static int endOfQuoted(String source, int start) {
    char quote = source.charAt(start);
    int i = start + 1;
    while (i < source.length() && source.charAt(i) != quote && source.charAt(i) != '\n') {
      i += source.charAt(i) == '\\' ? 2 : 1;
    }
    return Math.min(i + 1, source.length());
  }
}
