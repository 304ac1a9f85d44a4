#!/usr/bin/env bash
# Runs redis-benchmark against ReplicaKV and against redis-server with the matching durability,
# alternating the two in one run, and prints ops/s, p50, p99 and the ReplicaKV/Redis ratio.
#
#   bench/redis-benchmark.sh [--fsync interval|always|never] [--requests N] [--clients C] [--rounds R]
#
# fsync=interval <-> appendonly yes + appendfsync everysec; always <-> always; never <-> no.
# Both servers get a fresh data folder under a temporary directory and are stopped at the end.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fsync=interval; requests=200000; clients=50; rounds=2; tests="set,get,incr,hset"
while [ $# -gt 0 ]; do
  case "$1" in
    --fsync) fsync="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --tests) tests="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
case "$fsync" in
  interval) redis_fsync=everysec ;;
  always) redis_fsync=always ;;
  never) redis_fsync=no ;;
  *) echo "--fsync must be interval, always or never" >&2; exit 2 ;;
esac
command -v redis-benchmark >/dev/null || { echo "needs redis-benchmark (apt-get install redis-tools)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install redis-server)" >&2; exit 1; }
work="$(mktemp -d)"
rkv_port=17379; redis_port=17380
"$root/bin/replicakv" --version >/dev/null   # builds when needed
"$root/bin/replicakv" server --port $rkv_port --http-port 0 --data-dir "$work/rkv" --fsync "$fsync" >"$work/rkv.log" 2>&1 &
rkv_pid=$!
redis-server --port $redis_port --bind 127.0.0.1 --dir "$work" --save "" --appendonly yes \
  --appendfsync "$redis_fsync" --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
cleanup() { kill "$rkv_pid" "$redis_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for port in $rkv_port $redis_port; do
  for _ in $(seq 1 300); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.2; done
done
# Warm-up for the JIT, not measured.
redis-benchmark -p $rkv_port -t set,get -n 200000 -c "$clients" -P 16 -q >/dev/null
# The JDK bin/replicakv runs on, not whatever java is first on PATH.
. "$root/bin/find-java.sh"
rkv_java="$(replicakv_find_java)/bin/java"
echo "machine: $(nproc) cores, $(uname -sr), $("$rkv_java" -version 2>&1 | head -n 1)"
echo "redis-benchmark -t $tests -n $requests -c $clients, fsync=$fsync vs appendfsync $redis_fsync, $rounds rounds alternating"
declare -A ops p50 p99
run() { # name port pipeline -> csv lines "test",rps,avg,min,p50,p95,p99,max
  redis-benchmark -p "$2" -t "$tests" -n "$requests" -c "$clients" -P "$3" --csv 2>/dev/null | tail -n +2 | tr -d '"'
}
for P in 1 16; do
  for r in $(seq 1 "$rounds"); do
    for target in replicakv redis; do
      port=$rkv_port; [ $target = redis ] && port=$redis_port
      redis-cli -p $port flushall >/dev/null
      while IFS=, read -r test rps avg min p50v p95 p99v max; do
        key="$target|$P|$test"
        ops[$key]="${ops[$key]:-} $rps"; p50[$key]="${p50[$key]:-} $p50v"; p99[$key]="${p99[$key]:-} $p99v"
      done < <(run $target $port $P)
    done
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
printf "\n%-6s %-3s %14s %9s %9s %14s %9s %9s %8s\n" test P "replicakv ops/s" p50ms p99ms "redis ops/s" p50ms p99ms ratio
for P in 1 16; do
  for key in "${!ops[@]}"; do :; done
  for test in $(echo "${!ops[@]}" | tr ' ' '\n' | grep "^replicakv|$P|" | cut -d'|' -f3 | sort -u); do
    a="replicakv|$P|$test"; b="redis|$P|$test"
    ra=$(echo "${ops[$a]}" | median); rb=$(echo "${ops[$b]}" | median)
    printf "%-6s %-3s %14s %9s %9s %14s %9s %9s %8s\n" "$test" "$P" "$ra" "$(echo "${p50[$a]}" | median)" "$(echo "${p99[$a]}" | median)" \
      "$rb" "$(echo "${p50[$b]}" | median)" "$(echo "${p99[$b]}" | median)" "$(awk -v x="$ra" -v y="$rb" 'BEGIN{printf "%.2f", x/y}')"
  done
done
