//! The agent worker protocol's control connection against the built binary
//! (`docs/agent-protocol.md` §1, §5): authentication of the upgrade, registration, protocol
//! errors, and the worker showing up in `GET /api/v1/agents` and `switchboard agents list`.
//! Dispatch and the media channel are covered by the unit tests in `src/agents/tests.rs`.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use livekit_token::{AccessToken, SIPGrants, VideoGrants};
use serde_json::{Value, json};
use support::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(15);

fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn agent_token() -> String {
    AccessToken::with_api_key(API_KEY, API_SECRET)
        .with_ttl(Duration::from_secs(600))
        .with_grants(VideoGrants {
            agent: true,
            ..Default::default()
        })
        .to_jwt()
        .expect("a token")
}

fn admin_token() -> String {
    AccessToken::with_api_key(API_KEY, API_SECRET)
        .with_ttl(Duration::from_secs(600))
        .with_sip_grants(SIPGrants {
            admin: true,
            call: false,
        })
        .to_jwt()
        .expect("a token")
}

fn ws_url(s: &Server, path: &str) -> String {
    format!("{}{path}", s.url.replacen("http://", "ws://", 1))
}

/// Connects with an optional bearer token; `Err(status)` when the upgrade is refused.
async fn connect(url: &str, token: Option<&str>) -> Result<Ws, (u16, String)> {
    let mut req = url.into_client_request().expect("a request");
    if let Some(t) = token {
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {t}").parse().expect("a header"),
        );
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(resp)) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((resp.status().as_u16(), body))
        }
        Err(e) => panic!("cannot connect to {url}: {e}"),
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("send");
}

