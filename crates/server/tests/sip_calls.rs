//! End-to-end SIP calls against the built binary (SPEC §3 outcome table, §5, §8): SIPp and
//! hand-made UDP requests against `switchboard serve`, each outcome checked on the wire
//! and on the call record.
//!
//! Each test starts its own server; SIPp's logs go to a scratch directory and are printed
//! when a test fails.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::sip::*;

/// A server with one trunk for `number` and an Individual rule (prefix `call`, no agents).
fn open_route(config: &[&str], number: &str) -> (support::Server, Api, String, String) {
    let server = sip_server(config);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [number]}));
    let rule = api.rule(json!({
        "name": "open",
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "call"}}
    }));
    (server, api, trunk, rule)
}

fn is_base57(s: &str) -> bool {
    const A: &str = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    s.chars().all(|c| A.contains(c))
}

#[test]
fn accepted_call_answers_with_sdp_joins_the_room_and_completes_on_caller_bye() {
    let (server, api, trunk, rule) = open_route(&[], "+15550100");
    let dir = Scratch::new("accepted");
    let sipp = Sipp::new(dir.path(), "accepted", "uac_call.xml", &server.sip_udp)
        .service("+15550100")
        .set("from_user", "15551230001")
        .hold_ms(3000)
        .spawn();

    // While the call is up: a live record in state active, a room with the caller in it.
    let live = api.wait_calls("status=live", "an active call", RECORD_TIMEOUT, |cs| {
        cs.iter().any(|c| c["state"] == "active")
    });
    let room_name = live[0]["room_name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, room) = api.get(&format!("/api/v1/rooms/{}", urlencode(&room_name)));
    assert_eq!(status, 200, "GET room {room_name}: {room}");
    let participants = room["participants"].as_array().cloned().unwrap_or_default();
    let caller = participants
        .iter()
        .find(|p| p["kind"] == "sip")
        .unwrap_or_else(|| panic!("no SIP participant in {room:#}"));
    assert_eq!(caller["identity"], "sip_+15551230001", "{room:#}");
    assert_eq!(caller["attributes"]["sip.callStatus"], "active", "{room:#}");
    assert_eq!(
        caller["attributes"]["sip.trunkID"],
        trunk.as_str(),
        "{room:#}"
    );
    assert_eq!(
        caller["attributes"]["sip.ruleID"],
        rule.as_str(),
        "{room:#}"
    );

    let run = sipp.wait();
    run.assert_ok();
    // The exchange: 100, 180, then a 200 whose SDP answers PCMU (our preference, although
    // the offer listed PCMA first) and keeps telephone-event.
    assert!(
        !run.responses(100).is_empty(),
        "no 100 Trying:\n{}",
        run.dump()
    );
    assert!(
        !run.responses(180).is_empty(),
        "no 180 Ringing:\n{}",
        run.dump()
    );
    let ok = run
        .responses(200)
        .into_iter()
        .find(|m| header(m, "CSeq").is_some_and(|c| c.ends_with("INVITE")))
        .unwrap_or_else(|| panic!("no 200 for the INVITE:\n{}", run.dump()));
    assert!(
        header(&ok, "Content-Type").is_some_and(|c| c.starts_with("application/sdp")),
        "200 without SDP:\n{ok}"
    );
    assert!(
        header(&ok, "Contact").is_some(),
        "200 without Contact:\n{ok}"
    );
    let sdp = body(&ok);
    let m_line = sdp
        .lines()
        .find(|l| l.starts_with("m=audio"))
        .unwrap_or_else(|| panic!("no m=audio in the answer:\n{ok}"));
    let fmts: Vec<&str> = m_line.split_whitespace().skip(3).collect();
    assert_eq!(
        fmts.first(),
        Some(&"0"),
        "PCMU must be answered first: {m_line}"
    );
    assert!(!fmts.contains(&"8") || fmts[0] == "0", "{m_line}");
    assert!(
        sdp.contains("telephone-event/8000"),
        "telephone-event offered but not answered:\n{sdp}"
    );
    assert!(
        run.responses(200)
            .iter()
            .any(|m| header(m, "CSeq").is_some_and(|c| c.ends_with("BYE"))),
        "no 200 for BYE:\n{}",
        run.dump()
    );

    let rec = api.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[
            ("status", json!("completed")),
            ("reason", json!("caller_bye")),
            ("hangup_by", json!("caller")),
            ("sip_status", json!(200)),
            ("transport", json!("udp")),
            ("trunk_id", json!(trunk)),
            ("rule_id", json!(rule)),
            ("caller", json!("15551230001")),
            ("called", json!("+15550100")),
            ("source_ip", json!("127.0.0.1")),
            ("routed_from_rule_id", Value::Null),
        ],
    );
    assert!(rec["answered_at"].is_string(), "answered_at: {rec:#}");
    assert!(
        rec["duration_secs"].as_f64().is_some_and(|d| d >= 2.0),
        "{rec:#}"
    );
    // SPEC §5: Individual → <prefix>_<normalized caller>_<12 base57>.
    let name = rec["room_name"].as_str().unwrap_or_default();
    let suffix = name
        .strip_prefix("call_+15551230001_")
        .unwrap_or_else(|| panic!("room name {name:?} is not call_+15551230001_<random>"));
    assert!(
        suffix.len() == 12 && is_base57(suffix),
        "room name {name:?}"
    );
    assert_eq!(name, room_name);
    // The room closed with the call.
    let (status, body) = api.get(&format!("/api/v1/rooms/{}", urlencode(name)));
    assert_eq!(status, 404, "the room outlived the call: {body}");

    // The CLI sees the same record.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "calls",
            "list",
            "--url",
            &server.url,
            "--api-key",
            "devkey",
            "--api-secret",
            "secret",
            "--status",
            "completed",
            "--json",
        ])
        .output()
        .expect("run the CLI");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(rec["id"].as_str().unwrap_or("?")),
        "switchboard calls list: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tcp_call_completes_and_is_recorded_as_tcp() {
    let (server, api, _, _) = open_route(&[], "+15550100");
    let dir = Scratch::new("tcp");
    let run = Sipp::new(dir.path(), "tcp", "uac_call.xml", &server.sip_tcp)
        .tcp()
        .service("+15550100")
        .set("from_user", "+15551230002")
        .run();
    run.assert_ok();
    let rec = api.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[
            ("status", json!("completed")),
            ("reason", json!("caller_bye")),
            ("transport", json!("tcp")),
            ("sip_status", json!(200)),
        ],
    );
}

