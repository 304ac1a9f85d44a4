package io.replicakv.client;

import java.time.Instant;
import java.util.Collections;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * How far an offline site is from its linked sites (LESSONS.md 9: lag in changes, not only in
 * seconds).
 *
 * @param connected whether the site is online and at least one linked site answered it within the
 *     provider's connection window
 * @param pendingOut changes applied here (local, or received and forwarded) that a linked site has
 *     not acknowledged
 * @param pendingIn changes a linked site announced to this site that it has not applied yet; a
 *     linked site's changes made while the link is down count only from the first contact after it
 *     returns
 * @param lastSync when this site was last connected to every linked site with nothing pending
 *     either way (since it was opened); empty if never
 * @param links per linked site
 */
public record SyncStatus(
    boolean connected,
    long pendingOut,
    long pendingIn,
    Optional<Instant> lastSync,
    SortedMap<String, LinkSync> links) {
  public SyncStatus {
    if (pendingOut < 0 || pendingIn < 0) {
      throw new IllegalArgumentException("pending " + pendingOut + " out, " + pendingIn + " in");
    }
    Objects.requireNonNull(lastSync, "lastSync");
    links = Collections.unmodifiableSortedMap(new TreeMap<>(links));
  }

  /** Whether everything is exchanged: connected and nothing pending either way. */
  public boolean inSync() {
    return connected && pendingOut == 0 && pendingIn == 0;
  }

  /**
   * One link.
   *
   * @param site the linked site
   * @param connected whether it answered within the connection window
   * @param pendingOut changes it has not acknowledged
   * @param pendingIn changes it announced that this site has not applied
   * @param lastContact when it last answered; empty if never since the site was opened
   */
  public record LinkSync(
      String site,
      boolean connected,
      long pendingOut,
      long pendingIn,
      Optional<Instant> lastContact) {
    public LinkSync {
      Objects.requireNonNull(site, "site");
      Objects.requireNonNull(lastContact, "lastContact");
    }
  }
}
