package io.replicakv.core.multi;

import io.replicakv.core.quorum.ConflictStrategy;
import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.Check;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code conflicts=home-site} (conflict avoidance; DDIA chapter 5, "Conflict avoidance"): every
 * write of a key is performed by the key's home site, chosen by the longest matching key-prefix
 * rule or else by the key's slot, so writes of one key are ordered by one site and never conflict.
 *
 * <p>When a home site is declared down (by the metadata layer or an operator) its keys move to the
 * next site in configuration order that is not down. Writes the old home accepted but had not yet
 * shipped are then concurrent with the new home's writes; those conflicts are resolved by the
 * {@code fallback} strategy and counted in {@link ConflictMetrics#CONCURRENT_WRITES}, never
 * silently.
 */
public final class HomeSiteResolver implements ConflictResolver {
  private final ConflictResolver fallback;
  private final TreeMap<String, String> prefixRules;

  /**
   * @param fallback resolves the conflicts that follow a change of home site (lww or siblings)
   * @param prefixRules key prefix to home site; keys matching no prefix are placed by slot
   */
  public HomeSiteResolver(ConflictResolver fallback, Map<String, String> prefixRules) {
    this.fallback = Check.notNull(fallback, "fallback");
    Check.argument(
        fallback instanceof LwwResolver || fallback instanceof SiblingsResolver,
        "home-site fallback must be lww or siblings, not %s",
        fallback.strategy());
    this.prefixRules = new TreeMap<>(prefixRules);
  }

  @Override
  public ConflictStrategy strategy() {
    return new ConflictStrategy(ConflictStrategy.Kind.HOME_SITE, "");
  }

  /** The strategy used for conflicts after a home change. */
  public ConflictResolver fallback() {
    return fallback;
  }

  /** The home of {@code key} among {@code sites}, skipping sites declared down. */
  public String homeSite(String key, List<String> sites, Set<String> declaredDown) {
    String preferred = null;
    int longest = -1;
    for (Map.Entry<String, String> rule : prefixRules.entrySet()) {
      if (key.startsWith(rule.getKey()) && rule.getKey().length() > longest) {
        preferred = rule.getValue();
        longest = rule.getKey().length();
      }
    }
    int start =
        preferred != null && sites.contains(preferred)
            ? sites.indexOf(preferred)
            : Slots.slot(key) % sites.size();
    for (int i = 0; i < sites.size(); i++) {
      String candidate = sites.get((start + i) % sites.size());
      if (!declaredDown.contains(candidate)) {
        return candidate;
      }
    }
    return sites.get(start);
  }

  @Override
  public KeyState apply(String key, KeyState current, Change change, ConflictMetrics metrics) {
    return fallback.apply(key, current, change, metrics);
  }

  @Override
  public KeyState merge(String key, KeyState mine, KeyState theirs, ConflictMetrics metrics) {
    return fallback.merge(key, mine, theirs, metrics);
  }

  @Override
  public SiteRead read(KeyState state) {
    return fallback.read(state);
  }
}
