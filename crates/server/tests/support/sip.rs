//! Helpers of the end-to-end SIP tests: a server with a config file, the API calls that seed
//! trunks, rules and policies, call-record polling, a SIPp runner (logs in a scratch
//! directory, printed on failure), a raw UDP SIP client for hand-made requests, digest
//! arithmetic, and free local ports.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use livekit_token::{AccessToken, SIPGrants};
use serde_json::{Value, json};

use super::{API_KEY, API_SECRET, Server};

/// How long a call record may take to reach an expected state.
pub const RECORD_TIMEOUT: Duration = Duration::from_secs(5);
/// SIPp's own global timeout (`-timeout`), per run unless a test says otherwise.
pub const SIPP_TIMEOUT: Duration = Duration::from_secs(30);

/// The directory of the SIPp scenarios shipped with the tests.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// A `switchboard serve` on a fresh SQLite file with these config-file lines.
pub fn sip_server(config: &[&str]) -> Server {
    Server::start_with(
        |dir| dir.join("switchboard.db").to_string_lossy().into_owned(),
        None,
        &[],
        config,
    )
}

// ---------------------------------------------------------------------------------------
// Scratch directories and ports

/// A scratch directory for one test's logs; removed on drop unless the test is failing
/// or `SIP_E2E_KEEP` is set.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "switchboard-sip-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).expect("create scratch dir");
        Scratch(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SIP_E2E_KEEP").is_some() {
            println!("(scratch directory kept: {})", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The first of `n` consecutive local ports that are free right now for UDP (and TCP on
/// the first). Ports come from 21000–32000 (below Linux's ephemeral range and above the
/// server's default RTP range 10000–20000), a per-process slice first so that parallel
/// test binaries rarely meet.
pub fn free_ports(n: u16) -> u16 {
    const LOW: u16 = 21000;
    const HIGH: u16 = 32000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        LOW + (std::process::id() % 20) as u16 * 500,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..2000 {
        let mut base = NEXT.fetch_add(n.max(10), Ordering::SeqCst);
        if base + n >= HIGH {
            NEXT.store(LOW, Ordering::SeqCst);
            base = NEXT.fetch_add(n.max(10), Ordering::SeqCst);
        }
        let free = (0..n).all(|i| UdpSocket::bind(("127.0.0.1", base + i)).is_ok())
            && TcpListener::bind(("127.0.0.1", base)).is_ok();
        if free {
            return base;
        }
    }
    panic!("no free block of {n} local ports in {LOW}-{HIGH}");
}

// ---------------------------------------------------------------------------------------
// The API

/// A blocking client of the server's APIs.
pub struct Api {
    pub base: String,
    client: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

pub fn admin_token() -> String {
    AccessToken::with_api_key(API_KEY, API_SECRET)
        .with_ttl(Duration::from_secs(3600))
        .with_sip_grants(SIPGrants {
            admin: true,
            call: false,
        })
        .to_jwt()
        .expect("a token")
}

impl Api {
    pub fn new(server: &Server) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api {
            base: server.url.clone(),
            client: reqwest::Client::new(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
        }
    }

    fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        self.rt.block_on(async {
            let mut req = self
                .client
                .request(method, &url)
                .bearer_auth(admin_token())
                .timeout(Duration::from_secs(10));
            if let Some(b) = body {
                req = req
                    .header("content-type", "application/json")
                    .body(b.to_string());
            }
            let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        })
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body))
    }

    pub fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body))
    }

    pub fn twirp(&self, method: &str, body: Value) -> (u16, Value) {
        self.post(&format!("/twirp/livekit.SIP/{method}"), body)
    }

    /// Creates an inbound trunk (`SIPInboundTrunkInfo` JSON) and returns its id.
    pub fn trunk(&self, trunk: Value) -> String {
        let (status, body) = self.twirp("CreateSIPInboundTrunk", json!({ "trunk": trunk }));
        assert_eq!(status, 200, "CreateSIPInboundTrunk {trunk}: {body}");
        body["sip_trunk_id"]
            .as_str()
            .or(body["sipTrunkId"].as_str())
            .unwrap_or_else(|| panic!("no trunk id in {body}"))
            .to_string()
    }

    /// Creates a dispatch rule (`SIPDispatchRuleInfo` JSON) and returns its id.
    pub fn rule(&self, rule: Value) -> String {
        let (status, body) = self.twirp("CreateSIPDispatchRule", json!({ "dispatch_rule": rule }));
        assert_eq!(status, 200, "CreateSIPDispatchRule {rule}: {body}");
        body["sip_dispatch_rule_id"]
            .as_str()
            .or(body["sipDispatchRuleId"].as_str())
            .unwrap_or_else(|| panic!("no rule id in {body}"))
            .to_string()
    }

    /// `PUT /api/v1/policies/{rule_id}`.
    pub fn policy(&self, rule_id: &str, policy: Value) -> Value {
        let (status, body) = self.put(&format!("/api/v1/policies/{rule_id}"), policy.clone());
        assert_eq!(status, 200, "PUT policy {policy}: {body}");
        body
    }

    /// `GET /api/v1/calls?{query}` → the calls.
    pub fn calls(&self, query: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/api/v1/calls?{query}"));
        assert_eq!(status, 200, "GET /api/v1/calls?{query}: {body}");
        body["calls"].as_array().cloned().unwrap_or_default()
    }

    /// Polls `GET /api/v1/calls?{query}` until `done` holds for the list.
    pub fn wait_calls(
        &self,
        query: &str,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.calls(query);
            if done(&calls) {
                return calls;
            }
            if Instant::now() > deadline {
                panic!(
                    "call records never reached {what:?} within {timeout:?}; \
                     GET /api/v1/calls?{query} gives:\n{}",
                    serde_json::to_string_pretty(&calls).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The one call record of SIP Call-ID `sip_call_id` once it is `ended`. Panics when
    /// there are several records for that Call-ID.
    pub fn ended_call(&self, sip_call_id: &str) -> Value {
        self.call_where(sip_call_id, "ended", |c| c["state"] == "ended")
    }

    /// The one call record of `sip_call_id` once `pred` holds for it.
    pub fn call_where(
        &self,
        sip_call_id: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let calls = self.wait_calls("limit=1000", what, RECORD_TIMEOUT, |cs| {
            cs.iter()
                .any(|c| c["sip_call_id"] == sip_call_id && pred(c))
        });
        let mine: Vec<&Value> = calls
            .iter()
            .filter(|c| c["sip_call_id"] == sip_call_id)
            .collect();
        assert_eq!(
            mine.len(),
            1,
            "expected exactly one call record for Call-ID {sip_call_id}, got {mine:#?}"
        );
        mine[0].clone()
    }

    /// The only call record of a number once it is `ended` (the test made one call).
    pub fn only_call_ended(&self, number: &str) -> Value {
        let calls = self.wait_calls(
            &format!("number={}", urlencode(number)),
            "one ended call",
            RECORD_TIMEOUT,
            |cs| !cs.is_empty() && cs.iter().all(|c| c["state"] == "ended"),
        );
        assert_eq!(calls.len(), 1, "expected one call for {number}: {calls:#?}");
        calls[0].clone()
    }
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Asserts the fields of a call record (`None` = must be null; missing keys not checked).
#[track_caller]
pub fn assert_record(rec: &Value, expected: &[(&str, Value)]) {
    for (k, v) in expected {
        assert_eq!(
            &rec[*k],
            v,
            "call record field {k:?}: expected {v}, got {}; the record: {}",
            rec[*k],
            serde_json::to_string_pretty(rec).unwrap_or_default()
        );
    }
}

/// A date `days` from today in UTC, `YYYY-MM-DD`.
pub fn utc_date(days: i64) -> String {
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let d = now
        .date()
        .checked_add(jiff::Span::new().days(days))
        .expect("a date");
    d.to_string()
}

/// Today's weekday in UTC as `mon`…`sun`.
pub fn utc_weekday(days_ahead: i64) -> &'static str {
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let d = now
        .date()
        .checked_add(jiff::Span::new().days(days_ahead))
        .expect("a date");
    match d.weekday() {
        jiff::civil::Weekday::Monday => "mon",
        jiff::civil::Weekday::Tuesday => "tue",
        jiff::civil::Weekday::Wednesday => "wed",
        jiff::civil::Weekday::Thursday => "thu",
        jiff::civil::Weekday::Friday => "fri",
        jiff::civil::Weekday::Saturday => "sat",
        jiff::civil::Weekday::Sunday => "sun",
    }
}

// ---------------------------------------------------------------------------------------
// SIPp

/// One SIPp run, built up like a command line.
pub struct Sipp {
    name: String,
    dir: PathBuf,
    target: String,
    args: Vec<String>,
    timeout: Duration,
    pub port: u16,
    pub media_port: u16,
}

/// A finished SIPp run.
pub struct SippRun {
    pub name: String,
    /// SIPp's exit code (`None`: killed after running out of time).
    pub code: Option<i32>,
    /// The `-trace_msg` log.
    pub messages: String,
    /// The `-trace_err` log.
    pub errors: String,
    /// SIPp's screen output.
    pub screen: String,
    pub command: String,
}

impl Sipp {
    /// `sipp <target> -sf tests/sipp/<scenario>` with its logs in `dir`, a fresh local
    /// signalling port and a media port, one call, `-timeout 30s -timeout_error`.
    pub fn new(dir: &Path, name: &str, scenario_file: &str, target: &str) -> Sipp {
        let base = free_ports(10);
        let port = base;
        let media_port = base + 4;
        let args: Vec<String> = [
            "-sf",
            &scenario(scenario_file).to_string_lossy(),
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-mi",
            "127.0.0.1",
            "-mp",
            &media_port.to_string(),
            "-nostdin",
            "-trace_msg",
            "-message_file",
            &dir.join(format!("{name}_messages.log")).to_string_lossy(),
            "-trace_err",
            "-error_file",
            &dir.join(format!("{name}_errors.log")).to_string_lossy(),
            "-timeout_error",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        Sipp {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            target: target.to_string(),
            args,
            timeout: SIPP_TIMEOUT,
            port,
            media_port,
        }
        .calls(1)
        .hold_ms(1000)
    }

    pub fn arg(mut self, a: &str) -> Sipp {
        self.args.push(a.to_string());
        self
    }

    pub fn args(mut self, a: &[&str]) -> Sipp {
        self.args.extend(a.iter().map(|s| s.to_string()));
        self
    }

    fn replace(mut self, flag: &str, value: &str) -> Sipp {
        if let Some(i) = self.args.iter().position(|a| a == flag) {
            self.args[i + 1] = value.to_string();
            self
        } else {
            self.args(&[flag, value])
        }
    }

    /// `-s`: the called number (`[service]`).
    pub fn service(self, n: &str) -> Sipp {
        self.replace("-s", n)
    }

    /// `-set name value` (the scenario must declare it).
    pub fn set(self, k: &str, v: &str) -> Sipp {
        self.args(&["-set", k, v])
    }

    /// `-m N` calls.
    pub fn calls(self, n: u32) -> Sipp {
        self.replace("-m", &n.to_string())
    }

    /// `-r` calls per second (and `-l` simultaneous calls, the same number).
    pub fn rate(self, cps: u32, limit: u32) -> Sipp {
        self.replace("-r", &cps.to_string())
            .replace("-l", &limit.to_string())
    }

    /// `-d ms`: what `<pause/>` waits.
    pub fn hold_ms(self, ms: u32) -> Sipp {
        self.replace("-d", &ms.to_string())
    }

    /// `-au/-ap` credentials.
    pub fn auth(self, user: &str, pass: &str) -> Sipp {
        self.replace("-au", user).replace("-ap", pass)
    }

    pub fn tcp(self) -> Sipp {
        self.replace("-t", "t1")
    }

    /// SIPp's global timeout; the process is killed 15 s after it.
    pub fn timeout(mut self, t: Duration) -> Sipp {
        self.timeout = t;
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("sipp");
        cmd.arg(&self.target)
            .args(&self.args)
            .arg("-timeout")
            .arg(format!("{}s", self.timeout.as_secs()));
        let screen = std::fs::File::create(self.dir.join(format!("{}_screen.log", self.name)))
            .expect("create the screen log");
        let screen2 = screen.try_clone().expect("clone a file handle");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(screen))
            .stderr(Stdio::from(screen2))
            .current_dir(&self.dir);
        cmd
    }

    /// Starts SIPp in the background.
    pub fn spawn(self) -> SippChild {
        let mut cmd = self.command();
        let command = format!("{cmd:?}");
        println!("[sipp {}] {command}", self.name);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start sipp (is sip-tester installed?): {e}"));
        SippChild {
            child: Some(child),
            deadline: Instant::now() + self.timeout + Duration::from_secs(15),
            sipp: self,
            command,
        }
    }

    /// Runs SIPp to completion.
    pub fn run(self) -> SippRun {
        self.spawn().wait()
    }
}

/// A SIPp process running in the background; killed when dropped.
pub struct SippChild {
    child: Option<Child>,
    deadline: Instant,
    sipp: Sipp,
    command: String,
}

impl SippChild {
    pub fn wait(mut self) -> SippRun {
        let mut child = self.child.take().expect("not waited yet");
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() < self.deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Err(e) => panic!("waiting for sipp: {e}"),
            }
        };
        let read = |suffix: &str| {
            std::fs::read_to_string(self.sipp.dir.join(format!("{}_{suffix}", self.sipp.name)))
                .unwrap_or_default()
        };
        SippRun {
            name: self.sipp.name.clone(),
            code: status.and_then(|s| s.code()),
            messages: read("messages.log"),
            errors: read("errors.log"),
            screen: read("screen.log"),
            command: self.command.clone(),
        }
    }
}

