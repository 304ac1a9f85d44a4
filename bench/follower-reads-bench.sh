#!/usr/bin/env bash
# Read throughput with follower reads against leader-only reads on three in-process nodes
# (io.replicakv.cli.FollowerReadsBench, in-memory metadata, so no Raft quorum has to form):
# GETs spread evenly over the nodes; prints GET ops/s for leader-only, follower-reads, and
# follower-reads through ReplicaKvClient sessions (one pipelined SESSION TOKEN per read).
#
#   bench/follower-reads-bench.sh [seconds-per-measurement] [threads-per-node] [keys]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/bench/test-classpath.sh"
exec "${test_java[@]}" -cp "$test_cp" io.replicakv.cli.FollowerReadsBench "$@"