#[test]
fn no_common_codec_gets_488() {
    let (server, api, _, _) = open_route(&[], "+15550100");
    let dir = Scratch::new("g729");
    let run = Sipp::new(dir.path(), "g729", "uac_g729.xml", &server.sip_udp)
        .service("+15550100")
        .set("from_user", "+15551230003")
        .run();
    run.assert_ok();
    assert_eq!(run.invite_finals(), vec![488], "{}", run.dump());
    let rec = api.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[
            ("status", json!("rejected")),
            ("reason", json!("no_common_codec")),
            ("sip_status", json!(488)),
            ("answered_at", Value::Null),
        ],
    );
}

#[test]
fn unmatched_calls_get_404_no_trunk_and_no_rule() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "no rules", "numbers": ["+15550100"]}));
    let dir = Scratch::new("unmatched");
    for (name, called, reason, trunk_id) in [
        ("no_trunk", "+15559999", "no_trunk", Value::Null),
        ("no_rule", "+15550100", "no_rule", json!(trunk)),
    ] {
        let run = Sipp::new(dir.path(), name, "uac_reject.xml", &server.sip_udp)
            .service(called)
            .set("from_user", "+15551230004")
            .run();
        run.assert_ok();
        assert_eq!(run.invite_finals(), vec![404], "{name}:\n{}", run.dump());
        let rec = api.ended_call(&run.call_id());
        assert_record(
            &rec,
            &[
                ("status", json!("rejected")),
                ("reason", json!(reason)),
                ("sip_status", json!(404)),
                ("trunk_id", trunk_id),
            ],
        );
    }
}

