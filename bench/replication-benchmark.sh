#!/usr/bin/env bash
# Single-leader replication on a local 3-node ReplicaKV cluster against its counterparts, in one
# run on this machine (everything on loopback):
#   (a) acks=none keyspace vs a redis-server master with two asynchronous replicas: plain SET
#       (redis-benchmark, and the Java driver below without WAIT);
#   (b) acks=1 keyspace vs Redis SET followed by WAIT 1 0 per operation (io.replicakv.cli.SetWaitDriver:
#       closed-loop Jedis clients; against ReplicaKV the same driver sends the SET alone, whose reply
#       already waits for the keyspace's acks);
#   (c) acks=all keyspace vs a 3-member etcd cluster's put (io.replicakv.cli.EtcdPutDriver through
#       etcd's JSON gateway) when etcd is installed (Debian: etcd-server), and always vs Redis
#       SET + WAIT 2 0.
# Prints ops/s, p50, p99 and the ratio to the counterpart. A benchmark, not a test: it asserts
# nothing. Redis runs with --save '' --appendonly no (no persistence); ReplicaKV with its default
# fsync (interval); etcd forces its WAL on every commit, as it always does.
#
#   bench/replication-benchmark.sh [--requests N (50000)] [--clients C (50)] [--threads T (16)]
#                                  [--ops-per-thread K (1000)]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requests=50000; clients=50; threads=16; ops=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --ops-per-thread) ops="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in redis-benchmark redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install redis-server redis-tools)" >&2; exit 1; }
done
. "$root/bench/test-classpath.sh"
# Jedis logs a warning per connection on standard output: keep only the drivers' result lines
driver() { "${test_java[@]}" -Xmx512m -cp "$test_cp" io.replicakv.cli.SetWaitDriver "$@" | grep -v ' WARN ' || true; }
etcd_driver() { "${test_java[@]}" -Xmx512m -cp "$test_cp" io.replicakv.cli.EtcdPutDriver "$@" | grep -v ' WARN ' || true; }
base=18300; redis_port=18390; etcd_base=18420
work="$(mktemp -d)"
kv() { (cd "$work" && "$root/bin/replicakv" "$@"); }
etcd_pids=()
cleanup() {
  kv down >/dev/null 2>&1 || true
  for p in "$redis_port" $((redis_port + 1)) $((redis_port + 2)); do
    redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
  done
  for pid in "${etcd_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Redis: a master and two replicas
redis-server --port "$redis_port" --save "" --appendonly no --daemonize yes \
  --dir "$work" --logfile "$work/redis-m.log" >/dev/null
for i in 1 2; do
  mkdir -p "$work/r$i"
  redis-server --port $((redis_port + i)) --replicaof 127.0.0.1 "$redis_port" --save "" \
    --appendonly no --daemonize yes --dir "$work/r$i" --logfile "$work/redis-r$i.log" >/dev/null
done
for _ in $(seq 1 600); do
  [ "$(redis-cli -p "$redis_port" INFO replication | grep -c 'state=online')" = 2 ] && break
  sleep 0.2
done
redis-cli -p "$redis_port" INFO replication | grep -q 'connected_slaves:2' || { echo "redis replicas did not connect" >&2; exit 1; }

# etcd, if installed: three members on loopback
etcd_url=""
if command -v etcd >/dev/null; then
  cluster=""
  for i in 1 2 3; do cluster="${cluster:+$cluster,}e$i=http://127.0.0.1:$((etcd_base + 10 + i))"; done
  for i in 1 2 3; do
    etcd --name "e$i" --data-dir "$work/etcd-$i" \
      --listen-client-urls "http://127.0.0.1:$((etcd_base + i))" \
      --advertise-client-urls "http://127.0.0.1:$((etcd_base + i))" \
      --listen-peer-urls "http://127.0.0.1:$((etcd_base + 10 + i))" \
      --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_base + 10 + i))" \
      --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token replicakv-bench \
      > "$work/etcd-$i.log" 2>&1 &
    etcd_pids+=($!)
  done
  etcd_url="http://127.0.0.1:$((etcd_base + 1))"
  for _ in $(seq 1 600); do
    curl -s -X POST -d '{"key":"d2FybQ==","value":"dw=="}' "$etcd_url/v3/kv/put" 2>/dev/null | grep -q revision && break
    sleep 0.2
  done
  curl -s -X POST -d '{"key":"d2FybQ==","value":"dw=="}' "$etcd_url/v3/kv/put" | grep -q revision \
    || { echo "etcd did not serve" >&2; tail -n 20 "$work/etcd-1.log" >&2; exit 1; }
fi

