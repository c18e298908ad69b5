#!/usr/bin/env bash
# SIP benchmarks (docs/benchmarks.md), SIPp and the server on one machine, loopback only,
# bounded in count and time:
#   1. the highest rate of INVITEs answered 404 (no trunk matches) sustained for SECONDS
#      with zero failed calls — SIPp at each rate of RATES in turn;
#   2. INVITE -> first and final response latency at 1,000 calls/s (the sip_latency probe,
#      microsecond resolution);
#   3. memory per ringing call: RSS of the server with RING_CALLS calls ringing at once.
# Usage: scripts/bench-sip.sh [RATES="3000 4000 5000 6000"] [SECONDS=30] [RING_CALLS=2000]
set -euo pipefail
cd "$(dirname "$0")/.."
rates=${1:-"3000 4000 5000 6000"}
seconds=${2:-30}
ring_calls=${3:-2000}
command -v sipp >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sip-tester; }
cargo build --release --quiet -p switchboard-server --bin switchboard --example sip_latency
bin=./target/release/switchboard
dir=$(mktemp -d)
server=
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
ulimit -n 65536 2>/dev/null || true

start_server() { # $1 = config file
  rm -f "$dir/bench.db"*
  $bin serve --dev --http 127.0.0.1:0 --sip 127.0.0.1:5391 --database "$dir/bench.db" --config "$1" >"$dir/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$dir/serve.log" && return 0; sleep 0.1; done
  echo "server did not start"; cat "$dir/serve.log"; exit 1
}
stop_server() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }

# The flood throttle would (rightly) shed one source sending thousands of INVITEs a second
# (--dev already turns it off; the config says so explicitly).
cat >"$dir/bench.toml" <<'EOF'
[sip]
invites_per_source_per_sec = 0
max_calls_in_setup = 100000
ringing_interval_ms = 60000
EOF

echo "== 1. INVITE -> 404 throughput, ${seconds}s per rate (SIPp, UDP)"
start_server "$dir/bench.toml"
for rate in $rates; do
  calls=$((rate * seconds))
  rm -f "$dir"/stats*.csv
  set +e
  timeout $((seconds + 60)) sipp 127.0.0.1:5391 -sf scripts/sipp/uac_404.xml -s 15550000000 \
    -i 127.0.0.1 -p 5392 -r "$rate" -m "$calls" -l 200000 -nostdin -timeout $((seconds + 40))s \
    -trace_stat -stf "$dir/stats.csv" -fd 5 -max_socket 1 >/dev/null 2>&1
  rc=$?
  set -e
  python3 - "$dir/stats.csv" "$rate" "$rc" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter=';'))
last = rows[-1]
ok, failed = int(last['SuccessfulCall(C)']), int(last['FailedCall(C)'])
elapsed = last['ElapsedTime(C)']
retrans = last.get('Retransmissions(C)', '?')
print(f"rate {sys.argv[2]}/s: successful {ok}, failed {failed}, retransmissions {retrans}, elapsed {elapsed}, sipp exit {sys.argv[3]}")
EOF
  sleep 3
done
pid_rss() { awk '/VmRSS/ {print $2}' /proc/"$server"/status; }
echo "server RSS after the throughput runs: $(pid_rss) kB"
stop_server

echo "== 2. INVITE -> response latency at 1,000 calls/s (20 s)"
start_server "$dir/bench.toml"
./target/release/examples/sip_latency 127.0.0.1:5391 1000 20
stop_server

echo "== 3. memory per ringing call ($ring_calls calls ringing at once)"
start_server "$dir/bench.toml"
url=$(grep -o 'http://[0-9.:]*' "$dir/serve.log" | head -1)
export LIVEKIT_URL=$url LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret
$bin sip inbound create --name ring --numbers 15550000001 --allowed-addresses 127.0.0.1 >/dev/null
trunk=$($bin sip inbound list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["sipTrunkId"])')
# A rule that dispatches an agent: the caller rings until the ringing timeout.
$bin dispatch agent --name ring --agent ringer --trunk-id "$trunk" >/dev/null
sleep 1
before=$(pid_rss)
hold=20000
set +e
timeout 90 sipp 127.0.0.1:5391 -sf scripts/sipp/uac_ring_hold.xml -s 15550000001 -d $hold \
  -i 127.0.0.1 -p 5393 -r 500 -m "$ring_calls" -l "$ring_calls" -nostdin -timeout 80s >/dev/null 2>&1 &
sipp_pid=$!
set -e
sleep $(( ring_calls / 500 + 6 ))
during=$(pid_rss)
ringing=$(curl -s -H "Authorization: Bearer $($bin token create --ttl 10m)" "$url/api/v1/calls?status=live&limit=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["calls"]))')
wait $sipp_pid || true
echo "RSS before ${before} kB, with calls ringing ${during} kB (live calls on page 1: ${ringing}, max 1000 per page)"
python3 -c "print(f'memory per ringing call: {($during - $before) * 1024 / $ring_calls / 1024:.1f} KiB')"
stop_server
