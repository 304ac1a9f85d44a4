#!/usr/bin/env bash
# Read throughput of a local 3-node cluster with follower reads (keyspace option follower-reads=on:
# every node answers GET from its own replica) against leader-only reads (the default: a node
# forwards a read to the key's group leader unless it leads it). redis-benchmark runs GET against
# all three nodes at once, one process per node; the sum of their rates is the cluster's.
# Plain redis-benchmark carries no session token, so this measures the read path, not the wait for
# a token (a follower that already applied a token answers at the same cost).
#
#   bench/follower-reads-benchmark.sh [--requests N] [--clients C] [--keys K]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requests=100000; clients=20; keys=10000; port=17700
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --keys) keys="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v redis-benchmark >/dev/null || { echo "needs redis-benchmark (redis-tools)" >&2; exit 1; }
cluster="$(mktemp -d)"
cleanup() { (cd "$cluster" && "$root/bin/replicakv" down >/dev/null 2>&1) || true; rm -rf "$cluster"; }
trap cleanup EXIT
(cd "$cluster" && "$root/bin/replicakv" up --nodes 3 --port "$port" >/dev/null)
create() { redis-cli -p "$port" KEYSPACE CREATE "$@"; }
leader_only="$(create leader-only style single-leader)"
followers="$(create follower-reads style single-leader follower-reads on)"
for db in "$leader_only" "$followers"; do
  for p in "$port" $((port + 1)) $((port + 2)); do
    for _ in $(seq 1 600); do
      [ "$(redis-cli -p "$p" -n "$db" SET warm w 2>/dev/null)" = "OK" ] && break
      sleep 0.2
    done
  done
  redis-benchmark -p "$port" --dbnum "$db" -t set -n "$keys" -r "$keys" -c "$clients" -q >/dev/null 2>&1
done
rate() { # port db -> GET requests per second
  redis-benchmark -p "$1" --dbnum "$2" -t get -n "$requests" -r "$keys" -c "$clients" --csv 2>/dev/null \
    | grep '^"GET"' | tr -d '"' | cut -d, -f2
}
cluster_rate() { # db -> "sum n1 n2 n3"
  local out; out="$(mktemp -d)"
  for i in 0 1 2; do rate $((port + i)) "$1" > "$out/$i" & done
  wait
  awk 'FNR==1{s+=$1; r=r" "$1} END{printf "%.0f%s", s, r}' "$out/0" "$out/1" "$out/2"
  rm -rf "$out"
}
cluster_rate "$leader_only" >/dev/null   # warm-up of both paths
cluster_rate "$followers" >/dev/null
echo "machine: $(nproc) cores, $(uname -sr); 3 nodes on one machine"
echo "redis-benchmark -t get -n $requests -c $clients -r $keys against each node at once"
printf "\n%-16s %12s %28s\n" keyspace "GET ops/s" "per node (n1 n2 n3)"
for round in 1 2; do
  read -r sum a b c <<<"$(cluster_rate "$leader_only")"
  printf "%-16s %12s %28s\n" "leader-only" "$sum" "$a $b $c"
  read -r sum a b c <<<"$(cluster_rate "$followers")"
  printf "%-16s %12s %28s\n" "follower-reads" "$sum" "$a $b $c"
done
