package io.replicakv.core.multi;

import io.replicakv.core.Envelope;
import io.replicakv.core.PersistRecord;
import io.replicakv.core.Ready;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.quorum.Topology;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A tiny deterministic driver for state-machine tests: sites on a perfect in-order network whose
 * links a test can cut and whose messages it can hold back, a disk per site (every record, since
 * the site syncs everything it persists), and a fixed clock per site.
 */
final class Sites {
  final MultiLeaderConfig config;
  final Map<String, SiteReplica> replicas = new LinkedHashMap<>();
  final Map<String, List<PersistRecord>> disks = new LinkedHashMap<>();
  final Map<String, long[]> clocks = new LinkedHashMap<>();
  final Deque<PeerMessage> inFlight = new ArrayDeque<>();
  final Set<String> cut = new HashSet<>();
  final Set<String> down = new HashSet<>();
  final List<ClientReply> replies = new ArrayList<>();
  long requestIds;

  final SiteReplica.Retention retention;

  Sites(MultiLeaderConfig config) {
    this(config, SiteReplica.Retention.DEFAULT);
  }

  Sites(MultiLeaderConfig config, SiteReplica.Retention retention) {
    this.config = config;
    this.retention = retention;
    for (String site : config.sites()) {
      disks.put(site, new ArrayList<>());
      clocks.put(site, new long[] {1_000_000});
      start(site);
    }
  }

  static Sites of(Topology topology, ConflictResolver resolver, String... sites) {
    return new Sites(MultiLeaderConfig.of(List.of(sites), topology, resolver));
  }

  /** Replaces {@code site}'s disk by its checkpoint, as a compaction of its log file does. */
  void compact(String site) {
    List<PersistRecord> compacted = new ArrayList<>();
    disks.get(site).stream().filter(SiteRecord::isLockRecord).forEach(compacted::add);
    compacted.addAll(site(site).checkpoint());
    disks.put(site, compacted);
  }

  SiteReplica site(String site) {
    return replicas.get(site);
  }

  void start(String site) {
    replicas.put(
        site,
        new SiteReplica(
            config, site, () -> clocks.get(site)[0], List.copyOf(disks.get(site)), retention));
    down.remove(site);
  }

  void crash(String site) {
    replicas.put(site, null);
    down.add(site);
  }

  void cut(String from, String to) {
    cut.add(from + ">" + to);
    cut.add(to + ">" + from);
  }

  void heal() {
    cut.clear();
  }

  void write(String site, SiteCommand command) {
    site(site).submit(1, requestIds++, command);
    drain(site);
  }

  void put(String site, String key, String value) {
    write(site, new SiteCommand.Assign(key, value, java.util.Optional.empty()));
  }

  /** Ticks every live site once and delivers messages until the network is empty. */
  void round() {
    for (String site : config.sites()) {
      if (!down.contains(site)) {
        site(site).tick();
        drain(site);
      }
    }
    deliverAll();
  }

  void rounds(int count) {
    for (int i = 0; i < count; i++) {
      round();
    }
  }

  void deliverAll() {
    while (!inFlight.isEmpty()) {
      deliver(inFlight.removeFirst());
    }
  }

  void deliver(PeerMessage message) {
    String from = config.sites().get(message.from());
    String to = config.sites().get(message.to());
    if (down.contains(to) || cut.contains(from + ">" + to)) {
      return;
    }
    site(to).step(message);
    drain(to);
  }

  /** Sends site's pending messages into {@link #inFlight} without delivering them. */
  void drain(String site) {
    SiteReplica replica = site(site);
    for (Ready ready = replica.ready(); !ready.isEmpty(); ready = replica.ready()) {
      disks.get(site).addAll(ready.records());
      for (Envelope envelope : ready.messages()) {
        inFlight.addLast(envelope.message());
      }
      replies.addAll(ready.replies());
      replica.advance(ready);
    }
  }
}