/// The next text message (server pings are answered and skipped).
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("the connection is open")
            .expect("a frame");
        match m {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(t.as_str()).expect("JSON");
                if v["type"] == "ping" {
                    send(ws, json!({"type": "pong", "ts": v["ts"]})).await;
                    continue;
                }
                return v;
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Reads until the server closes; returns the close code.
async fn expect_close(ws: &mut Ws) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("the close in time")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
            Some(Ok(Message::Text(t))) => panic!("expected the close, got {t}"),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

async fn register(ws: &mut Ws, name: &str, max_jobs: u32) -> String {
    send(
        ws,
        json!({"type": "register", "agent_name": name, "version": "9.9.9",
               "max_jobs": max_jobs, "audio": {"sample_rate": 16000}}),
    )
    .await;
    let r = next_json(ws).await;
    assert_eq!(r["type"], "registered", "{r}");
    assert_eq!(r["ping_interval_ms"], 10000);
    assert!(r["server_version"].is_string());
    let id = r["worker_id"].as_str().expect("worker_id").to_string();
    assert!(id.starts_with("AW_"), "{id}");
    id
}

#[test]
fn upgrade_needs_a_token_with_the_agent_grant() {
    let s = sqlite_server();
    runtime().block_on(async {
        let url = ws_url(&s, "/agent");
        let (status, body) = connect(&url, None).await.expect_err("refused");
        assert_eq!(status, 401, "{body}");
        let (status, body) = connect(&url, Some("garbage")).await.expect_err("refused");
        assert_eq!(status, 401, "{body}");
        let (status, body) = connect(&url, Some(&admin_token()))
            .await
            .expect_err("refused");
        assert_eq!(status, 403);
        let body: Value = serde_json::from_str(&body).expect("a Twirp error body");
        assert_eq!(body["code"], "permission_denied");
        assert!(body["msg"].as_str().unwrap_or_default().contains("agent"));

        // The header or ?access_token= both work.
        let mut ws = connect(&url, Some(&agent_token())).await.expect("accepted");
        register(&mut ws, "by-header", 1).await;
        let mut ws = connect(&format!("{url}?access_token={}", agent_token()), None)
            .await
            .expect("accepted");
        register(&mut ws, "by-query", 1).await;

        // The media endpoint: no token 401, a wrong one 403.
        let media = ws_url(&s, "/agent/jobs/AJ_nothing/media");
        assert_eq!(connect(&media, None).await.err().map(|e| e.0), Some(401));
        assert_eq!(
            connect(&media, Some(&"ab".repeat(16)))
                .await
                .err()
                .map(|e| e.0),
            Some(403)
        );
        assert_eq!(
            connect(&format!("{media}?token=xyz"), None)
                .await
                .err()
                .map(|e| e.0),
            Some(403)
        );
    });
}

#[test]
fn a_registered_worker_is_listed_by_the_api_and_the_cli() {
    let s = sqlite_server();
    runtime().block_on(async {
        let mut ws = connect(&ws_url(&s, "/agent"), Some(&agent_token()))
            .await
            .expect("accepted");
        let id = register(&mut ws, "support-agent", 4).await;
        send(&mut ws, json!({"type": "load", "load": 0.5})).await;
        send(&mut ws, json!({"type": "ping", "ts": 12345})).await;
        assert_eq!(
            next_json(&mut ws).await,
            json!({"type": "pong", "ts": 12345})
        );

        let client = reqwest::Client::new();
        let resp = client
            .get(format!("{}/api/v1/agents", s.url))
            .bearer_auth(admin_token())
            .send()
            .await
            .expect("answer");
        assert_eq!(resp.status().as_u16(), 200);
        let v: Value = resp.json().await.expect("JSON");
        let workers = v["workers"].as_array().expect("workers");
        assert_eq!(workers.len(), 1, "{v}");
        let w = &workers[0];
        assert_eq!(w["worker_id"], id.as_str());
        assert_eq!(w["agent_name"], "support-agent");
        assert_eq!(w["version"], "9.9.9");
        assert_eq!(w["max_jobs"], 4);
        assert_eq!(w["sample_rate"], 16000);
        assert_eq!(w["load"], 0.5);
        assert_eq!(w["jobs"], json!([]));

        let unauth = client
            .get(format!("{}/api/v1/agents", s.url))
            .send()
            .await
            .expect("answer");
        assert_eq!(unauth.status().as_u16(), 401);

        let (url, dir) = (s.url.clone(), s.dir().to_path_buf());
        let cli = move |json: bool| {
            let mut args = vec![
                "agents",
                "list",
                "--url",
                &url,
                "--api-key",
                API_KEY,
                "--api-secret",
                API_SECRET,
            ];
            if json {
                args.push("--json");
            }
            let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
                .args(&args)
                .current_dir(&dir)
                .output()
                .expect("run switchboard agents list");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let table = tokio::task::spawn_blocking(move || (cli(false), cli(true)))
            .await
            .expect("the CLI ran");
        let (text, json_out) = table;
        assert!(text.starts_with("WorkerID"), "{text}");
        for part in [
            id.as_str(),
            "support-agent",
            "0.50",
            "0/4",
            "16000",
            "9.9.9",
        ] {
            assert!(text.contains(part), "{part:?} missing in:\n{text}");
        }
        let v: Value = serde_json::from_str(&json_out).expect("--json prints JSON");
        assert_eq!(v["workers"][0]["agent_name"], "support-agent");

        // Closing the connection removes the worker.
        ws.close(None).await.expect("close");
        let deadline = Instant::now() + WAIT;
        loop {
            let v: Value = client
                .get(format!("{}/api/v1/agents", s.url))
                .bearer_auth(admin_token())
                .send()
                .await
                .expect("answer")
                .json()
                .await
                .expect("JSON");
            if v["workers"].as_array().is_some_and(|w| w.is_empty()) {
                break;
            }
            assert!(Instant::now() < deadline, "the worker is still listed: {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

#[test]
fn protocol_errors_are_answered_and_three_in_a_row_close() {
    let s = sqlite_server();
    runtime().block_on(async {
        let url = ws_url(&s, "/agent");
        let token = agent_token();

        // Garbage text, binary on the control connection, an unknown type: closed (1008).
        let mut ws = connect(&url, Some(&token)).await.expect("accepted");
        ws.send(Message::Text("this is not json".into()))
            .await
            .expect("send");
        assert_eq!(next_json(&mut ws).await["code"], "bad_message");
        ws.send(Message::Binary(vec![1u8, 2, 3].into()))
            .await
            .expect("send");
        assert_eq!(next_json(&mut ws).await["code"], "bad_message");
        send(&mut ws, json!({"type": "teleport"})).await;
        let e = next_json(&mut ws).await;
        assert_eq!(e["type"], "error");
        assert_eq!(e["code"], "unknown_type");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(expect_close(&mut ws).await, Some(CloseCode::Policy));

        // Before registering, only register and ping.
        let mut ws = connect(&url, Some(&token)).await.expect("accepted");
        send(&mut ws, json!({"type": "accept", "job_id": "AJ_x"})).await;
        assert_eq!(next_json(&mut ws).await["code"], "not_registered");

        // An invalid register: error, then closed.
        let mut ws = connect(&url, Some(&token)).await.expect("accepted");
        send(
            &mut ws,
            json!({"type": "register", "agent_name": "a", "audio": {"sample_rate": 11025}}),
        )
        .await;
        let e = next_json(&mut ws).await;
        assert_eq!(e["code"], "invalid_register");
        assert!(e["message"].as_str().unwrap_or_default().contains("11025"));
        assert_eq!(expect_close(&mut ws).await, Some(CloseCode::Policy));

        // Registered: answering an offer never made is not_your_job; a too-large message
        // is too_large; the connection stays open after errors separated by valid messages.
        let mut ws = connect(&url, Some(&token)).await.expect("accepted");
        register(&mut ws, "x", 1).await;
        send(
            &mut ws,
            json!({"type": "accept", "job_id": "AJ_neveroffered"}),
        )
        .await;
        assert_eq!(next_json(&mut ws).await["code"], "not_your_job");
        send(
            &mut ws,
            json!({"type": "decline", "job_id": "AJ_neveroffered"}),
        )
        .await;
        assert_eq!(next_json(&mut ws).await["code"], "not_your_job");
        send(&mut ws, json!({"type": "ping", "ts": 1})).await;
        assert_eq!(next_json(&mut ws).await["type"], "pong");
        send(
            &mut ws,
            json!({"type": "ping", "ts": "x".repeat(70 * 1024)}),
        )
        .await;
        assert_eq!(next_json(&mut ws).await["code"], "too_large");
        send(&mut ws, json!({"type": "ping", "ts": 2})).await;
        assert_eq!(next_json(&mut ws).await["ts"], 2);
    });
}

#[test]
fn no_register_within_10_s_gets_an_error_and_the_close() {
    let s = sqlite_server();
    runtime().block_on(async {
        let mut ws = connect(&ws_url(&s, "/agent"), Some(&agent_token()))
            .await
            .expect("accepted");
        let t = Instant::now();
        let e = next_json(&mut ws).await;
        assert_eq!(e["type"], "error");
        assert_eq!(e["code"], "not_registered");
        let waited = t.elapsed();
        assert!(
            waited >= Duration::from_secs(9) && waited < Duration::from_secs(14),
            "{waited:?}"
        );
        assert_eq!(expect_close(&mut ws).await, Some(CloseCode::Policy));
    });
}
