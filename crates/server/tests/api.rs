//! The HTTP API against the built binary: hostile and malformed requests each get the
//! documented error and change nothing; conflict checks are atomic under concurrency, on
//! SQLite, on PostgreSQL, and across two nodes sharing one PostgreSQL; a write on one node
//! reaches the other within a second.

mod support;

use std::time::{Duration, Instant};

use livekit_token::{AccessToken, SIPGrants};
use serde_json::{Value, json};
use support::*;

fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn token() -> String {
    AccessToken::with_api_key(API_KEY, API_SECRET)
        .with_ttl(Duration::from_secs(600))
        .with_sip_grants(SIPGrants {
            admin: true,
            call: false,
        })
        .to_jwt()
        .expect("a token")
}

/// POSTs `body` with `content_type` and an optional bearer token; returns status and body.
async fn post(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, String) {
    let mut req = client
        .post(url)
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("the server answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

async fn twirp(client: &reqwest::Client, base: &str, method: &str, body: Value) -> (u16, Value) {
    let (status, text) = post(
        client,
        &format!("{base}/twirp/livekit.SIP/{method}"),
        Some(&token()),
        "application/json",
        body.to_string(),
    )
    .await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The ids of every stored trunk and rule.
async fn inventory(client: &reqwest::Client, base: &str) -> (Vec<Value>, Vec<Value>) {
    let (_, t) = twirp(client, base, "ListSIPInboundTrunk", json!({})).await;
    let (_, r) = twirp(client, base, "ListSIPDispatchRule", json!({})).await;
    let items = |v: &Value| v["items"].as_array().cloned().unwrap_or_default();
    (items(&t), items(&r))
}

/// Sends raw bytes to the server and returns what it answers (until it closes or 5 s).
fn raw_request(base: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("send");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// base64url without padding.
fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// A correctly signed HS256 token that expired an hour ago (beyond the 60 s leeway).
fn expired_token() -> String {
    use hmac::{Hmac, Mac};
    let now = jiff::Timestamp::now().as_second();
    let header = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64url(
        json!({"iss": API_KEY, "sub": "x", "nbf": now - 7200, "exp": now - 3600, "sip": {"admin": true}})
            .to_string()
            .as_bytes(),
    );
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(API_SECRET.as_bytes()).expect("any key length");
    mac.update(format!("{header}.{payload}").as_bytes());
    let sig = b64url(&mac.finalize().into_bytes());
    format!("{header}.{payload}.{sig}")
}

/// (what, token, content type, body, expected status, expected code, the message mentions)
type Case<'a> = (
    &'a str,
    Option<&'a str>,
    &'a str,
    Vec<u8>,
    u16,
    &'a str,
    &'a str,
);

#[test]
fn hostile_requests_get_documented_errors_and_change_nothing() {
    let server = sqlite_server();
    let base = server.url.clone();
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let create = format!("{base}/twirp/livekit.SIP/CreateSIPInboundTrunk");
        let valid = json!({"trunk": {"name": "t", "numbers": ["+15550100"]}}).to_string();
        let wrong_secret = AccessToken::with_api_key(API_KEY, "not-the-secret")
            .with_sip_grants(SIPGrants {
                admin: true,
                call: false,
            })
            .to_jwt()
            .unwrap();
        let unknown_key = AccessToken::with_api_key("nobody", API_SECRET)
            .with_sip_grants(SIPGrants {
                admin: true,
                call: false,
            })
            .to_jwt()
            .unwrap();
        let no_grant = AccessToken::with_api_key(API_KEY, API_SECRET)
            .to_jwt()
            .unwrap();
        let expired = expired_token();
        let good = token();
        let cases: Vec<Case<'_>> = vec![
            (
                "no token",
                None,
                "application/json",
                valid.clone().into(),
                401,
                "unauthenticated",
                "Authorization",
            ),
            (
                "garbage token",
                Some("abc.def"),
                "application/json",
                valid.clone().into(),
                401,
                "unauthenticated",
                "invalid authorization token",
            ),
            (
                "wrong secret",
                Some(&wrong_secret),
                "application/json",
                valid.clone().into(),
                401,
                "unauthenticated",
                "signature",
            ),
            (
                "unknown API key",
                Some(&unknown_key),
                "application/json",
                valid.clone().into(),
                401,
                "unauthenticated",
                "nobody",
            ),
            (
                "expired token",
                Some(&expired),
                "application/json",
                valid.clone().into(),
                401,
                "unauthenticated",
                "expired",
            ),
            (
                "no sip.admin grant",
                Some(&no_grant),
                "application/json",
                valid.clone().into(),
                403,
                "permission_denied",
                "sip.admin",
            ),
            (
                "malformed protobuf",
                Some(&good),
                "application/protobuf",
                vec![0xff, 0xff, 0xff, 0x0f, 0x01],
                400,
                "malformed",
                "protobuf",
            ),
            (
                "malformed JSON",
                Some(&good),
                "application/json",
                b"{\"trunk\": {".to_vec(),
                400,
                "malformed",
                "JSON",
            ),
            (
                "JSON of the wrong shape",
                Some(&good),
                "application/json",
                b"{\"trunk\": {\"numbers\": 5}}".to_vec(),
                400,
                "malformed",
                "JSON",
            ),
            (
                "unsupported content type",
                Some(&good),
                "text/plain",
                valid.clone().into(),
                404,
                "bad_route",
                "Content-Type",
            ),
            (
                "invalid trunk",
                Some(&good),
                "application/json",
                json!({"trunk": {"allowed_addresses": ["10.0.0.0/99"]}})
                    .to_string()
                    .into(),
                400,
                "invalid_argument",
                "CIDR",
            ),
            (
                "trunk without restriction",
                Some(&good),
                "application/json",
                json!({"trunk": {"name": "open"}}).to_string().into(),
                400,
                "invalid_argument",
                "for security",
            ),
            (
                "client-chosen id",
                Some(&good),
                "application/json",
                json!({"trunk": {"sip_trunk_id": "ST_mine", "numbers": ["+1"]}})
                    .to_string()
                    .into(),
                400,
                "invalid_argument",
                "assigns",
            ),
        ];
        for (what, tok, ct, body, status, code, needle) in cases {
            let (got_status, text) = post(&client, &create, tok, ct, body).await;
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{what}: the error body is not JSON: {text:?}"));
            assert_eq!(got_status, status, "{what}: {text}");
            assert_eq!(v["code"], code, "{what}: {text}");
            let msg = v["msg"].as_str().unwrap_or_default();
            assert!(
                msg.contains(needle),
                "{what}: message {msg:?} should mention {needle:?}"
            );
        }
        // An oversized body is refused from its declared length, before any of it is read
        // (sent raw: the client declares 2 MiB and waits for the answer).
        let answer = raw_request(
            &base,
            &format!(
                "POST /twirp/livekit.SIP/CreateSIPInboundTrunk HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/json\r\nAuthorization: Bearer {good}\r\n\
             Content-Length: 2097152\r\n\r\n"
            ),
        );
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(
            answer.contains("resource_exhausted") && answer.contains("limit"),
            "{answer}"
        );
        // Other routes and methods.
        let (s, text) = post(
            &client,
            &format!("{base}/twirp/livekit.SIP/NoSuchMethod"),
            Some(&good),
            "application/json",
            "{}",
        )
        .await;
        assert_eq!(s, 404, "{text}");
        assert!(text.contains("bad_route"), "{text}");
        let (s, text) = post(
            &client,
            &format!("{base}/twirp/livekit.SIP/CreateSIPParticipant"),
            Some(&good),
            "application/json",
            "{}",
        )
        .await;
        assert_eq!(s, 501, "{text}");
        assert!(text.contains("inbound"), "{text}");
        let (s, text) = post(
            &client,
            &format!("{base}/nope"),
            Some(&good),
            "application/json",
            "{}",
        )
        .await;
        assert_eq!(s, 404, "{text}");
        // The native API: explain's own validation.
        let explain = format!("{base}/api/v1/explain");
        for (body, needle) in [
            (json!({"from": "+1"}), "`to` is required"),
            (
                json!({"to": "+1", "source_ip": "10.0.0.300"}),
                "not an IP address",
            ),
            (json!({"to": "+1", "at": "yesterday"}), "RFC 3339"),
            (json!({"to": "+1", "pin": "12a"}), "digits"),
            (json!({"to": "+1", "pin": "1", "no_pin": true}), "not both"),
            (json!({"to": "+1", "surprise": 1}), "surprise"),
        ] {
            let (s, text) = post(
                &client,
                &explain,
                Some(&good),
                "application/json",
                body.to_string(),
            )
            .await;
            assert_eq!(s, 400, "{body}: {text}");
            assert!(text.contains(needle), "{body}: {text}");
        }
        let (s, text) = post(
            &client,
            &explain,
            None,
            "application/json",
            json!({"to": "+1"}).to_string(),
        )
        .await;
        assert_eq!(s, 401, "{text}");
        // Nothing was stored.
        let (trunks, rules) = inventory(&client, &base).await;
        assert!(
            trunks.is_empty() && rules.is_empty(),
            "{trunks:?} {rules:?}"
        );
        // And the server still works.
        let (s, v) = twirp(
            &client,
            &base,
            "CreateSIPInboundTrunk",
            json!({"trunk": {"numbers": ["+15550100"]}}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let (s, text) = post(
            &client,
            &explain,
            Some(&good),
            "application/json",
            json!({"to": "15550100"}).to_string(),
        )
        .await;
        assert_eq!(s, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["reason"], "no_rule");
        assert_eq!(v["sip_status"], 404);
    });
}

/// Fires `n` identical rule creations at the given servers at once; returns (successes,
/// conflicts) and checks that exactly one rule is stored.
async fn race_identical_rules(bases: &[String], n: usize) -> (usize, usize) {
    let client = reqwest::Client::new();
    let body = json!({"dispatch_rule": {
        "name": "raced",
        "numbers": ["+15550199"],
        "rule": {"dispatchRuleDirect": {"roomName": "raced-room"}},
    }});
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (client, base, body) =
                (client.clone(), bases[i % bases.len()].clone(), body.clone());
            tokio::spawn(async move { twirp(&client, &base, "CreateSIPDispatchRule", body).await })
        })
        .collect();
    let (mut ok, mut conflict) = (0, 0);
    for t in tasks {
        let (status, v) = t.await.expect("the task finishes");
        match status {
            200 => ok += 1,
            409 => {
                assert_eq!(v["code"], "already_exists", "{v}");
                conflict += 1;
            }
            other => panic!("unexpected answer {other}: {v}"),
        }
    }
    for base in bases {
        let (_, rules) = inventory(&client, base).await;
        assert_eq!(rules.len(), 1, "{base} stores {rules:?}");
    }
    (ok, conflict)
}

