#!/usr/bin/env bash
# A new follower's partition snapshots in a real cluster: a local 3-node cluster (bin/replicakv up,
# keyspace 0 single-leader N=3 acks=1) is loaded with --keys keys of --value-bytes bytes, then a
# 4th node joins (started with join=..., then CLUSTER COMMIT JOIN). Every replica group the joiner
# now belongs to gets it a snapshot from the group's leader (peer frames of type 27). The script
# polls INFO replication on every node until the leaders' transfers are done and the joiner has
# installed them, and prints the keys and bytes the leaders sent, the wall time from the commit to
# the last install, and the rate. A benchmark, not a test: it asserts nothing but prints what the
# joiner holds (LOCALGET of a sample of the keys in the slots it replicates).
#
#   bench/snapshot-join.sh [--keys N (300000)] [--value-bytes B (100)] [--port P (18600)]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
keys=300000; value_bytes=100; base=18600
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys="$2"; shift 2 ;;
    --value-bytes) value_bytes="$2"; shift 2 ;;
    --port) base="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v redis-cli >/dev/null || { echo "needs redis-cli (apt-get install redis-tools)" >&2; exit 1; }
work="$(mktemp -d)"
kv() { (cd "$work" && "$root/bin/replicakv" "$@"); }
joiner_pid=""
cleanup() {
  [ -n "$joiner_pid" ] && kill "$joiner_pid" 2>/dev/null || true
  kv down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

kv up --nodes 3 --port "$base" >/dev/null 2>&1 || { tail -n 20 "$work"/.replicakv/*/server.log >&2; exit 1; }
for _ in $(seq 1 900); do
  ok=0
  for k in a b c d e f g h i j k l; do
    [ "$(redis-cli -p "$base" SET "warm-$k" x 2>/dev/null)" = OK ] && ok=$((ok + 1))
  done
  [ "$ok" = 12 ] && break
  sleep 0.2
done

# load: RESP SETs through the three nodes (each forwards to the group leaders)
value="$(head -c "$value_bytes" /dev/zero | tr '\0' 'v')"
load_start=$(date +%s.%N)
for n in 0 1 2; do
  awk -v n="$n" -v k="$keys" -v v="$value" 'BEGIN {
    for (i = n; i < k; i += 3) {
      key = "key:" i
      printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(key), key, length(v), v
    }
  }' | redis-cli -p $((base + n)) --pipe >"$work/load-$n.out" 2>&1 &
done
wait
load_end=$(date +%s.%N)
errors=$(grep -ho 'errors: [0-9]*' "$work"/load-*.out | awk '{s += $2} END {print s + 0}')
echo "loaded $keys keys of $value_bytes bytes in $(awk -v a="$load_start" -v b="$load_end" 'BEGIN{printf "%.1f", b - a}') s ($errors errors)"

# the joiner: the same command line as node 3, with its own ports, folder and join=
mkdir -p "$work/.replicakv/node-4"
mapfile -t cmd < "$work/.replicakv/node-3/command"
new=()
for word in "${cmd[@]}"; do
  case "$word" in
    --port=*) new+=("--port=$((base + 3))") ;;
    --http-port=*) new+=("--http-port=$((base + 10000 + 3))") ;;
    --data-dir=*) new+=("--data-dir=$work/.replicakv/node-4/data") ;;
    --set=node-id=*) new+=("--set=node-id=node-4") ;;
    *) new+=("$word") ;;
  esac
done
new+=("--set=join=127.0.0.1:$base")
(cd "$work" && exec "${new[@]}" >"$work/.replicakv/node-4/server.log" 2>&1) &
joiner_pid=$!
for _ in $(seq 1 600); do
  redis-cli -p $((base + 3)) PING 2>/dev/null | grep -q PONG && break
  sleep 0.2
done

info() { redis-cli -p "$1" INFO replication 2>/dev/null | tr -d '\r'; }
counter() { info "$1" | awk -F: -v k="replication_$2" '$1 == k {print $2}'; }
sum_counter() { local s=0; for p in "$@"; do s=$((s + $(counter "$p" "$name" || echo 0))); done; echo "$s"; }
nodes=("$base" $((base + 1)) $((base + 2)))
name=snapshot_keys_sent; keys_before=$(sum_counter "${nodes[@]}")
name=snapshot_bytes_sent; bytes_before=$(sum_counter "${nodes[@]}")
installs_before=$(counter $((base + 3)) snapshot_installs || echo 0)

commit_start=$(date +%s.%N)
# the first node may not list node-4 yet (its registration is still reaching it): retry until OK
for _ in $(seq 1 300); do
  answer=$(redis-cli -p "$base" CLUSTER COMMIT JOIN node-4 2>&1 || true)
  [ "$answer" = OK ] && break
  sleep 0.2
done
[ "$answer" = OK ] || { echo "CLUSTER COMMIT JOIN node-4 refused: $answer" >&2; exit 1; }
last_change=$commit_start; last_installs=-1; settled=0
for _ in $(seq 1 3000); do
  installs=$(counter $((base + 3)) snapshot_installs || echo 0)
  receiving=$(counter $((base + 3)) snapshot_receiving || echo 0)
  running=0
  for p in "${nodes[@]}"; do running=$((running + $(counter "$p" snapshot_transfers_running || echo 0))); done
  now=$(date +%s.%N)
  if [ "$installs" != "$last_installs" ]; then last_installs=$installs; last_change=$now; fi
  # done: something installed, nothing running or receiving, and no new install for 5 s
  if [ "$installs" -gt "${installs_before:-0}" ] && [ "$running" = 0 ] && [ "$receiving" = 0 ] \
    && awk -v a="$last_change" -v b="$now" 'BEGIN{exit !(b - a > 5)}'; then
    settled=1; break
  fi
  sleep 0.1
done
name=snapshot_keys_sent; keys_sent=$(( $(sum_counter "${nodes[@]}") - keys_before ))
name=snapshot_bytes_sent; bytes_sent=$(( $(sum_counter "${nodes[@]}") - bytes_before ))
seconds=$(awk -v a="$commit_start" -v b="$last_change" 'BEGIN{printf "%.2f", b - a}')
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "join of node-4 after CLUSTER COMMIT JOIN: settled=$settled"
echo "  snapshots installed on the joiner: $((installs - ${installs_before:-0}))"
echo "  keys sent by the leaders: $keys_sent, entry bytes: $bytes_sent"
echo "  commit to last install: $seconds s"
awk -v b="$bytes_sent" -v k="$keys_sent" -v s="$seconds" \
  'BEGIN{ if (s > 0) printf "  rate: %.1f MB/s, %.0f keys/s (whole join: ring change, elections, transfers)\n", b / s / 1e6, k / s }'
info $((base + 3)) | grep -E '^(replication_snapshot|snapshot_)' || true
# the transfers alone, from the leaders' log lines: first "snapshot for node-4 at" to last "done"
grep -h "GroupSnapshots" "$work"/.replicakv/node-*/server.log 2>/dev/null | grep "snapshot for node-4" \
  | sort | awk '/ at /{ if (!s) s = $1 } /done:/{ e = $1; n++; k += $(NF-3); b += $(NF-1) }
    function secs(t) { split(substr(t, 12, 12), p, ":"); return p[1] * 3600 + p[2] * 60 + p[3] }
    END { if (n) { d = secs(e) - secs(s); printf "  transfers to node-4 (leader logs): %d done, %d keys, %d bytes, %s .. %s = %.1f s, %.2f MB/s\n", n, k, b, s, e, d, (d > 0 ? b / d / 1e6 : 0) } }'
# a sample read back from the joiner's own copy
sample=0; held=0
for i in $(seq 0 997 $((keys - 1))); do
  sample=$((sample + 1))
  [ -n "$(redis-cli -p $((base + 3)) LOCALGET "key:$i" 2>/dev/null)" ] && held=$((held + 1))
done
echo "  joiner holds $held of a sample of $sample keys locally (it replicates about 3/4 of the slots)"
# the disk's own sequential write rate, in the same folder, for the ratio the issue asks for
dd_out=$(dd if=/dev/zero of="$work/dd.bin" bs=1M count=256 conv=fdatasync 2>&1 | tail -n 1)
rm -f "$work/dd.bin"
disk_mbs=$(echo "$dd_out" | awk '{for (i = 1; i < NF; i++) if ($(i+1) ~ /^[MG]B\/s$/) { v = $i; if ($(i+1) == "GB/s") v *= 1000; print v }}')
echo "  disk sequential write (dd 256 MiB, fdatasync): ${disk_mbs:-?} MB/s ($dd_out)"
