package io.replicakv.server.multi;

import io.replicakv.core.util.Check;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The links of this site to other sites: each linked site's name and the peer addresses of its
 * nodes ({@code name@host:port|host:port|...}), where this site sends the change streams of its
 * multi-leader keyspaces.
 *
 * <p>Where links come from: the setting {@code site-links=name@host:port,...} at first start; after
 * that the file {@code data-dir/multi/site-links} (one {@code name host:port} a line), which the
 * admin command {@code SITE.LINK ADD|REMOVE} rewrites (write to a temporary file, then an atomic
 * rename). Once the file exists it wins over the setting, so a link added or removed at runtime
 * survives a restart; the node logs which source it used. The links are local to this site, not in
 * the cluster metadata: a site's links are about other clusters, which its own metadata quorum
 * knows nothing of.
 *
 * <p>Links are symmetric by convention: a link carries changes both ways (this site's to the other,
 * and the other's acknowledgements and changes back over the other's link to this one), so each of
 * two linked sites must list the other.
 */
public final class SiteLinks {
  /** Linked sites at most (also the most sites a keyspace spans). */
  public static final int LINKS_MAX = SiteLinkCodec.SITES_MAX - 1;

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

  /** One peer address of a linked site's node. */
  public record Address(String host, int port) {
    public Address {
      Check.argument(host != null && !host.isBlank(), "empty host");
      Check.argument(port > 0 && port <= 65535, "port %s", port);
    }

    @Override
    public String toString() {
      return host + ":" + port;
    }
  }

  /** Addresses one link names at most (nodes of the linked site). */
  public static final int ADDRESSES_MAX = 64;

  /**
   * One linked site and the peer addresses of its nodes: any of them takes the site's link frames
   * (a node that is not the keyspace's gateway passes them on), so the sender moves to the next
   * address when one fails.
   */
  public record Link(String site, List<Address> addresses) {
    public Link {
      Check.argument(site != null && NAME.matcher(site).matches(), "bad site name '%s'", site);
      Check.argument(
          addresses != null && !addresses.isEmpty() && addresses.size() <= ADDRESSES_MAX,
          "site %s: 1 to %s addresses",
          site,
          ADDRESSES_MAX);
      addresses = List.copyOf(addresses);
    }

    /** A link to a site of one node. */
    public Link(String site, String host, int port) {
      this(site, List.of(new Address(host, port)));
    }

    /** The first address's host. */
    public String host() {
      return addresses.get(0).host();
    }

    /** The first address's port. */
    public int port() {
      return addresses.get(0).port();
    }

    /** Address number {@code attempt} modulo their count (the sender's rotation). */
    public Address address(int attempt) {
      return addresses.get(Math.floorMod(attempt, addresses.size()));
    }

    /** {@code h1:p1|h2:p2}, the form the setting and the links file use. */
    public String addressText() {
      return String.join("|", addresses.stream().map(Address::toString).toList());
    }

    @Override
    public String toString() {
      return site + "@" + addressText();
    }
  }

  private final String self;
  private final Path file;
  private final TreeMap<String, Link> links = new TreeMap<>();

  /**
   * The links of site {@code self}: from {@code file} when it exists, else from {@code setting}.
   *
   * @throws IllegalArgumentException when the setting or the file is malformed
   */
  public SiteLinks(String self, String setting, Path file) {
    Check.argument(self != null && NAME.matcher(self).matches(), "bad site name '%s'", self);
    this.self = self;
    this.file = file;
    List<Link> initial = new ArrayList<>();
    try {
      if (file != null && Files.isRegularFile(file)) {
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
          if (!line.isBlank() && !line.startsWith("#")) {
            String[] words = line.trim().split("\\s+");
            Check.argument(words.length == 2, "%s: bad line '%s'", file, line);
            initial.add(parse(words[0] + "@" + words[1]));
          }
        }
      } else {
        for (String item : setting.split(",")) {
          if (!item.isBlank()) {
            initial.add(parse(item.trim()));
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
    for (Link link : initial) {
      put(link);
    }
  }

  /** Parses {@code name@host:port} or {@code name@host:port|host:port|...}. */
  public static Link parse(String text) {
    int at = text.indexOf('@');
    Check.argument(
        at > 0 && at < text.length() - 1, "site link '%s' is not name@host:port[|host:port]", text);
    List<Address> addresses = new ArrayList<>();
    for (String part : text.substring(at + 1).split("\\|")) {
      int colon = part.lastIndexOf(':');
      Check.argument(
          colon > 0 && colon < part.length() - 1, "site link '%s' is not name@host:port", text);
      int port;
      try {
        port = Integer.parseInt(part.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("site link '" + text + "': bad port");
      }
      addresses.add(new Address(part.substring(0, colon), port));
    }
    return new Link(text.substring(0, at), addresses);
  }

  /** This site's name. */
  public String self() {
    return self;
  }

  /** Adds or replaces the link to {@code link.site()} and saves the links. */
  public synchronized void add(Link link) {
    put(link);
    save();
  }

  /** Removes the link to {@code site}; false when there was none. Saves the links. */
  public synchronized boolean remove(String site) {
    boolean removed = links.remove(site) != null;
    if (removed) {
      save();
    }
    return removed;
  }

  /** The link to {@code site}, or null. */
  public synchronized Link get(String site) {
    return links.get(site);
  }

  /** Every link by site name. */
  public synchronized SortedMap<String, Link> all() {
    return Collections.unmodifiableSortedMap(new TreeMap<>(links));
  }

  /** This site and every linked site, sorted: the site list of a keyspace created now. */
  public synchronized List<String> sitesWithSelf() {
    TreeMap<String, Boolean> names = new TreeMap<>();
    names.put(self, true);
    links.keySet().forEach(name -> names.put(name, true));
    return List.copyOf(names.keySet());
  }

  private void put(Link link) {
    Check.argument(!link.site().equals(self), "site %s cannot link to itself", self);
    Check.argument(
        links.containsKey(link.site()) || links.size() < LINKS_MAX,
        "over %s site links",
        LINKS_MAX);
    links.put(link.site(), link);
  }

  private void save() {
    if (file == null) {
      return;
    }
    StringBuilder text = new StringBuilder("# site links of ").append(self).append('\n');
    links
        .values()
        .forEach(l -> text.append(l.site()).append(' ').append(l.addressText()).append('\n'));
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
      Files.writeString(temporary, text, StandardCharsets.UTF_8);
      Files.move(
          temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot save site links to " + file, e);
    }
  }
}