impl Drop for SippChild {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl SippRun {
    /// Everything a failure message needs.
    pub fn dump(&self) -> String {
        let screen_tail: Vec<&str> = self.screen.lines().rev().take(60).collect();
        let screen_tail: Vec<&str> = screen_tail.into_iter().rev().collect();
        format!(
            "==== sipp {} exit {:?}\n$ {}\n==== messages:\n{}\n==== errors:\n{}\n==== screen (tail):\n{}\n",
            self.name,
            self.code,
            self.command,
            self.messages,
            self.errors,
            screen_tail.join("\n")
        )
    }

    #[track_caller]
    pub fn assert_ok(&self) {
        assert_eq!(
            self.code,
            Some(0),
            "sipp {} did not complete its scenario:\n{}",
            self.name,
            self.dump()
        );
    }

    /// The messages of the `-trace_msg` log: (received?, text).
    pub fn log(&self) -> Vec<(bool, String)> {
        let mut out = Vec::new();
        for chunk in self
            .messages
            .split("----------------------------------------------- ")
        {
            let mut lines = chunk.lines();
            let _date = lines.next();
            let Some(kind) = lines.next() else { continue };
            let received = kind.contains("message received");
            if !received && !kind.contains("message sent") {
                continue;
            }
            let text: Vec<&str> = lines.collect();
            let text = text
                .join("\r\n")
                .trim_start_matches(['\r', '\n'])
                .to_string();
            out.push((received, text));
        }
        out
    }

