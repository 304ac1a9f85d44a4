package io.replicakv.server.multi;

import io.replicakv.core.multi.LinkLag;
import java.util.Map;
import java.util.TreeMap;

/**
 * Prometheus text for multi-leader keyspaces: link lag per keyspace and downstream site (changes,
 * bytes, ms), and the core's conflict counters per keyspace and strategy.
 */
public final class SiteMetrics {
  private SiteMetrics() {}

  /** The metrics of every multi-leader keyspace served here. */
  public static String render(SiteKeyspaces keyspaces) {
    StringBuilder b = new StringBuilder();
    counter(
        b,
        "replicakv_site_frames_send_failed_total",
        "Frames to linked sites that could not be sent (the link resends from its position).",
        keyspaces.framesSendFailed());
    counter(
        b,
        "replicakv_site_items_refused_total",
        "Received site link items dropped: corrupt, keyspace not served here, other site list.",
        keyspaces.itemsRefused());
    Map<String, SiteService.Status> statuses = keyspaces.statuses();
    lag(b, statuses, "changes", "Changes a linked site has not acknowledged.");
    lag(
        b,
        statuses,
        "bytes",
        "Approximate bytes of the changes a linked site has not acknowledged.");
    lag(b, statuses, "ms", "Age of the oldest change a linked site has not acknowledged.");
    gauge(
        b,
        statuses,
        "replicakv_site_log_retained_changes",
        "Site-log changes kept in memory for linked sites (bounded by site-log-retention-changes).",
        SiteService.Status::retainedChanges);
    gauge(
        b,
        statuses,
        "replicakv_site_log_retained_bytes",
        "Approximate change bytes kept in memory for linked sites (site-log-retention-bytes).",
        SiteService.Status::retainedBytes);
    gauge(
        b,
        statuses,
        "replicakv_site_log_file_bytes",
        "Bytes of the keyspace's site log file (compacted as it grows).",
        SiteService.Status::fileBytes);
    gauge(
        b,
        statuses,
        "replicakv_site_log_catch_ups_running",
        "Links of this site being caught up with a full-state catch-up now.",
        status -> status.catchUps().size());
    TreeMap<String, TreeMap<String, Long>> byCounter = new TreeMap<>();
    statuses.forEach(
        (keyspace, status) ->
            status
                .counters()
                .forEach(
                    (labelled, value) ->
                        byCounter
                            .computeIfAbsent(
                                labelled.substring(0, labelled.indexOf('{')), n -> new TreeMap<>())
                            .put(
                                "{keyspace=\""
                                    + keyspace
                                    + "\","
                                    + labelled.substring(labelled.indexOf('{') + 1),
                                value)));
    byCounter.forEach(
        (name, series) -> {
          String metric = "replicakv_" + name;
          b.append("# HELP ")
              .append(metric)
              .append(" Multi-leader site counter per keyspace and conflict strategy.\n")
              .append("# TYPE ")
              .append(metric)
              .append(" counter\n");
          series.forEach(
              (labels, value) ->
                  b.append(metric).append(labels).append(' ').append(value).append('\n'));
        });
    return b.toString();
  }

  private static void lag(
      StringBuilder b, Map<String, SiteService.Status> statuses, String unit, String help) {
    String metric = "replicakv_site_link_lag_" + unit;
    b.append("# HELP ").append(metric).append(' ').append(help).append('\n');
    b.append("# TYPE ").append(metric).append(" gauge\n");
    statuses.forEach(
        (keyspace, status) -> {
          for (LinkLag lag : status.lag().values()) {
            long value =
                switch (unit) {
                  case "changes" -> lag.changes();
                  case "bytes" -> lag.bytes();
                  default -> lag.ticks() * SiteService.TICK_PERIOD_MILLIS;
                };
            b.append(metric)
                .append("{keyspace=\"")
                .append(keyspace)
                .append("\",to=\"")
                .append(lag.downstream())
                .append("\"} ")
                .append(value)
                .append('\n');
          }
        });
  }

  private static void counter(StringBuilder b, String metric, String help, long value) {
    b.append("# HELP ").append(metric).append(' ').append(help).append('\n');
    b.append("# TYPE ").append(metric).append(" counter\n");
    b.append(metric).append(' ').append(value).append('\n');
  }

  private static void gauge(
      StringBuilder b,
      Map<String, SiteService.Status> statuses,
      String metric,
      String help,
      java.util.function.ToLongFunction<SiteService.Status> value) {
    b.append("# HELP ").append(metric).append(' ').append(help).append('\n');
    b.append("# TYPE ").append(metric).append(" gauge\n");
    statuses.forEach(
        (keyspace, status) ->
            b.append(metric)
                .append("{keyspace=\"")
                .append(keyspace)
                .append("\"} ")
                .append(value.applyAsLong(status))
                .append('\n'));
  }
}