#[test]
fn on_unmatched_drop_sends_no_final_answer() {
    let server = sip_server(&["[sip]", "on_unmatched = \"drop\""]);
    let api = Api::new(&server);
    api.trunk(json!({"name": "no rules", "numbers": ["+15550100"]}));
    let raw = RawSip::new(&server.sip_udp);
    for (called, reason) in [("+15559999", "no_trunk"), ("+15550100", "no_rule")] {
        let call_id = format!("drop-{reason}-{}", std::process::id());
        let branch = RawSip::branch();
        let sdp = PCMU_SDP_TEMPLATE.replace("{port}", "30000");
        raw.send(&raw.invite(
            &call_id,
            "+15551230005",
            called,
            "t1",
            1,
            &branch,
            &[],
            &sdp,
        ));
        // Collect everything for 3 s: at most a 100 Trying, never a final answer.
        let deadline = Instant::now() + Duration::from_secs(3);
        while let Some(m) = raw.recv(deadline.saturating_duration_since(Instant::now())) {
            let code = status_of(&m);
            assert!(
                code == Some(100),
                "{reason}: only 100 Trying may come with on_unmatched=drop, got:\n{}",
                raw.dump()
            );
        }
        let rec = api.ended_call(&call_id);
        assert_record(
            &rec,
            &[("status", json!("rejected")), ("reason", json!(reason))],
        );
    }
}

#[test]
fn ringing_refreshes_180_until_ringing_timeout_then_480_no_agent() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({
        "name": "carrier", "numbers": ["+15550100"], "ringing_timeout": "3s"
    }));
    let rule = api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "agent"}},
        "room_config": {"agents": [{"agent_name": "nobody-registered", "metadata": "{}"}]}
    }));
    let dir = Scratch::new("ringing");
    let started = Instant::now();
    let sipp = Sipp::new(dir.path(), "ringing", "uac_reject.xml", &server.sip_udp)
        .service("+15550100")
        .set("from_user", "+15551230006")
        .spawn();
    // While it rings, the caller is in the room with sip.callStatus = ringing.
    let live = api.wait_calls("status=live", "a ringing call", RECORD_TIMEOUT, |cs| {
        cs.iter().any(|c| c["state"] == "ringing")
    });
    let room_name = live[0]["room_name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, room) = api.get(&format!("/api/v1/rooms/{}", urlencode(&room_name)));
    assert_eq!(status, 200, "GET room {room_name:?}: {room}");
    let caller = room["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["kind"] == "sip").cloned())
        .unwrap_or_else(|| panic!("no SIP participant in {room:#}"));
    assert_eq!(
        caller["attributes"]["sip.callStatus"], "ringing",
        "{room:#}"
    );
    let run = sipp.wait();
    let took = started.elapsed();
    run.assert_ok();
    assert_eq!(run.invite_finals(), vec![480], "{}", run.dump());
    let ringing = run.responses(180).len();
    assert!(
        ringing >= 3,
        "expected 180 refreshed about every second for 3 s, got {ringing}:\n{}",
        run.dump()
    );
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(10),
        "the call lasted {took:?} with a 3 s ringing_timeout"
    );
    let rec = api.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[
            ("status", json!("rejected")),
            ("reason", json!("no_agent")),
            ("sip_status", json!(480)),
            ("rule_id", json!(rule)),
            ("answered_at", Value::Null),
        ],
    );
}

#[test]
fn cancel_while_ringing_gets_200_and_487() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({
        "name": "carrier", "numbers": ["+15550100"], "ringing_timeout": "20s"
    }));
    api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "agent"}},
        "room_config": {"agents": [{"agent_name": "nobody-registered"}]}
    }));
    let dir = Scratch::new("cancel");
    let run = Sipp::new(dir.path(), "cancel", "uac_cancel.xml", &server.sip_udp)
        .service("+15550100")
        .set("from_user", "+15551230007")
        .run();
    run.assert_ok();
    assert_eq!(run.invite_finals(), vec![487], "{}", run.dump());
    let rec = api.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[
            ("status", json!("cancelled")),
            ("reason", json!("cancelled")),
            ("hangup_by", json!("caller")),
            ("sip_status", json!(487)),
            ("answered_at", Value::Null),
        ],
    );
}

