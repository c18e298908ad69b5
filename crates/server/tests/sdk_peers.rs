//! Compatibility with the official LiveKit server SDKs, end to end.
//!
//! Each test starts the built `switchboard` binary on a fresh database and an ephemeral
//! port, then runs one of the peer scripts against it:
//!
//! - `tests/peers/python/sip_api.py`: the Python SDK (PyPI `livekit-api`, binary protobuf);
//!   the whole inbound-trunk and dispatch-rule API, filters, pagination, updates, conflicts,
//!   authentication and authorization errors;
//! - `tests/peers/node/sip_api.mjs`: the Node SDK (npm `livekit-server-sdk`, JSON, the
//!   deprecated flat CreateSIPDispatchRule fields).
//!
//! The SDKs are installed by `scripts/setup-test-peers.sh` (pinned versions, run once per
//! test process; it needs python3 and node >= 18 with npm, and the network the first time).
//! A setup failure fails the tests: they are never skipped.
//!
//! The PostgreSQL variant needs a reachable server at `SWITCHBOARD_TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`); it works in a throwaway schema that
//! it drops afterwards when `psql` is available.

mod support;

use std::process::Command;
use std::sync::OnceLock;

use support::*;

/// Installs the SDKs once per test process. Every test calls this and fails (never skips)
/// when the setup failed.
fn setup_peers() {
    static SETUP: OnceLock<Result<(), String>> = OnceLock::new();
    let result = SETUP.get_or_init(|| {
        let root = repo_root();
        let script = root.join("scripts/setup-test-peers.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(&script).current_dir(&root);
        let done = run(cmd, "setup", SETUP_TIMEOUT);
        match done.status {
            Some(s) if s.success() => Ok(()),
            Some(s) => Err(format!(
                "{} failed ({s}); it needs python3 (with venv) and node >= 18 with npm, and \
                 network access to PyPI and npm the first time. Its output ended with:\n{}",
                script.display(),
                done.tail(40)
            )),
            None => Err(format!(
                "{} did not finish within {SETUP_TIMEOUT:?}. Its output ended with:\n{}",
                script.display(),
                done.tail(40)
            )),
        }
    });
    if let Err(message) = result {
        panic!("the SDK test peers are not installed: {message}");
    }
}

/// Runs one peer script against `server` and fails the test unless it exits 0.
fn run_peer(server: &Server, tag: &'static str, mut cmd: Command) {
    cmd.args([server.url.as_str(), API_KEY, API_SECRET])
        .current_dir(repo_root())
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let done = run(cmd, tag, PEER_TIMEOUT);
    match done.status {
        Some(s) if s.success() => {}
        Some(s) => panic!(
            "the {tag} SDK peer failed ({s}) against {}; failed checks:\n{}\n--- server log ---\n{}",
            server.url,
            failed_lines(&done),
            server.log_text()
        ),
        None => panic!(
            "the {tag} SDK peer did not finish within {PEER_TIMEOUT:?}; its output ended with:\n{}",
            done.tail(40)
        ),
    }
}

/// The script's FAIL lines, or its last lines when it failed some other way.
fn failed_lines(done: &Finished) -> String {
    let fails: Vec<&str> = done
        .output
        .iter()
        .filter(|l| l.starts_with("FAIL "))
        .map(String::as_str)
        .collect();
    if fails.is_empty() {
        done.tail(40)
    } else {
        fails.join("\n")
    }
}

fn python_peer() -> Command {
    let root = repo_root();
    let mut cmd = Command::new(root.join("target/test-peers/venv/bin/python"));
    cmd.arg(root.join("tests/peers/python/sip_api.py"));
    cmd
}

fn node_peer() -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(repo_root().join("tests/peers/node/sip_api.mjs"));
    cmd
}

#[test]
fn python_sdk_sip_api() {
    setup_peers();
    let server = sqlite_server();
    run_peer(&server, "python", python_peer());
}

#[test]
fn node_sdk_sip_api() {
    setup_peers();
    let server = sqlite_server();
    run_peer(&server, "node", node_peer());
}

#[test]
fn python_sdk_sip_api_postgres() {
    setup_peers();
    let (url, drop_schema) = pg_schema("sdk_peers");
    let server = Server::start(move |_| url, Some(drop_schema));
    run_peer(&server, "python-pg", python_peer());
}
