#!/usr/bin/env bash
# redis-benchmark against a local 3-node ReplicaKV cluster, through one node (proxy routing) and
# with redis-benchmark's --cluster mode (client-side routing by CLUSTER SLOTS), compared with a
# single ReplicaKV node in the same run. Prints ops/s and the ratio to the single node.
#
#   bench/cluster-benchmark.sh [--requests N] [--clients C] [--pipeline P]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requests=100000; clients=50; pipeline=1
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --pipeline) pipeline="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v redis-benchmark >/dev/null || { echo "needs redis-benchmark (apt-get install redis-tools)" >&2; exit 1; }
single="$(mktemp -d)"; cluster="$(mktemp -d)"
cleanup() {
  (cd "$single" && "$root/bin/replicakv" down >/dev/null 2>&1) || true
  (cd "$cluster" && "$root/bin/replicakv" down >/dev/null 2>&1) || true
  rm -rf "$single" "$cluster"
}
trap cleanup EXIT
(cd "$single" && "$root/bin/replicakv" up --nodes 1 --port 17500 >/dev/null)
(cd "$cluster" && "$root/bin/replicakv" up --nodes 3 --port 17600 >/dev/null)
rps() { # args... -> "test rps" lines
  redis-benchmark "$@" -t set,get -n "$requests" -c "$clients" -P "$pipeline" --csv 2>/dev/null \
    | grep -E '^"[A-Z]+",' | tr -d '"' | cut -d, -f1,2 | tr ',' ' '
}
redis-benchmark -p 17500 -t set,get -n 100000 -c "$clients" -q >/dev/null 2>&1   # warm-up
redis-benchmark -p 17600 -t set,get -n 100000 -c "$clients" -q >/dev/null 2>&1
echo "machine: $(nproc) cores, $(uname -sr)"
echo "redis-benchmark -t set,get -n $requests -c $clients -P $pipeline; 3 nodes on one machine"
declare -A one proxy direct
while read -r t v; do one[$t]=$v; done < <(rps -p 17500)
while read -r t v; do proxy[$t]=$v; done < <(rps -p 17600)
while read -r t v; do direct[$t]=$v; done < <(rps -p 17600 --cluster)
printf "\n%-5s %14s %16s %8s %18s %8s\n" test "single ops/s" "proxy ops/s" ratio "--cluster ops/s" ratio
for t in SET GET; do
  printf "%-5s %14s %16s %8s %18s %8s\n" "$t" "${one[$t]:-?}" "${proxy[$t]:-?}" \
    "$(awk -v a="${proxy[$t]:-0}" -v b="${one[$t]:-1}" 'BEGIN{printf "%.2f", a/b}')" "${direct[$t]:-?}" \
    "$(awk -v a="${direct[$t]:-0}" -v b="${one[$t]:-1}" 'BEGIN{printf "%.2f", a/b}')"
done
