//! Webhooks against the built binary: a local receiver gets every event of a rejected and
//! an answered call exactly once, signed; events queued while the receiver is down survive
//! a server restart.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use support::sip::*;

const SECRET: &str = "webhook-test-secret";

/// One POST the receiver got.
#[derive(Clone, Debug)]
struct Hook {
    headers: BTreeMap<String, String>,
    body: String,
}

impl Hook {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A tiny HTTP/1.1 server answering 200 to everything, recording each request.
struct Receiver {
    port: u16,
    hooks: Arc<Mutex<Vec<Hook>>>,
}

impl Receiver {
    fn start(listener: TcpListener) -> Receiver {
        let port = listener.local_addr().expect("an address").port();
        let hooks = Arc::new(Mutex::new(Vec::new()));
        let recorded = hooks.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = recorded.clone();
                std::thread::spawn(move || serve_connection(stream, &recorded));
            }
        });
        Receiver { port, hooks }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the received hooks, then a little longer (to catch
    /// duplicates), and returns them.
    fn wait(&self, what: &str, done: impl Fn(&[Hook]) -> bool) -> Vec<Hook> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(&self.hooks()) {
            assert!(
                Instant::now() < deadline,
                "the receiver never got {what}; it got:\n{:#?}",
                self.hooks()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(1000));
        self.hooks()
    }
}

fn serve_connection(stream: TcpStream, recorded: &Mutex<Vec<Hook>>) {
    let mut writer = stream.try_clone().expect("clone the stream");
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        recorded.lock().unwrap().push(Hook {
            headers,
            body: String::from_utf8(body).expect("a UTF-8 body"),
        });
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

fn config(url: &str) -> Vec<String> {
    vec![
        "[webhooks]".into(),
        format!("urls = [\"{url}\"]"),
        format!("secret = \"{SECRET}\""),
    ]
}

/// Checks headers and signature of every hook.
fn assert_signed(hooks: &[Hook]) {
    for h in hooks {
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(h.body.as_bytes());
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            h.headers.get("x-switchboard-signature"),
            Some(&format!("sha256={expected}")),
            "{h:#?}"
        );
        let body = h.json();
        assert_eq!(
            h.headers.get("x-switchboard-event").map(String::as_str),
            body["event"].as_str(),
            "{h:#?}"
        );
        assert_eq!(
            h.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
        assert!(h.headers.contains_key("x-switchboard-delivery"), "{h:#?}");
        assert!(
            body["id"].as_str().unwrap_or("").starts_with("WH_"),
            "{h:#?}"
        );
        assert!(body["created_at"].as_str().is_some(), "{h:#?}");
    }
    let mut ids: Vec<&String> = hooks
        .iter()
        .map(|h| &h.headers["x-switchboard-delivery"])
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        hooks.len(),
        "a delivery arrived twice: {hooks:#?}"
    );
}

/// The hooks of `event` about call `call_id` (or, for room events, room `room`).
fn matching<'a>(hooks: &'a [Hook], event: &str, key: &str, value: &str) -> Vec<&'a Hook> {
    hooks
        .iter()
        .filter(|h| {
            let b = h.json();
            b["event"] == event && b["data"][key] == value
        })
        .collect()
}

const ANSWERED_EVENTS: [(&str, &str); 5] = [
    ("call.incoming", "call_id"),
    ("call.answered", "call_id"),
    ("call.ended", "call_id"),
    ("room.started", "room_name"),
    ("room.finished", "room_name"),
];

fn answered_call_complete(hooks: &[Hook], call_id: &str, room: &str) -> bool {
    ANSWERED_EVENTS.iter().all(|(event, key)| {
        let v = if *key == "call_id" { call_id } else { room };
        !matching(hooks, event, key, v).is_empty()
    })
}

