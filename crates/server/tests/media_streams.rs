//! Media-stream agents (SPEC §5 item 2) against the built binary: the endpoint API and CLI,
//! and a real call answered by a local Twilio-style bot (a WebSocket server speaking the
//! Twilio Media Streams protocol): `connected`, `start` with `customParameters`, µ-law
//! `media` both ways, `mark` echoed after playout, `dtmf`, and the bot closing the socket
//! hangs up.

mod support;

use std::net::UdpSocket;
use std::process::Command;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::sip::*;
use tokio_tungstenite::tungstenite::Message;

const NUMBER: &str = "+15550199";
const METADATA: &str = r#"{"agent_config":{"greeting":"hi"}}"#;

// ---------------------------------------------------------------------------------------
// HTTP helpers (DELETE and unauthenticated requests)

fn request(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let mut req = reqwest::Client::new()
            .request(method, url)
            .timeout(Duration::from_secs(10));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("a response");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    })
}

fn cli(server: &support::Server, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.args(args).args([
        "--url",
        &server.url,
        "--api-key",
        support::API_KEY,
        "--api-secret",
        support::API_SECRET,
    ]);
    for v in ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"] {
        cmd.env_remove(v);
    }
    let out = cmd.output().expect("run switchboard");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn endpoints_api_and_cli() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let base = format!("{}/api/v1/agent-endpoints", server.url);
    let token = admin_token();

    let (status, body) = api.get("/api/v1/agent-endpoints");
    assert_eq!((status, &body), (200, &json!({"endpoints": []})));

    let (status, body) = api.put(
        "/api/v1/agent-endpoints/bot",
        json!({"url": "ws://127.0.0.1:9/media"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["agent_name"], "bot");
    assert_eq!(body["url"], "ws://127.0.0.1:9/media");
    let created = body["created_at"].clone();
    assert!(created.as_str().is_some_and(|s| s.ends_with('Z')), "{body}");

    // Replace: same name, new URL, created_at kept.
    let (status, body) = api.put(
        "/api/v1/agent-endpoints/bot",
        json!({"url": "wss://bot.example.com/twilio"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["url"], "wss://bot.example.com/twilio");
    assert_eq!(body["created_at"], created);

    let (status, body) = api.get("/api/v1/agent-endpoints/bot");
    assert_eq!(status, 200);
    assert_eq!(body["url"], "wss://bot.example.com/twilio");
    let (status, body) = api.get("/api/v1/agent-endpoints");
    assert_eq!(status, 200);
    assert_eq!(
        body["endpoints"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );

    // Validation: the errors say how to fix.
    for (url, needle) in [
        ("http://bot.example.com/media", "ws://"),
        ("ws:///media", "host"),
        ("garbage", "not a valid URL"),
        ("ftp://x/y", "ws://"),
    ] {
        let (status, body) = api.put("/api/v1/agent-endpoints/bot2", json!({ "url": url }));
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["code"], "invalid_argument", "{body}");
        let msg = body["msg"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{url}: {msg}");
    }
    let long = format!("ws://h/{}", "a".repeat(2100));
    let (status, body) = api.put("/api/v1/agent-endpoints/bot2", json!({ "url": long }));
    assert_eq!(status, 400, "{body}");
    let (status, _) = api.put("/api/v1/agent-endpoints/bot2", json!({"nope": 1}));
    assert_eq!(status, 400);
    let (status, body) = api.get("/api/v1/agent-endpoints/bot2");
    assert_eq!(status, 404, "{body}");

    // Authentication.
    for (method, body) in [
        (reqwest::Method::GET, None),
        (reqwest::Method::PUT, Some(json!({"url": "ws://h/x"}))),
        (reqwest::Method::DELETE, None),
    ] {
        let (status, _) = request(method.clone(), &format!("{base}/bot"), None, body);
        assert_eq!(status, 401, "{method}");
    }
    let (status, _) = request(reqwest::Method::GET, &base, None, None);
    assert_eq!(status, 401);

    // Delete answers the endpoint; a second delete is 404.
    let (status, body) = request(
        reqwest::Method::DELETE,
        &format!("{base}/bot"),
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["url"], "wss://bot.example.com/twilio");
    let (status, body) = request(
        reqwest::Method::DELETE,
        &format!("{base}/bot"),
        Some(&token),
        None,
    );
    assert_eq!(status, 404, "{body}");

    // The CLI.
    let (ok, out, err) = cli(
        &server,
        &["agents", "endpoint", "set", "sales", "ws://10.0.0.5:8765/s"],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("sales"), "{out}");
    let (ok, out, err) = cli(&server, &["agents", "endpoint", "list"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("AgentName"), "{out}");
    assert!(
        out.contains("sales") && out.contains("ws://10.0.0.5:8765/s"),
        "{out}"
    );
    let (ok, out, err) = cli(&server, &["agents", "endpoint", "list", "--json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["endpoints"][0]["agent_name"], "sales");
    let (ok, out, err) = cli(
        &server,
        &["agents", "endpoint", "set", "sales", "http://x/y"],
    );
    assert!(!ok, "{out}");
    assert!(err.contains("ws://"), "{err}");
    let (ok, out, err) = cli(&server, &["agents", "endpoint", "delete", "sales"]);
    assert!(ok, "{err}");
    assert!(out.contains("sales"), "{out}");
    let (ok, out, _) = cli(&server, &["agents", "endpoint", "list"]);
    assert!(ok);
    assert!(out.contains("no media-stream agent endpoints"), "{out}");
    let (ok, _, err) = cli(&server, &["agents", "endpoint", "delete", "sales"]);
    assert!(!ok);
    assert!(err.contains("no media-stream endpoint"), "{err}");
}

// ---------------------------------------------------------------------------------------
// A Twilio-style bot

/// What the test asks the bot to do.
enum Cmd {
    /// Send this µ-law audio as one `media` message.
    Media(Vec<u8>),
    Mark(String),
    /// Messages a bot should not send: they must be ignored.
    Junk,
    Close,
}

/// The bot: accepts one connection on `listener`, reports every JSON message it receives,
/// and does what it is told.
fn run_bot(
    listener: std::net::TcpListener,
    seen: std_mpsc::Sender<Value>,
    mut cmds: tokio::sync::mpsc::UnboundedReceiver<Cmd>,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        listener.set_nonblocking(true).expect("non-blocking");
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        let (tcp, _) = tokio::time::timeout(Duration::from_secs(30), listener.accept())
            .await
            .expect("switchboard dials within 30 s")
            .expect("accept");
        let mut ws = tokio_tungstenite::accept_async(tcp)
            .await
            .expect("the WebSocket handshake");
        let mut stream_sid = String::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            tokio::select! {
                m = ws.next() => {
                    let Some(Ok(m)) = m else { break };
                    match m {
                        Message::Text(t) => {
                            let v: Value = serde_json::from_str(t.as_str()).expect("JSON from switchboard");
                            if v["event"] == "start" {
                                stream_sid = v["streamSid"].as_str().unwrap_or_default().to_string();
                            }
                            let _ = seen.send(v);
                        }
                        Message::Close(_) => {
                            let _ = seen.send(json!({"event": "_closed"}));
                            break;
                        }
                        _ => {}
                    }
                }
                c = cmds.recv() => {
                    let msg = match c {
                        Some(Cmd::Media(ulaw)) => json!({
                            "event": "media",
                            "streamSid": stream_sid,
                            "media": {"payload": B64.encode(&ulaw)},
                        }).to_string(),
                        Some(Cmd::Mark(name)) => json!({
                            "event": "mark",
                            "streamSid": stream_sid,
                            "mark": {"name": name},
                        }).to_string(),
                        Some(Cmd::Junk) => {
                            ws.send(Message::text("not json")).await.expect("send");
                            ws.send(Message::binary(vec![1u8, 2, 3])).await.expect("send");
                            let big = format!("{{\"event\":\"media\",\"media\":{{\"payload\":\"{}\"}}}}", "A".repeat(1_100_000));
                            ws.send(Message::text(big)).await.expect("send");
                            json!({"event": "media", "streamSid": stream_sid, "media": {"payload": "!!!"}}).to_string()
                        }
                        Some(Cmd::Close) | None => {
                            let _ = ws.close(None).await;
                            // Drain until the close handshake completes.
                            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                                while let Some(Ok(_)) = ws.next().await {}
                            }).await;
                            break;
                        }
                    };
                    ws.send(Message::text(msg)).await.expect("send");
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
    });
}

/// µ-law of a 1 kHz tone, 20 ms per packet, as RTP (PT 0).
fn rtp_tone(seq: u16, ts: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend(ulaw_tone(ts as usize, 160, 1000.0));
    p
}

fn ulaw_tone(start: usize, n: usize, hz: f64) -> Vec<u8> {
    (start..start + n)
        .map(|i| {
            let x = (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin();
            switchboard_media::g711::ulaw_encode((x * 12000.0) as i16)
        })
        .collect()
}

fn loud(p: &[u8]) -> bool {
    p.len() > 12
        && p[1] & 0x7f == 0
        && p[12..].iter().filter(|&&b| b != 0xFF && b != 0x7F).count() > 80
}

/// The next message the bot saw with `event`, skipping others (kept in `skipped`).
fn next_event(
    seen: &std_mpsc::Receiver<Value>,
    event: &str,
    timeout: Duration,
    skipped: &mut Vec<Value>,
) -> Option<Value> {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match seen.recv_timeout(left) {
            Ok(v) if v["event"] == event => return Some(v),
            Ok(v) => skipped.push(v),
            Err(_) => return None,
        }
    }
    None
}

#[test]
fn a_twilio_bot_answers_the_call_through_a_media_stream() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [NUMBER]}));
    let rule = api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "twilio"}},
        "room_config": {"agents": [{"agent_name": "bot", "metadata": METADATA}]}
    }));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a bot port");
    let bot_port = listener.local_addr().expect("addr").port();
    let (seen_tx, seen) = std_mpsc::channel();
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
    let bot = std::thread::spawn(move || run_bot(listener, seen_tx, cmd_rx));
    let (status, body) = api.put(
        "/api/v1/agent-endpoints/bot",
        json!({"url": format!("ws://127.0.0.1:{bot_port}/media")}),
    );
    assert_eq!(status, 200, "{body}");

    let media = UdpSocket::bind("127.0.0.1:0").expect("a media socket");
    media.set_nonblocking(true).expect("non-blocking");
    let raw = RawSip::new(&server.sip_udp);
    let sdp =
        PCMU_SDP_TEMPLATE.replace("{port}", &media.local_addr().expect("a").port().to_string());
    raw.send(&raw.invite(
        "ms-call-1",
        "+15551230000",
        NUMBER,
        "ftag-ms",
        1,
        &RawSip::branch(),
        &[],
        &sdp,
    ));

    // `connected` first, then `start`.
    let connected = seen
        .recv_timeout(Duration::from_secs(15))
        .unwrap_or_else(|e| panic!("the bot got nothing ({e}):\n{}", raw.dump()));
    assert_eq!(
        connected,
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    );
    let start = seen.recv_timeout(Duration::from_secs(5)).expect("start");
    assert_eq!(start["event"], "start", "{start:#}");
    assert_eq!(start["sequenceNumber"], "1");
    let sid = start["streamSid"].as_str().expect("streamSid").to_string();
    assert!(sid.starts_with("MZ") && sid.len() == 34, "{sid}");
    let s = &start["start"];
    assert_eq!(s["streamSid"], sid.as_str());
    assert_eq!(s["accountSid"], "switchboard");
    assert_eq!(s["tracks"], json!(["inbound"]));
    assert_eq!(
        s["mediaFormat"],
        json!({"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1})
    );
    let p = &s["customParameters"];
    assert_eq!(p["metadata"], METADATA, "{p:#}");
    assert_eq!(p["agent_config"], r#"{"greeting":"hi"}"#, "{p:#}");
    assert_eq!(p["agent_name"], "bot");
    assert_eq!(p["sip.phoneNumber"], "+15551230000", "{p:#}");
    assert_eq!(p["sip.trunkPhoneNumber"], NUMBER, "{p:#}");
    assert!(
        p["room"].as_str().is_some_and(|r| r.starts_with("twilio")),
        "{p:#}"
    );
    let call_id = s["callSid"].as_str().expect("callSid").to_string();

    // Ready on connect: the caller is answered.
    let ok = wait_msg(&raw, Duration::from_secs(10), |m| {
        status_of(m).is_some_and(|c| c >= 200)
    })
    .unwrap_or_else(|| panic!("no final answer:\n{}", raw.dump()));
    assert_eq!(status_of(&ok), Some(200), "{}", raw.dump());
    raw.send(&raw.in_dialog(&ok, "ACK", 1, ""));
    let rtp_port: u16 = ok
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("an m=audio port in the 200");
    let server_rtp = format!("127.0.0.1:{rtp_port}");

    // Junk from the bot is ignored; then 1 s of a 440 Hz tone (sent at once) and a mark.
    cmd_tx.send(Cmd::Junk).expect("bot");
    cmd_tx
        .send(Cmd::Media(ulaw_tone(0, 8000, 440.0)))
        .expect("bot");
    cmd_tx.send(Cmd::Mark("m1".into())).expect("bot");

    // Caller → bot: 1 s of a 1 kHz tone; bot → caller: its tone.
    let mut loud_packets = 0;
    for i in 0..50u16 {
        media
            .send_to(&rtp_tone(i, u32::from(i) * 160), &server_rtp)
            .expect("send RTP");
        std::thread::sleep(Duration::from_millis(20));
        let mut buf = [0u8; 2048];
        while let Ok(n) = media.recv(&mut buf) {
            if loud(&buf[..n]) {
                loud_packets += 1;
            }
        }
    }
    assert!(
        loud_packets >= 10,
        "the bot's audio did not reach the caller ({loud_packets} loud packets)"
    );

    // The mark comes back once its audio was played, and the bot got caller media.
    let mut others = Vec::new();
    let mark = next_event(&seen, "mark", Duration::from_secs(5), &mut others)
        .unwrap_or_else(|| panic!("no mark echo; saw {} other messages", others.len()));
    assert_eq!(mark["mark"]["name"], "m1");
    assert_eq!(mark["streamSid"], sid.as_str());
    let medias: Vec<&Value> = others.iter().filter(|v| v["event"] == "media").collect();
    assert!(medias.len() >= 25, "only {} media messages", medias.len());
    let mut last_seq = 1u64;
    let mut loud_chunks = 0;
    for (i, m) in medias.iter().enumerate() {
        let seq: u64 = m["sequenceNumber"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("seq");
        assert!(
            seq > last_seq,
            "sequence numbers increase: {seq} after {last_seq}"
        );
        last_seq = seq;
        let md = &m["media"];
        assert_eq!(md["track"], "inbound");
        assert_eq!(md["chunk"], (i + 1).to_string());
        assert!(
            md["timestamp"]
                .as_str()
                .is_some_and(|t| t.parse::<u64>().is_ok())
        );
        let payload = B64
            .decode(md["payload"].as_str().expect("payload"))
            .expect("base64");
        assert_eq!(payload.len(), 160);
        if payload.iter().filter(|&&b| b != 0xFF && b != 0x7F).count() > 80 {
            loud_chunks += 1;
        }
    }
    assert!(
        loud_chunks >= 20,
        "caller audio reached the bot silent ({loud_chunks})"
    );

    // DTMF by INFO reaches the bot.
    let info = "Signal=5\r\nDuration=160\r\n";
    let msg = raw
        .in_dialog(&ok, "INFO", 3, "Content-Type: application/dtmf-relay\r\n")
        .replace(
            "Content-Length: 0\r\n\r\n",
            &format!("Content-Length: {}\r\n\r\n{info}", info.len()),
        );
    raw.send(&msg);
    let dtmf = next_event(&seen, "dtmf", Duration::from_secs(5), &mut Vec::new())
        .expect("dtmf at the bot");
    assert_eq!(
        dtmf["dtmf"],
        json!({"track": "inbound_track", "digit": "5"})
    );

    // The bot closes the socket: the caller gets BYE.
    cmd_tx.send(Cmd::Close).expect("bot");
    let bye = wait_msg(&raw, Duration::from_secs(10), |m| m.starts_with("BYE "))
        .unwrap_or_else(|| panic!("no BYE after the bot closed:\n{}", raw.dump()));
    raw.send(&response_to(&bye, 200, "OK"));
    bot.join().expect("the bot thread");

    let rec = api.call_where("ms-call-1", "completed", |c| c["status"] == "completed");
    assert_record(
        &rec,
        &[
            ("id", json!(call_id)),
            ("reason", json!("agent_hangup")),
            ("hangup_by", json!("agent")),
            ("rule_id", json!(rule)),
            ("sip_status", json!(200)),
        ],
    );
}

#[test]
fn the_caller_rings_until_the_endpoint_answers_and_its_bye_stops_the_stream() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [NUMBER]}));
    api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_direct": {"room_name": "late"}},
        "room_config": {"agents": [{"agent_name": "late-bot"}]}
    }));
    // A port nobody listens on yet.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let (status, body) = api.put(
        "/api/v1/agent-endpoints/late-bot",
        json!({"url": format!("ws://127.0.0.1:{port}/")}),
    );
    assert_eq!(status, 200, "{body}");

    let raw = RawSip::new(&server.sip_udp);
    let sdp = PCMU_SDP_TEMPLATE.replace("{port}", "40000");
    raw.send(&raw.invite(
        "ms-late-1",
        "+15551230001",
        NUMBER,
        "ftag-late",
        1,
        &RawSip::branch(),
        &[],
        &sdp,
    ));
    // The dial fails: the caller keeps ringing.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !raw.dump().contains("SIP/2.0 200"),
        "answered without a bot:\n{}",
        raw.dump()
    );
    // The bot comes up; the next retry (every 2 s) reaches it.
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("rebind the port");
    let (seen_tx, seen) = std_mpsc::channel();
    let (_cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
    let bot = std::thread::spawn(move || run_bot(listener, seen_tx, cmd_rx));
    let ok = wait_msg(&raw, Duration::from_secs(15), |m| {
        status_of(m).is_some_and(|c| c >= 200)
    })
    .unwrap_or_else(|| panic!("no final answer:\n{}", raw.dump()));
    assert_eq!(status_of(&ok), Some(200), "{}", raw.dump());
    raw.send(&raw.in_dialog(&ok, "ACK", 1, ""));
    let mut skipped = Vec::new();
    let start = next_event(&seen, "start", Duration::from_secs(5), &mut skipped).expect("start");
    assert_eq!(start["start"]["customParameters"]["metadata"], "");

    // The caller hangs up: the bot gets `stop`, then the socket closes.
    raw.send(&raw.in_dialog(&ok, "BYE", 2, ""));
    let stop = next_event(&seen, "stop", Duration::from_secs(5), &mut skipped).expect("stop");
    assert_eq!(stop["stop"]["accountSid"], "switchboard");
    assert_eq!(stop["stop"]["callSid"], start["start"]["callSid"]);
    assert_eq!(stop["streamSid"], start["streamSid"]);
    next_event(&seen, "_closed", Duration::from_secs(5), &mut skipped).expect("the socket closed");
    bot.join().expect("the bot thread");
    let rec = api.call_where("ms-late-1", "completed", |c| c["status"] == "completed");
    assert_record(
        &rec,
        &[
            ("reason", json!("caller_bye")),
            ("hangup_by", json!("caller")),
        ],
    );
}
