#!/usr/bin/env bash
# API benchmarks (docs/benchmarks.md): creating rules through the Twirp API on SQLite, and
# POST /api/v1/explain under load with 100,000 rules loaded. Loopback only, bounded in
# count and time. Usage: scripts/bench-api.sh [RULES=100000] [WRK_SECONDS=15]
set -euo pipefail
cd "$(dirname "$0")/.."
rules=${1:-100000}
seconds=${2:-15}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet -p switchboard-server --bin switchboard --example load_create_rules
dir=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
./target/release/switchboard serve --dev --http 127.0.0.1:0 --database "$dir/bench.db" >"$dir/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do grep -q "listening on" "$dir/serve.log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$dir/serve.log" | head -1)
export LIVEKIT_URL=$url LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret
./target/release/switchboard sip inbound create --name bench --auth-user bench --auth-pass bench >/dev/null

echo "== create 10,000 rules, 1 client";  ./target/release/examples/load_create_rules "$url" devkey secret 10000 1 0
echo "== create 10,000 rules, 16 clients"; ./target/release/examples/load_create_rules "$url" devkey secret 10000 16 10000
if [ "$rules" -gt 20000 ]; then
  echo "== load up to $rules rules"; ./target/release/examples/load_create_rules "$url" devkey secret $((rules - 20000)) 16 20000
fi
export SWITCHBOARD_BENCH_TOKEN=$(./target/release/switchboard token create --ttl 1h)
export SWITCHBOARD_BENCH_RULES=$rules
echo "== explain with $rules rules: warm-up"; wrk -t2 -c32 -d3s -s scripts/explain.lua "$url/api/v1/explain" >/dev/null
for conns in 32 16; do
  echo "== explain with $rules rules: wrk -t2 -c$conns -d${seconds}s"
  wrk -t2 -c"$conns" -d"${seconds}s" --latency -s scripts/explain.lua "$url/api/v1/explain"
done