fn assert_answered_call(hooks: &[Hook], call_id: &str, room: &str, rule: &str) {
    for (event, key) in ANSWERED_EVENTS {
        let v = if key == "call_id" { call_id } else { room };
        let got = matching(hooks, event, key, v);
        assert_eq!(got.len(), 1, "{event} for {v}: {got:#?}");
    }
    let answered = matching(hooks, "call.answered", "call_id", call_id)[0].json();
    assert_eq!(answered["data"]["rule_id"], rule);
    assert_eq!(answered["data"]["room_name"], room);
    let ended = matching(hooks, "call.ended", "call_id", call_id)[0].json();
    assert_eq!(ended["data"]["final_status"], "completed", "{ended}");
    assert_eq!(ended["data"]["hangup_by"], "caller", "{ended}");
    assert_eq!(ended["data"]["sip_status"], 200, "{ended}");
    assert!(ended["data"]["duration_secs"].as_f64().is_some(), "{ended}");
    let started = matching(hooks, "room.started", "room_name", room)[0].json();
    let finished = matching(hooks, "room.finished", "room_name", room)[0].json();
    assert!(
        started["data"]["room_sid"]
            .as_str()
            .unwrap_or("")
            .starts_with("RM_")
    );
    assert_eq!(started["data"]["room_sid"], finished["data"]["room_sid"]);
}

#[test]
fn every_event_arrives_once_and_signed() {
    let receiver = Receiver::start(TcpListener::bind("127.0.0.1:0").expect("bind"));
    let lines = config(&receiver.url());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let server = sip_server(&lines);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": ["+15550100"]}));
    let rule = api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_direct": {"room_name": "hook-room"}}
    }));
    let dir = Scratch::new("webhooks");

    // A call nobody takes: 404.
    let run = Sipp::new(dir.path(), "nobody", "uac_reject.xml", &server.sip_udp)
        .service("+15550999")
        .set("from_user", "+15551230100")
        .run();
    run.assert_ok();
    let rejected = api.ended_call(&run.call_id());
    let rejected_id = rejected["id"].as_str().unwrap().to_owned();

    // An answered call, hung up by the caller.
    let run = Sipp::new(dir.path(), "answered", "uac_call.xml", &server.sip_udp)
        .service("+15550100")
        .set("from_user", "+15551230101")
        .run();
    run.assert_ok();
    let answered = api.ended_call(&run.call_id());
    let answered_id = answered["id"].as_str().unwrap().to_owned();

    let hooks = receiver.wait("every event of both calls", |hs| {
        !matching(hs, "call.rejected", "call_id", &rejected_id).is_empty()
            && answered_call_complete(hs, &answered_id, "hook-room")
    });
    assert_signed(&hooks);

    // The rejected call: incoming and rejected, once each, and nothing else.
    let incoming = matching(&hooks, "call.incoming", "call_id", &rejected_id);
    assert_eq!(incoming.len(), 1, "{incoming:#?}");
    let data = &incoming[0].json()["data"];
    assert_eq!(data["to"], "+15550999", "{data}");
    assert_eq!(data["from"], "+15551230100", "{data}");
    assert_eq!(data["transport"], "udp", "{data}");
    assert_eq!(data["source_ip"], "127.0.0.1", "{data}");
    let rej = matching(&hooks, "call.rejected", "call_id", &rejected_id);
    assert_eq!(rej.len(), 1, "{rej:#?}");
    let data = &rej[0].json()["data"];
    assert_eq!(data["sip_status"], 404, "{data}");
    assert_eq!(data["reason"], "no_trunk", "{data}");
    assert!(matching(&hooks, "call.ended", "call_id", &rejected_id).is_empty());

    assert_answered_call(&hooks, &answered_id, "hook-room", &rule);
    // Nothing else: 2 events of the rejected call, 5 of the answered one.
    assert_eq!(hooks.len(), 7, "{hooks:#?}");
}

#[test]
fn queued_events_survive_a_restart() {
    // A port with nobody listening (yet).
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/hook");
    let lines = config(&url);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let data = Scratch::new("webhooks-restart");
    let db = data.path().join("switchboard.db");
    let db_url = db.to_string_lossy().into_owned();

    let mut first = support::Server::start_with(|_| db_url.clone(), None, &[], &lines);
    let api = Api::new(&first);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": ["+15550100"]}));
    let rule = api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_direct": {"room_name": "restart-room"}}
    }));
    let run = Sipp::new(data.path(), "answered", "uac_call.xml", &first.sip_udp)
        .service("+15550100")
        .set("from_user", "+15551230102")
        .run();
    run.assert_ok();
    let call_id = api.ended_call(&run.call_id())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Let the events reach the store (and fail their first attempt).
    std::thread::sleep(Duration::from_millis(500));
    assert!(first.terminate().is_some(), "the server did not stop");

    let receiver = Receiver::start(TcpListener::bind(("127.0.0.1", port)).expect("rebind"));
    let _second = support::Server::start_with(|_| db_url.clone(), None, &[], &lines);
    let hooks = receiver.wait("the events queued before the restart", |hs| {
        answered_call_complete(hs, &call_id, "restart-room")
    });
    assert_signed(&hooks);
    assert_answered_call(&hooks, &call_id, "restart-room", &rule);
    assert_eq!(hooks.len(), 5, "{hooks:#?}");
}

