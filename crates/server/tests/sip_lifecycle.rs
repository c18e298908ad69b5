//! End-to-end call lifecycle (SPEC §3–§6, §8): capacity shared by two nodes on one
//! PostgreSQL, re-INVITE hold and resume, the server's own hang-ups (maximum call
//! duration, media timeout, the API), calls cut by a crash closed as `interrupted` at the
//! next start, `switchboard calls tail`, and hostile RTP and SDP.
//!
//! Every test starts its own server(s) and bounds every wait; each call's record is
//! checked through `/api/v1/calls`.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::sip::*;
use support::{Server, pg_schema};

const NUMBER: &str = "+15550100";

/// A trunk for NUMBER and an open Individual rule (no agents: answered at once).
fn open_route(api: &Api, trunk_extra: Value) -> (String, String) {
    let mut trunk = json!({"name": "carrier", "numbers": [NUMBER]});
    if let (Some(t), Some(extra)) = (trunk.as_object_mut(), trunk_extra.as_object()) {
        for (k, v) in extra {
            t.insert(k.clone(), v.clone());
        }
    }
    let trunk = api.trunk(trunk);
    let rule = api.rule(json!({
        "name": "open",
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "call"}}
    }));
    (trunk, rule)
}

fn unique(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{tag}-{}-{nanos}", std::process::id())
}

/// A PCMU + telephone-event offer for media at `port`, with direction attribute `dir`.
fn offer(port: u16, dir: &str, version: u32) -> String {
    PCMU_SDP_TEMPLATE
        .replace("{port}", &port.to_string())
        .replace("a=sendrecv", &format!("a={dir}"))
        .replace("o=- 1 1 ", &format!("o=- 1 {version} "))
}

/// The final response to the request with CSeq `cseq` (e.g. `"2 INVITE"`).
fn final_for(raw: &RawSip, cseq: &str, timeout: Duration) -> Option<String> {
    wait_msg(raw, timeout, |m| {
        status_of(m).is_some_and(|c| c >= 200) && header(m, "CSeq").as_deref() == Some(cseq)
    })
}

/// A request of `method` from the server.
fn request_from_server(raw: &RawSip, method: &str, timeout: Duration) -> Option<String> {
    wait_msg(raw, timeout, |m| m.starts_with(&format!("{method} ")))
}

/// An in-dialog request carrying an SDP body (a re-INVITE).
fn in_dialog_sdp(
    raw: &RawSip,
    ok: &str,
    method: &str,
    cseq: u32,
    sdp: &str,
    caller: &str,
) -> String {
    let contact = format!("Contact: <sip:{caller}@{}>\r\n", raw.local);
    raw.in_dialog(ok, method, cseq, &contact).replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ),
    )
}

/// Places a call with `sdp` and ACKs its `200`; returns the 200. Panics on another answer.
fn answered_call(raw: &RawSip, call_id: &str, caller: &str, sdp: &str) -> String {
    let branch = RawSip::branch();
    raw.send(&raw.invite(call_id, caller, NUMBER, "lc1", 1, &branch, &[], sdp));
    let ok = final_for(raw, "1 INVITE", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no final answer to the INVITE:\n{}", raw.dump()));
    assert_eq!(
        status_of(&ok),
        Some(200),
        "INVITE not answered:\n{}",
        raw.dump()
    );
    raw.send(&raw.in_dialog(&ok, "ACK", 1, ""));
    ok
}

/// Hangs up from the caller's side: BYE, expects its 200.
fn caller_bye(raw: &RawSip, ok: &str, cseq: u32) {
    raw.send(&raw.in_dialog(ok, "BYE", cseq, ""));
    let r = final_for(raw, &format!("{cseq} BYE"), Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no answer to BYE:\n{}", raw.dump()));
    assert_eq!(status_of(&r), Some(200), "BYE:\n{}", raw.dump());
}

/// The answer SDP's media address (`c=` + `m=audio` port).
fn answer_media(msg: &str) -> SocketAddr {
    let sdp = body(msg);
    let ip = sdp
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .unwrap_or_else(|| panic!("no c= in the answer:\n{msg}"))
        .trim();
    let port = sdp
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no m=audio port in the answer:\n{msg}"));
    format!("{ip}:{port}").parse().expect("an address")
}

fn direction(msg: &str) -> Vec<String> {
    body(msg)
        .lines()
        .filter(|l| ["a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"].contains(&l.trim()))
        .map(|l| l.trim().to_string())
        .collect()
}

fn media_socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind a media socket")
}

/// How many datagrams from `from` arrive on `sock` within `window`.
fn count_rtp(sock: &UdpSocket, from: SocketAddr, window: Duration) -> usize {
    let deadline = Instant::now() + window;
    let mut buf = [0u8; 2048];
    let mut n = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return n;
        }
        sock.set_read_timeout(Some(left)).ok();
        match sock.recv_from(&mut buf) {
            Ok((len, src)) if src == from && len >= 12 && buf[0] >> 6 == 2 => n += 1,
            Ok(_) => {}
            Err(_) => return n,
        }
    }
}

