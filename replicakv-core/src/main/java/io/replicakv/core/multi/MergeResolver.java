package io.replicakv.core.multi;

import io.replicakv.core.quorum.ConflictStrategy;
import io.replicakv.core.util.Check;
import java.util.List;

/**
 * {@code conflicts=merge:NAME}: concurrent values are kept exactly as siblings are, and a read
 * folds them with the named {@link MergeFunction} in dot order, so the result is the merge of the
 * concurrent writes and every site computes the same one. A later write that read the merged value
 * (its key context covers the siblings) replaces them. Reads of a merged value are flagged {@code
 * conflicted}; every concurrent write is counted.
 */
public final class MergeResolver implements ConflictResolver {
  private final MergeFunctions.Registered function;

  /** Resolves with {@code function}. */
  public MergeResolver(MergeFunctions.Registered function) {
    this.function = Check.notNull(function, "function");
  }

  @Override
  public ConflictStrategy strategy() {
    return new ConflictStrategy(ConflictStrategy.Kind.MERGE, function.name());
  }

  /** The values this keyspace accepts. */
  public MergeFunction.Domain domain() {
    return function.domain();
  }

  @Override
  public KeyState apply(String key, KeyState current, Change change, ConflictMetrics metrics) {
    return SiblingsResolver.applySiblings(current, change, metrics);
  }

  @Override
  public SiteRead read(KeyState state) {
    List<String> values = LwwResolver.visibleValues(state);
    if (values.isEmpty()) {
      return new SiteRead(List.of(), state.context(), state.live().size() > 1);
    }
    String merged = values.get(0);
    for (int i = 1; i < values.size(); i++) {
      merged = function.function().merge(merged, values.get(i));
    }
    return new SiteRead(List.of(merged), state.context(), state.live().size() > 1);
  }
}
