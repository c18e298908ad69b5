//! End-to-end tests of the client commands: the built `switchboard` binary against a real
//! `switchboard serve --dev` on a temporary SQLite file and a free port.
//!
//! Covers every dispatch-rule example of LiveKit's documentation as written (with
//! `switchboard` in place of `lk`), inbound trunks by flags and files, SIPHON's Dispatch
//! flows, `explain`, and the error messages users see. Connection settings are passed as
//! flags in some tests, as `LIVEKIT_*` environment variables in others, and via a `.env`
//! file in one.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const CONN_VARS: [&str; 3] = ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"];

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "switchboard-cli-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `switchboard serve --dev`; killed on drop.
struct Server {
    child: Child,
    url: String,
    dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a CLI run produced.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    fn out(&self) -> &str {
        assert!(
            self.ok,
            "command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts failure and returns stderr.
    #[track_caller]
    fn err(&self) -> &str {
        assert!(
            !self.ok,
            "command should have failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stderr
    }

    #[track_caller]
    fn json(&self) -> Value {
        let out = self.out();
        serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }
}

/// Runs the CLI with the `LIVEKIT_*` variables of this process removed, in `cwd`.
fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(cwd);
    for v in CONN_VARS {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::from(cmd.output().expect("run switchboard"))
}

impl Server {
    fn start() -> Server {
        let dir = TempDir::new("srv");
        let db = dir.path().join("switchboard.db");
        let log = std::fs::File::create(dir.path().join("serve.log")).expect("log file");
        let mut cmd = Command::new(BIN);
        cmd.args([
            "serve",
            "--dev",
            "--http",
            "127.0.0.1:0",
            "--sip",
            "127.0.0.1:0",
            "--database",
        ])
        .arg(&db)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
        for v in CONN_VARS {
            cmd.env_remove(v);
        }
        let mut child = cmd.spawn().expect("start switchboard serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Read the banner, then keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let _ = tx.send(url);
                    sent = true;
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
                panic!("switchboard serve did not print its address; log:\n{log}");
            }
        };
        Server { child, url, dir }
    }

    /// Runs a client command with the connection given as flags.
    fn cli(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend([
            "--url",
            &self.url,
            "--api-key",
            "devkey",
            "--api-secret",
            "secret",
        ]);
        run_in(self.dir.path(), &all, &[])
    }

    /// Runs a client command with the connection given as environment variables.
    fn cli_env(&self, args: &[&str]) -> Run {
        self.cli_env_in(self.dir.path(), args)
    }

    fn cli_env_in(&self, cwd: &Path, args: &[&str]) -> Run {
        run_in(
            cwd,
            args,
            &[
                ("LIVEKIT_URL", &self.url),
                ("LIVEKIT_API_KEY", "devkey"),
                ("LIVEKIT_API_SECRET", "secret"),
            ],
        )
    }

    /// Creates an inbound trunk for `number` admitting 203.0.113.0/24; returns its id.
    fn trunk(&self, name: &str, number: &str) -> String {
        let t = self
            .cli(&[
                "sip",
                "inbound",
                "create",
                "--name",
                name,
                "--numbers",
                number,
                "--allowed-addresses",
                "203.0.113.0/24",
                "--json",
            ])
            .json();
        t["sipTrunkId"].as_str().expect("trunk id").to_string()
    }

    fn rules(&self) -> Vec<Value> {
        match self.cli(&["sip", "dispatch", "list", "--json"]).json() {
            Value::Array(v) => v,
            other => panic!("not an array: {other}"),
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/seed002")
        .join(name)
}

/// Copies a seed fixture to `dir/dispatch-rule.json`, the file name the documentation uses.
fn as_dispatch_rule_json(dir: &Path, name: &str) {
    std::fs::copy(fixture(name), dir.join("dispatch-rule.json")).expect("copy fixture");
}

/// Runs `switchboard sip dispatch create dispatch-rule.json` in a directory holding the
/// example, exactly as the documentation writes it; returns the created rule id.
fn create_example(s: &Server, name: &str) -> String {
    let dir = TempDir::new("doc");
    as_dispatch_rule_json(dir.path(), name);
    let out = s.cli_env_in(
        dir.path(),
        &["sip", "dispatch", "create", "dispatch-rule.json"],
    );
    let text = out.out();
    let id = text
        .trim()
        .strip_prefix("SIPDispatchRuleID: ")
        .unwrap_or_else(|| panic!("unexpected output: {text}"));
    assert!(id.starts_with("SDR_"), "{text}");
    id.to_string()
}

fn rule_json(s: &Server, id: &str) -> Value {
    s.cli(&["sip", "dispatch", "get", "--id", id, "--json"])
        .json()
}

fn delete_rule(s: &Server, id: &str) {
    let out = s.cli_env(&["sip", "dispatch", "delete", id]);
    assert!(out.out().contains(id), "{}", out.stdout);
}

fn explain(s: &Server, args: &[&str]) -> String {
    let mut all = vec!["explain"];
    all.extend(args);
    s.cli(&all).out().to_string()
}

#[test]
fn seed_002_individual_rule_with_agents() {
    let s = Server::start();
    let trunk = s.trunk("carrier", "+15557770000");
    let id = create_example(&s, "individual-agents.json");
    let r = rule_json(&s, &id);
    assert_eq!(r["name"], "My dispatch rule");
    assert_eq!(r["rule"]["dispatchRuleIndividual"]["roomPrefix"], "call-");
    assert_eq!(
        r["roomConfig"]["agents"],
        json!([{"agentName": "inbound-agent", "metadata": "job dispatch metadata"}])
    );
    assert!(
        r.get("trunkIds").is_none_or(|t| t == &json!([])),
        "matches all trunks: {r}"
    );

    let text = explain(
        &s,
        &[
            "--to",
            "+15557770000",
            "--from",
            "+15551234567",
            "--ip",
            "203.0.113.5",
        ],
    );
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("ACCEPT → room call-_+15551234567_"),
        "{text}"
    );
    assert!(
        first.ends_with(&format!(
            "(rule {id} \"My dispatch rule\", trunk {trunk} \"carrier\")"
        )),
        "{text}"
    );
    assert!(
        text.contains("agents:   inbound-agent (job metadata \"job dispatch metadata\")"),
        "{text}"
    );
    assert!(
        text.contains("identity: sip_+15551234567 \"Phone +15551234567\""),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "✓ trunk {trunk} \"carrier\": selected — lists +15557770000 exactly"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("✓ rule {id} \"My dispatch rule\": selected — ")),
        "{text}"
    );
    delete_rule(&s, &id);
    assert!(s.rules().is_empty());
}

#[test]
fn seed_002_direct_open_room_and_pin_protected_safe_room() {
    let s = Server::start();
    let trunk = s.trunk("carrier", "+15557770000");
    let open = create_example(&s, "direct-open-room.json");
    // The PIN-protected room has another PIN key, so it does not conflict with the open room.
    let safe = create_example(&s, "pin-safe-room.json");
    let r = rule_json(&s, &safe);
    assert_eq!(
        r["rule"]["dispatchRuleDirect"],
        json!({"roomName": "safe-room", "pin": "12345"})
    );

    // Without a PIN the PIN rule wins and the caller is asked for it.
    let call = [
        "--to",
        "+15557770000",
        "--from",
        "+15551234567",
        "--ip",
        "203.0.113.5",
    ];
    let text = explain(&s, &call);
    assert!(
        text.starts_with(&format!(
            "REQUEST_PIN (rule {safe} \"My dispatch rule\", trunk {trunk} \"carrier\")"
        )),
        "{text}"
    );
    let mut with_pin = call.to_vec();
    with_pin.extend(["--pin", "12345"]);
    assert!(explain(&s, &with_pin).starts_with("ACCEPT → room safe-room ("));
    let mut no_pin = call.to_vec();
    no_pin.push("--no-pin");
    assert!(explain(&s, &no_pin).starts_with("ACCEPT → room open-room ("));
    let mut wrong = call.to_vec();
    wrong.extend(["--pin", "999"]);
    let text = explain(&s, &wrong);
    assert!(text.starts_with("REJECT BYE invalid_pin: "), "{text}");
    assert!(
        text.contains(&format!(
            "✗ rule {safe} \"My dispatch rule\": dropped (pin_mismatch) — "
        )),
        "{text}"
    );

    // A second open rule for all trunks claims the open room's key: refused, with the reason.
    let dir = TempDir::new("doc");
    as_dispatch_rule_json(dir.path(), "individual-agents.json");
    let out = s.cli_env_in(
        dir.path(),
        &["sip", "dispatch", "create", "dispatch-rule.json"],
    );
    let err = out.err();
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(&open), "names the existing rule: {err}");
    assert!(err.contains("(code: already_exists)"), "{err}");

    let list = s.cli(&["sip", "dispatch", "list"]);
    let table = list.out();
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table.contains("open-room") && table.contains("safe-room"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 3, "{table}");
    delete_rule(&s, &open);
    delete_rule(&s, &safe);
}

#[test]
fn seed_002_callee_attributes_and_metadata_rules() {
    let s = Server::start();
    s.trunk("carrier", "+1 555 777 0000");

    let callee = create_example(&s, "callee-number.json");
    let text = explain(
        &s,
        &[
            "--to",
            "15557770000",
            "--from",
            "+15551234567",
            "--ip",
            "203.0.113.5",
        ],
    );
    assert!(
        text.starts_with("ACCEPT → room number-_+15557770000 ("),
        "{text}"
    );
    delete_rule(&s, &callee);

    let attrs = create_example(&s, "attributes.json");
    let r = rule_json(&s, &attrs);
    assert_eq!(
        r["attributes"],
        json!({"<key_name1>": "<value1>", "<key_name2>": "<value2>"})
    );
    let answer = s
        .cli(&[
            "explain",
            "--to",
            "+15557770000",
            "--from",
            "+15551234567",
            "--ip",
            "203.0.113.5",
            "--json",
        ])
        .json();
    assert_eq!(answer["decision"], "accept");
    assert_eq!(answer["attributes"]["<key_name1>"], "<value1>");
    delete_rule(&s, &attrs);

    let meta = create_example(&s, "metadata.json");
    let r = rule_json(&s, &meta);
    assert_eq!(r["metadata"], "{\"is_internal\": true}");
    let text = explain(
        &s,
        &[
            "--to",
            "+15557770000",
            "--from",
            "+15551234567",
            "--ip",
            "203.0.113.5",
        ],
    );
    assert!(text.contains("metadata: {\"is_internal\": true}"), "{text}");
    delete_rule(&s, &meta);
    assert!(s.rules().is_empty());
}

#[test]
fn seed_002_update_with_trunks_cleared() {
    let s = Server::start();
    let trunk = s.trunk("carrier", "+15557770000");
    let created = s
        .cli(&[
            "sip",
            "dispatch",
            "create",
            "--name",
            "before",
            "--trunks",
            &trunk,
            "--individual",
            "call-",
            "--agent",
            "keep-me",
            "--json",
        ])
        .json();
    let id = created["sipDispatchRuleId"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(created["trunkIds"], json!([trunk]));

    // As written in the documentation: the bare rule file plus --trunks "[]".
    let dir = TempDir::new("doc");
    as_dispatch_rule_json(dir.path(), "update.json");
    let out = s.cli_env_in(
        dir.path(),
        &[
            "sip",
            "dispatch",
            "update",
            "--id",
            &id,
            "--trunks",
            "[]",
            "dispatch-rule.json",
        ],
    );
    assert_eq!(out.out().trim(), format!("SIPDispatchRuleID: {id}"));
    let r = rule_json(&s, &id);
    assert_eq!(r["name"], "My updated dispatch rule");
    assert_eq!(
        r["rule"],
        json!({"dispatchRuleCallee": {"roomPrefix": "number-", "pin": "1234"}})
    );
    assert!(r.get("trunkIds").is_none_or(|t| t == &json!([])), "{r}");
    // An update changes the fields given only: the agent stays.
    assert_eq!(r["roomConfig"]["agents"][0]["agentName"], "keep-me");

    // Flags alone: --pin keeps the stored kind and room prefix.
    s.cli(&["sip", "dispatch", "update", "--id", &id, "--pin", "4321"])
        .out();
    let r = rule_json(&s, &id);
    assert_eq!(
        r["rule"],
        json!({"dispatchRuleCallee": {"roomPrefix": "number-", "pin": "4321"}})
    );

    // Fields an update cannot express are applied to the whole rule.
    s.cli(&[
        "sip",
        "dispatch",
        "update",
        "--id",
        &id,
        "--numbers",
        "+15557770000",
        "--hide-phone-number",
    ])
    .out();
    let r = rule_json(&s, &id);
    assert_eq!(r["numbers"], json!(["+15557770000"]));
    assert_eq!(r["hidePhoneNumber"], true);
    assert_eq!(r["name"], "My updated dispatch rule");

    // --replace: the rule becomes exactly the file.
    s.cli_env_in(
        dir.path(),
        &[
            "sip",
            "dispatch",
            "update",
            "--id",
            &id,
            "--replace",
            "dispatch-rule.json",
        ],
    )
    .out();
    let r = rule_json(&s, &id);
    assert!(r.get("roomConfig").is_none(), "{r}");
    assert!(r.get("numbers").is_none(), "{r}");
    assert_eq!(r["name"], "My updated dispatch rule");

    // A long metadata value does not wrap the table row.
    let long = format!("{{\"notes\": \"{}\"}}", "x".repeat(300));
    s.cli(&[
        "sip",
        "dispatch",
        "update",
        "--id",
        &id,
        "--metadata",
        &long,
    ])
    .out();
    let list = s.cli(&["sip", "dispatch", "list"]);
    let table = list.out();
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(table.contains('…'), "{table}");
    assert!(table.lines().all(|l| l.chars().count() < 300), "{table}");
    let all = s.rules();
    assert_eq!(all[0]["metadata"], long, "--json keeps the whole value");
}

#[test]
fn dispatch_rules_by_flags_list_filters_and_delete() {
    let s = Server::start();
    let a = s.trunk("a", "+15550001111");
    let b = s.trunk("b", "+15550002222");
    let r1 = s
        .cli_env(&[
            "sip",
            "dispatch",
            "create",
            "--name",
            "one",
            "--trunk-id",
            &a,
            "--rule-type",
            "direct",
            "--room-name",
            "lobby",
            "--json",
        ])
        .json();
    let r2 = s
        .cli_env(&[
            "sip",
            "dispatch",
            "create",
            "--name",
            "two",
            "--trunks",
            &b,
            "--callee",
            "n-",
            "--randomize",
            "--json",
        ])
        .json();
    let id1 = r1["sipDispatchRuleId"].as_str().expect("id").to_string();
    let id2 = r2["sipDispatchRuleId"].as_str().expect("id").to_string();
    assert_eq!(
        r2["rule"]["dispatchRuleCallee"],
        json!({"roomPrefix": "n-", "randomize": true})
    );

    let only_a = s
        .cli(&["sip", "dispatch", "list", "--trunk-id", &a, "--json"])
        .json();
    assert_eq!(only_a.as_array().map(Vec::len), Some(1));
    assert_eq!(only_a[0]["sipDispatchRuleId"], id1.as_str());
    let by_id = s
        .cli(&["sip", "dispatch", "list", "--ids", &id2, "--json"])
        .json();
    assert_eq!(by_id[0]["name"], "two");

    let text = s.cli(&["sip", "dispatch", "get", &id1]).out().to_string();
    assert!(
        text.contains("kind:") && text.contains("direct") && text.contains("lobby"),
        "{text}"
    );

    let refused = s.cli(&[
        "sip", "dispatch", "create", "--name", "x", "--direct", "r", "--callee", "p",
    ]);
    assert!(
        refused
            .err()
            .contains("only one dispatch rule type is allowed"),
        "{}",
        refused.stderr
    );
    let refused = s.cli(&["sip", "dispatch", "create", "--name", "x"]);
    assert!(
        refused
            .err()
            .contains("--rule-type individual|direct|callee"),
        "{}",
        refused.stderr
    );

    let out = s
        .cli(&["sip", "dispatch", "delete", "--id", &id1, "--json"])
        .json();
    assert_eq!(out["sipDispatchRuleId"], id1.as_str());
    s.cli(&["sip", "dispatch", "delete", &id2]).out();
    assert!(
        s.cli(&["sip", "dispatch", "list"])
            .out()
            .starts_with("no dispatch rules")
    );
}

#[test]
fn inbound_trunks_with_flags_and_files() {
    let s = Server::start();
    let out = s.cli_env(&[
        "sip",
        "inbound",
        "create",
        "--name",
        "carrier",
        "--numbers",
        "+15550100,+15550101",
        "--numbers",
        "+1 555 0102",
        "--allowed-addresses",
        "203.0.113.0/24",
        "--auth-user",
        "alice",
        "--auth-pass",
        "s3cret",
        "--metadata",
        "m",
    ]);
    let line = out.out().trim().to_string();
    let id = line
        .strip_prefix("SIPTrunkID: ")
        .expect("SIPTrunkID line")
        .to_string();

    let t = s
        .cli_env(&["sip", "inbound", "get", "--id", &id, "--json"])
        .json();
    assert_eq!(
        t["numbers"],
        json!(["+15550100", "+15550101", "+1 555 0102"])
    );
    assert_eq!(t["allowedAddresses"], json!(["203.0.113.0/24"]));
    assert_eq!(t["authUsername"], "alice");

    let table = s.cli_env(&["sip", "inbound", "list"]).out().to_string();
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table.contains(&id) && table.contains("alice / ****"),
        "{table}"
    );
    assert!(
        !table.contains("s3cret"),
        "passwords are not printed: {table}"
    );

    // A file: {"trunk": {...}} in camelCase; a bare trunk in snake_case.
    let dir = TempDir::new("trunk");
    let f1 = dir.path().join("trunk.json");
    std::fs::write(&f1, r#"{"trunk": {"name": "file", "numbers": ["+15559990000"], "allowedAddresses": ["198.51.100.1"]}}"#)
        .expect("write");
    let f2 = dir.path().join("bare.json");
    std::fs::write(
        &f2,
        r#"{"name": "bare", "numbers": ["+15559990001"], "allowed_addresses": ["198.51.100.2"]}"#,
    )
    .expect("write");
    let t1 = s
        .cli_env(&[
            "sip",
            "inbound",
            "create",
            f1.to_str().unwrap_or_default(),
            "--json",
        ])
        .json();
    let t2 = s
        .cli_env(&[
            "sip",
            "inbound",
            "create",
            f2.to_str().unwrap_or_default(),
            "--name",
            "bare-renamed",
            "--json",
        ])
        .json();
    assert_eq!(t1["allowedAddresses"], json!(["198.51.100.1"]));
    assert_eq!(t2["name"], "bare-renamed");

    // List filters.
    let by_number = s
        .cli(&[
            "sip",
            "inbound",
            "list",
            "--numbers",
            "15559990000",
            "--json",
        ])
        .json();
    assert_eq!(by_number.as_array().map(Vec::len), Some(1));
    assert_eq!(by_number[0]["name"], "file");
    let by_id = s
        .cli(&["sip", "inbound", "list", "--ids", &id, "--json"])
        .json();
    assert_eq!(by_id[0]["sipTrunkId"], id.as_str());

    // Update by flags: only the fields given change.
    s.cli_env(&[
        "sip",
        "inbound",
        "update",
        "--id",
        &id,
        "--name",
        "renamed",
        "--numbers",
        "+15550200",
    ])
    .out();
    let t = s.cli_env(&["sip", "inbound", "get", &id, "--json"]).json();
    assert_eq!(t["name"], "renamed");
    assert_eq!(t["numbers"], json!(["+15550200"]));
    assert_eq!(t["authUsername"], "alice");
    assert_eq!(t["metadata"], "m");

    // Delete (positional ids, several at once).
    let t1_id = t1["sipTrunkId"].as_str().unwrap_or_default().to_string();
    let t2_id = t2["sipTrunkId"].as_str().unwrap_or_default().to_string();
    let out = s.cli_env(&["sip", "inbound", "delete", &t1_id, &t2_id]);
    assert!(out.out().contains(&t1_id) && out.stdout.contains(&t2_id));
    s.cli_env(&["sip", "inbound", "delete", "--id", &id]).out();
    assert!(
        s.cli_env(&["sip", "inbound", "list"])
            .out()
            .starts_with("no inbound trunks")
    );
}

#[test]
fn siphon_dispatch_agent_get_and_delete() {
    let s = Server::start();
    let number = "+15550100";

    // No trunk for the number and nothing to restrict a new one: refused, with the reason.
    let refused = s.cli(&[
        "dispatch",
        "agent",
        "--name",
        "customer-support",
        "--agent",
        "CustomerSupport",
        "--number",
        number,
    ]);
    let err = refused.err();
    assert!(err.contains("will not create an open one"), "{err}");
    assert!(
        err.contains("--allowed-address") && err.contains("--auth-user"),
        "{err}"
    );
    assert!(
        s.cli(&["sip", "inbound", "list", "--json"]).json() == json!([]),
        "no trunk was created"
    );

    let agent = [
        "dispatch",
        "agent",
        "--name",
        "customer-support",
        "--agent",
        "CustomerSupport",
        "--number",
        "+1 555 0100",
        "--allowed-address",
        "198.51.100.7",
        "--llm",
        "openai",
        "--instructions",
        "You are a helpful customer support agent.",
        "--greeting",
        "Thanks for calling. How can I help?",
        "--json",
    ];
    let first = s.cli(&agent).json();
    assert_eq!(first["created"], true);
    assert_eq!(first["trunk_created"], true);
    assert_eq!(first["name"], "customer-support");
    let rule_id = first["dispatch_id"]
        .as_str()
        .expect("dispatch_id")
        .to_string();
    let trunk_id = first["inbound_trunk_id"]
        .as_str()
        .expect("trunk")
        .to_string();
    assert_eq!(first["trunk_ids"], json!([trunk_id]));

    let trunk = s
        .cli(&["sip", "inbound", "get", &trunk_id, "--json"])
        .json();
    assert_eq!(trunk["numbers"], json!(["+15550100"]));
    assert_eq!(trunk["allowedAddresses"], json!(["198.51.100.7"]));

    let rule = rule_json(&s, &rule_id);
    assert_eq!(
        rule["rule"]["dispatchRuleIndividual"]["roomPrefix"],
        "inbound-call-"
    );
    let a = &rule["roomConfig"]["agents"][0];
    assert_eq!(a["agentName"], "CustomerSupport");
    let meta: Value = serde_json::from_str(a["metadata"].as_str().unwrap_or_default())
        .expect("job metadata is JSON");
    assert_eq!(
        meta,
        json!({
            "agent_config": {
                "llm": "openai",
                "instructions": "You are a helpful customer support agent.",
                "greeting": "Thanks for calling. How can I help?"
            },
            "inbound_trunk_id": trunk_id,
            "agent_number": "+15550100"
        })
    );

    // Twice: the same rule, no second rule or trunk.
    let second = s.cli(&agent).json();
    assert_eq!(second["dispatch_id"], rule_id.as_str());
    assert_eq!(second["created"], false);
    assert_eq!(second["updated"], false);
    assert_eq!(second["trunk_created"], false);
    assert_eq!(s.rules().len(), 1);
    assert_eq!(
        s.cli(&["sip", "inbound", "list", "--json"])
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // A changed agent configuration updates the existing rule.
    let text = s
        .cli(&[
            "dispatch",
            "agent",
            "--name",
            "customer-support",
            "--agent",
            "CustomerSupport",
            "--number",
            number,
            "--llm",
            "other",
        ])
        .out()
        .to_string();
    assert!(
        text.contains(&rule_id) && text.contains("updated"),
        "{text}"
    );
    assert_eq!(s.rules().len(), 1);

    // By trunk id.
    let by_trunk = s
        .cli(&[
            "dispatch",
            "agent",
            "--name",
            "customer-support",
            "--agent",
            "CustomerSupport",
            "--trunk-id",
            &trunk_id,
            "--json",
        ])
        .json();
    assert_eq!(by_trunk["dispatch_id"], rule_id.as_str());

    // More rules that receive calls for the number: another on its trunk, one for all
    // trunks filtered to the number. Not counted: a rule for another number, a rule on
    // another trunk.
    let sales = s
        .cli(&[
            "sip",
            "dispatch",
            "create",
            "--name",
            "sales-team",
            "--trunks",
            &trunk_id,
            "--individual",
            "sales-",
            "--inbound-numbers",
            "+15551110000",
            "--json",
        ])
        .json();
    let wild = s
        .cli(&[
            "sip",
            "dispatch",
            "create",
            "--name",
            "wild",
            "--direct",
            "lobby",
            "--numbers",
            "1 (555) 0100",
            "--json",
        ])
        .json();
    s.cli(&[
        "sip",
        "dispatch",
        "create",
        "--name",
        "elsewhere",
        "--direct",
        "x",
        "--numbers",
        "+15550199",
    ])
    .out();
    let other_trunk = s.trunk("other", "+15550300");
    s.cli(&[
        "sip",
        "dispatch",
        "create",
        "--name",
        "other",
        "--trunks",
        &other_trunk,
        "--direct",
        "y",
    ])
    .out();
    let mut expected = vec![
        rule_id.clone(),
        sales["sipDispatchRuleId"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        wild["sipDispatchRuleId"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ];
    expected.sort();

    let found = s
        .cli_env(&["dispatch", "get", "--number", "+1 (555) 0100", "--json"])
        .json();
    let mut keys: Vec<_> = found.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["count", "dispatch_rules"], "{found}");
    assert_eq!(found["count"], 3);
    let rules = found["dispatch_rules"].as_array().expect("array");
    for r in rules {
        let mut keys: Vec<_> = r.as_object().expect("object").keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["dispatch_id", "name", "trunk_ids"], "{r}");
    }
    let mut ids: Vec<String> = rules
        .iter()
        .map(|r| r["dispatch_id"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, expected);
    let cs = rules
        .iter()
        .find(|r| r["dispatch_id"] == rule_id.as_str())
        .expect("rule");
    assert_eq!(
        cs,
        &json!({"dispatch_id": rule_id, "name": "customer-support", "trunk_ids": [trunk_id]})
    );

    let one = s
        .cli_env(&["dispatch", "get", "--id", &rule_id, "--json"])
        .json();
    assert_eq!(
        one,
        json!({"dispatch_rules": [{"dispatch_id": rule_id, "name": "customer-support", "trunk_ids": [trunk_id]}], "count": 1})
    );
    let table = s
        .cli_env(&["dispatch", "get", "--number", number])
        .out()
        .to_string();
    assert_eq!(table.lines().count(), 4, "{table}");

    let deleted = s
        .cli_env(&["dispatch", "delete", "--number", number, "--json"])
        .json();
    let obj = deleted.as_object().expect("object");
    let mut keys: Vec<_> = obj.keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["deleted_count", "deleted_ids", "success"],
        "{deleted}"
    );
    assert_eq!(deleted["success"], true);
    assert_eq!(deleted["deleted_count"], 3);
    let mut got: Vec<String> = deleted["deleted_ids"]
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    got.sort();
    assert_eq!(got, expected);

    assert_eq!(
        s.cli(&["dispatch", "get", "--number", number, "--json"])
            .json(),
        json!({"dispatch_rules": [], "count": 0})
    );
    let names: Vec<Value> = s.rules().iter().map(|r| r["name"].clone()).collect();
    assert_eq!(names.len(), 2, "the other rules stay: {names:?}");
    s.cli(&["sip", "inbound", "get", &trunk_id]).out();

    let gone = s.cli(&["dispatch", "delete", "--id", &rule_id]);
    assert!(gone.err().contains("does not exist"), "{}", gone.stderr);
    assert!(gone.stderr.contains("not_found"), "{}", gone.stderr);
}

#[test]
fn explain_reject_and_json() {
    let s = Server::start();
    let text = explain(
        &s,
        &[
            "--to",
            "+19995550000",
            "--from",
            "+15551234567",
            "--ip",
            "203.0.113.5",
        ],
    );
    let first = text.lines().next().unwrap_or_default();
    assert!(first.starts_with("REJECT 404 no_trunk: "), "{text}");
    assert!(text.contains("trace:\n  • trunk: no_trunk — "), "{text}");

    let trunk = s.trunk("carrier", "+15557770000");
    let text = explain(
        &s,
        &[
            "--to",
            "+15557770000",
            "--from",
            "+15551234567",
            "--ip",
            "203.0.113.5",
        ],
    );
    assert!(text.starts_with("REJECT 404 no_rule: "), "{text}");
    assert!(
        text.contains(&format!("✓ trunk {trunk} \"carrier\": selected — ")),
        "{text}"
    );

    // A source outside the trunk's addresses: the trunk is dropped, and the trace says why.
    let text = explain(&s, &["--to", "+15557770000", "--ip", "192.0.2.1"]);
    assert!(text.starts_with("REJECT 404 no_trunk"), "{text}");
    assert!(
        text.contains(&format!(
            "✗ trunk {trunk} \"carrier\": dropped (address_not_allowed) — "
        )),
        "{text}"
    );

    let answer = s
        .cli_env(&["explain", "--to", "+15557770000", "--json"])
        .json();
    assert_eq!(answer["decision"], "reject");
    assert_eq!(answer["sip_status"], 404);
    assert!(answer["trace"].is_array());

    let bad = s.cli(&["explain", "--to", "+15557770000", "--ip", "not-an-ip"]);
    assert!(bad.err().contains("is not an IP address"), "{}", bad.stderr);
}

#[test]
fn errors_say_what_is_wrong() {
    let s = Server::start();

    // No server on that port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let url = format!("http://127.0.0.1:{port}");
    let out = run_in(
        s.dir.path(),
        &[
            "sip",
            "dispatch",
            "list",
            "--url",
            &url,
            "--api-key",
            "devkey",
            "--api-secret",
            "secret",
        ],
        &[],
    );
    let err = out.err();
    assert!(
        err.starts_with(&format!("error: cannot reach switchboard at {url}: ")),
        "{err}"
    );
    assert!(
        err.contains("is `switchboard serve` running? (set --url or LIVEKIT_URL)"),
        "{err}"
    );

    // Wrong secret.
    let out = run_in(
        s.dir.path(),
        &[
            "sip",
            "inbound",
            "list",
            "--url",
            &s.url,
            "--api-key",
            "devkey",
            "--api-secret",
            "wrong",
        ],
        &[],
    );
    let err = out.err();
    assert!(err.contains("(code: unauthenticated)"), "{err}");
    assert!(err.contains("check the API key and secret"), "{err}");
    // The native helper routes check the token too.
    let out = run_in(
        s.dir.path(),
        &[
            "dispatch",
            "get",
            "--number",
            "+15550100",
            "--url",
            &s.url,
            "--api-key",
            "devkey",
            "--api-secret",
            "wrong",
        ],
        &[],
    );
    assert!(
        out.err().contains("(code: unauthenticated)"),
        "{}",
        out.stderr
    );
    // Unknown key, through the environment.
    let out = run_in(
        s.dir.path(),
        &["sip", "inbound", "list"],
        &[
            ("LIVEKIT_URL", &s.url),
            ("LIVEKIT_API_KEY", "nokey"),
            ("LIVEKIT_API_SECRET", "secret"),
        ],
    );
    assert!(
        out.err().contains("invalid API key \"nokey\""),
        "{}",
        out.stderr
    );

    // No key at all.
    let out = run_in(
        s.dir.path(),
        &["sip", "inbound", "list", "--url", &s.url],
        &[],
    );
    assert!(
        out.err()
            .contains("no API key: pass --api-key, or set LIVEKIT_API_KEY"),
        "{}",
        out.stderr
    );

    // Unknown ids.
    for args in [
        ["sip", "dispatch", "get", "--id", "SDR_unknown"],
        ["sip", "dispatch", "delete", "--id", "SDR_unknown"],
        ["sip", "inbound", "get", "--id", "ST_unknown"],
        ["sip", "inbound", "delete", "--id", "ST_unknown"],
    ] {
        let out = s.cli(&args);
        let err = out.err();
        assert!(
            err.contains("does not exist") && err.contains("(code: not_found)"),
            "{args:?}: {err}"
        );
    }
    let out = s.cli(&[
        "sip",
        "dispatch",
        "update",
        "--id",
        "SDR_unknown",
        "--name",
        "x",
    ]);
    assert!(out.err().contains("does not exist"), "{}", out.stderr);

    // Malformed JSON files name the file and the problem.
    let dir = TempDir::new("bad");
    let bad = dir.path().join("broken.json");
    std::fs::write(&bad, "{\"dispatch_rule\": {\"rule\": \n").expect("write");
    let bad_path = bad.to_str().unwrap_or_default();
    let out = s.cli(&["sip", "dispatch", "create", bad_path]);
    let err = out.err();
    assert!(
        err.contains(&format!("{bad_path} is not valid JSON: ")),
        "{err}"
    );
    assert!(err.contains("line 2"), "{err}");
    let typo = dir.path().join("typo.json");
    std::fs::write(
        &typo,
        r#"{"dispatch_rule": {"rule": {"dispatchRuleIndivdual": {"roomPrefix": "call-"}}}}"#,
    )
    .expect("write");
    let typo_path = typo.to_str().unwrap_or_default();
    let out = s.cli(&["sip", "dispatch", "create", typo_path]);
    let err = out.err();
    assert!(err.contains(typo_path), "{err}");
    assert!(
        err.contains("unknown field \"dispatch_rule.rule.dispatchRuleIndivdual\""),
        "{err}"
    );
    let wrong_type = dir.path().join("type.json");
    std::fs::write(&wrong_type, r#"{"trunk": {"numbers": "+15550100"}}"#).expect("write");
    let out = s.cli(&[
        "sip",
        "inbound",
        "create",
        wrong_type.to_str().unwrap_or_default(),
    ]);
    assert!(
        out.err()
            .contains("is not a valid CreateSIPInboundTrunkRequest"),
        "{}",
        out.stderr
    );
    let out = s.cli(&[
        "sip",
        "dispatch",
        "create",
        "/nonexistent/dispatch-rule.json",
    ]);
    assert!(
        out.err()
            .contains("cannot read /nonexistent/dispatch-rule.json"),
        "{}",
        out.stderr
    );
    assert!(s.rules().is_empty());
}

#[test]
fn dotenv_file_in_the_working_directory() {
    let s = Server::start();
    let dir = TempDir::new("dotenv");
    std::fs::write(
        dir.path().join(".env"),
        format!("# switchboard\nLIVEKIT_URL={}\nLIVEKIT_API_KEY=devkey\nLIVEKIT_API_SECRET=\"secret\"\n", s.url),
    )
    .expect("write .env");
    let out = run_in(
        dir.path(),
        &[
            "sip",
            "inbound",
            "create",
            "--name",
            "dot",
            "--numbers",
            "+15550100",
            "--allowed-addresses",
            "203.0.113.1",
        ],
        &[],
    );
    assert!(out.out().starts_with("SIPTrunkID: ST_"), "{}", out.stdout);
    let out = run_in(dir.path(), &["sip", "inbound", "list"], &[]);
    assert!(out.out().contains("dot"), "{}", out.stdout);
}
