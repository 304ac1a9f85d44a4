#!/usr/bin/env bash
# Partition snapshot transfer rate between two storage engines over loopback (peer frames of type
# 27, the sender's window), against the disk's own sequential write rate measured in the same
# directory, twice: with dd (O_DIRECT) and with a Java FileChannel write + force. Prints MB/s and
# the ratio.
#
#   bench/snapshot-transfer.sh [--keys N] [--value-bytes B] [--window-bytes W] [--disk-mib M] [--dir D]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
keys=1000000; value_bytes=100; window_bytes=8388608; disk_mib=512; dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys="$2"; shift 2 ;;
    --value-bytes) value_bytes="$2"; shift 2 ;;
    --window-bytes) window_bytes="$2"; shift 2 ;;
    --disk-mib) disk_mib="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
. "$root/bin/find-java.sh"
JAVA_HOME="$(replicakv_find_java)" || { echo "needs a JDK >= 21" >&2; exit 1; }
export JAVA_HOME
# The CLI's jar and lib/ carry every module; the benchmark class lives in the server's test classes.
(cd "$root" && ./mvnw -q -B -DskipTests package -pl replicakv-cli -am >&2)
work="${dir:-$(mktemp -d "${TMPDIR:-/var/tmp}/replicakv-snapshot-bench.XXXXXX")}"
cleanup() { [ -n "$dir" ] || rm -rf "$work"; }
trap cleanup EXIT
echo "dd if=/dev/zero of=$work/dd-probe bs=1M count=$disk_mib oflag=direct:"
dd if=/dev/zero of="$work/dd-probe" bs=1M count="$disk_mib" oflag=direct 2>&1 | tail -n 1
rm -f "$work/dd-probe"
"$JAVA_HOME/bin/java" -Xmx8g \
  -cp "$root/replicakv-cli/target/replicakv-cli-0.1.0-SNAPSHOT.jar:$root/replicakv-cli/target/lib/*:$root/replicakv-server/target/test-classes" \
  io.replicakv.server.replication.snapshot.SnapshotTransferBenchmark \
  "$keys" "$value_bytes" "$window_bytes" "$disk_mib" "$work"
