#!/usr/bin/env bash
# The whole test suite, as README.md gives it and as CI runs it (.ci/run calls exactly this).
#
# Installs what the suite needs when it is missing, then runs formatting and lint checks,
# every Rust test (unit, table, property and end-to-end tests against the built binary),
# and prints the test runner's summary. Exits non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

log "toolchain"
cargo --version
rustc --version

if ! cargo fmt --version >/dev/null 2>&1; then
  rustup component add rustfmt
fi
if ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add clippy
fi

apt_updated=""
need_pkg() { # need_pkg COMMAND PACKAGE...: install Debian packages when COMMAND is missing
  local cmd=$1; shift
  if ! command -v "$cmd" >/dev/null 2>&1; then
    if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  fi
}

log "test peers and services"
need_pkg python3 python3 python3-venv
need_pkg node nodejs
need_pkg npm npm
need_pkg pg_isready postgresql-client
# SIP peers of the call-path suites: SIPp (sip-tester) and the baresip softphone.
need_pkg sipp sip-tester
need_pkg baresip baresip
# The dashboard's browser test drives Debian's Chromium (crates/server/tests/dashboard.rs).
[ -x /usr/bin/chromium ] || need_pkg /usr/bin/chromium chromium
# The PostgreSQL suites need a server on 127.0.0.1:5432 (SWITCHBOARD_TEST_DATABASE_URL overrides).
if [ -z "${SWITCHBOARD_TEST_DATABASE_URL:-}" ] && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    for v in $(ls /etc/postgresql 2>/dev/null); do
      pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
    done
  fi
  for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432; start it or set SWITCHBOARD_TEST_DATABASE_URL" >&2; exit 1; }
fi
./scripts/setup-test-peers.sh

log "format check"
cargo fmt --all -- --check

log "lint (clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests"
mkdir -p target
cargo test --workspace --locked 2>&1 | tee target/test-output.txt
status=${PIPESTATUS[0]}

log "summary"
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, i }' \
  target/test-output.txt
exit "$status"
