//! Dashboard page times at scale: fills a SQLite database with 10,000 rules and 1,000,000
//! call records, starts the built binary on it, logs in and times every page (server time
//! as seen by a client on loopback). Prints a Markdown table (docs/benchmarks.md,
//! "Dashboard").
//!
//! ```sh
//! cargo bench -p switchboard-server --bench dashboard_pages
//! ```
//!
//! `SWITCHBOARD_BENCH_RULES`, `SWITCHBOARD_BENCH_CALLS` and `SWITCHBOARD_BENCH_RUNS` change
//! the sizes (defaults 10,000 / 1,000,000 / 20). Filling takes a few minutes.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{API_KEY, API_SECRET, Server};

// ---------------------------------------------------------------------------------------
// Page times at scale

/// Fills the SQLite database at `path` with `rules` trunks and rules (every fourth with a
/// route policy) and `calls` call records: a tenth of them on one "hot" rule, the rest
/// spread evenly, over the last 30 days. Returns the hot rule's id.
fn fill(path: &Path, rules: usize, calls: usize) -> String {
    use livekit_protocol as lk;
    use prost::Message;
    use switchboard_store::{
        CallRecord, CallState, Change, FinalStatus, PolicyRecord, Record, SqliteStore, Store,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let store = SqliteStore::open(path)
            .await
            .expect("open the bench database");
        let now = jiff::Timestamp::now().as_millisecond();
        let started = Instant::now();
        let mut changes = Vec::with_capacity(rules * 2 + rules / 4);
        let rule_id = |i: usize| format!("SDR_bench{i:07}");
        for i in 0..rules {
            let trunk_id = format!("ST_bench{i:07}");
            let created = now - 30 * 86_400_000 + i as i64;
            let trunk = lk::SipInboundTrunkInfo {
                sip_trunk_id: trunk_id.clone(),
                name: format!("inbound +1555{i:07}"),
                numbers: vec![format!("+1555{i:07}")],
                allowed_addresses: vec!["127.0.0.1".into()],
                created_at: Some(pbjson_types::Timestamp {
                    seconds: created / 1000,
                    nanos: 0,
                }),
                updated_at: Some(pbjson_types::Timestamp {
                    seconds: created / 1000,
                    nanos: 0,
                }),
                ..Default::default()
            };
            let rule = lk::SipDispatchRuleInfo {
                sip_dispatch_rule_id: rule_id(i),
                name: format!("route {i}"),
                trunk_ids: vec![trunk_id.clone()],
                rule: Some(lk::SipDispatchRule {
                    rule: Some(lk::sip_dispatch_rule::Rule::DispatchRuleIndividual(
                        lk::SipDispatchRuleIndividual {
                            room_prefix: "inbound-call-".into(),
                            ..Default::default()
                        },
                    )),
                }),
                room_config: Some(lk::RoomConfiguration {
                    agents: vec![lk::RoomAgentDispatch {
                        agent_name: format!("agent-{}", i % 50),
                        metadata: "{\"agent_config\":{}}".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                created_at: Some(pbjson_types::Timestamp {
                    seconds: created / 1000,
                    nanos: 0,
                }),
                updated_at: Some(pbjson_types::Timestamp {
                    seconds: created / 1000,
                    nanos: 0,
                }),
                ..Default::default()
            };
            changes.push(Change::PutTrunk(Record {
                id: trunk_id,
                name: trunk.name.clone(),
                body: trunk.encode_to_vec(),
                created_at_ms: created,
                updated_at_ms: created,
            }));
            changes.push(Change::PutRule(Record {
                id: rule_id(i),
                name: rule.name.clone(),
                body: rule.encode_to_vec(),
                created_at_ms: created,
                updated_at_ms: created,
            }));
            if i % 4 == 0 {
                let policy = json!({
                    "rule_id": rule_id(i),
                    "timezone": "America/New_York",
                    "window_start": "09:00:00",
                    "window_end": "18:00:00",
                    "active_days": ["mon", "tue", "wed", "thu", "fri"],
                    "max_concurrent_calls": 5,
                });
                changes.push(Change::PutPolicy(PolicyRecord {
                    rule_id: rule_id(i),
                    body_json: policy.to_string(),
                    created_at_ms: created,
                    updated_at_ms: created,
                }));
            }
        }
        let version = store.version().await.expect("version");
        store
            .apply(version, &changes)
            .await
            .expect("store the rules");
        println!("{rules} trunks and rules stored in {:?}", started.elapsed());
        let started = Instant::now();
        let statuses = [
            FinalStatus::Completed,
            FinalStatus::Completed,
            FinalStatus::Completed,
            FinalStatus::Completed,
            FinalStatus::Completed,
            FinalStatus::Completed,
            FinalStatus::Completed,
            FinalStatus::Rejected,
            FinalStatus::Failed,
            FinalStatus::Cancelled,
        ];
        let span = 30 * 86_400_000_i64;
        let mut batch = Vec::with_capacity(5000);
        for n in 0..calls {
            let rule = if n % 10 == 0 { 0 } else { n % rules };
            let status = statuses[n % statuses.len()];
            let created = now - span + (n as i64 * span / calls as i64);
            let answered = (status == FinalStatus::Completed).then_some(created + 2_000);
            batch.push(CallRecord {
                id: format!("SCL_bench{n:09}"),
                sip_call_id: format!("bench-{n}@127.0.0.1"),
                node_id: "bench-node".into(),
                trunk_id: Some(format!("ST_bench{rule:07}")),
                rule_id: Some(rule_id(rule)),
                routed_from_rule_id: None,
                room_name: Some(format!("inbound-call-_{n}")),
                caller: format!("+1666{:07}", n % 200_000),
                called: format!("+1555{rule:07}"),
                source_ip: "127.0.0.1".into(),
                transport: "udp".into(),
                state: CallState::Ended,
                final_status: Some(status),
                sip_status: Some(match status {
                    FinalStatus::Completed => 200,
                    FinalStatus::Rejected => 486,
                    FinalStatus::Failed => 480,
                    _ => 487,
                }),
                reason: Some(
                    match status {
                        FinalStatus::Completed => "caller_bye",
                        FinalStatus::Rejected => "over_capacity",
                        FinalStatus::Failed => "no_agent",
                        _ => "cancelled",
                    }
                    .into(),
                ),
                hangup_by: Some("caller".into()),
                pin_attempts: 0,
                created_at_ms: created,
                answered_at_ms: answered,
                ended_at_ms: Some(created + 60_000),
                updated_at_ms: created + 60_000,
            });
            if batch.len() == 5000 {
                store.save_calls(&batch).await.expect("store calls");
                batch.clear();
            }
        }
        if !batch.is_empty() {
            store.save_calls(&batch).await.expect("store calls");
        }
        println!("{calls} calls stored in {:?}", started.elapsed());
        store.close().await;
        rule_id(0)
    })
}

/// A logged-in HTTP client of the dashboard (no redirects followed).
struct Browser {
    base: String,
    client: reqwest::Client,
    cookie: String,
    rt: tokio::runtime::Runtime,
}

impl Browser {
    fn login(base: &str) -> Browser {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let cookie = rt.block_on(async {
            let form = client
                .get(format!("{base}/dashboard/login"))
                .send()
                .await
                .expect("the login page");
            let login_cookie = form
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.starts_with("sb_login="))
                .and_then(|v| v.split(';').next())
                .expect("a login cookie")
                .to_string();
            let token = login_cookie.trim_start_matches("sb_login=").to_string();
            let resp = client
                .post(format!("{base}/dashboard/login"))
                .header("cookie", &login_cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "login_token={token}&api_key={API_KEY}&api_secret={API_SECRET}&next=%2Fdashboard%2Frules"
                ))
                .send()
                .await
                .expect("log in");
            assert_eq!(resp.status().as_u16(), 303, "login failed");
            resp.headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.starts_with("sb_session="))
                .and_then(|v| v.split(';').next())
                .expect("a session cookie")
                .to_string()
        });
        Browser {
            base: base.to_string(),
            client,
            cookie,
            rt,
        }
    }

    /// GETs `path`; returns the status, the body and the time to the whole body.
    fn get(&self, path: &str) -> (u16, String, Duration) {
        self.rt.block_on(async {
            let t = Instant::now();
            let resp = self
                .client
                .get(format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            (status, body, t.elapsed())
        })
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Median and maximum of `runs` timed GETs of `path`, after one warm-up.
fn measure(b: &Browser, path: &str, runs: usize) -> (Duration, Duration, usize) {
    let (status, body, _) = b.get(path);
    assert_eq!(status, 200, "{path} answered {status}: {body}");
    let mut times: Vec<Duration> = (0..runs).map(|_| b.get(path).2).collect();
    times.sort();
    (times[times.len() / 2], times[times.len() - 1], body.len())
}

fn main() {
    let rules = env_usize("SWITCHBOARD_BENCH_RULES", 10_000);
    let calls = env_usize("SWITCHBOARD_BENCH_CALLS", 1_000_000);
    let runs = env_usize("SWITCHBOARD_BENCH_RUNS", 20);
    let hot = Arc::new(Mutex::new(String::new()));
    let hot_out = hot.clone();
    let server = Server::start_with(
        move |dir| {
            let path = dir.join("switchboard.db");
            *hot_out.lock().unwrap_or_else(|e| e.into_inner()) = fill(&path, rules, calls);
            path.to_string_lossy().into_owned()
        },
        None,
        &[],
        &[],
    );
    let hot = hot.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let b = Browser::login(&server.url);
    let typical = format!("SDR_bench{:07}", rules / 2 + 1);
    let (_, hot_page, _) = b.get(&format!("/dashboard/rules/{hot}"));
    let older = hot_page
        .split("?page=")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(str::to_string)
        .unwrap_or_default();
    let (_, calls_page, _) = b.get("/dashboard/calls");
    let calls_older = calls_page
        .split("page=")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(str::to_string)
        .unwrap_or_default();
    let pages = [
        (
            "rules, first page".to_string(),
            "/dashboard/rules".to_string(),
        ),
        ("rules, page 150".into(), "/dashboard/rules?page=150".into()),
        (
            "rules, search by number".into(),
            format!("/dashboard/rules?q=%2B1555{:07}", rules / 3),
        ),
        (
            "rules, search by agent".into(),
            "/dashboard/rules?q=agent-7".into(),
        ),
        (
            format!("route detail, hot rule ({} calls)", calls / 10),
            format!("/dashboard/rules/{hot}"),
        ),
        (
            "route detail, hot rule, older page".into(),
            format!("/dashboard/rules/{hot}?page={older}"),
        ),
        (
            format!(
                "route detail, typical rule (~{} calls)",
                calls * 9 / 10 / rules.max(1)
            ),
            format!("/dashboard/rules/{typical}"),
        ),
        ("create-route form".into(), "/dashboard/rules/new".into()),
        ("calls, newest".into(), "/dashboard/calls".into()),
        (
            "calls, older page".into(),
            format!("/dashboard/calls?page={calls_older}"),
        ),
        (
            "calls, by number".into(),
            "/dashboard/calls?number=%2B16660001234".into(),
        ),
        (
            "calls, by rule".into(),
            format!("/dashboard/calls?rule={hot}"),
        ),
        (
            "calls, status failed".into(),
            "/dashboard/calls?status=failed".into(),
        ),
        (
            "calls, time range".into(),
            "/dashboard/calls?since=2000-01-01T00%3A00&until=2100-01-01T00%3A00".into(),
        ),
        ("live calls".into(), "/dashboard/live".into()),
        ("trunks, first page".into(), "/dashboard/trunks".into()),
        (
            "trunks, page 150".into(),
            "/dashboard/trunks?page=150".into(),
        ),
        ("agents".into(), "/dashboard/agents".into()),
        ("explain form".into(), "/dashboard/explain".into()),
    ];
    println!("\n{rules} rules, {calls} calls; {runs} requests per page (after one warm-up)\n");
    println!("| page | median | max | size |");
    println!("|---|---:|---:|---:|");
    let mut worst = Duration::ZERO;
    for (label, path) in &pages {
        let (median, max, size) = measure(&b, path, runs);
        worst = worst.max(median);
        println!(
            "| {label} | {:.1} ms | {:.1} ms | {} KB |",
            median.as_secs_f64() * 1000.0,
            max.as_secs_f64() * 1000.0,
            size / 1024
        );
    }
    println!("\nslowest median: {:.1} ms", worst.as_secs_f64() * 1000.0);
}
