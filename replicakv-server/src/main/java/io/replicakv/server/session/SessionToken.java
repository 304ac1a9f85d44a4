package io.replicakv.server.session;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.util.Check;
import java.util.Collections;
import java.util.Comparator;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What a client session has seen of single-leader replica groups: for each (keyspace, group) it
 * wrote or read, the highest LSN {@code (epoch, offset)} of the state it wrote or read. A read that
 * carries the token is answered only from state that includes every one of those positions, which
 * gives read-your-writes and monotonic reads on any replica (DESIGN.md, "Client guarantees").
 *
 * <p><b>Why offsets suffice across leader changes.</b> A group's log offsets keep counting through
 * epochs: a new leader continues after the committed prefix, and a committed entry is never undone,
 * so "a replica committed offset o" means it holds every entry the session saw at or below o,
 * whichever epoch wrote it. The epoch is kept to order positions of one group: if a session saw an
 * entry that was later truncated (possible only with {@code acks=none}, and then recorded as a
 * divergent write), a later position of a newer epoch may have a smaller offset, and the newer one
 * is the one that counts.
 *
 * <p><b>Text form</b> (what {@code SESSION TOKEN} returns and {@code SESSION RESUME} takes): {@code
 * 1} followed by {@code ;keyspace.group.epoch.offset} for each group, numbers in base 36, groups in
 * order. Example: {@code 1;0.5l.3.2bq;0.c8.2.1z}. At most {@link #GROUPS_MAX} groups; a token
 * naming a group that no longer exists (the ring changed and groups were re-formed) is carried but
 * constrains nothing.
 */
public final class SessionToken {
  /**
   * Groups a token taken from a client ({@link #parse}) names at most. A token built on a node is
   * bounded by the cluster's groups (keyspaces times groups per keyspace), which for any cluster
   * this code serves stays well below this; a session that touched more could not resume.
   */
  public static final int GROUPS_MAX = 65_536;

  /** Characters of a token's text form at most (a group costs at most 4 x 13 + 4 characters). */
  public static final int TEXT_CHARS_MAX = 2 + GROUPS_MAX * 56;

  static final String VERSION = "1";

  /** The empty token: a session that has seen nothing. */
  public static final SessionToken EMPTY = new SessionToken(new TreeMap<>(groupOrder()));

  /** One replica group of one keyspace. */
  public record Group(int keyspace, int group) {
    public Group {
      Check.argument(keyspace >= 0, "keyspace %s negative", keyspace);
      Check.argument(group >= 0, "group %s negative", group);
    }
  }

  private static Comparator<Group> groupOrder() {
    return Comparator.comparingInt(Group::keyspace).thenComparingInt(Group::group);
  }

  private final SortedMap<Group, Lsn> positions;

  private SessionToken(SortedMap<Group, Lsn> positions) {
    this.positions = Collections.unmodifiableSortedMap(positions);
  }

  /** The positions by group, in group order. */
  public Map<Group, Lsn> positions() {
    return positions;
  }

  /** The position seen of {@code group}, {@link Lsn#ZERO} if none. */
  public Lsn get(int keyspace, int group) {
    return positions.getOrDefault(new Group(keyspace, group), Lsn.ZERO);
  }

  public boolean isEmpty() {
    return positions.isEmpty();
  }

  /** This token raised to {@code lsn} for {@code group} (unchanged if it already saw as much). */
  public SessionToken with(int keyspace, int group, Lsn lsn) {
    Group key = new Group(keyspace, group);
    Lsn known = positions.get(key);
    if (lsn.equals(Lsn.ZERO) || (known != null && known.compareTo(lsn) >= 0)) {
      return this;
    }
    TreeMap<Group, Lsn> next = new TreeMap<>(positions);
    next.put(key, lsn);
    return new SessionToken(next);
  }

  /** The larger position of each group of either token. */
  public SessionToken merge(SessionToken other) {
    if (other.positions.isEmpty() || other.equals(this)) {
      return this;
    }
    TreeMap<Group, Lsn> next = new TreeMap<>(positions);
    for (Map.Entry<Group, Lsn> e : other.positions.entrySet()) {
      next.merge(e.getKey(), e.getValue(), Lsn::max);
    }
    return new SessionToken(next);
  }

  /** The text form (see the class comment). */
  public String encode() {
    StringBuilder b = new StringBuilder(VERSION);
    for (Map.Entry<Group, Lsn> e : positions.entrySet()) {
      b.append(';')
          .append(Long.toString(e.getKey().keyspace(), 36))
          .append('.')
          .append(Long.toString(e.getKey().group(), 36))
          .append('.')
          .append(Long.toString(e.getValue().epoch(), 36))
          .append('.')
          .append(Long.toString(e.getValue().offset(), 36));
    }
    return b.toString();
  }

  /**
   * Parses a text form. Malformed input (another version, a field that is not a non-negative base
   * 36 number, too long, too many groups) throws {@link IllegalArgumentException} saying what.
   * Repeated groups keep their larger position.
   */
  public static SessionToken parse(String text) {
    Check.argument(text != null, "session token missing");
    if (text.length() > TEXT_CHARS_MAX) {
      throw new IllegalArgumentException(
          "session token of " + text.length() + " characters, at most " + TEXT_CHARS_MAX);
    }
    String[] parts = text.split(";", -1);
    if (!parts[0].equals(VERSION)) {
      throw new IllegalArgumentException(
          "session token version '" + parts[0] + "' unknown (this node reads " + VERSION + ")");
    }
    if (parts.length - 1 > GROUPS_MAX) {
      throw new IllegalArgumentException("session token names more than " + GROUPS_MAX + " groups");
    }
    TreeMap<Group, Lsn> positions = new TreeMap<>(groupOrder());
    for (int i = 1; i < parts.length; i++) {
      String[] fields = parts[i].split("\\.", -1);
      if (fields.length != 4) {
        throw new IllegalArgumentException(
            "session token entry '" + parts[i] + "' is not keyspace.group.epoch.offset");
      }
      long keyspace = number(fields[0], Integer.MAX_VALUE);
      long group = number(fields[1], Integer.MAX_VALUE);
      long epoch = number(fields[2], Long.MAX_VALUE);
      long offset = number(fields[3], Long.MAX_VALUE);
      Lsn lsn = new Lsn(epoch, offset);
      if (!lsn.equals(Lsn.ZERO)) {
        positions.merge(new Group((int) keyspace, (int) group), lsn, Lsn::max);
      }
    }
    return new SessionToken(positions);
  }

  private static long number(String field, long max) {
    long value;
    try {
      value = Long.parseLong(field, 36);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("session token field '" + field + "' is not base 36");
    }
    if (value < 0 || value > max) {
      throw new IllegalArgumentException("session token field '" + field + "' out of range");
    }
    return value;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SessionToken other && positions.equals(other.positions);
  }

  @Override
  public int hashCode() {
    return positions.hashCode();
  }

  @Override
  public String toString() {
    return encode();
  }
}
