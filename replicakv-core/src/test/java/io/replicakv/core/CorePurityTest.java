package io.replicakv.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps replicakv-core pure (STYLE.md section 2): its main sources may not read clocks, draw their
 * own randomness, start threads, lock, or do I/O. The rule is enforced here rather than remembered.
 */
class CorePurityTest {
  private static final Pattern FORBIDDEN =
      Pattern.compile(
          "System\\.currentTimeMillis|System\\.nanoTime|Instant\\.now|LocalDateTime\\.now|Clock\\.system"
              + "|new Random\\b|ThreadLocalRandom|SecureRandom|Math\\.random|new SplittableRandom"
              + "|Thread\\.sleep|new Thread\\b|\\bsynchronized\\b|Executors?\\b|CompletableFuture"
              + "|import java\\.io\\.|import java\\.net\\.|import java\\.nio\\.file\\.|import java\\.nio\\.channels\\.");

  @Test
  void coreMainSourcesTouchNothingOfTheWorld() throws IOException {
    Path sources = Path.of("src/main/java");
    assertThat(sources).isDirectory();
    List<String> offences = new ArrayList<>();
    try (Stream<Path> files = Files.walk(sources)) {
      for (Path file : files.filter(path -> path.toString().endsWith(".java")).sorted().toList()) {
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
          String code = lines.get(i).replaceAll("//.*", "");
          if (!code.trim().startsWith("*") && FORBIDDEN.matcher(code).find()) {
            offences.add(file + ":" + (i + 1) + ": " + lines.get(i).trim());
          }
        }
      }
    }
    assertThat(offences).as("core must stay pure").isEmpty();
  }

  @Test
  void scannerRecognisesAForbiddenCall() {
    assertThat(FORBIDDEN.matcher("long now = System.currentTimeMillis();").find()).isTrue();
    assertThat(FORBIDDEN.matcher("import java.io.File;").find()).isTrue();
    assertThat(FORBIDDEN.matcher("long nowMillis = clock.physicalMillis();").find()).isFalse();
  }
}
