//! End to end against the real `switchboard` binary: register a worker, see it in
//! `GET /api/v1/agents`, and get refused without the agent grant.
//!
//! The binary is not a dependency of this crate: the test looks for
//! `target/<profile>/switchboard` next to its own executable (or `SWITCHBOARD_BIN`), and
//! builds it with `cargo build -p switchboard-server --bin switchboard` when it is missing.
//! Offers need real calls and are not tested here.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use livekit_token::{AccessToken, SIPGrants, VideoGrants};
use switchboard_agent::{Error, Worker, WorkerOptions};

const KEY: &str = "devkey";
const SECRET: &str = "secret";

/// `target/<profile>` of this test executable (`target/<profile>/deps/worker-…`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir");
    deps.parent().expect("profile dir").to_path_buf()
}

fn switchboard_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SWITCHBOARD_BIN") {
        return p.into();
    }
    let dir = profile_dir();
    let bin = dir.join(format!("switchboard{}", std::env::consts::EXE_SUFFIX));
    if bin.exists() {
        return bin;
    }
    let target_dir = dir.parent().expect("target dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "switchboard-server", "--bin", "switchboard"])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(profile) => {
            cmd.args(["--profile", profile]);
        }
        None => {}
    }
    eprintln!("building the switchboard binary: {cmd:?}");
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "cargo build of switchboard failed");
    assert!(bin.exists(), "{} missing after the build", bin.display());
    bin
}

/// A running `switchboard serve --dev`, killed on drop.
struct Server {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Server {
    fn start() -> Server {
        let dir = std::env::temp_dir().join(format!(
            "switchboard-agent-e2e-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("sb.db");
        let mut child = Command::new(switchboard_bin())
            .args([
                "serve",
                "--dev",
                "--http",
                "127.0.0.1:0",
                "--sip",
                "127.0.0.1:0",
            ])
            .arg("--database")
            .arg(&db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start switchboard");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("switchboard did not print `listening on http://…` within 60 s");
            }
        };
        Server { child, addr, dir }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A plain HTTP/1.1 GET; returns the status and the (de-chunked) body.
    fn get(&self, path: &str, token: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status code");
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        (status, body)
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn admin_token() -> String {
    AccessToken::with_api_key(KEY, SECRET)
        .with_identity("agent-e2e-admin")
        .with_sip_grants(SIPGrants {
            admin: true,
            call: false,
        })
        .to_jwt()
        .unwrap()
}

fn agents(server: &Server) -> serde_json::Value {
    let (status, body) = server.get("/api/v1/agents", &admin_token());
    assert_eq!(status, 200, "GET /api/v1/agents: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn options(server: &Server, agent_name: &str) -> WorkerOptions {
    WorkerOptions {
        agent_name: agent_name.into(),
        max_jobs: 2,
        sample_rate: 16000,
        version: "e2e-1".into(),
        ..WorkerOptions::new(&server.url(), KEY, SECRET)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn registers_lists_and_refuses() {
    let server = tokio::task::spawn_blocking(Server::start).await.unwrap();

    // Register, and see the worker in the admin API.
    let worker = Worker::connect(options(&server, "e2e-agent"))
        .await
        .expect("register");
    assert!(
        worker.worker_id().starts_with("AW_"),
        "{}",
        worker.worker_id()
    );
    assert!(worker.ping_interval() > Duration::ZERO);
    worker.set_load(0.25).unwrap();
    let listed = agents(&server).to_string();
    assert!(
        listed.contains(worker.worker_id()),
        "the worker is not listed: {listed}"
    );
    assert!(listed.contains("e2e-agent"), "{listed}");
    // The registration and the reported load, field by field where the shape is known.
    let id = worker.worker_id().to_string();
    let s = std::sync::Arc::new(server);
    let server = s.clone();
    tokio::task::spawn_blocking(move || {
        wait_until("the reported load shows", || {
            let v = agents(&s);
            let Some(w) = v["workers"]
                .as_array()
                .and_then(|ws| ws.iter().find(|w| w["worker_id"] == id.as_str()))
            else {
                return false;
            };
            assert_eq!(w["agent_name"], "e2e-agent", "{w}");
            assert_eq!(w["max_jobs"], 2, "{w}");
            assert_eq!(w["sample_rate"], 16000, "{w}");
            assert_eq!(w["version"], "e2e-1", "{w}");
            w["reported_load"] == 0.25
        })
    })
    .await
    .unwrap();

    // A second worker, for automatic dispatch.
    let auto = Worker::connect(options(&server, ""))
        .await
        .expect("register");
    assert!(agents(&server).to_string().contains(auto.worker_id()));

    // A token without the agent grant is refused, and the error says what is missing.
    let no_grant = AccessToken::with_api_key(KEY, SECRET)
        .with_identity("no-grant")
        .with_grants(VideoGrants {
            room_join: true,
            room: "r".into(),
            ..Default::default()
        })
        .to_jwt()
        .unwrap();
    let err = Worker::connect(WorkerOptions {
        token: Some(no_grant),
        ..options(&server, "e2e-agent")
    })
    .await
    .expect_err("a token without the agent grant must be refused");
    match &err {
        Error::Refused { status, message } => {
            assert!(*status == 401 || *status == 403, "{err}");
            assert!(message.contains("agent grant (video.agent)"), "{err}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // A wrong secret is refused with a hint about the key pair.
    let err = Worker::connect(WorkerOptions {
        api_secret: "wrong".into(),
        ..options(&server, "e2e-agent")
    })
    .await
    .expect_err("a wrong secret must be refused");
    assert!(matches!(err, Error::Refused { status: 401, .. }), "{err:?}");
    assert!(err.to_string().contains("key pairs"), "{err}");

    // An invalid registration is caught before connecting.
    let err = Worker::connect(WorkerOptions {
        sample_rate: 44100,
        ..options(&server, "e2e-agent")
    })
    .await
    .expect_err("44.1 kHz is not a protocol rate");
    assert!(
        err.to_string().contains("8000, 16000, 24000 or 48000"),
        "{err}"
    );

    // Closing unregisters.
    let id = worker.worker_id().to_string();
    worker.close().await;
    let s = server.clone();
    tokio::task::spawn_blocking(move || {
        wait_until("the closed worker leaves the list", || {
            !agents(&s).to_string().contains(&id)
        })
    })
    .await
    .unwrap();
    assert!(auto.close_reason().is_none());
    auto.close().await;
}

#[test]
fn dechunks() {
    assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
}
