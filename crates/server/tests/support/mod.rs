//! Shared harness of the end-to-end tests: start the built `switchboard` binary on a fresh
//! database and an ephemeral port, forward its output, stop it (also on panic), and create
//! throwaway PostgreSQL schemas.
#![allow(dead_code)]

pub mod audio;
pub mod baresip;
pub mod sip;
pub mod worker;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const API_KEY: &str = "devkey";
pub const API_SECRET: &str = "secret";
/// How long the server may take to print its listening address.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// The first setup downloads the SDKs.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(900);
/// One peer script, start to finish.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(300);
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root (two levels above crates/server) exists")
}

/// Output of a finished (or killed) child process.
pub struct Finished {
    /// `None` when it ran out of time and was killed.
    pub status: Option<ExitStatus>,
    pub output: Vec<String>,
}

impl Finished {
    pub fn tail(&self, lines: usize) -> String {
        let start = self.output.len().saturating_sub(lines);
        self.output[start..].join("\n")
    }
}

/// Forwards every line of `stream` to the test's stdout (prefixed with `tag`) and keeps it.
pub fn forward<R: Read + Send + 'static>(
    stream: R,
    tag: &'static str,
    sink: Arc<Mutex<Vec<String>>>,
    lines_tx: Option<mpsc::Sender<String>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            println!("[{tag}] {line}");
            if let Some(tx) = &lines_tx {
                let _ = tx.send(line.clone());
            }
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    })
}

/// Runs `cmd` to completion with its output forwarded to the test's stdout; kills it when
/// it takes longer than `timeout`.
pub fn run(mut cmd: Command, tag: &'static str, timeout: Duration) -> Finished {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let output = Arc::new(Mutex::new(Vec::new()));
    let readers = [
        forward(child.stdout.take().unwrap(), tag, output.clone(), None),
        forward(child.stderr.take().unwrap(), tag, output.clone(), None),
    ];
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Err(e) => panic!("waiting for {cmd:?}: {e}"),
        }
    };
    for r in readers {
        let _ = r.join();
    }
    let output = std::mem::take(&mut *output.lock().unwrap_or_else(|e| e.into_inner()));
    Finished { status, output }
}

/// A running `switchboard serve`, killed (and its files removed) when dropped, also when
/// the test panics.
pub struct Server {
    child: Child,
    pub url: String,
    /// The SIP UDP and TCP listening addresses (`ip:port`).
    pub sip_udp: String,
    pub sip_tcp: String,
    dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
    after_stop: Option<Box<dyn FnOnce()>>,
}

impl Server {
    /// Starts the server in a fresh scratch directory. `database` gets the scratch directory
    /// and returns the `--database` value.
    pub fn start(
        database: impl FnOnce(&Path) -> String,
        after_stop: Option<Box<dyn FnOnce()>>,
    ) -> Server {
        Server::start_with(database, after_stop, &[], &[])
    }

    /// Like [`Server::start`], with extra `serve` arguments and a config file's text
    /// (written to the scratch directory and passed with `--config` when not empty).
    pub fn start_with(
        database: impl FnOnce(&Path) -> String,
        after_stop: Option<Box<dyn FnOnce()>>,
        extra_args: &[&str],
        config_toml: &[&str],
    ) -> Server {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "switchboard-sdk-peers-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let database = database(&dir);
        let mut args: Vec<String> = [
            "serve",
            "--dev",
            "--http",
            "127.0.0.1:0",
            "--sip",
            "127.0.0.1:0",
            "--database",
            &database,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if !config_toml.is_empty() {
            let path = dir.join("switchboard.toml");
            std::fs::write(&path, config_toml.join("\n"))
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            args.push("--config".into());
            args.push(path.to_string_lossy().into_owned());
        }
        args.extend(extra_args.iter().map(|s| s.to_string()));

        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the switchboard binary: {e}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        forward(
            child.stdout.take().unwrap(),
            "server",
            log.clone(),
            Some(tx),
        );
        forward(child.stderr.take().unwrap(), "server", log.clone(), None);
        // From here on the guard owns the process: any panic below still kills it.
        let mut server = Server {
            child,
            url: String::new(),
            sip_udp: String::new(),
            sip_tcp: String::new(),
            dir,
            log,
            after_stop,
        };

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split("SIP on udp ").nth(1) {
                        let mut words = rest.split_whitespace();
                        server.sip_udp = words
                            .next()
                            .unwrap_or_default()
                            .trim_end_matches(';')
                            .to_owned();
                        words.next(); // "tcp"
                        server.sip_tcp = words
                            .next()
                            .unwrap_or_default()
                            .trim_end_matches(';')
                            .to_owned();
                        continue;
                    }
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let url = rest.split_whitespace().next().unwrap_or_default();
                        assert!(
                            url.starts_with("http://"),
                            "cannot parse the listening address from {line:?}"
                        );
                        server.url = url.to_owned();
                        return server;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "switchboard did not print `listening on http://…` within {STARTUP_TIMEOUT:?}; \
                     its output:\n{}",
                    server.log_text()
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Stdout closed: the process is exiting. Give stderr a moment to drain.
                    let status = server.child.wait().ok();
                    std::thread::sleep(Duration::from_millis(200));
                    panic!(
                        "switchboard exited ({status:?}) before it was listening; its output:\n{}",
                        server.log_text()
                    )
                }
            }
        }
    }

    /// Sends SIGTERM and waits (up to 10 s) for the process to exit on its own.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "could not send SIGTERM to {pid}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the output threads drain the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The scratch directory the server runs in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_text(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(f) = self.after_stop.take() {
            f();
        }
    }
}

pub fn sqlite_server() -> Server {
    Server::start(
        |dir| dir.join("switchboard.db").to_string_lossy().into_owned(),
        None,
    )
}

/// `url` with `search_path` set to `schema` for every connection (libpq `options`).
pub fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// A throwaway PostgreSQL schema for one test: created (with the store's tables) now, and
/// dropped by the returned closure. Returns the URL whose connections use the schema.
pub fn pg_schema(tag: &str) -> (String, Box<dyn FnOnce()>) {
    let base = std::env::var("SWITCHBOARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let schema = format!("{tag}_{}_{}", std::process::id(), nanos % 1_000_000_000_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let store = switchboard_store::PostgresStore::connect_with_schema(&base, Some(&schema))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "this test needs a reachable PostgreSQL at {} (set \
                     SWITCHBOARD_TEST_DATABASE_URL): {e}",
                    switchboard_store::redact_database_url(&base)
                )
            });
        store.close().await;
    });
    let drop_url = base.clone();
    let drop_schema = schema.clone();
    let drop: Box<dyn FnOnce()> = Box::new(move || {
        let sql = format!("DROP SCHEMA IF EXISTS \"{drop_schema}\" CASCADE");
        let dropped = Command::new("psql")
            .args([drop_url.as_str(), "-v", "ON_ERROR_STOP=1", "-q", "-c", &sql])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !dropped {
            println!(
                "note: could not drop the test schema {drop_schema:?} (psql missing or failed)"
            );
        }
    });
    (with_search_path(&base, &schema), drop)
}
