#!/usr/bin/env bash
# Failover trials of single-leader replication: three server processes (peer traffic through the
# in-JVM fault proxy), TRIALS times kill -9 the leader of one slot's replica group under a Jedis
# writer, time until a write to that slot succeeds again, restart the killed node and wait until it
# is in sync, and read back every acknowledged write (keyspace 0 acks=1 and an acks=all keyspace).
# Prints each trial, then p50/max; exits 1 if an acknowledged write was lost.
#
#   bench/failover-trials.sh [TRIALS (10)] [FAILOVER_TIMEOUT_MS (3000, as SingleLeaderFailoverTest)]
#
# A measurement, not a test (io.replicakv.cli.FailoverTrials in replicakv-cli's test classes).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/bench/test-classpath.sh"
exec "${test_java[@]}" -Xmx512m -cp "$test_cp" io.replicakv.cli.FailoverTrials "${1:-10}" "${2:-3000}"
