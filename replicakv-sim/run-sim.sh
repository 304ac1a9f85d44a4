#!/usr/bin/env bash
# Long simulation campaigns: compiles the simulator, then runs io.replicakv.sim.SimRunner with the
# given arguments, e.g.  replicakv-sim/run-sim.sh --scenario sync-primary-backup --seconds 600
# Single-leader partitions (core.single), every correct scenario for ten minutes:
#   replicakv-sim/run-sim.sh --scenario 'single-leader-*' --seconds 600 --first-seed 100000
set -euo pipefail
cd "$(dirname "$0")/.."
./mvnw -B -q -o -pl replicakv-sim -am test-compile 2>/dev/null || ./mvnw -B -q -pl replicakv-sim -am test-compile
. bin/find-java.sh
java_home="$(replicakv_find_java)"
exec "$java_home/bin/java" -cp replicakv-sim/target/test-classes:replicakv-core/target/classes \
  io.replicakv.sim.SimRunner "$@"
