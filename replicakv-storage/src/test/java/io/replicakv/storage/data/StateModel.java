package io.replicakv.storage.data;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A deliberately simple model of {@link MemoryState}'s semantics over java.util collections, with
 * byte strings as ISO-8859-1 strings (a bijection) so that contents compare by value.
 */
final class StateModel {
  /** One key: type name, contents (String, Map of String, or Set of String), expiry. */
  record Entry(String type, Object contents, long expireAtMillis) {}

  private final List<Map<String, Entry>> keyspaces = new ArrayList<>();

  StateModel(int keyspaceCount) {
    for (int i = 0; i < keyspaceCount; i++) {
      keyspaces.add(new HashMap<>());
    }
  }

  Map<String, Entry> keyspace(int keyspace) {
    return keyspaces.get(keyspace);
  }

  @SuppressWarnings("unchecked")
  void apply(Mutation m) {
    switch (m) {
      case Mutation.StringSet s ->
          ks(s).put(str(s.key()), new Entry("string", str(s.value()), s.expireAtMillis()));
      case Mutation.Delete d -> ks(d).remove(str(d.key()));
      case Mutation.Expire e -> {
        Entry old = ks(e).get(str(e.key()));
        if (old != null) {
          ks(e).put(str(e.key()), new Entry(old.type(), old.contents(), e.expireAtMillis()));
        }
      }
      case Mutation.HashSet h -> {
        if (h.fieldsAndValues().isEmpty()) {
          return;
        }
        Entry old = ks(h).get(str(h.key()));
        boolean same = old != null && old.type().equals("hash");
        Map<String, String> fields =
            same ? new HashMap<>((Map<String, String>) old.contents()) : new HashMap<>();
        for (int i = 0; i < h.fieldsAndValues().size(); i += 2) {
          fields.put(str(h.fieldsAndValues().get(i)), str(h.fieldsAndValues().get(i + 1)));
        }
        ks(h).put(str(h.key()), new Entry("hash", fields, same ? old.expireAtMillis() : 0));
      }
      case Mutation.HashDelete h -> {
        Entry old = ks(h).get(str(h.key()));
        if (old == null || !old.type().equals("hash")) {
          return;
        }
        Map<String, String> fields = new HashMap<>((Map<String, String>) old.contents());
        h.fields().forEach(f -> fields.remove(str(f)));
        replaceOrRemove(ks(h), str(h.key()), old, fields, fields.isEmpty());
      }
      case Mutation.SetAdd s -> {
        if (s.members().isEmpty()) {
          return;
        }
        Entry old = ks(s).get(str(s.key()));
        boolean same = old != null && old.type().equals("set");
        Set<String> members = same ? new HashSet<>((Set<String>) old.contents()) : new HashSet<>();
        s.members().forEach(x -> members.add(str(x)));
        ks(s).put(str(s.key()), new Entry("set", members, same ? old.expireAtMillis() : 0));
      }
      case Mutation.SetRemove s -> {
        Entry old = ks(s).get(str(s.key()));
        if (old == null || !old.type().equals("set")) {
          return;
        }
        Set<String> members = new HashSet<>((Set<String>) old.contents());
        s.members().forEach(x -> members.remove(str(x)));
        replaceOrRemove(ks(s), str(s.key()), old, members, members.isEmpty());
      }
      case Mutation.Rename r -> {
        String from = str(r.from());
        String to = str(r.to());
        Entry moved = ks(r).get(from);
        if (moved == null || from.equals(to)) {
          return;
        }
        ks(r).remove(from);
        ks(r).put(to, moved);
      }
      case Mutation.FlushKeyspace f -> ks(f).clear();
      case Mutation.FlushAll f -> keyspaces.forEach(Map::clear);
      case Mutation.Batch b -> b.parts().forEach(this::apply);
    }
  }

  private static void replaceOrRemove(
      Map<String, Entry> ks, String key, Entry old, Object contents, boolean empty) {
    if (empty) {
      ks.remove(key);
    } else {
      ks.put(key, new Entry(old.type(), contents, old.expireAtMillis()));
    }
  }

  private Map<String, Entry> ks(Mutation m) {
    return keyspaces.get(m.keyspace());
  }

  /** The contents of one keyspace of a real state, in the model's form. */
  static Map<String, Entry> snapshot(MemoryState state, int keyspace) {
    Map<String, Entry> out = new HashMap<>();
    state.forEachEntry(
        keyspace,
        (key, value, expireAt) -> {
          Object contents =
              switch (value) {
                case StringValue s -> str(s.bytes());
                case HashValue h -> {
                  Map<String, String> fields = new HashMap<>();
                  h.fields().forEach((f, v) -> fields.put(str(f.array()), str(v)));
                  yield fields;
                }
                case SetValue s -> {
                  Set<String> members = new HashSet<>();
                  s.members().forEach((x, ignored) -> members.add(str(x.array())));
                  yield members;
                }
              };
          out.put(str(key.array()), new Entry(value.typeName(), contents, expireAt));
        });
    return out;
  }

  static String str(byte[] bytes) {
    return new String(bytes, StandardCharsets.ISO_8859_1);
  }
}
