#!/usr/bin/env bash
# Messages per second through the web channel with 1, 2 and 3 cluster
# workers behind one edge, against the single-process mode, on this
# machine (docs/SCALING.md, BENCHMARKS.md "Cluster: edges and workers").
#
#   bash host/benches/cluster_scale.sh            # 200 connections x 10 turns
#   SIZES=1000 TURNS=5 bash host/benches/cluster_scale.sh
#
# Each mode is one run of the `web_load` bench (its closed-loop WebSocket
# clients, and its baseline echo server measured in the same run, so each
# mode's figure is also a ratio to a baseline of its own run). The cluster
# modes get a fresh `nats-server -js` each, the workers (`serve --role
# worker`, echo provider) start before the bench and the bench's server is
# the edge (`[cluster] role = "edge"`), once the workers have spread the
# 16 partitions evenly (the steady state; the spreading itself is
# measured by the tests). Besides the bench's own table, the
# CPU the workers and the NATS server used during the run is read from
# /proc and divided by the turns answered.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES=${SIZES:-200}
TURNS=${TURNS:-10}
NATS=${NATS:-$(command -v nats-server || echo /usr/sbin/nats-server)}
[ -x "$NATS" ] || { echo "nats-server not found (Debian package nats-server)"; exit 1; }

cargo bench -p openpista --bench web_load --no-run >/dev/null 2>&1
BENCH=$(ls -t target/release/deps/web_load-* | grep -v '\.d$' | head -1)
BIN=target/release/openpista
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cpu_ticks() { # utime + stime of the pids given, in clock ticks
  local total=0 pid
  for pid in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Runs the bench with extra server config $1; prints its key lines.
bench() {
  OPENPISTA_WEB_LOAD_SIZES=$SIZES OPENPISTA_WEB_LOAD_TURNS=$TURNS \
    OPENPISTA_WEB_LOAD_CONFIG="$1" "$BENCH" --bench 2>&1 |
    tee "$WORK/last.log" |
    grep -E "turns answered|messages/s|server CPU per turn|turn latency p50|turn latency p99" || {
      echo "bench failed:"; tail -30 "$WORK/last.log"; exit 1; }
}

answered() { grep "turns answered" "$WORK/last.log" | awk '{print $3}' | cut -d/ -f1; }

echo "== single process (redb)"
bench ""

for workers in 1 2 3; do
  echo "== cluster: 1 edge, $workers worker(s)"
  dir="$WORK/c$workers"
  mkdir -p "$dir/nats"
  port=$(free_port)
  "$NATS" -js -a 127.0.0.1 -p "$port" -sd "$dir/nats" >"$dir/nats.log" 2>&1 &
  nats_pid=$!
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
  pids=()
  for w in $(seq 1 "$workers"); do
    wd="$dir/worker-$w"
    mkdir -p "$wd"
    cat >"$wd/config.toml" <<CONF
[agent]
provider = "echo"
[runtime]
plugin_dirs = []
cache_dir = "$WORK/cache"
[memory]
path = "$wd/memory.redb"
[server]
enabled = false
[channels.web]
enabled = false
[cluster]
nats = "nats://127.0.0.1:$port"
node = "worker-$w"
role = "worker"
CONF
    OPENPISTA_HOME="$wd" OPENPISTA_LOG=warn "$BIN" --config "$wd/config.toml" serve >"$wd/out.log" 2>&1 &
    pids+=($!)
    until grep -q "cluster: node" "$wd/out.log" 2>/dev/null; do sleep 0.1; done
  done
  # Measure the steady state: every partition owned, none over its share.
  share=$(( (16 + workers - 1) / workers ))
  for _ in $(seq 1 600); do
    "$BIN" --config "$dir/worker-1/config.toml" cluster status --json 2>/dev/null |
      python3 -c 'import json,sys,collections
s=json.load(sys.stdin); p=s["partitions"]; c=collections.Counter(x["owner"] for x in p)
sys.exit(0 if len(p)==16 and None not in c and len(c)=='"$workers"' and max(c.values())<='"$share"' else 1)' && break
    sleep 0.2
  done
  before=$(cpu_ticks "${pids[@]}")
  nats_before=$(cpu_ticks "$nats_pid")
  bench "$(printf '[cluster]\nnats = "nats://127.0.0.1:%s"\nnode = "edge-1"\nrole = "edge"\n' "$port")"
  hz=$(getconf CLK_TCK)
  turns=$(answered)
  after=$(cpu_ticks "${pids[@]}")
  nats_after=$(cpu_ticks "$nats_pid")
  awk -v w="$((after - before))" -v n="$((nats_after - nats_before))" -v t="$turns" -v hz="$hz" \
    'BEGIN { printf "  workers CPU per turn %.0f us, nats-server CPU per turn %.0f us\n", w/hz*1e6/t, n/hz*1e6/t }'
  kill "${pids[@]}" "$nats_pid" 2>/dev/null || true
  wait "${pids[@]}" "$nats_pid" 2>/dev/null || true
done