    pub fn received(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|(r, _)| *r)
            .map(|(_, t)| t)
            .collect()
    }

    pub fn sent(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|(r, _)| !*r)
            .map(|(_, t)| t)
            .collect()
    }

    /// Received responses with status `code` (retransmissions included).
    pub fn responses(&self, code: u16) -> Vec<String> {
        self.received()
            .into_iter()
            .filter(|m| status_of(m) == Some(code))
            .collect()
    }

    /// Received requests of `method`.
    pub fn requests(&self, method: &str) -> Vec<String> {
        self.received()
            .into_iter()
            .filter(|m| m.starts_with(&format!("{method} ")))
            .collect()
    }

    /// The distinct Call-IDs of the INVITEs SIPp sent.
    pub fn call_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .sent()
            .iter()
            .filter(|m| m.starts_with("INVITE "))
            .filter_map(|m| header(m, "Call-ID"))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The Call-ID of the only call.
    pub fn call_id(&self) -> String {
        let ids = self.call_ids();
        assert_eq!(ids.len(), 1, "one call expected:\n{}", self.dump());
        ids[0].clone()
    }

    /// Final status codes received for INVITEs, one per distinct (Call-ID, CSeq)
    /// (retransmissions collapsed).
    pub fn invite_finals(&self) -> Vec<u16> {
        let mut seen = std::collections::BTreeMap::new();
        for m in self.received() {
            let Some(code) = status_of(&m) else { continue };
            if code < 200 {
                continue;
            }
            let cseq = header(&m, "CSeq").unwrap_or_default();
            if !cseq.ends_with("INVITE") {
                continue;
            }
            let id = header(&m, "Call-ID").unwrap_or_default();
            seen.insert((id, cseq), code);
        }
        seen.into_values().collect()
    }
}