#[test]
fn twenty_concurrent_conflicting_creates_leave_one_on_sqlite() {
    let server = sqlite_server();
    let (ok, conflict) =
        runtime().block_on(race_identical_rules(std::slice::from_ref(&server.url), 20));
    assert_eq!((ok, conflict), (1, 19));
}

#[test]
fn twenty_concurrent_conflicting_creates_leave_one_on_postgres() {
    let (url, drop_schema) = pg_schema("api_race");
    let server = Server::start(move |_| url, Some(drop_schema));
    let (ok, conflict) =
        runtime().block_on(race_identical_rules(std::slice::from_ref(&server.url), 20));
    assert_eq!((ok, conflict), (1, 19));
}

#[test]
fn two_nodes_sharing_postgres_stay_consistent() {
    let (url, drop_schema) = pg_schema("api_nodes");
    let url_b = url.clone();
    let a = Server::start(move |_| url, Some(drop_schema));
    let b = Server::start(move |_| url_b, None);
    let bases = [a.url.clone(), b.url.clone()];
    runtime().block_on(async {
        // Conflicting creates spread over both nodes: exactly one wins.
        let (ok, conflict) = race_identical_rules(&bases, 20).await;
        assert_eq!((ok, conflict), (1, 19));
        // A trunk created on node A is used by node B's routing within a second.
        let client = reqwest::Client::new();
        let (s, v) = twirp(
            &client,
            &bases[0],
            "CreateSIPInboundTrunk",
            json!({"trunk": {"numbers": ["+15550199"]}}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let trunk_id = v["sipTrunkId"].as_str().unwrap_or_default().to_string();
        let started = Instant::now();
        loop {
            let (s, text) = post(
                &client,
                &format!("{}/api/v1/explain", bases[1]),
                Some(&token()),
                "application/json",
                json!({"to": "+15550199"}).to_string(),
            )
            .await;
            assert_eq!(s, 200, "{text}");
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["trunk_id"] == trunk_id.as_str() {
                assert_eq!(v["decision"], "accept", "{v}");
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "node B did not see the trunk within a second: {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

#[test]
fn sigterm_stops_the_server_gracefully_and_keeps_acknowledged_writes() {
    let dir = std::env::temp_dir().join(format!("switchboard-api-term-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let db = dir.join("kept.db").to_string_lossy().into_owned();
    let db2 = db.clone();
    let mut server = Server::start(move |_| db, None);
    let base = server.url.clone();
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let (s, v) = twirp(
            &client,
            &base,
            "CreateSIPInboundTrunk",
            json!({"trunk": {"numbers": ["+15550142"]}}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    });
    let status = server
        .terminate()
        .expect("switchboard exits within 10 s of SIGTERM");
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        server.log_text()
    );
    assert!(
        server.log_text().contains("switchboard stopped"),
        "{}",
        server.log_text()
    );
    // The acknowledged trunk is there after a restart.
    let restarted = Server::start(move |_| db2, None);
    let base = restarted.url.clone();
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let (trunks, _) = inventory(&client, &base).await;
        assert_eq!(trunks.len(), 1, "{trunks:?}");
    });
    drop(restarted);
    let _ = std::fs::remove_dir_all(&dir);
}
