#!/usr/bin/env bash
# Agent benchmarks (docs/benchmarks.md, "Agents"): calls answered by echo workers, on
# loopback, bounded in count and time. Three processes: the server, the echo workers and
# the callers (crates/server/examples/agent_load), so that /proc counts the server alone.
#   1. call setup: SETUP_CALLS calls at 100 calls/s, each held 1 s with G.711 audio both
#      ways; INVITE -> 200 OK latency (the worker accepts and says ready at once);
#   2. for each N of CONCURRENT: N calls held together with audio both ways; the server's
#      CPU (utime+stime from /proc/<pid>/stat) over a WINDOW-second steady window and its
#      RSS (VmRSS from /proc/<pid>/status) against the idle server, per call;
#   3. in every run: the latency added by the server, RTP in -> agent -> RTP out, from
#      tone bursts timed by the caller and the worker (the worker's own time subtracted).
# A fresh server (and SQLite file) for every run, so each starts from the same idle RSS.
# Usage: scripts/bench-agents.sh [CONCURRENT="200 500"] [SETUP_CALLS=3000] [WINDOW=30]
# Environment: RATE=16000 (the workers' PCM rate: 8000, 16000, 24000 or 48000),
#              SETTLE=10 (seconds after the last call is up before the window starts).
set -euo pipefail
cd "$(dirname "$0")/.."
concurrent=${1:-"200 500"}
setup_calls=${2:-3000}
window=${3:-30}
rate=${RATE:-16000}
settle=${SETTLE:-10}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p switchboard-server --bin switchboard --example agent_load
bin=$target/release/switchboard
load=$target/release/examples/agent_load
dir=$(mktemp -d)
server=
worker=
trap 'kill $worker $server 2>/dev/null || true; rm -rf "$dir"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
sip=127.0.0.1:5461
number=+15550100000

cat >"$dir/bench.toml" <<'EOF'
[sip]
invites_per_source_per_sec = 0
max_calls_in_setup = 10000
EOF

start() { # a fresh server with a trunk and a rule dispatching "echo", then the workers
  rm -f "$dir/bench.db"* "$dir/onsets.log"
  $bin serve --dev --http 127.0.0.1:0 --sip "$sip" --rtp-ports 12000-15999 \
    --database "$dir/bench.db" --config "$dir/bench.toml" >"$dir/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 300); do grep -q "listening on" "$dir/serve.log" && break; sleep 0.1; done
  grep -q "listening on" "$dir/serve.log" || { echo "server did not start"; cat "$dir/serve.log"; exit 1; }
  url=$(grep -o 'http://[0-9.:]*' "$dir/serve.log" | head -1)
  export LIVEKIT_URL=$url LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret
  $bin sip inbound create --name bench --numbers "$number" --allowed-addresses 127.0.0.1 >/dev/null
  trunk=$($bin sip inbound list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["sipTrunkId"])')
  $bin dispatch agent --name echo --agent echo --trunk-id "$trunk" >/dev/null
  $load worker --url "$url" --connections 2 --max-jobs 1000 --rate "$rate" \
    --out "$dir/onsets.log" --seconds 900 >"$dir/worker.log" 2>&1 &
  worker=$!
  for _ in $(seq 1 100); do grep -q "registered" "$dir/worker.log" && break; sleep 0.1; done
  grep -q "registered" "$dir/worker.log" || { echo "workers did not register"; cat "$dir/worker.log"; exit 1; }
  sleep 2
}
stop() {
  kill "$worker" "$server" 2>/dev/null || true
  wait "$worker" "$server" 2>/dev/null || true
  worker= server=
}

echo "machine: $(nproc) CPUs; $(uptime)"
echo "== 1. call setup: $setup_calls calls at 100 calls/s, 1 s each, audio both ways (workers at $rate Hz)"
start
timeout $((setup_calls / 100 + 90)) $load setup --sip "$sip" --number "$number" \
  --calls "$setup_calls" --cps 100 --hold 1 --server-pid "$server" --worker-log "$dir/onsets.log" || true
stop

for n in $concurrent; do
  echo "== 2. $n concurrent calls, audio both ways (workers at $rate Hz), ${window} s window"
  start
  cps=$(( n < 100 ? n : 100 ))
  timeout $((n / cps + settle + window + 90)) $load load --sip "$sip" --number "$number" \
    --calls "$n" --cps "$cps" --settle "$settle" --window "$window" \
    --server-pid "$server" --worker-pid "$worker" --clk-tck "$(getconf CLK_TCK)" \
    --worker-log "$dir/onsets.log" || true
  stop
done