#[test]
fn udp_retransmissions_under_20_percent_loss_keep_one_record_per_call() {
    let (server, api, _, _) = open_route(&[], "+15550100");
    let dir = Scratch::new("lossy");
    let run = Sipp::new(dir.path(), "lossy", "uac_call.xml", &server.sip_udp)
        .service("+15550100")
        .set("from_user", "+15551230008")
        .calls(20)
        .rate(10, 20)
        .hold_ms(500)
        .args(&["-lost", "20"])
        .timeout(Duration::from_secs(60))
        .run();
    run.assert_ok();
    let ids = run.call_ids();
    assert_eq!(ids.len(), 20, "{}", run.dump());
    let calls = api.wait_calls("limit=1000", "20 completed calls", RECORD_TIMEOUT, |cs| {
        cs.iter().filter(|c| c["status"] == "completed").count() >= 20
            && cs.iter().all(|c| c["state"] == "ended")
    });
    for id in &ids {
        let mine: Vec<&Value> = calls.iter().filter(|c| c["sip_call_id"] == *id).collect();
        assert_eq!(mine.len(), 1, "records for Call-ID {id}: {mine:#?}");
        assert_eq!(mine[0]["status"], "completed", "{:#}", mine[0]);
    }
    assert_eq!(calls.len(), 20, "more records than calls: {calls:#?}");
}

#[test]
fn options_unknown_methods_and_stray_bye_get_their_answers() {
    let server = sip_server(&[]);
    let raw = RawSip::new(&server.sip_udp);
    let req = |method: &str, call_id: &str, to_tag: &str| {
        format!(
            "{method} sip:{srv} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch={b};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:probe@{me}>;tag=p1\r\n\
             To: <sip:{srv}>{to_tag}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 {method}\r\n\
             Content-Length: 0\r\n\r\n",
            srv = raw.server,
            me = raw.local,
            b = RawSip::branch(),
        )
    };
    raw.send(&req("OPTIONS", "opt-1", ""));
    let r = raw
        .recv_final("OPTIONS", Duration::from_secs(3))
        .unwrap_or_else(|| panic!("no answer to OPTIONS:\n{}", raw.dump()));
    assert_eq!(status_of(&r), Some(200), "{r}");

    raw.send(&req("MESSAGE", "msg-1", ""));
    let r = raw
        .recv_final("MESSAGE", Duration::from_secs(3))
        .unwrap_or_else(|| panic!("no answer to MESSAGE:\n{}", raw.dump()));
    assert_eq!(status_of(&r), Some(405), "{r}");
    let allow = header(&r, "Allow").unwrap_or_else(|| panic!("405 without Allow:\n{r}"));
    assert!(
        allow.contains("INVITE") && allow.contains("BYE"),
        "Allow: {allow}"
    );

    raw.send(&req("BYE", "no-such-dialog", ";tag=nothere"));
    let r = raw
        .recv_final("BYE", Duration::from_secs(3))
        .unwrap_or_else(|| panic!("no answer to a stray BYE:\n{}", raw.dump()));
    assert_eq!(status_of(&r), Some(481), "{r}");
}

#[test]
fn malformed_requests_get_400_and_the_server_survives() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let raw = RawSip::new(&server.sip_udp);
    let sdp = PCMU_SDP_TEMPLATE.replace("{port}", "30000");
    let good = raw.invite(
        "bad-1",
        "+15551230009",
        "+15550100",
        "t1",
        1,
        &RawSip::branch(),
        &[],
        &sdp,
    );
    let without = |name: &str| -> String {
        good.split("\r\n")
            .filter(|l| !l.starts_with(name))
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let cases: Vec<(&str, String)> = vec![
        ("missing Call-ID", without("Call-ID:")),
        ("missing From tag", good.replace(";tag=t1", "")),
        (
            "bad CSeq",
            good.replace("CSeq: 1 INVITE", "CSeq: one INVITE"),
        ),
        (
            "Content-Length longer than the datagram",
            good.replace(
                &format!("Content-Length: {}", sdp.len()),
                &format!("Content-Length: {}", sdp.len() + 200),
            ),
        ),
    ];
    for (what, msg) in &cases {
        let msg = msg.replace("bad-1", &format!("bad-{}", what.replace(' ', "-")));
        raw.send(&msg);
        let r = raw
            .recv(Duration::from_secs(3))
            .unwrap_or_else(|| panic!("{what}: no answer; expected 400:\n{}", raw.dump()));
        assert_eq!(status_of(&r), Some(400), "{what}:\n{}", raw.dump());
    }
    // Pure garbage gets no answer.
    for junk in [
        &b"\x00\x01\x02\xff\xfe garbage"[..],
        b"INVITE\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
        b"\r\n\r\n",
        &[0xffu8; 1400][..],
    ] {
        raw.send_bytes(junk);
    }
    assert!(
        raw.recv(Duration::from_millis(800))
            .is_none_or(|m| status_of(&m).is_none()),
        "garbage got an answer:\n{}",
        raw.dump()
    );
    // Still alive: OPTIONS over SIP, and the API.
    let probe = RawSip::new(&server.sip_udp);
    probe.send(&format!(
        "OPTIONS sip:{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={b};rport\r\nMax-Forwards: 70\r\n\
         From: <sip:probe@{me}>;tag=p\r\nTo: <sip:{srv}>\r\nCall-ID: alive-1\r\nCSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        srv = probe.server,
        me = probe.local,
        b = RawSip::branch()
    ));
    let r = probe
        .recv_final("OPTIONS", Duration::from_secs(3))
        .unwrap_or_else(|| panic!("the server stopped answering:\n{}", probe.dump()));
    assert_eq!(status_of(&r), Some(200), "{r}");
    let (status, _) = api.get("/api/v1/calls");
    assert_eq!(status, 200);
}

