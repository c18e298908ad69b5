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

log "format check"
cargo fmt --all -- --check

log "lint (clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests"
cargo test --workspace --locked 2>&1 | tee target/test-output.txt
status=${PIPESTATUS[0]}

log "summary"
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, i }' \
  target/test-output.txt
exit "$status"