/// A worker named `hooked` that takes one job, says ready, and stays until the call ends;
/// sends its worker id once registered.
fn run_hooked_worker(url: String, registered: std::sync::mpsc::Sender<String>) {
    use switchboard_agent::{MediaEvent, Worker};
    support::worker::runtime().block_on(async move {
        let worker = Worker::connect(support::worker::options(&url, "hooked", 16000))
            .await
            .expect("the worker registers");
        let _ = registered.send(worker.worker_id().to_string());
        let Ok(Some(offer)) =
            tokio::time::timeout(Duration::from_secs(20), worker.next_offer()).await
        else {
            return;
        };
        let mut session = offer.accept().await.expect("assigned");
        while let Ok(Some(ev)) =
            tokio::time::timeout(Duration::from_secs(30), session.next_event()).await
        {
            match ev {
                MediaEvent::Start(_) => session.ready().await.expect("ready"),
                MediaEvent::Hangup(_) | MediaEvent::Ended(_) => break,
                _ => {}
            }
        }
    });
}

#[test]
fn agent_dispatched_names_the_job_and_the_worker_that_took_it() {
    let receiver = Receiver::start(TcpListener::bind("127.0.0.1:0").expect("bind"));
    let lines = config(&receiver.url());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let server = sip_server(&lines);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": ["+15550100"]}));
    api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "hooked"}},
        "room_config": {"agents": [{"agent_name": "hooked"}]}
    }));
    let (reg_tx, reg_rx) = std::sync::mpsc::channel();
    let url = server.url.clone();
    let worker = std::thread::spawn(move || run_hooked_worker(url, reg_tx));
    let worker_id = reg_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the worker registered");

    // SIPp rings until the agent is ready, talks, and hangs up.
    let dir = Scratch::new("webhooks-agent");
    let run = Sipp::new(dir.path(), "agent", "uac_call.xml", &server.sip_udp)
        .service("+15550100")
        .set("from_user", "+15551230103")
        .run();
    run.assert_ok();
    let call_id = api.ended_call(&run.call_id())["id"]
        .as_str()
        .expect("a call id")
        .to_owned();
    worker.join().expect("the worker thread");

    let hooks = receiver.wait("agent.dispatched and call.ended", |hs| {
        !matching(hs, "agent.dispatched", "call_id", &call_id).is_empty()
            && !matching(hs, "call.ended", "call_id", &call_id).is_empty()
    });
    assert_signed(&hooks);
    let dispatched = matching(&hooks, "agent.dispatched", "call_id", &call_id);
    assert_eq!(dispatched.len(), 1, "{dispatched:#?}");
    let data = &dispatched[0].json()["data"];
    assert_eq!(data["agent_name"], "hooked", "{data}");
    assert_eq!(data["worker_id"], worker_id.as_str(), "{data}");
    assert!(
        data["job_id"]
            .as_str()
            .is_some_and(|j| j.starts_with("AJ_")),
        "{data}"
    );
    // It happened between the call's arrival and its answer (by the events' own times:
    // deliveries run concurrently, so arrival order says nothing).
    let when = |event: &str| -> jiff::Timestamp {
        let hook = matching(&hooks, event, "call_id", &call_id);
        assert_eq!(hook.len(), 1, "{event}: {hook:#?}");
        hook[0].json()["created_at"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("{event} has no created_at"))
    };
    assert!(when("call.incoming") <= when("agent.dispatched"));
    assert!(when("agent.dispatched") <= when("call.answered"));
}
