package io.replicakv.core.msg;

import io.replicakv.core.multi.Change;
import io.replicakv.core.util.Check;
import java.util.List;

/**
 * Change streams between multi-leader sites (io.replicakv.core.multi.SiteReplica).
 *
 * <p>Each site keeps one log of every change it applied, local or received, and streams it to each
 * neighbour of the topology from the position the neighbour last acknowledged. A batch names the
 * stretch of the sender's log it covers ({@code afterPosition}, {@code throughPosition}]; entries
 * the link does not carry (the neighbour is on their path, or the sender does not forward) are left
 * out, so positions inside a batch may skip. Loss, duplication and reordering only cost time: the
 * receiver refuses a batch that starts past what it holds and says where it is.
 */
public sealed interface SiteMessage extends PeerMessage
    permits SiteMessage.Changes,
        SiteMessage.ChangesAck,
        SiteMessage.LockRequest,
        SiteMessage.LockGrant,
        SiteMessage.LockBusy,
        SiteMessage.LockRelease,
        SiteMessage.LockReleaseAck,
        SiteMessage.HomeWrite,
        SiteMessage.HomeWriteReply,
        SiteMessage.CatchUpPage,
        SiteMessage.CatchUpAck {

  /** Entries one batch may carry. */
  int ENTRIES_PER_BATCH_MAX = 256;

  /**
   * One change at a position of the sender's log, with the sites it has passed: the origin first,
   * the sender last.
   */
  record Entry(long position, Change change, List<String> path) {
    public Entry {
      Check.argument(position >= 1, "position %s below 1", position);
      Check.notNull(change, "change");
      path = List.copyOf(path);
      Check.argument(!path.isEmpty(), "empty path for %s", change.dot());
      Check.argument(
          path.get(0).equals(change.origin()),
          "path %s does not start at origin %s",
          path,
          change.origin());
    }
  }

  /**
   * The sender's log in ({@code afterPosition}, {@code throughPosition}], filtered for the link.
   */
  record Changes(
      int from, int to, long epoch, long afterPosition, long throughPosition, List<Entry> entries)
      implements SiteMessage {
    public Changes {
      entries = List.copyOf(entries);
      Check.argument(
          0 <= afterPosition && afterPosition <= throughPosition,
          "positions %s..%s",
          afterPosition,
          throughPosition);
      Check.argument(
          entries.size() <= ENTRIES_PER_BATCH_MAX,
          "%s entries over %s",
          entries.size(),
          ENTRIES_PER_BATCH_MAX);
      long previous = afterPosition;
      for (Entry entry : entries) {
        Check.argument(
            previous < entry.position() && entry.position() <= throughPosition,
            "entry position %s out of order after %s",
            entry.position(),
            previous);
        previous = entry.position();
      }
    }
  }

  /**
   * The receiver's position in the sender's log: {@code appliedThrough} is applied (durably) with
   * everything before it; {@code receivedThrough} also counts changes waiting in the receiver's
   * causal buffer. {@code accepted} is false when the batch started past {@code receivedThrough};
   * the sender resends from there.
   */
  record ChangesAck(
      int from, int to, long epoch, long appliedThrough, long receivedThrough, boolean accepted)
      implements SiteMessage {
    public ChangesAck {
      Check.argument(
          0 <= appliedThrough && appliedThrough <= receivedThrough,
          "applied %s received %s",
          appliedThrough,
          receivedThrough);
    }
  }

  /** A site asks the key's lock site for the lock on {@code key}. */
  record LockRequest(int from, int to, long epoch, String key) implements SiteMessage {
    public LockRequest {
      Check.notNull(key, "key");
    }
  }

  /**
   * The lock on {@code key} is held by the receiver under {@code fencingToken}; before writing it
   * must have applied {@code mustHave}, every write made under earlier tokens of this lock. Resent
   * by the lock site until the lock is released.
   */
  record LockGrant(
      int from,
      int to,
      long epoch,
      String key,
      long fencingToken,
      io.replicakv.core.causal.VersionVector mustHave)
      implements SiteMessage {
    public LockGrant {
      Check.notNull(key, "key");
      Check.argument(fencingToken >= 1, "fencing token %s < 1", fencingToken);
      Check.notNull(mustHave, "mustHave");
    }
  }

  /** The lock on {@code key} is held by {@code holder}; the requester retries or gives up. */
  record LockBusy(int from, int to, long epoch, String key, String holder) implements SiteMessage {
    public LockBusy {
      Check.notNull(key, "key");
      Check.notNull(holder, "holder");
    }
  }

  /**
   * The holder gives the lock back; {@code written} covers every write it made under the token.
   * Resent until acknowledged, also across the holder's restarts.
   */
  record LockRelease(
      int from,
      int to,
      long epoch,
      String key,
      long fencingToken,
      io.replicakv.core.causal.VersionVector written)
      implements SiteMessage {
    public LockRelease {
      Check.notNull(key, "key");
      Check.notNull(written, "written");
    }
  }

  /** The lock site recorded the release of {@code fencingToken}. */
  record LockReleaseAck(int from, int to, long epoch, String key, long fencingToken)
      implements SiteMessage {
    public LockReleaseAck {
      Check.notNull(key, "key");
    }
  }

  /**
   * For {@code conflicts=home-site}: a client write of {@code key} forwarded to the key's home
   * site, which performs it as its own write; {@code tag} pairs the reply with the waiting client.
   */
  record HomeWrite(int from, int to, long epoch, long tag, String key, String value)
      implements SiteMessage {
    public HomeWrite {
      Check.notNull(key, "key");
      Check.notNull(value, "value");
    }
  }

  /** The home site's answer to a {@link HomeWrite}. */
  record HomeWriteReply(int from, int to, long epoch, long tag, Reply reply)
      implements SiteMessage {
    public HomeWriteReply {
      Check.notNull(reply, "reply");
    }
  }

  /** Keys one catch-up page carries at most. */
  int CATCH_UP_KEYS_PER_PAGE_MAX = 256;

  /**
   * One page of a full-state catch-up: the sender's keyspace as it stood when its log was at {@code
   * position} with {@code applied} applied, keys in order, entries {@code index, index+1, ...} of
   * {@code keyCount}. A link whose downstream site needs changes the sender no longer retains gets
   * this instead of an error; once the receiver holds every page it joins them into its state, and
   * the link goes on from {@code position}. {@code (position, applied)} names the snapshot: a page
   * of another snapshot restarts the receiver's staging.
   */
  record CatchUpPage(
      int from,
      int to,
      long epoch,
      long position,
      io.replicakv.core.causal.VersionVector applied,
      int index,
      int keyCount,
      List<io.replicakv.core.multi.KeyState.Entry> entries)
      implements SiteMessage {
    public CatchUpPage {
      Check.argument(position >= 0, "position %s < 0", position);
      Check.notNull(applied, "applied");
      entries = List.copyOf(entries);
      Check.argument(
          entries.size() <= CATCH_UP_KEYS_PER_PAGE_MAX,
          "%s keys over %s",
          entries.size(),
          CATCH_UP_KEYS_PER_PAGE_MAX);
      Check.argument(
          0 <= index && index + entries.size() <= keyCount,
          "page %s+%s of %s keys",
          index,
          entries.size(),
          keyCount);
    }

    /** Whether this page ends the snapshot. */
    public boolean last() {
      return index + entries.size() == keyCount;
    }
  }

  /**
   * The receiver of a catch-up holds the first {@code nextIndex} keys of the snapshot at {@code
   * position}; {@code done} when it has joined them all into its state (durably), which also moves
   * its position in the sender's log to {@code position}.
   */
  record CatchUpAck(
      int from,
      int to,
      long epoch,
      long position,
      io.replicakv.core.causal.VersionVector applied,
      int nextIndex,
      boolean done)
      implements SiteMessage {
    public CatchUpAck {
      Check.argument(position >= 0, "position %s < 0", position);
      Check.notNull(applied, "applied");
      Check.argument(nextIndex >= 0, "nextIndex %s < 0", nextIndex);
    }
  }
}
