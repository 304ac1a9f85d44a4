package io.replicakv.server.leaderless;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.util.ByteReader;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Which keys this node holds hints for, per owner, followed from the records the leaderless node
 * persists: a hint record adds (owner, key), a hint-drop record (written only after the owner
 * acknowledged the handoff and the hint was dropped) removes it. The core exposes only the total
 * count; operators and tests need the count per owner ("are the hints for n3 drained?").
 *
 * <p>It reads the core's record layout for hints (type 3: owner varint, key string, state; type 4:
 * owner varint, key string, digest) and ignores every other type, so a record type added later does
 * not disturb it. If the core ever changed those two layouts, the counts here would be wrong while
 * the data stayed right; {@link #agreesWith(int)} compares the total with the core's own count so
 * that a drift shows up in a log line and a failed test instead of a silently wrong metric.
 */
final class HintLedger {
  private static final int RECORD_HINT = 3;
  private static final int RECORD_HINT_DROP = 4;

  private final Map<Integer, Set<String>> keysByOwner = new HashMap<>();

  /** Follows one persisted (or recovered) record; true when it was a hint record. */
  boolean apply(PersistRecord record) {
    byte[] payload = record.payload();
    if (payload.length == 0) {
      return false;
    }
    int type = payload[0] & 0xFF;
    if (type != RECORD_HINT && type != RECORD_HINT_DROP) {
      return false;
    }
    ByteReader reader = new ByteReader(payload);
    reader.readByte();
    int owner = reader.readVarInt(Integer.MAX_VALUE);
    String key = reader.readString(Operation.KEY_CHARS_MAX * 4);
    if (type == RECORD_HINT) {
      keysByOwner.computeIfAbsent(owner, o -> new HashSet<>()).add(key);
      return true;
    }
    Set<String> keys = keysByOwner.get(owner);
    if (keys != null) {
      keys.remove(key);
      if (keys.isEmpty()) {
        keysByOwner.remove(owner);
      }
    }
    return true;
  }

  /** Hinted keys per owner (integer ids), owners with none left out. */
  Map<Integer, Integer> countsByOwner() {
    Map<Integer, Integer> counts = new TreeMap<>();
    keysByOwner.forEach((owner, keys) -> counts.put(owner, keys.size()));
    return counts;
  }

  /** Whether the ledger's total equals the core's own count of hints. */
  boolean agreesWith(int coreHintCount) {
    return keysByOwner.values().stream().mapToInt(Set::size).sum() == coreHintCount;
  }
}
