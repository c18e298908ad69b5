#!/usr/bin/env bash
# Installs the third-party API clients the SDK compatibility tests drive
# (crates/server/tests/sdk_peers.rs):
#
#   * the official LiveKit Python server SDK (PyPI `livekit-api`, binary protobuf on the wire)
#     into a virtualenv at target/test-peers/venv, pinned by tests/peers/python/requirements.txt;
#   * the official LiveKit Node server SDK (npm `livekit-server-sdk`, JSON on the wire)
#     into tests/peers/node/node_modules, pinned by tests/peers/node/package-lock.json;
#   * for the dashboard's browser test (crates/server/tests/dashboard.rs): Debian's
#     `chromium` at /usr/bin/chromium (apt-get) and `playwright-core` into
#     crates/server/tests/browser/node_modules, pinned by its package-lock.json.
#
# Idempotent: each part is (re)installed only when it is missing or its pin file changed,
# so a second run only compares two files and exits.
#
# Needs python3 (with the venv module) and node >= 18 with npm. On Debian/Ubuntu, when
# `python3 -m venv` does not work, the script installs python3-venv with apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf 'setup-test-peers: %s\n' "$*"; }
die() { printf 'setup-test-peers: error: %s\n' "$*" >&2; exit 1; }

peers_dir="$root/target/test-peers"
venv="$peers_dir/venv"
py_reqs="$root/tests/peers/python/requirements.txt"
py_stamp="$venv/.switchboard-requirements"
node_dir="$root/tests/peers/node"
node_stamp="$node_dir/node_modules/.switchboard-package-lock"

mkdir -p "$peers_dir"

# Several test processes may run this at the same time; serialize them.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$peers_dir/.setup.lock"
  flock 9
fi

# --- Python -------------------------------------------------------------------------------

python_ready() {
  [[ -x "$venv/bin/python" ]] && [[ -f "$py_stamp" ]] && cmp -s "$py_reqs" "$py_stamp"
}

run_as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $*"
  fi
}

make_venv() {
  say "creating virtualenv $venv"
  rm -rf "$venv"
  if python3 -m venv "$venv"; then
    return 0
  fi
  rm -rf "$venv"
  command -v apt-get >/dev/null 2>&1 ||
    die "'python3 -m venv' failed and apt-get is not available; install the Python venv module"
  say "'python3 -m venv' failed; installing python3-venv with apt-get"
  run_as_root apt-get update
  run_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
  python3 -m venv "$venv" || die "'python3 -m venv' still fails after installing python3-venv"
}

if python_ready; then
  say "python: $venv is up to date ($(grep -E '^livekit-api==' "$py_reqs"))"
else
  command -v python3 >/dev/null 2>&1 || die "python3 not found"
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    make_venv
  fi
  say "python: installing pinned packages from tests/peers/python/requirements.txt"
  "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$py_reqs"
  "$venv/bin/python" -c 'from livekit import api; import livekit.protocol.sip, jwt' ||
    die "the livekit packages do not import in $venv"
  cp "$py_reqs" "$py_stamp"
  say "python: ready ($("$venv/bin/python" -m pip --disable-pip-version-check list 2>/dev/null |
    awk '$1 ~ /^livekit-(api|protocol)$/ { printf "%s%s %s", sep, $1, $2; sep = ", " }'))"
fi

# --- Node ---------------------------------------------------------------------------------

node_ready() {
  [[ -f "$node_dir/package-lock.json" ]] && [[ -f "$node_stamp" ]] &&
    cmp -s "$node_dir/package-lock.json" "$node_stamp" &&
    [[ -f "$node_dir/node_modules/livekit-server-sdk/package.json" ]]
}

if node_ready; then
  say "node: tests/peers/node/node_modules is up to date"
else
  command -v node >/dev/null 2>&1 || die "node not found (need node >= 18)"
  command -v npm >/dev/null 2>&1 || die "npm not found"
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  [[ "$node_major" -ge 18 ]] || die "node $(node --version) is too old (need >= 18)"
  if [[ -f "$node_dir/package-lock.json" ]]; then
    say "node: npm ci in tests/peers/node"
    (cd "$node_dir" && npm ci --no-audit --no-fund)
  else
    say "node: no package-lock.json yet; npm install in tests/peers/node"
    (cd "$node_dir" && npm install --no-audit --no-fund)
  fi
  cp "$node_dir/package-lock.json" "$node_stamp"
  say "node: ready (livekit-server-sdk $(node -p "require('$node_dir/node_modules/livekit-server-sdk/package.json').version"))"
fi

# --- Browser test (dashboard) -------------------------------------------------------------

browser_dir="$root/crates/server/tests/browser"
browser_stamp="$browser_dir/node_modules/.switchboard-package-lock"

if [[ ! -x /usr/bin/chromium ]]; then
  command -v apt-get >/dev/null 2>&1 ||
    die "/usr/bin/chromium is missing and apt-get is not available; install Chromium at /usr/bin/chromium"
  say "browser: installing chromium with apt-get"
  run_as_root apt-get update
  run_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
  [[ -x /usr/bin/chromium ]] || die "chromium was installed but /usr/bin/chromium is still missing"
fi

browser_ready() {
  [[ -f "$browser_stamp" ]] && cmp -s "$browser_dir/package-lock.json" "$browser_stamp" &&
    [[ -f "$browser_dir/node_modules/playwright-core/package.json" ]]
}

if browser_ready; then
  say "browser: crates/server/tests/browser/node_modules is up to date"
else
  command -v npm >/dev/null 2>&1 || die "npm not found"
  say "browser: npm ci in crates/server/tests/browser"
  (cd "$browser_dir" && npm ci --no-audit --no-fund)
  cp "$browser_dir/package-lock.json" "$browser_stamp"
  say "browser: ready (playwright-core $(node -p "require('$browser_dir/node_modules/playwright-core/package.json').version"), $(/usr/bin/chromium --version 2>/dev/null | grep -o 'Chromium [0-9.]*'))"
fi