# ReplicaKV: three nodes, keyspaces with acks none, 1 and all (N=3 each)
kv up --nodes 3 --port "$base" >/dev/null || { tail -n 20 "$work"/.replicakv/*/server.log >&2; exit 1; }
node="127.0.0.1:$base"
anone="$(kv keyspace create anone --style single-leader --replicas 3 --acks none --node "$node")"
aone="$(kv keyspace create aone --style single-leader --replicas 3 --acks 1 --node "$node")"
aall="$(kv keyspace create aall --style single-leader --replicas 3 --acks all --node "$node")"
serving() { # db -> waits until writes of keys in many slots succeed through node 1
  for _ in $(seq 1 900); do
    ok=0
    for k in a b c d e f g h i j k l; do
      [ "$(redis-cli -p "$base" -n "$1" SET "warm-$k" x 2>/dev/null)" = OK ] && ok=$((ok + 1))
    done
    [ "$ok" = 12 ] && return 0
    sleep 0.2
  done
  echo "keyspace $1 never accepted writes" >&2; exit 1
}
for db in "$anone" "$aone" "$aall"; do serving "$db"; done

bench_set() { # label port db -> "label rps p50 p99"
  redis-benchmark -p "$2" --dbnum "$3" -t set -n "$requests" -c "$clients" -r 100000000 --csv 2>/dev/null \
    | grep -E '^"SET",' | tr -d '"' | awk -F, -v l="$1" '{print l, $2, $5, $7, 0}'
}
# warm-up (JIT of the nodes, connections of the replicas)
redis-benchmark -p "$base" --dbnum "$anone" -t set -n 20000 -c "$clients" -r 100000000 -q >/dev/null 2>&1 || true
redis-benchmark -p "$redis_port" -t set -n 20000 -c "$clients" -r 100000000 -q >/dev/null 2>&1 || true
driver warm "$base" "$aone" "$threads" 200 -1 >/dev/null

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), master + 2 replicas, --save '' --appendonly no"
echo "ReplicaKV: bin/replicakv up --nodes 3 (fsync interval), keyspaces N=3 acks none/1/all, clients on node 1"
[ -n "$etcd_url" ] && echo "etcd $(etcd --version | head -n 1 | awk '{print $3}'): 3 members, client on member 1"
echo "redis-benchmark -t set -n $requests -c $clients -r 100000000; driver: $threads closed-loop Jedis clients x $ops ops"
results="$work/results"
{
  bench_set a-redis-benchmark-redis "$redis_port" 0
  bench_set a-redis-benchmark-replicakv-acks-none "$base" "$anone"
  driver a-driver-redis-SET "$redis_port" 0 "$threads" "$ops" -1
  driver a-driver-replicakv-acks-none "$base" "$anone" "$threads" "$ops" -1
  driver b-driver-redis-SET+WAIT-1 "$redis_port" 0 "$threads" "$ops" 1
  driver b-driver-replicakv-acks-1 "$base" "$aone" "$threads" "$ops" -1
  driver c-driver-redis-SET+WAIT-2 "$redis_port" 0 "$threads" "$ops" 2
  driver c-driver-replicakv-acks-all "$base" "$aall" "$threads" "$ops" -1
  [ -n "$etcd_url" ] && etcd_driver c-driver-etcd-put "$etcd_url" "$threads" "$ops"
  true
} | tee "$results"
echo
printf "%-40s %10s %9s %9s %7s %12s\n" target "ops/s" "p50 ms" "p99 ms" errors "ops/s ratio"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b + 0 == 0) print "?"; else printf "%.2f", a/b }'; }
declare -A rps
while read -r label r p50 p99 err _; do rps[$label]=$r; done < "$results"
while read -r label r p50 p99 err _; do
  case "$label" in
    a-redis-benchmark-replicakv*) vs="a-redis-benchmark-redis" ;;
    a-driver-replicakv*) vs="a-driver-redis-SET" ;;
    b-driver-replicakv*) vs="b-driver-redis-SET+WAIT-1" ;;
    c-driver-replicakv*|c-driver-etcd*) vs="c-driver-redis-SET+WAIT-2" ;;
    *) vs="" ;;
  esac
  extra=""
  [ -n "$vs" ] && extra="$(ratio "$r" "${rps[$vs]}") vs $vs"
  [ "$label" = c-driver-replicakv-acks-all ] && [ -n "${rps[c-driver-etcd-put]:-}" ] \
    && extra="$extra; $(ratio "$r" "${rps[c-driver-etcd-put]}") vs etcd"
  printf "%-40s %10s %9s %9s %7s %s\n" "$label" "$r" "$p50" "$p99" "$err" "$extra"
done < "$results"
