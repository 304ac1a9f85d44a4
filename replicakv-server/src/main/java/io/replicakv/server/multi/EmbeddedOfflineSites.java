package io.replicakv.server.multi;

import io.replicakv.client.CausalContext;
import io.replicakv.client.OfflineKeyspace;
import io.replicakv.client.OfflineRead;
import io.replicakv.client.OfflineSite;
import io.replicakv.client.OfflineSiteProvider;
import io.replicakv.client.SyncStatus;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.crdt.AwOrSet;
import io.replicakv.core.crdt.Crdt;
import io.replicakv.core.crdt.OrMap;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.multi.CrdtResolver;
import io.replicakv.core.multi.KeyState;
import io.replicakv.core.multi.Mutation;
import io.replicakv.core.multi.SiteCommand;
import io.replicakv.core.multi.SiteRead;
import io.replicakv.core.util.Check;
import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The {@code replicakv-client} library-mode API ({@link OfflineSite}) over {@link EmbeddedSite},
 * registered for {@link java.util.ServiceLoader} in {@code META-INF/services}; the client module
 * knows only the interfaces, so applications that never embed a site do not carry the server.
 *
 * <p>Translation only: causal contexts travel as the text of the key's version vector ({@code
 * site=counter,...}), CRDT calls become the same {@link SiteCommand}s the RESP commands build, and
 * sync status sums the embedded site's per-link lag and contact. Every blocking call waits at most
 * {@link OfflineSite#OPERATION_TIMEOUT_MILLIS}.
 */
public final class EmbeddedOfflineSites implements OfflineSiteProvider {
  /** Contexts longer than this are refused as input (a site list is at most a few dozen names). */
  static final int CONTEXT_CHARS_MAX = 64 * 1024;

  /** For {@link java.util.ServiceLoader}. */
  public EmbeddedOfflineSites() {}

  @Override
  public OfflineSite open(OfflineSite.Options options) throws IOException {
    EmbeddedSite site =
        EmbeddedSite.open(
            options.dataDir(),
            options.name(),
            options.peerPort(),
            String.join(",", options.links()));
    try {
      options.keyspaces().forEach(site::declare);
    } catch (RuntimeException e) {
      site.close();
      throw e;
    }
    return new Site(site);
  }

  /** The text form of a causal context: {@code site=counter} pairs, comma-separated, sorted. */
  static String encode(VersionVector context) {
    StringBuilder text = new StringBuilder();
    context
        .entries()
        .forEach(
            (site, counter) ->
                text.append(text.isEmpty() ? "" : ",").append(site).append('=').append(counter));
    return text.toString();
  }

  /** The inverse of {@link #encode}; refuses anything it did not produce. */
  static VersionVector decode(CausalContext context) {
    String text = context.encoded();
    Check.argument(text.length() <= CONTEXT_CHARS_MAX, "context of %s chars", text.length());
    if (text.isEmpty()) {
      return VersionVector.EMPTY;
    }
    TreeMap<String, Long> entries = new TreeMap<>();
    for (String pair : text.split(",", -1)) {
      int equals = pair.lastIndexOf('=');
      Check.argument(equals > 0, "context entry '%s' is not site=counter", pair);
      long counter;
      try {
        counter = Long.parseLong(pair.substring(equals + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("context entry '" + pair + "' has no counter", e);
      }
      Check.argument(counter > 0, "context entry '%s' counts below 1", pair);
      Check.argument(
          entries.put(pair.substring(0, equals), counter) == null,
          "context names site %s twice",
          pair.substring(0, equals));
    }
    return VersionVector.of(entries);
  }

  private static <T> T await(CompletableFuture<T> future) {
    try {
      return future.get(OfflineSite.OPERATION_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException(
          "no answer within " + OfflineSite.OPERATION_TIMEOUT_MILLIS + " ms", e);
    }
  }

  private static SyncStatus status(
      EmbeddedSite site, List<String> sites, List<EmbeddedSite.Pending> pending) {
    SortedMap<String, EmbeddedSite.LinkContact> contacts = site.contacts();
    TreeMap<String, SyncStatus.LinkSync> links = new TreeMap<>();
    long out = 0;
    long in = 0;
    boolean connected = false;
    for (EmbeddedSite.LinkContact contact : contacts.values()) {
      if (!sites.contains(contact.site())) {
        continue;
      }
      long linkOut = 0;
      long linkIn = 0;
      for (EmbeddedSite.Pending p : pending) {
        linkOut += p.pendingOut().getOrDefault(contact.site(), 0L);
        linkIn += p.pendingIn().getOrDefault(contact.site(), 0L);
      }
      out += linkOut;
      in += linkIn;
      connected |= contact.connected();
      links.put(
          contact.site(),
          new SyncStatus.LinkSync(
              contact.site(),
              contact.connected(),
              linkOut,
              linkIn,
              contact.lastAnsweredMillis() < 0
                  ? Optional.empty()
                  : Optional.of(Instant.ofEpochMilli(contact.lastAnsweredMillis()))));
    }
    long lastSync = site.lastSyncMillis();
    return new SyncStatus(
        connected,
        out,
        in,
        lastSync < 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(lastSync)),
        links);
  }

  /** One embedded site behind the client API. */
  private static final class Site implements OfflineSite {
    private final EmbeddedSite site;

    Site(EmbeddedSite site) {
      this.site = site;
    }

    @Override
    public String name() {
      return site.site();
    }

    @Override
    public int peerPort() {
      return site.peerPort();
    }

    @Override
    public SortedSet<String> keyspaces() {
      return site.keyspaces();
    }

    @Override
    public Optional<OfflineKeyspace> keyspace(String name) {
      return site.service(name).map(service -> new Keyspace(site, service));
    }

    @Override
    public void setOnline(boolean online) {
      site.setOnline(online);
    }

    @Override
    public boolean online() {
      return site.online();
    }

    @Override
    public SortedMap<String, String> refusals() {
      return site.refusals();
    }

    @Override
    public SyncStatus syncStatus() {
      List<EmbeddedSite.Pending> pending =
          site.keyspaces().stream().map(name -> await(site.pending(name))).toList();
      return status(site, List.copyOf(site.links().all().keySet()), pending);
    }

    @Override
    public void close() {
      site.close();
    }

    @Override
    public String toString() {
      return "offline site " + site.site() + " on port " + site.peerPort();
    }
  }

  /** One keyspace of an embedded site behind the client API. */
  private static final class Keyspace implements OfflineKeyspace {
    private final EmbeddedSite site;
    private final SiteService service;

    Keyspace(EmbeddedSite site, SiteService service) {
      this.site = site;
      this.service = service;
    }

    @Override
    public String name() {
      return service.keyspace();
    }

    @Override
    public String conflicts() {
      return service.status().strategy();
    }

    @Override
    public OfflineRead read(String key) {
      SiteRead read = await(service.query(r -> r.read(key)));
      return new OfflineRead(
          read.values(), new CausalContext(encode(read.context())), read.conflicted());
    }

    @Override
    public void set(String key, String value) {
      write(r -> new SiteCommand.Assign(key, value, Optional.of(r.read(key).context())));
    }

    @Override
    public void set(String key, String value, CausalContext context) {
      VersionVector seen = decode(context);
      write(r -> new SiteCommand.Assign(key, value, Optional.of(seen)));
    }

    @Override
    public boolean delete(String key) {
      Reply reply =
          await(
              service.submit(
                  r -> {
                    SiteRead read = r.read(key);
                    return read.values().isEmpty()
                        ? null
                        : new SiteCommand.Delete(key, Optional.of(read.context()));
                  }));
      if (reply == null) {
        return false;
      }
      check(reply);
      return true;
    }

    @Override
    public void delete(String key, CausalContext context) {
      VersionVector seen = decode(context);
      write(r -> new SiteCommand.Delete(key, Optional.of(seen)));
    }

    @Override
    public void increment(String key, long delta) {
      write(r -> new SiteCommand.Increment(key, delta));
    }

    @Override
    public long counter(String key) {
      List<String> values = read(key).values();
      if (values.isEmpty()) {
        return 0;
      }
      Check.state(values.size() == 1, "key %s holds %s, not a counter", key, values);
      try {
        return Long.parseLong(values.get(0));
      } catch (NumberFormatException e) {
        throw new IllegalStateException("key " + key + " holds " + values + ", not a counter", e);
      }
    }

    @Override
    public void add(String key, String member) {
      write(r -> new SiteCommand.SetMember(key, member, true));
    }

    @Override
    public void remove(String key, String member) {
      write(r -> new SiteCommand.SetMember(key, member, false));
    }

    @Override
    public SortedSet<String> members(String key) {
      return await(
          service.query(
              r -> {
                TreeSet<String> members = new TreeSet<>();
                if (crdtOf(r.keyState(key)) instanceof AwOrSet set) {
                  set.elements().forEach(e -> members.add(e.toUtf8()));
                }
                return members;
              }));
    }

    @Override
    public void putField(String key, String field, String value) {
      write(r -> new SiteCommand.MapField(key, field, Optional.of(value)));
    }

    @Override
    public void removeField(String key, String field) {
      write(r -> new SiteCommand.MapField(key, field, Optional.empty()));
    }

    @Override
    public SortedMap<String, String> fields(String key) {
      return await(
          service.query(
              r -> {
                TreeMap<String, String> fields = new TreeMap<>();
                if (crdtOf(r.keyState(key)) instanceof OrMap map) {
                  map.entries()
                      .forEach(
                          (field, value) ->
                              fields.put(
                                  field.toUtf8(), String.join(",", CrdtResolver.render(value))));
                }
                return fields;
              }));
    }

    @Override
    public SortedMap<String, List<String>> entries() {
      return await(service.query(r -> r.visibleState()));
    }

    @Override
    public SortedMap<String, Long> conflictCounters() {
      // the status labels each counter with the strategy, which conflicts() already tells
      TreeMap<String, Long> counters = new TreeMap<>();
      service
          .status()
          .counters()
          .forEach(
              (name, value) -> {
                int label = name.indexOf('{');
                counters.merge(label < 0 ? name : name.substring(0, label), value, Long::sum);
              });
      return counters;
    }

    @Override
    public SyncStatus syncStatus() {
      return status(site, service.sites(), List.of(await(site.pending(service.keyspace()))));
    }

    @Override
    public String toString() {
      return "keyspace " + service.keyspace() + " of offline site " + site.site();
    }

    private static Crdt<?> crdtOf(KeyState state) {
      if (state.live().size() == 1 && state.live().get(0).value() instanceof Mutation.CrdtState c) {
        return c.state();
      }
      return null;
    }

    private void write(
        java.util.function.Function<io.replicakv.core.multi.SiteReplica, SiteCommand> command) {
      check(await(service.submit(command)));
    }

    private static void check(Reply reply) {
      switch (reply) {
        case Reply.Written written -> {}
        case Reply.Rejected rejected ->
            throw new IllegalStateException("write refused: " + rejected.reason());
        case Reply.Uncertain uncertain ->
            throw new IllegalStateException("write outcome unknown: " + uncertain.reason());
        case Reply.Values values -> throw new IllegalStateException("write answered " + values);
      }
    }
  }
}
