#!/usr/bin/env bash
# Leaderless keyspaces on a local 3-node ReplicaKV cluster against the default (single-leader)
# keyspace and redis-server, in one run: redis-benchmark SET/GET throughput and p99 through one
# node, for N=3 R=2 W=2 and N=3 R=1 W=1 (redis-benchmark --dbnum selects the keyspace), with the
# ratios to redis-server and to the default keyspace. Then the cost of anti-entropy: load KEYS keys
# into a strict-quorum leaderless keyspace, kill -9 one node, overwrite 1% of the keys, restart it
# and time one KV.REPAIR pass (replicakv keyspace repair), which prints the keys compared,
# differing keys found, keys repaired and state bytes shipped; then a second pass, which should
# find nothing. The loader pipelines batches to all three nodes at once.
#
#   bench/leaderless-benchmark.sh [--requests N] [--clients C] [--keys KEYS] [--anti-entropy-only]
#
# A benchmark, not a test: it prints numbers and asserts nothing. Leaderless SET costs a quorum
# read (for the causal context) plus a quorum write, so it is two round trips where the default
# keyspace and Redis make one.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requests=50000; clients=50; keys=100000; throughput=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --keys) keys="$2"; shift 2 ;;
    --anti-entropy-only) throughput=""; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in redis-benchmark redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install redis-server redis-tools)" >&2; exit 1; }