fn rtp_packet(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt & 0x7f];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Waits until node `api`'s explain for NUMBER shows the capacity limit of `limit`.
fn wait_explain_limit(api: &Api, limit: u32, within: Duration) {
    let deadline = Instant::now() + within;
    let needle = format!("limit of {limit} concurrent");
    loop {
        let (status, body) = api.post(
            "/api/v1/explain",
            json!({"from": "+15551239000", "to": NUMBER, "source_ip": "127.0.0.1"}),
        );
        if status == 200 && body.to_string().contains(&needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "explain on {} never showed {needle:?} within {within:?}; last ({status}): {body:#}",
            api.base
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------
// 1. Capacity across two nodes sharing one PostgreSQL

#[test]
fn capacity_limit_is_shared_by_two_nodes_on_one_postgres() {
    let (url, drop_schema) = pg_schema("cap2");
    let url_b = url.clone();
    let a = Server::start_with(
        move |_| url,
        Some(drop_schema),
        &[],
        &["[node]", "id = \"node-a\""],
    );
    let b = Server::start_with(move |_| url_b, None, &[], &["[node]", "id = \"node-b\""]);
    let api_a = Api::new(&a);
    let api_b = Api::new(&b);
    let (_, rule) = open_route(&api_a, json!({}));
    api_a.policy(&rule, json!({"max_concurrent_calls": 1}));
    wait_explain_limit(&api_a, 1, Duration::from_secs(2));
    // SPEC §8: config reaches every node within a second (some slack for a loaded host).
    wait_explain_limit(&api_b, 1, Duration::from_secs(2));

    let dir = Scratch::new("cap2");
    let on_a = Sipp::new(dir.path(), "node_a", "uac_call.xml", &a.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551239001")
        .hold_ms(3000)
        .spawn();
    let on_b = Sipp::new(dir.path(), "node_b", "uac_call.xml", &b.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551239002")
        .hold_ms(3000)
        .spawn();
    let run_a = on_a.wait();
    let run_b = on_b.wait();
    run_a.assert_ok();
    run_b.assert_ok();
    let mut finals: Vec<u16> = run_a.invite_finals();
    finals.extend(run_b.invite_finals());
    finals.sort();
    assert_eq!(
        finals,
        vec![200, 486],
        "one call per node, limit 1 across both:\n{}\n{}",
        run_a.dump(),
        run_b.dump()
    );
    // Both nodes' records are in the shared database.
    let calls = api_b.wait_calls(
        &format!("rule_id={rule}"),
        "2 ended calls",
        RECORD_TIMEOUT,
        |cs| cs.len() == 2 && cs.iter().all(|c| c["state"] == "ended"),
    );
    let busy: Vec<&Value> = calls
        .iter()
        .filter(|c| c["reason"] == "over_capacity")
        .collect();
    assert_eq!(busy.len(), 1, "{calls:#?}");
    assert_record(
        busy[0],
        &[
            ("status", json!("rejected")),
            ("sip_status", json!(486)),
            ("answered_at", Value::Null),
        ],
    );
    let done: Vec<&Value> = calls
        .iter()
        .filter(|c| c["status"] == "completed")
        .collect();
    assert_eq!(done.len(), 1, "{calls:#?}");
    assert_record(
        done[0],
        &[("reason", json!("caller_bye")), ("sip_status", json!(200))],
    );
    let mut nodes: Vec<&str> = calls.iter().filter_map(|c| c["node_id"].as_str()).collect();
    nodes.sort();
    assert_eq!(nodes, ["node-a", "node-b"], "{calls:#?}");

    // Both calls ended: the slot is free for either node.
    std::thread::sleep(Duration::from_millis(300));
    let run = Sipp::new(dir.path(), "after", "uac_call.xml", &b.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551239003")
        .hold_ms(300)
        .run();
    run.assert_ok();
    assert_eq!(
        run.invite_finals(),
        vec![200],
        "slot not released:\n{}",
        run.dump()
    );
    let rec = api_a.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[("status", json!("completed")), ("node_id", json!("node-b"))],
    );
}

// ---------------------------------------------------------------------------------------
// 2. Re-INVITE hold / resume

#[test]
fn reinvite_hold_and_resume_are_answered_and_the_call_completes() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let (_, rule) = open_route(&api, json!({}));
    let raw = RawSip::new(&server.sip_udp);
    let media = media_socket();
    let mport = media.local_addr().unwrap().port();
    let call_id = unique("hold");
    let caller = "+15551239010";
    let ok = answered_call(&raw, &call_id, caller, &offer(mport, "sendrecv", 1));
    let server_rtp = answer_media(&ok);
    assert_eq!(direction(&ok), ["a=sendrecv"], "{ok}");
    // Before hold the server sends (silence) to our SDP address.
    assert!(
        count_rtp(&media, server_rtp, Duration::from_millis(600)) > 0,
        "no RTP from {server_rtp} before hold"
    );

    // Hold: we only send → the server answers recvonly and stops sending.
    raw.send(&in_dialog_sdp(
        &raw,
        &ok,
        "INVITE",
        2,
        &offer(mport, "sendonly", 2),
        caller,
    ));
    let held = final_for(&raw, "2 INVITE", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no answer to the hold re-INVITE:\n{}", raw.dump()));
    assert_eq!(status_of(&held), Some(200), "hold:\n{}", raw.dump());
    assert!(
        header(&held, "Content-Type").is_some_and(|c| c.starts_with("application/sdp")),
        "hold 200 without SDP:\n{held}"
    );
    assert_eq!(direction(&held), ["a=recvonly"], "hold answer:\n{held}");
    assert_eq!(
        answer_media(&held),
        server_rtp,
        "the media port moved:\n{held}"
    );
    raw.send(&raw.in_dialog(&held, "ACK", 2, ""));
    let _ = count_rtp(&media, server_rtp, Duration::from_millis(150));
    let during = count_rtp(&media, server_rtp, Duration::from_millis(500));
    assert_eq!(
        during, 0,
        "the server kept sending RTP while on hold (a=recvonly)"
    );

    // Resume.
    raw.send(&in_dialog_sdp(
        &raw,
        &ok,
        "INVITE",
        3,
        &offer(mport, "sendrecv", 3),
        caller,
    ));
    let resumed = final_for(&raw, "3 INVITE", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no answer to the resume re-INVITE:\n{}", raw.dump()));
    assert_eq!(status_of(&resumed), Some(200), "resume:\n{}", raw.dump());
    assert_eq!(
        direction(&resumed),
        ["a=sendrecv"],
        "resume answer:\n{resumed}"
    );
    raw.send(&raw.in_dialog(&resumed, "ACK", 3, ""));
    assert!(
        count_rtp(&media, server_rtp, Duration::from_millis(800)) > 0,
        "no RTP from {server_rtp} after resume"
    );
    // The o= version grows with each new answer.
    let o_version = |m: &str| -> u64 {
        body(m)
            .lines()
            .find_map(|l| l.strip_prefix("o="))
            .and_then(|o| o.split_whitespace().nth(2))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        o_version(&held) > o_version(&ok) && o_version(&resumed) > o_version(&held),
        "o= versions {} {} {}",
        o_version(&ok),
        o_version(&held),
        o_version(&resumed)
    );

    caller_bye(&raw, &ok, 4);
    let rec = api.ended_call(&call_id);
    assert_record(
        &rec,
        &[
            ("status", json!("completed")),
            ("reason", json!("caller_bye")),
            ("hangup_by", json!("caller")),
            ("sip_status", json!(200)),
            ("rule_id", json!(rule)),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// 3. max_call_duration

#[test]
fn max_call_duration_ends_the_call_with_bye() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let (trunk, _) = open_route(&api, json!({"max_call_duration": "2s"}));
    let (status, got) = api.twirp("GetSIPInboundTrunk", json!({"sip_trunk_id": trunk}));
    assert_eq!(status, 200, "{got}");
    let stored = got["trunk"]["maxCallDuration"]
        .as_str()
        .or(got["trunk"]["max_call_duration"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        stored.starts_with('2'),
        "max_call_duration not stored: {got:#}"
    );

    let dir = Scratch::new("maxdur");
    let started = Instant::now();
    let run = Sipp::new(dir.path(), "maxdur", "uac_wait_bye.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551239020")
        .timeout(Duration::from_secs(20))
        .run();
    let took = started.elapsed();
    run.assert_ok();
    assert!(
        !run.requests("BYE").is_empty(),
        "no BYE from the server:\n{}",
        run.dump()
    );
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(8),
        "the server hung up after {took:?} with max_call_duration 2s"
    );
    let rec = api.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[
            ("status", json!("completed")),
            ("reason", json!("max_duration")),
            ("hangup_by", json!("server")),
            ("sip_status", json!(200)),
        ],
    );
    let d = rec["duration_secs"].as_f64().unwrap_or(-1.0);
    assert!((1.5..5.0).contains(&d), "duration_secs {d}: {rec:#}");
}

// ---------------------------------------------------------------------------------------
// 4. Media timeout

#[test]
fn silent_caller_is_hung_up_after_the_media_timeout() {
    let server = sip_server(&["[media]", "timeout_secs = 2", "initial_timeout_secs = 2"]);
    let api = Api::new(&server);
    open_route(&api, json!({}));
    let raw = RawSip::new(&server.sip_udp);
    let media = media_socket(); // never sends
    let call_id = unique("mto");
    let started = Instant::now();
    let _ok = answered_call(
        &raw,
        &call_id,
        "+15551239030",
        &offer(media.local_addr().unwrap().port(), "sendrecv", 1),
    );
    let bye = request_from_server(&raw, "BYE", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no BYE after the media timeout:\n{}", raw.dump()));
    let took = started.elapsed();
    raw.send(&response_to(&bye, 200, "OK"));
    assert_eq!(
        header(&bye, "Call-ID").as_deref(),
        Some(call_id.as_str()),
        "{bye}"
    );
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(7),
        "BYE after {took:?} with a 2 s media timeout"
    );
    let rec = api.ended_call(&call_id);
    assert_record(
        &rec,
        &[
            ("status", json!("completed")),
            ("reason", json!("media_timeout")),
            ("hangup_by", json!("server")),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// 5. Interrupted at restart

/// The pid of a running `switchboard serve` started with a config file (its path, in the
/// server's scratch directory, is on the command line).
fn server_pid(server: &Server) -> u32 {
    let needle = server.dir().to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(" serve ") && cmdline.contains(&needle) {
            return pid;
        }
    }
    panic!("no process for the server in {needle}");
}

#[test]
fn calls_cut_by_a_crash_are_closed_as_interrupted_at_the_next_start() {
    let keep = std::env::temp_dir().join(unique("switchboard-lifecycle-interrupted"));
    std::fs::create_dir_all(&keep).expect("a directory for the database");
    let db = keep.join("calls.db").to_string_lossy().into_owned();
    let config = ["[node]", "id = \"node-crash\""];
    let db1 = db.clone();
    let first = Server::start_with(move |_| db1, None, &[], &config);
    let api = Api::new(&first);
    open_route(&api, json!({}));
    let raw = RawSip::new(&first.sip_udp);
    let media = media_socket();
    let call_id = unique("crash");
    let _ok = answered_call(
        &raw,
        &call_id,
        "+15551239040",
        &offer(media.local_addr().unwrap().port(), "sendrecv", 1),
    );
    let live = api.call_where(&call_id, "active", |c| c["state"] == "active");
    assert_record(
        &live,
        &[("status", json!("live")), ("node_id", json!("node-crash"))],
    );
    let id = live["id"].as_str().unwrap_or_default().to_string();
    std::thread::sleep(Duration::from_millis(200));

    let pid = server_pid(&first);
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(killed, "kill -9 {pid}");
    std::thread::sleep(Duration::from_millis(300));
    drop(first); // reaps the process, removes its scratch directory (the DB is elsewhere)

    let db2 = db.clone();
    let second = Server::start_with(move |_| db2, None, &[], &config);
    let api = Api::new(&second);
    let rec = api.call_where(&call_id, "interrupted", |c| c["state"] == "ended");
    assert_record(
        &rec,
        &[
            ("id", json!(id)),
            ("status", json!("interrupted")),
            ("reason", json!("interrupted")),
            ("node_id", json!("node-crash")),
        ],
    );
    assert!(rec["ended_at"].is_string(), "ended_at not set: {rec:#}");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let log = second.log_text();
        if log
            .lines()
            .any(|l| l.contains("interrupted") && l.contains("1 call"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted server did not mention the interrupted call; its output:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, body) = api.get("/api/v1/calls?status=interrupted");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["calls"].as_array().map(Vec::len), Some(1), "{body:#}");
    drop(second);
    let _ = std::fs::remove_dir_all(&keep);
}

// ---------------------------------------------------------------------------------------
// 6. API hang-up

#[test]
fn api_hangup_sends_bye_to_an_answered_call_and_480_to_a_ringing_one() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({
        "name": "carrier", "numbers": [NUMBER, "+15550111"], "ringing_timeout": "20s"
    }));
    api.rule(json!({
        "name": "open", "trunk_ids": [trunk], "numbers": [NUMBER],
        "rule": {"dispatch_rule_individual": {"room_prefix": "call"}}
    }));
    api.rule(json!({
        "name": "agents", "trunk_ids": [trunk], "numbers": ["+15550111"],
        "rule": {"dispatch_rule_individual": {"room_prefix": "agent"}},
        "room_config": {"agents": [{"agent_name": "nobody-registered"}]}
    }));

    // Unknown call: 404 with a message.
    let (status, body) = api.post("/api/v1/calls/SCL_nope/hangup", json!({}));
    assert_eq!(status, 404, "{body}");
    assert!(
        body["msg"].as_str().is_some_and(|m| !m.is_empty()) || body["message"].is_string(),
        "404 without a message: {body}"
    );

    // Answered call → BYE.
    let raw = RawSip::new(&server.sip_udp);
    let media = media_socket();
    let call_id = unique("apihup");
    let _ok = answered_call(
        &raw,
        &call_id,
        "+15551239050",
        &offer(media.local_addr().unwrap().port(), "sendrecv", 1),
    );
    let live = api.call_where(&call_id, "active", |c| c["state"] == "active");
    let id = live["id"].as_str().unwrap_or_default().to_string();
    let (status, body) = api.post(&format!("/api/v1/calls/{id}/hangup"), json!({}));
    assert_eq!(status, 200, "{body}");
    let bye = request_from_server(&raw, "BYE", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no BYE after the API hang-up:\n{}", raw.dump()));
    raw.send(&response_to(&bye, 200, "OK"));
    let rec = api.ended_call(&call_id);
    assert_record(
        &rec,
        &[
            ("status", json!("completed")),
            ("reason", json!("hangup_api")),
            ("hangup_by", json!("server")),
            ("sip_status", json!(200)),
        ],
    );
    // A second hang-up of the ended call: 404.
    let (status, body) = api.post(&format!("/api/v1/calls/{id}/hangup"), json!({}));
    assert_eq!(status, 404, "hang-up of an ended call: {body}");

    // Ringing call → 480.
    let raw = RawSip::new(&server.sip_udp);
    let call_id = unique("apihup-ring");
    let branch = RawSip::branch();
    raw.send(&raw.invite(
        &call_id,
        "+15551239051",
        "+15550111",
        "r1",
        1,
        &branch,
        &[],
        &offer(media.local_addr().unwrap().port(), "sendrecv", 1),
    ));
    wait_msg(&raw, Duration::from_secs(5), |m| status_of(m) == Some(180))
        .unwrap_or_else(|| panic!("no 180:\n{}", raw.dump()));
    let ringing = api.call_where(&call_id, "ringing", |c| c["state"] == "ringing");
    let id = ringing["id"].as_str().unwrap_or_default().to_string();
    let (status, body) = api.post(&format!("/api/v1/calls/{id}/hangup"), json!({}));
    assert_eq!(status, 200, "{body}");
    let fin = final_for(&raw, "1 INVITE", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no final answer after the API hang-up:\n{}", raw.dump()));
    assert_eq!(status_of(&fin), Some(480), "{}", raw.dump());
    raw.send(&raw.ack_non2xx(&fin, "+15550111", &branch));
    let rec = api.ended_call(&call_id);
    assert_record(
        &rec,
        &[
            ("status", json!("rejected")),
            ("reason", json!("hangup_api")),
            ("sip_status", json!(480)),
            ("answered_at", Value::Null),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// 7. switchboard calls tail

#[test]
fn calls_tail_prints_each_calls_final_state_and_list_rejects_a_bogus_status() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    open_route(&api, json!({}));
    let url = server.url.clone();
    let tail = std::thread::spawn(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.args([
            "calls",
            "tail",
            "--json",
            "--duration",
            "6",
            "--url",
            &url,
            "--api-key",
            "devkey",
            "--api-secret",
            "secret",
        ]);
        support::run(cmd, "tail", Duration::from_secs(20))
    });
    std::thread::sleep(Duration::from_millis(1200));

    // A rejected call (no trunk) and a completed one.
    let raw = RawSip::new(&server.sip_udp);
    let rejected_id = unique("tail-404");
    let branch = RawSip::branch();
    let sdp = offer(media_socket().local_addr().unwrap().port(), "sendrecv", 1);
    raw.send(&raw.invite(
        &rejected_id,
        "+15551239060",
        "+15559999",
        "t1",
        1,
        &branch,
        &[],
        &sdp,
    ));
    let fin = final_for(&raw, "1 INVITE", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no answer:\n{}", raw.dump()));
    assert_eq!(status_of(&fin), Some(404), "{}", raw.dump());
    raw.send(&raw.ack_non2xx(&fin, "+15559999", &branch));
    let completed_id = unique("tail-ok");
    let ok = answered_call(&raw, &completed_id, "+15551239061", &sdp);
    std::thread::sleep(Duration::from_millis(500));
    caller_bye(&raw, &ok, 2);
    api.ended_call(&completed_id);
    api.ended_call(&rejected_id);

    let out = tail.join().expect("the tail thread");
    assert!(
        out.status.is_some_and(|s| s.success()),
        "calls tail --duration 6 did not exit 0 in time ({:?}):\n{}",
        out.status,
        out.tail(40)
    );
    let lines: Vec<Value> = out
        .output
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.is_object())
        .collect();
    let non_json: Vec<&String> = out
        .output
        .iter()
        .filter(|l| !l.trim().is_empty() && serde_json::from_str::<Value>(l).is_err())
        .collect();
    assert!(
        non_json.is_empty(),
        "calls tail --json printed non-JSON lines: {non_json:#?}"
    );
    for (sip_id, status, reason) in [
        (&rejected_id, "rejected", "no_trunk"),
        (&completed_id, "completed", "caller_bye"),
    ] {
        assert!(
            lines.iter().any(|v| v["sip_call_id"] == sip_id.as_str()
                && v["state"] == "ended"
                && v["status"] == status
                && v["reason"] == reason),
            "calls tail never printed the final state ({status}/{reason}) of {sip_id}:\n{}",
            out.tail(40)
        );
    }

    // calls list --status bogus → non-zero exit, a message naming the valid statuses.
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "calls",
            "list",
            "--status",
            "bogus",
            "--url",
            &server.url,
            "--api-key",
            "devkey",
            "--api-secret",
            "secret",
        ])
        .output()
        .expect("run the CLI");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "calls list --status bogus succeeded: {text}"
    );
    for s in [
        "live",
        "completed",
        "rejected",
        "cancelled",
        "failed",
        "interrupted",
    ] {
        assert!(text.contains(s), "the error does not name {s:?}: {text}");
    }
}

// ---------------------------------------------------------------------------------------
// 8. Hostile RTP

fn hostile_datagrams() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    // Pseudo-random bytes with a version field of 0 (never valid RTP).
    let mut x: u32 = 0x1234_5678;
    for len in [1usize, 3, 11, 12, 40, 172, 400, 1400] {
        let mut v = Vec::with_capacity(len);
        for _ in 0..len {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            v.push((x >> 24) as u8);
        }
        v[0] &= 0x3f;
        out.push(v);
    }
    out.push(Vec::new()); // empty datagram
    out.push(vec![0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00]); // truncated header
    let mut v1 = rtp_packet(0, 1, 160, 0xdead_beef, &[0xff; 160]);
    v1[0] = 0x40; // RTP version 1
    out.push(v1);
    let mut cc = rtp_packet(0, 2, 320, 0xdead_beef, &[0xff; 8]);
    cc[0] = 0x8f; // CSRC count 15 with 8 bytes after the header
    out.push(cc);
    let mut ext = rtp_packet(
        0,
        3,
        480,
        0xdead_beef,
        &[0xbe, 0xde, 0xff, 0xff, 1, 2, 3, 4],
    );
    ext[0] = 0x90; // extension of 0xffff words
    out.push(ext);
    let mut pad = rtp_packet(0, 4, 640, 0xdead_beef, &[0xff; 8]);
    pad[0] = 0xa0; // padding longer than the payload
    let last = pad.len() - 1;
    pad[last] = 0xff;
    out.push(pad);
    out.push(vec![0xff; 1500]); // version 3
    out.push(vec![0x80, 200, 0xff, 0xff, 0, 0, 0, 1]); // RTCP-looking, bad length
    out.push(vec![0x81, 201, 0x00, 0x40]); // truncated RTCP RR
    out.push(rtp_packet(97, 5, 800, 0xdead_beef, &[0u8; 160])); // unknown payload type
    out
}

#[test]
fn hostile_rtp_is_dropped_and_the_call_survives_and_latches_valid_pcmu() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    open_route(&api, json!({}));
    let raw = RawSip::new(&server.sip_udp);
    let caller_media = media_socket();
    let stranger = media_socket();
    let call_id = unique("rtp");
    let ok = answered_call(
        &raw,
        &call_id,
        "+15551239070",
        &offer(caller_media.local_addr().unwrap().port(), "sendrecv", 1),
    );
    let server_rtp = answer_media(&ok);
    for _ in 0..3 {
        for d in hostile_datagrams() {
            let _ = caller_media.send_to(&d, server_rtp);
            let _ = stranger.send_to(&d, server_rtp);
            // The RTCP port (rtp + 1) too.
            let rtcp: SocketAddr = SocketAddr::new(server_rtp.ip(), server_rtp.port() + 1);
            let _ = stranger.send_to(&d, rtcp);
        }
    }
    // The server is still sending to the SDP address: nothing latched onto junk.
    assert!(
        count_rtp(&caller_media, server_rtp, Duration::from_millis(500)) > 0,
        "no RTP to the caller's SDP address after the junk"
    );

    // A valid PCMU stream from a third socket latches: the server's RTP goes there.
    let latched = media_socket();
    let ssrc = 0x5151_0001u32;
    let mut seq = 1000u16;
    let mut ts = 16_000u32;
    for _ in 0..15 {
        let _ = latched.send_to(&rtp_packet(0, seq, ts, ssrc, &[0xff; 160]), server_rtp);
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
        std::thread::sleep(Duration::from_millis(20));
    }
    // More junk, now also from the latched source, mixed with the stream.
    for d in hostile_datagrams() {
        let _ = latched.send_to(&d, server_rtp);
        let _ = stranger.send_to(&d, server_rtp);
        let _ = latched.send_to(&rtp_packet(0, seq, ts, ssrc, &[0xff; 160]), server_rtp);
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
    }
    let to_latched = count_rtp(&latched, server_rtp, Duration::from_millis(600));
    assert!(
        to_latched > 0,
        "the server did not latch onto the valid PCMU source (no RTP came back to it)"
    );

    // Still alive on SIP: OPTIONS in and BYE answered.
    caller_bye(&raw, &ok, 2);
    let rec = api.ended_call(&call_id);
    assert_record(
        &rec,
        &[
            ("status", json!("completed")),
            ("reason", json!("caller_bye")),
            ("hangup_by", json!("caller")),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// 9. Hostile SDP

#[test]
fn hostile_sdp_offers_get_400_or_488_and_the_server_keeps_answering() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    open_route(&api, json!({}));
    let raw = RawSip::new(&server.sip_udp);
    let good = PCMU_SDP_TEMPLATE.replace("{port}", "30000");
    let mut huge = good.clone();
    while huge.len() < 20 * 1024 {
        huge.push_str("a=x-junk:0123456789abcdef0123456789abcdef0123456789abcdef\r\n");
    }
    let cases: Vec<(&str, String)> = vec![
        ("x=1 only", "x=1\r\n".into()),
        (
            "no m-line",
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=sendrecv\r\n"
                .into(),
        ),
        ("20 KB of a= lines", huge),
        (
            "m=audio port 0 only",
            good.replace("m=audio 30000 ", "m=audio 0 "),
        ),
        (
            "no c= line",
            good.replace("c=IN IP4 127.0.0.1\r\n", ""),
        ),
        (
            "binary junk",
            "v=0\r\n\u{1}\u{2}\u{7f}m=audio abc RTP/AVP\r\nm=\r\nc=IN IP4 999.1.1.1\r\n".into(),
        ),
    ];
    let mut failures = Vec::new();
    for (i, (what, sdp)) in cases.iter().enumerate() {
        let call_id = unique(&format!("sdp{i}"));
        let branch = RawSip::branch();
        raw.send(&raw.invite(&call_id, "+15551239080", NUMBER, "s1", 1, &branch, &[], sdp));
        let Some(fin) = final_for(&raw, "1 INVITE", Duration::from_secs(5)) else {
            failures.push(format!("{what}: no final answer"));
            continue;
        };
        let code = status_of(&fin).unwrap_or(0);
        if code == 200 {
            // Do not leave it up: ACK and BYE.
            raw.send(&raw.in_dialog(&fin, "ACK", 1, ""));
            raw.send(&raw.in_dialog(&fin, "BYE", 2, ""));
            let _ = final_for(&raw, "2 BYE", Duration::from_secs(3));
        } else {
            raw.send(&raw.ack_non2xx(&fin, NUMBER, &branch));
        }
        if code != 400 && code != 488 {
            failures.push(format!("{what}: got {code}, expected 400 or 488"));
        }
        let rec = api.ended_call(&call_id);
        let reason = rec["reason"].as_str().unwrap_or_default();
        if !["malformed_sdp", "no_usable_audio", "no_common_codec"].contains(&reason) {
            failures.push(format!("{what}: record reason {reason:?} (sip {code})"));
        }
        if (code == 400 || code == 488)
            && (rec["sip_status"] != json!(code) || rec["status"] != "rejected")
        {
            failures.push(format!("{what}: record {rec}"));
        }
    }
    // Still answering OPTIONS.
    let probe = RawSip::new(&server.sip_udp);
    probe.send(&format!(
        "OPTIONS sip:{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={b};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:probe@{me}>;tag=p\r\nTo: <sip:{srv}>\r\nCall-ID: {cid}\r\nCSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        srv = probe.server,
        me = probe.local,
        b = RawSip::branch(),
        cid = unique("alive"),
    ));
    let r = probe
        .recv_final("OPTIONS", Duration::from_secs(3))
        .unwrap_or_else(|| panic!("the server stopped answering OPTIONS:\n{}", probe.dump()));
    assert_eq!(status_of(&r), Some(200), "{r}");
    assert!(failures.is_empty(), "{failures:#?}\n{}", raw.dump());
}