#[test]
fn node_overload_sheds_new_invites_with_503_and_retry_after() {
    let server = sip_server(&["[sip]", "max_calls_in_setup = 1"]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({
        "name": "carrier", "numbers": ["+15550100"], "ringing_timeout": "3s"
    }));
    api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "agent"}},
        "room_config": {"agents": [{"agent_name": "nobody-registered"}]}
    }));
    let dir = Scratch::new("overload");
    let run = Sipp::new(dir.path(), "overload", "uac_reject.xml", &server.sip_udp)
        .service("+15550100")
        .set("from_user", "+15551230010")
        .calls(3)
        .rate(100, 3)
        .run();
    run.assert_ok();
    let mut finals = run.invite_finals();
    finals.sort();
    assert_eq!(finals, vec![480, 503, 503], "{}", run.dump());
    for m in run.responses(503) {
        let ra =
            header(&m, "Retry-After").unwrap_or_else(|| panic!("503 without Retry-After:\n{m}"));
        assert!(
            ra.trim().parse::<u32>().is_ok_and(|s| s > 0),
            "Retry-After: {ra}"
        );
    }
    let calls = api.wait_calls("limit=100", "3 ended calls", RECORD_TIMEOUT, |cs| {
        cs.len() == 3 && cs.iter().all(|c| c["state"] == "ended")
    });
    let overloaded = calls.iter().filter(|c| c["reason"] == "overloaded").count();
    assert_eq!(overloaded, 2, "{calls:#?}");
    for c in calls.iter().filter(|c| c["reason"] == "overloaded") {
        assert_record(
            c,
            &[("status", json!("rejected")), ("sip_status", json!(503))],
        );
    }
    assert_eq!(
        calls.iter().filter(|c| c["reason"] == "no_agent").count(),
        1,
        "{calls:#?}"
    );
}

#[test]
fn an_invite_flood_from_one_source_is_throttled_with_503() {
    // 2 INVITEs/s per source, bursts of 4: the 5th of 8 quick INVITEs is over budget.
    let server = sip_server(&["[sip]", "invites_per_source_per_sec = 2"]);
    let api = Api::new(&server);
    let dir = Scratch::new("flood");
    let run = Sipp::new(dir.path(), "flood", "uac_reject.xml", &server.sip_udp)
        .service("+15550999")
        .set("from_user", "+15551230020")
        .calls(8)
        .rate(100, 8)
        .run();
    run.assert_ok();
    let finals = run.invite_finals();
    let throttled = finals.iter().filter(|&&s| s == 503).count();
    let answered = finals.iter().filter(|&&s| s == 404).count();
    assert_eq!(throttled + answered, 8, "{finals:?}\n{}", run.dump());
    assert!((3..=4).contains(&throttled), "{finals:?}");
    for m in run.responses(503) {
        assert!(
            header(&m, "Retry-After").is_some(),
            "503 without Retry-After:\n{m}"
        );
    }
    let calls = api.wait_calls("limit=100", "8 ended calls", RECORD_TIMEOUT, |cs| {
        cs.len() == 8 && cs.iter().all(|c| c["state"] == "ended")
    });
    assert_eq!(
        calls.iter().filter(|c| c["reason"] == "throttled").count(),
        throttled,
        "{calls:#?}"
    );
}