done
base=17900; redis_port=17990
work="$(mktemp -d)"
kv() { (cd "$work" && "$root/bin/replicakv" "$@"); }
cleanup() {
  kv down >/dev/null 2>&1 || true
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
redis-server --port "$redis_port" --save "" --appendonly no --daemonize yes \
  --dir "$work" --logfile "$work/redis.log" >/dev/null
kv up --nodes 3 --port "$base" >/dev/null || { tail -n 20 "$work"/.replicakv/*/server.log >&2; exit 1; }
node="127.0.0.1:$base"
for p in "$base" $((base + 1)) $((base + 2)); do # a loaded machine may need a while to listen
  for _ in $(seq 1 600); do redis-cli -p "$p" PING 2>/dev/null | grep -q PONG && break; sleep 0.2; done
done
quorum="$(kv keyspace create lq --style leaderless --replicas 3 --r 2 --w 2 --node "$node")"
one="$(kv keyspace create lone --style leaderless --replicas 3 --r 1 --w 1 --node "$node")"
ae="$(kv keyspace create ae --style leaderless --replicas 3 --r 2 --w 2 --set read-repair=false --node "$node")"
serving() { # port db -> waits until a read at R=3 answers there
  for _ in $(seq 1 600); do
    if redis-cli -p "$1" -n "$2" KV.GET warm-up R 3 2>/dev/null | grep -qv -E 'NOREPLICAS|TIMEOUT|CLUSTERDOWN|ERR'; then
      return 0
    fi
    sleep 0.2
  done
  echo "port $1 never served keyspace $2" >&2; exit 1
}
for p in "$base" $((base + 1)) $((base + 2)); do
  for db in "$quorum" "$one" "$ae"; do serving "$p" "$db"; done
done

if [ -n "$throughput" ]; then
run() { # label port dbnum -> "label SET rps p99 GET rps p99"
  local out
  # -r: random keys from a space large enough that two clients almost never write one key at once
  # (on a siblings keyspace that makes siblings, and a GET of them an error that stops the run)
  out="$(redis-benchmark -p "$2" --dbnum "$3" -t set,get -n "$requests" -c "$clients" -r 100000000 --csv 2>/dev/null \
    | grep -E '^"(SET|GET)",' | tr -d '"' || true)"
  printf "%s %s\n" "$1" "$(echo "$out" | awk -F, '{printf "%s %s %s ", $1, $2, $7}')"
}
redis-benchmark -p "$base" -t set,get -n 20000 -c "$clients" -r 100000000 -q >/dev/null 2>&1 || true  # warm-up
redis-benchmark -p "$base" --dbnum "$quorum" -t set,get -n 20000 -c "$clients" -r 100000000 -q >/dev/null 2>&1 || true
echo "machine: $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "redis-benchmark -t set,get -n $requests -c $clients -P 1; ReplicaKV: 3 nodes on this machine, through node 1"
declare -A rps p99
while read -r label t1 r1 q1 t2 r2 q2; do
  rps[$label.$t1]=$r1; p99[$label.$t1]=$q1; rps[$label.$t2]=$r2; p99[$label.$t2]=$q2
done < <(run redis "$redis_port" 0; run default "$base" 0; run n3r2w2 "$base" "$quorum"; run n3r1w1 "$base" "$one")
ratio() { awk -v a="${1:-0}" -v b="${2:-1}" 'BEGIN{ if (b == 0) print "?"; else printf "%.2f", a/b }'; }
printf "\n%-22s %-4s %12s %10s %10s %12s\n" target test "ops/s" "p99 ms" "/redis" "/default"
for label in redis default n3r2w2 n3r1w1; do
  for t in SET GET; do
    printf "%-22s %-4s %12s %10s %10s %12s\n" "$label" "$t" "${rps[$label.$t]:-?}" "${p99[$label.$t]:-?}" \
      "$(ratio "${rps[$label.$t]:-0}" "${rps[redis.$t]:-1}")" "$(ratio "${rps[$label.$t]:-0}" "${rps[default.$t]:-1}")"
  done
done
fi

echo
echo "anti-entropy: $keys keys in keyspace ae (N=3 R=2 W=2, strict quorum, read repair off)"
resp_sets() { # first step prefix -> RESP SETs of keys first, first+step, ...
  awk -v n="$keys" -v f="$1" -v s="$2" -v v="$3" 'BEGIN{
    for (i = f; i < n; i += s) { k = "key:" i; val = v i;
      printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(val), val } }'
}
load() { # first step prefix port... -> writes in batches of $batch, one pipeline per port at once
  # (each node coordinates the batches sent to it, so the three node loops share the load; at
  # most $batch writes are in flight per node, far below its in-flight limit); prints totals
  local all errors=0 replies=0 first="$1" step="$2" prefix="$3" part e r i
  shift 3
  local ports=("$@")
  all="$(mktemp)"; resp_sets "$first" "$step" "$prefix" > "$all"
  split -l $((batch * 7)) "$all" "$all.part."
  local parts=("$all".part.*)
  for i in "${!ports[@]}"; do
    (
      for ((j = i; j < ${#parts[@]}; j += ${#ports[@]})); do
        # redis-cli --pipe exits 1 when any reply was an error; the summary line counts them
        (redis-cli -p "${ports[$i]}" -n "$ae" --pipe < "${parts[$j]}" 2>/dev/null || true) | tail -n 1
      done > "$all.out.$i"
    ) &
  done
  wait
  while read -r line; do
    e="$(echo "$line" | sed -n 's/.*errors: \([0-9]*\).*/\1/p')"
    r="$(echo "$line" | sed -n 's/.*replies: \([0-9]*\).*/\1/p')"
    errors=$((errors + ${e:-0})); replies=$((replies + ${r:-0}))
  done < <(cat "$all".out.*)
  rm -f "$all" "$all".part.* "$all".out.*
  echo "$replies replies, $errors errors (NOREPLICAS/TIMEOUT under load; those keys may be missing)"
}
batch=500 # per pipeline; 2,000 timed out 62% of the writes on a loaded machine
start=$(date +%s.%N)
load 0 1 "value-" "$base" $((base + 1)) $((base + 2))
echo "loaded in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}') s"
kv fault kill n3 >/dev/null
load 0 100 "changed-" "$base" $((base + 1))
kv fault restart n3 >/dev/null
serving $((base + 2)) "$ae"
echo "n3 killed, 1% of the keys ($(( (keys + 99) / 100 ))) overwritten, n3 restarted; one pass:"
for pass in 1 2; do
  start=$(date +%s.%N)
  kv keyspace repair ae --node "$node" || true
  echo "wall time of pass $pass seen by the client: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}') s"
  [ "$pass" = 1 ] && echo "second pass (expect 0 differing keys):"
done
echo "(bytes_shipped counts key states sent by anti-entropy, not Merkle hashes or frame headers;"
echo " keys_compared counts keys of the ranges listed by digest, on the side that compared them)"
