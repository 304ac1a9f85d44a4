package io.replicakv.client;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Library mode: a one-node ReplicaKV site embedded in a Java application (a phone, a laptop, a shop
 * till) with its own storage, which keeps reading and writing while its links are down and syncs
 * both ways when they return, with the conflict handling of the keyspace (DESIGN.md,
 * "Multi-leader": "an offline client is a site of one node embedded in the application").
 *
 * <p><b>Model.</b> An offline site is a multi-leader site like any server site: every local write
 * gets a dot of this site and is applied and made durable here at once, so a write never waits for
 * the network; changes stream over the site's links from the position the other side last
 * acknowledged, so a link that was down for hours resumes where it stopped. Concurrent edits made
 * on both sides meet the keyspace's conflict strategy exactly as between server sites: {@code
 * siblings} keeps both values and hands them back with a {@link CausalContext} that a later {@link
 * OfflineKeyspace#set(String, String, CausalContext) resolving write} covers; {@code crdt} merges
 * counters, sets and maps without conflicts; {@code lww} keeps the newest by hybrid clock and
 * counts what it discarded. Nothing here is resolved silently: {@link OfflineRead#conflicted()}
 * says so.
 *
 * <p><b>Keyspaces.</b> A keyspace reaches an offline site in one of two ways: it is declared in
 * {@link Options#withKeyspace} (its sites are this site and every linked site; the site announces
 * it over its links, and a server site that receives the announcement creates the same keyspace),
 * or a linked server site announces a keyspace created there whose site list holds this site. Both
 * are kept in the data folder and served again after a restart. The linked server site must also
 * have a link back to this site ({@code SITE LINK ADD name host:port}) for its changes to arrive.
 *
 * <p><b>Sync status.</b> {@link #syncStatus()} answers the questions an application asks before it
 * shows "saved" or "synced": is any link up, how many changes of this site the linked sites have
 * not acknowledged yet (pending out, exact), how many changes the linked sites have announced that
 * this site has not applied yet (pending in: known from the batches and probes that arrive, so a
 * change made elsewhere while the link is down counts only from the first contact after it
 * returns), and when the site was last fully in sync.
 *
 * <p><b>Why an interface and a {@link ServiceLoader} provider.</b> An embedded site runs the same
 * replica, log and link code as a server site, which lives in {@code replicakv-server} together
 * with Netty, Ratis and the HTTP front end. A compile-time dependency of this module on the server
 * would drag all of that into every application that only wants the RESP {@link ReplicaKvClient}.
 * So this module holds the API only (no server type appears in it, values and contexts are plain
 * strings), and {@code replicakv-server} implements {@link OfflineSiteProvider} over its embedded
 * site and registers it in {@code META-INF/services}. An application that uses library mode puts
 * the server jar on its runtime classpath; {@link #open} finds the provider there and says plainly
 * what is missing when it is not. A test double can register its own provider the same way.
 *
 * <p><b>Failure cases.</b> Survived: links down for any time (bounded by the site's in-memory log,
 * {@code SiteReplica.LOG_CHANGES_MAX} unacknowledged changes, past which local writes are refused),
 * lost or duplicated frames, a crash or restart of the application (every write is on disk before
 * the call returns, and sync resumes from durable positions). Refused: a second site opening a data
 * folder in use. Not survived: loss of the data folder (changes that never left it are gone, and
 * the site must come back under a new name, since the linked sites remember how far they got with
 * the old one).
 *
 * <p><b>Threads.</b> Methods may be called from any thread; each blocks until the site's loop
 * answered (writes: until the change is durable), at most {@link #OPERATION_TIMEOUT_MILLIS}.
 */
public interface OfflineSite extends AutoCloseable {
  /** How long a blocking call waits for the embedded site's loop before it throws. */
  long OPERATION_TIMEOUT_MILLIS = 30_000;

  /**
   * Opens (creating) the offline site described by {@code options}, with the first provider found
   * on the classpath.
   *
   * @throws IllegalStateException when no provider is on the classpath (put the {@code
   *     replicakv-server} jar on the application's runtime classpath)
   * @throws IOException when the data folder cannot be read or the peer port not bound
   */
  static OfflineSite open(Options options) throws IOException {
    Objects.requireNonNull(options, "options");
    List<OfflineSiteProvider> providers = new ArrayList<>();
    ServiceLoader.load(OfflineSiteProvider.class).forEach(providers::add);
    if (providers.isEmpty()) {
      throw new IllegalStateException(
          "no "
              + OfflineSiteProvider.class.getName()
              + " on the classpath: library mode runs the embedded site of replicakv-server;"
              + " put the replicakv-server jar (and its dependencies) on the runtime classpath");
    }
    return providers.get(0).open(options);
  }

  /** This site's name, unique among the sites it links to. */
  String name();

  /** The port on 127.0.0.1 where linked sites send their changes to this site. */
  int peerPort();

  /** The keyspaces this site serves (declared or announced), sorted. */
  SortedSet<String> keyspaces();

  /** The keyspace {@code name}, once declared or announced. */
  Optional<OfflineKeyspace> keyspace(String name);

  /**
   * Takes the site off the network ({@code false}, a pulled cable: nothing is sent or accepted,
   * reads and writes carry on locally) or puts it back ({@code true}, the default); both sides then
   * resend from what the other acknowledged.
   */
  void setOnline(boolean online);

  /** Whether {@link #setOnline} last put the site on the network. */
  boolean online();

  /**
   * Keyspaces this site declared that a linked site refused, with the linked site's reason (for
   * example it holds the keyspace with other options); such a keyspace works locally but does not
   * sync with that site. Empty when every announcement was accepted or is still unanswered.
   */
  SortedMap<String, String> refusals();

  /** Sync status over every keyspace and link of this site. */
  SyncStatus syncStatus();

  /** Stops the site; what it wrote is on disk and syncs at the next open. */
  @Override
  void close();

  /**
   * What an offline site is opened with.
   *
   * @param dataDir the folder holding the site's logs, keyspaces and links
   * @param name this site's name
   * @param peerPort the port on 127.0.0.1 linked sites send to (0 picks a free one)
   * @param links the linked sites as {@code name@host:port}; a server site of several nodes as
   *     {@code name@host1:port1|host2:port2}
   * @param keyspaces keyspaces this site declares, by name, with their options ({@code conflicts},
   *     {@code topology}, {@code hub}); the sites are this one and every linked one
   */
  record Options(
      Path dataDir,
      String name,
      int peerPort,
      List<String> links,
      SortedMap<String, SortedMap<String, String>> keyspaces) {
    private static final Pattern SITE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    private static final Pattern LINK =
        Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}@[^@,|\\s]+:\\d+(\\|[^@,|\\s]+:\\d+)*");

    public Options {
      Objects.requireNonNull(dataDir, "dataDir");
      Objects.requireNonNull(name, "name");
      if (!SITE_NAME.matcher(name).matches()) {
        throw new IllegalArgumentException("site name " + name + " is not [A-Za-z0-9_.-]{1,64}");
      }
      if (peerPort < 0 || peerPort > 65_535) {
        throw new IllegalArgumentException("peer port " + peerPort + " outside 0..65535");
      }
      links = List.copyOf(links);
      for (String link : links) {
        if (!LINK.matcher(link).matches()) {
          throw new IllegalArgumentException("link " + link + " is not name@host:port");
        }
        if (link.substring(0, link.indexOf('@')).equals(name)) {
          throw new IllegalArgumentException("site " + name + " cannot link to itself");
        }
      }
      TreeMap<String, SortedMap<String, String>> copy = new TreeMap<>();
      keyspaces.forEach(
          (keyspace, options) ->
              copy.put(keyspace, Collections.unmodifiableSortedMap(new TreeMap<>(options))));
      keyspaces = Collections.unmodifiableSortedMap(copy);
    }

    /** Site {@code name} keeping its data in {@code dataDir}, on a free port, with no links yet. */
    public static Options of(Path dataDir, String name) {
      return new Options(dataDir, name, 0, List.of(), new TreeMap<>());
    }

    /** The same, listening on {@code port}. */
    public Options withPeerPort(int port) {
      return new Options(dataDir, name, port, links, keyspaces);
    }

    /** The same, linked to site {@code site} at {@code host:port} too. */
    public Options withLink(String site, String host, int port) {
      List<String> more = new ArrayList<>(links);
      more.add(site + "@" + host + ":" + port);
      return new Options(dataDir, name, peerPort, more, keyspaces);
    }

    /**
     * The same, declaring keyspace {@code keyspace} with {@code options} (for example {@code
     * conflicts=siblings} or {@code conflicts=crdt}).
     */
    public Options withKeyspace(String keyspace, Map<String, String> options) {
      TreeMap<String, SortedMap<String, String>> more = new TreeMap<>(keyspaces);
      more.put(keyspace, new TreeMap<>(options));
      return new Options(dataDir, name, peerPort, links, more);
    }
  }
}