// ---------------------------------------------------------------------------------------
// SIP text

/// The status code of a response.
pub fn status_of(msg: &str) -> Option<u16> {
    let first = msg.lines().next()?;
    let rest = first.strip_prefix("SIP/2.0 ")?;
    rest.get(..3)?.parse().ok()
}

const COMPACT: [(&str, &str); 8] = [
    ("call-id", "i"),
    ("via", "v"),
    ("from", "f"),
    ("to", "t"),
    ("contact", "m"),
    ("content-length", "l"),
    ("content-type", "c"),
    ("supported", "k"),
];

/// Every value of header `name` (case-insensitive, compact forms too), in order.
pub fn headers(msg: &str, name: &str) -> Vec<String> {
    let lower = name.to_ascii_lowercase();
    let compact = COMPACT.iter().find(|(l, _)| *l == lower).map(|(_, c)| *c);
    let head = msg.split("\r\n\r\n").next().unwrap_or(msg);
    head.lines()
        .skip(1)
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            let n = n.trim().to_ascii_lowercase();
            (n == lower || Some(n.as_str()) == compact).then(|| v.trim().to_string())
        })
        .collect()
}

pub fn header(msg: &str, name: &str) -> Option<String> {
    headers(msg, name).into_iter().next()
}

/// The body of a message.
pub fn body(msg: &str) -> &str {
    msg.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}

