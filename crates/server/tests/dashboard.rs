//! The web dashboard, end to end, in a real browser: headless Chromium driven by Playwright
//! (`tests/browser/dashboard.spec.mjs`) against the built `switchboard` binary, with SIPp
//! placing the calls the dashboard shows.
//!
//! The browser script asks this harness for calls by printing `@@sipp <json>` lines; the
//! harness starts SIPp (with the shared `Sipp` helper) and answers `@@ok <json>` on the
//! script's stdin. Screenshots of every page land in `<target>/dashboard-screenshots/`.
//!
//! Needs `/usr/bin/chromium` (Debian's `chromium`), node, and `npm ci` in
//! `tests/browser`; `scripts/setup-test-peers.sh` installs all of them. The test fails,
//! never skips, when they are missing.
//!
//! Page times with 10,000 rules and 1,000,000 calls are measured by
//! `cargo bench -p switchboard-server --bench dashboard_pages` (docs/benchmarks.md).

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::sip::{Scratch, Sipp, SippChild};
use support::{API_KEY, API_SECRET, Server};

/// The whole browser run, start to finish.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(240);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// `<target>/dashboard-screenshots`, next to the test binary's profile directory.
fn screenshot_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_switchboard"));
    let target = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| support::repo_root().join("target"));
    target.join("dashboard-screenshots")
}

/// Installs what the browser script needs when it is missing (the same script the test
/// runner uses), and fails with what to do if that does not help.
fn ensure_browser() {
    let ready = || {
        Path::new("/usr/bin/chromium").exists()
            && browser_dir()
                .join("node_modules/playwright-core/package.json")
                .exists()
    };
    if !ready() {
        let script = support::repo_root().join("scripts/setup-test-peers.sh");
        let done = support::run(Command::new(&script), "setup", support::SETUP_TIMEOUT);
        assert!(
            done.status.is_some_and(|s| s.success()),
            "{} failed; its output:\n{}",
            script.display(),
            done.tail(40)
        );
    }
    assert!(
        ready(),
        "the dashboard browser test needs /usr/bin/chromium and playwright-core in {} \
         (run scripts/setup-test-peers.sh, which installs Debian's chromium and runs npm ci)",
        browser_dir().display()
    );
}

/// The SIPp calls the browser script asked for, by name.
struct Calls {
    server_sip: String,
    dir: Scratch,
    running: HashMap<String, SippChild>,
}

impl Calls {
    /// Handles one `@@sipp` request; the answer goes back to the script.
    fn handle(&mut self, req: &Value) -> Value {
        let name = req["name"].as_str().unwrap_or("call").to_string();
        match req["op"].as_str().unwrap_or_default() {
            // A call that rings until it is refused (a rule whose agent is not connected
            // rings until the ringing timeout or a hang-up).
            "ring" => {
                let sipp = Sipp::new(self.dir.path(), &name, "uac_reject.xml", &self.server_sip)
                    .service(req["number"].as_str().unwrap_or_default())
                    .set("from_user", req["from"].as_str().unwrap_or("+15557654321"))
                    .timeout(Duration::from_secs(120));
                self.running.insert(name, sipp.spawn());
                json!({"started": true})
            }
            // A call that is answered, holds `hold_ms`, and hangs up.
            "answer" => {
                let hold = req["hold_ms"].as_u64().unwrap_or(3000) as u32;
                let sipp = Sipp::new(self.dir.path(), &name, "uac_call.xml", &self.server_sip)
                    .service(req["number"].as_str().unwrap_or_default())
                    .set("from_user", req["from"].as_str().unwrap_or("+15557654321"))
                    .hold_ms(hold)
                    .timeout(Duration::from_secs(60));
                self.running.insert(name, sipp.spawn());
                json!({"started": true})
            }
            "wait" => match self.running.remove(&name) {
                Some(child) => {
                    let run = child.wait();
                    if run.code != Some(0) {
                        println!("{}", run.dump());
                    }
                    json!({"code": run.code, "messages": run.messages.len()})
                }
                None => json!({"error": format!("no call named {name}")}),
            },
            other => json!({"error": format!("unknown op {other:?}")}),
        }
    }
}

#[test]
fn dashboard_in_a_browser() {
    ensure_browser();
    let screenshots = screenshot_dir();
    std::fs::create_dir_all(&screenshots)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", screenshots.display()));
    let server = Server::start_with(
        |dir| dir.join("switchboard.db").to_string_lossy().into_owned(),
        None,
        &[],
        &[
            "[dashboard]",
            "admin_password = \"dashboard-admin-password\"",
        ],
    );
    let mut calls = Calls {
        server_sip: server.sip_udp.clone(),
        dir: Scratch::new("dashboard"),
        running: HashMap::new(),
    };

    let mut child = Command::new("node")
        .arg("dashboard.spec.mjs")
        .current_dir(browser_dir())
        .env("SB_URL", &server.url)
        .env("SB_API_KEY", API_KEY)
        .env("SB_API_SECRET", API_SECRET)
        .env("SB_ADMIN_PASSWORD", "dashboard-admin-password")
        .env("SB_SCREENSHOTS", &screenshots)
        .env("SB_CHROMIUM", "/usr/bin/chromium")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node (is nodejs installed?): {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let output = Arc::new(Mutex::new(Vec::new()));
    support::forward(
        child.stderr.take().expect("piped stderr"),
        "browser",
        output.clone(),
        None,
    );
    let (tx, rx) = std::sync::mpsc::channel();
    support::forward(
        child.stdout.take().expect("piped stdout"),
        "browser",
        output.clone(),
        Some(tx),
    );
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            // Drain what is left.
            while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                let _ = line;
            }
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let Some(req) = line.strip_prefix("@@sipp ") else {
            continue;
        };
        let answer = match serde_json::from_str::<Value>(req) {
            Ok(req) => calls.handle(&req),
            Err(e) => json!({"error": format!("bad request {req:?}: {e}")}),
        };
        let sent = writeln!(stdin, "@@ok {answer}").and_then(|()| stdin.flush());
        if let Err(e) = sent {
            println!("could not answer the browser script: {e}");
        }
    };
    let log = output.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!(
            "the browser test failed ({s}); screenshots in {}; server log:\n{}\n\nbrowser output:\n{log}",
            screenshots.display(),
            server.log_text()
        ),
        None => panic!(
            "the browser test did not finish within {BROWSER_TIMEOUT:?}; screenshots in {}; browser output:\n{log}",
            screenshots.display()
        ),
    }
    for page in [
        "login",
        "rules",
        "route-form-error",
        "route-detail",
        "route-live",
        "live-calls",
        "route-after-hangup",
        "trunks",
        "agents",
        "calls",
        "explain",
    ] {
        let shot = screenshots.join(format!("{page}.png"));
        assert!(shot.exists(), "screenshot {} is missing", shot.display());
    }
}
