#!/usr/bin/env bash
# Long simulation campaigns: compiles the simulator, then runs io.replicakv.sim.SimRunner with the
# given arguments, e.g.  replicakv-sim/run-sim.sh --scenario sync-primary-backup --seconds 600
# Single-leader partitions (core.single), every correct scenario for ten minutes:
#   replicakv-sim/run-sim.sh --scenario 'single-leader-*' --seconds 600 --first-seed 100000
#
# Leaderless long run: replicakv-sim/run-sim.sh leaderless [SECONDS] [FIRST_SEED]
#   runs every correct leaderless scenario (strict and sloppy quorums, LWW, CRDT set, counter and
#   map, tombstone collection)
#   for SECONDS each (default 600) from FIRST_SEED (default 100000); exit 1 if any seed failed,
#   each failure printed with the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
./mvnw -B -q -o -pl replicakv-sim -am test-compile 2>/dev/null || ./mvnw -B -q -pl replicakv-sim -am test-compile
. bin/find-java.sh
java_home="$(replicakv_find_java)"
run() {
  "$java_home/bin/java" -cp replicakv-sim/target/test-classes:replicakv-core/target/classes \
    io.replicakv.sim.SimRunner "$@"
}
if [ "${1:-}" = "leaderless" ]; then
  seconds="${2:-600}"
  first_seed="${3:-100000}"
  status=0
  for scenario in leaderless-strict-siblings leaderless-sloppy-siblings leaderless-strict-deletes leaderless-strict-blocking-repair leaderless-strict-lww \
      leaderless-contended-lww leaderless-strict-crdt-set leaderless-strict-crdt-counter leaderless-strict-crdt-map \
      leaderless-strict-deletes-gc leaderless-sloppy-deletes-gc; do
    run --scenario "$scenario" --seconds "$seconds" --first-seed "$first_seed" || status=1
  done
  exit "$status"
fi
run "$@"