/// A parameter of a digest challenge / credentials header (`nonce`, `realm`, `stale`…).
pub fn digest_param(value: &str, name: &str) -> Option<String> {
    let v = value.trim();
    let v = v.strip_prefix("Digest").unwrap_or(v);
    let mut rest = v;
    while !rest.trim().is_empty() {
        let r = rest.trim_start().trim_start_matches(',').trim_start();
        let (k, after) = r.split_once('=')?;
        let after = after.trim_start();
        let (val, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        if k.trim().eq_ignore_ascii_case(name) {
            return Some(val);
        }
        rest = next;
    }
    None
}

pub fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The server's stateless nonce for `call_id` issued at `issued_at` (Unix seconds) under
/// `[sip] nonce_secret = secret`.
pub fn nonce_for(secret: &str, issued_at: u64, call_id: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(&issued_at.to_be_bytes());
    mac.update(call_id.as_bytes());
    let full = mac.finalize().into_bytes();
    let mut s = format!("{issued_at:016x}");
    for b in &full[..16] {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// An `Authorization` value: with `qop=auth` when `cnonce` is given, else RFC 2069 style.
pub fn digest_authorization(
    user: &str,
    realm: &str,
    pass: &str,
    nonce: &str,
    uri: &str,
    cnonce: Option<&str>,
) -> String {
    let ha1 = md5_hex(&format!("{user}:{realm}:{pass}"));
    let ha2 = md5_hex(&format!("INVITE:{uri}"));
    match cnonce {
        Some(c) => {
            let nc = "00000001";
            let resp = md5_hex(&format!("{ha1}:{nonce}:{nc}:{c}:auth:{ha2}"));
            format!(
                "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
                 response=\"{resp}\", algorithm=MD5, cnonce=\"{c}\", qop=auth, nc={nc}"
            )
        }
        None => {
            let resp = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
            format!(
                "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
                 response=\"{resp}\""
            )
        }
    }
}

// ---------------------------------------------------------------------------------------
// A raw UDP SIP client

/// A UDP socket that sends hand-made SIP messages to the server and reads what comes back.
pub struct RawSip {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    pub local: SocketAddr,
    /// Every message received, for failure reports.
    pub transcript: std::cell::RefCell<Vec<String>>,
}

pub const PCMU_SDP_TEMPLATE: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";

impl RawSip {
    pub fn new(server: &str) -> RawSip {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
        let local = sock.local_addr().expect("local address");
        RawSip {
            sock,
            server: server.parse().expect("server address"),
            local,
            transcript: Default::default(),
        }
    }

    pub fn send(&self, msg: &str) {
        self.transcript
            .borrow_mut()
            .push(format!(">>> sent\n{msg}"));
        self.sock
            .send_to(msg.as_bytes(), self.server)
            .expect("send a datagram");
    }

    pub fn send_bytes(&self, msg: &[u8]) {
        self.transcript.borrow_mut().push(format!(
            ">>> sent (bytes)\n{}",
            String::from_utf8_lossy(msg)
        ));
        self.sock
            .send_to(msg, self.server)
            .expect("send a datagram");
    }

    /// The next message, or `None` after `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<String> {
        let mut buf = vec![0u8; 65536];
        if timeout.is_zero() {
            return None;
        }
        self.sock.set_read_timeout(Some(timeout)).ok()?;
        match self.sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.transcript
                    .borrow_mut()
                    .push(format!("<<< received\n{m}"));
                Some(m)
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                None
            }
            Err(e) => panic!("recv: {e}"),
        }
    }

    /// Reads until a response with a final status (>= 200) whose CSeq ends with `method`
    /// arrives (requests from the server are collected too); `None` on timeout.
    pub fn recv_final(&self, method: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self.recv(left)?;
            if let Some(code) = status_of(&m)
                && code >= 200
                && header(&m, "CSeq").is_some_and(|c| c.ends_with(method))
            {
                return Some(m);
            }
        }
    }

    pub fn dump(&self) -> String {
        self.transcript.borrow().join("\n----\n")
    }

    pub fn branch() -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        format!(
            "z9hG4bK-raw-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        )
    }

    /// A complete INVITE from `caller` to `called`.
    #[allow(clippy::too_many_arguments)]
    pub fn invite(
        &self,
        call_id: &str,
        caller: &str,
        called: &str,
        from_tag: &str,
        cseq: u32,
        branch: &str,
        extra_headers: &[String],
        sdp: &str,
    ) -> String {
        let mut m = format!(
            "INVITE sip:{called}@{srv} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{caller}@{me}>;tag={from_tag}\r\n\
             To: <sip:{called}@{srv}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} INVITE\r\n\
             Contact: <sip:{caller}@{me}>\r\n",
            srv = self.server,
            me = self.local,
        );
        for h in extra_headers {
            m.push_str(h);
            m.push_str("\r\n");
        }
        if sdp.is_empty() {
            m.push_str("Content-Length: 0\r\n\r\n");
        } else {
            let _ = write!(
                m,
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                sdp.len()
            );
        }
        m
    }

    /// An ACK for a non-2xx final `response` to the INVITE sent with `branch`.
    pub fn ack_non2xx(&self, response: &str, called: &str, branch: &str) -> String {
        let cseq_n = header(response, "CSeq")
            .and_then(|c| c.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "1".into());
        format!(
            "ACK sip:{called}@{srv} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: {from}\r\n\
             To: {to}\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq_n} ACK\r\n\
             Content-Length: 0\r\n\r\n",
            srv = self.server,
            me = self.local,
            from = header(response, "From").unwrap_or_default(),
            to = header(response, "To").unwrap_or_default(),
            cid = header(response, "Call-ID").unwrap_or_default(),
        )
    }

    /// An in-dialog request (`ACK` for a 2xx, `BYE`, `INFO`) after the 2xx `ok`.
    pub fn in_dialog(&self, ok: &str, method: &str, cseq: u32, extra: &str) -> String {
        let target = header(ok, "Contact")
            .map(|c| {
                let s = c.find('<').map(|i| i + 1).unwrap_or(0);
                let e = c[s..].find('>').map(|i| s + i).unwrap_or(c.len());
                c[s..e].to_string()
            })
            .unwrap_or_else(|| format!("sip:{}", self.server));
        format!(
            "{method} {target} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: {from}\r\n\
             To: {to}\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} {method}\r\n\
             {extra}Content-Length: 0\r\n\r\n",
            me = self.local,
            branch = RawSip::branch(),
            from = header(ok, "From").unwrap_or_default(),
            to = header(ok, "To").unwrap_or_default(),
            cid = header(ok, "Call-ID").unwrap_or_default(),
        )
    }
}

/// The first message from the server within `timeout` that `pred` accepts.
pub fn wait_msg(raw: &RawSip, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = raw.recv(left)?;
        if pred(&m) {
            return Some(m);
        }
    }
}

/// Our response to a request the server sent.
pub fn response_to(req: &str, code: u16, reason: &str) -> String {
    let mut s = format!("SIP/2.0 {code} {reason}\r\n");
    for v in headers(req, "Via") {
        s.push_str(&format!("Via: {v}\r\n"));
    }
    for h in ["From", "To", "Call-ID", "CSeq"] {
        s.push_str(&format!("{h}: {}\r\n", header(req, h).unwrap_or_default()));
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    s
}
