//! End-to-end PIN entry (SPEC §4): the call is answered at once, the prompt plays, and the
//! caller's digits arrive as RFC 4733 events (SIPp's generator, PT 96; the prerecorded
//! pcaps, PT 101; baresip, PT 101 on the audio SSRC) or SIP INFO. The right PIN joins the
//! room, three wrong ones end the call with BYE, `#` alone picks the open rule.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::baresip::{Baresip, BaresipAudio};
use support::sip::*;

const NUMBER: &str = "+15550100";
const PIN: &str = "1234";

/// A server with a trunk for NUMBER and a Direct PIN rule (`safe-room`, PIN 1234); with
/// `open`, also an open Direct rule (`open-room`) on the same number.
fn pin_route(open: bool) -> (support::Server, Api, String, Option<String>) {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [NUMBER]}));
    let pin_rule = api.rule(json!({
        "name": "pin",
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_direct": {"room_name": "safe-room", "pin": PIN}}
    }));
    let open_rule = open.then(|| {
        api.rule(json!({
            "name": "open",
            "trunk_ids": [trunk],
            "rule": {"dispatch_rule_direct": {"room_name": "open-room"}}
        }))
    });
    (server, api, pin_rule, open_rule)
}

/// Waits (up to `timeout`) for the one call record with `pred`; returns it.
fn wait_one(api: &Api, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let calls = api.wait_calls("limit=100", what, timeout, |cs| cs.iter().any(&pred));
    calls.into_iter().find(|c| pred(c)).expect("found")
}

/// While the call is in the room: the record is `active` after one attempt, and the room
/// lists the caller with `sip.callStatus = active`.
fn assert_joined(api: &Api, room: &str, rule: &str) -> Value {
    let rec = wait_one(
        api,
        "an active call after the PIN",
        Duration::from_secs(15),
        |c| c["state"] == "active",
    );
    assert_record(
        &rec,
        &[
            ("status", json!("live")),
            ("pin_attempts", json!(1)),
            ("room_name", json!(room)),
            ("rule_id", json!(rule)),
            ("sip_status", json!(200)),
        ],
    );
    let (status, body) = api.get(&format!("/api/v1/rooms/{room}"));
    assert_eq!(status, 200, "room {room}: {body}");
    let sip = body["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["kind"] == "sip").cloned())
        .unwrap_or_else(|| panic!("no SIP participant in {body:#}"));
    assert_eq!(sip["attributes"]["sip.callStatus"], "active", "{body:#}");
    rec
}

/// The end of a call that joined after the PIN and was hung up by the caller.
fn assert_completed(api: &Api, sip_call_id: &str, room: &str, rule: &str) {
    let rec = api.ended_call(sip_call_id);
    assert_record(
        &rec,
        &[
            ("status", json!("completed")),
            ("reason", json!("caller_bye")),
            ("hangup_by", json!("caller")),
            ("pin_attempts", json!(1)),
            ("room_name", json!(room)),
            ("rule_id", json!(rule)),
        ],
    );
    assert!(rec["answered_at"].is_string(), "{rec:#}");
}

#[test]
fn pin_by_rfc4733_events_joins_the_room() {
    let (server, api, rule, _) = pin_route(false);
    let dir = Scratch::new("pin-4733");
    let sipp = Sipp::new(dir.path(), "pin_4733", "uac_pin_dtmf.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551237001")
        .set("dtmf", "1234#")
        .hold_ms(3000)
        .spawn();
    // Before the digits: answered, in state pin.
    wait_one(
        &api,
        "a call waiting for its PIN",
        Duration::from_secs(5),
        |c| c["state"] == "pin",
    );
    assert_joined(&api, "safe-room", &rule);
    let run = sipp.wait();
    run.assert_ok();
    assert_eq!(run.invite_finals(), vec![200], "{}", run.dump());
    assert_completed(&api, &run.call_id(), "safe-room", &rule);
}

#[test]
fn pin_by_sip_info_joins_the_room() {
    let (server, api, rule, _) = pin_route(false);
    let dir = Scratch::new("pin-info");
    let sipp = Sipp::new(dir.path(), "pin_info", "uac_pin_info.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551237002")
        .hold_ms(3000)
        .spawn();
    assert_joined(&api, "safe-room", &rule);
    let run = sipp.wait();
    run.assert_ok();
    assert_completed(&api, &run.call_id(), "safe-room", &rule);
}

#[test]
fn three_wrong_pins_end_the_call_with_bye() {
    let (server, api, rule, _) = pin_route(false);
    let dir = Scratch::new("pin-wrong");
    let run = Sipp::new(
        dir.path(),
        "pin_wrong",
        "uac_pin_wrong.xml",
        &server.sip_udp,
    )
    .service(NUMBER)
    .set("from_user", "+15551237003")
    .set("dtmf", "9999#")
    .timeout(Duration::from_secs(45))
    .run();
    run.assert_ok();
    assert!(
        !run.requests("BYE").is_empty(),
        "no BYE from the server:\n{}",
        run.dump()
    );
    let rec = api.ended_call(&run.call_id());
    assert_record(
        &rec,
        &[
            ("status", json!("rejected")),
            ("reason", json!("invalid_pin")),
            ("hangup_by", json!("server")),
            ("pin_attempts", json!(3)),
            ("rule_id", json!(rule)),
            ("room_name", Value::Null),
        ],
    );
    // Nobody ever joined the PIN room.
    let (status, _) = api.get("/api/v1/rooms/safe-room");
    assert_eq!(status, 404);
}

#[test]
fn hash_alone_selects_the_open_rule_on_the_same_number() {
    let (server, api, _, open) = pin_route(true);
    let open = open.expect("an open rule");
    let dir = Scratch::new("pin-hash");
    let sipp = Sipp::new(dir.path(), "pin_hash", "uac_pin_dtmf.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551237004")
        .set("dtmf", "#")
        .hold_ms(2000)
        .spawn();
    assert_joined(&api, "open-room", &open);
    let run = sipp.wait();
    run.assert_ok();
    assert_completed(&api, &run.call_id(), "open-room", &open);
}

/// The `m=audio` port and the telephone-event payload type of an SDP answer.
fn answer_media(sdp: &str) -> (u16, Option<u8>) {
    let port = sdp
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no m=audio port in:\n{sdp}"));
    let te = sdp.lines().find_map(|l| {
        let r = l.strip_prefix("a=rtpmap:")?;
        let (pt, enc) = r.split_once(' ')?;
        enc.to_ascii_lowercase()
            .starts_with("telephone-event/")
            .then(|| pt.trim().parse().ok())?
    });
    (port, te)
}

/// One RTP packet.
fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// A hand-made caller: the prompt arrives as PCMU RTP at our port while we wait, and the
/// PIN goes out as RFC 4733 events with the end packet sent three times with the same
/// sequence number and timestamp (as the shipped pcaps do) — each digit must count once.
#[test]
fn prompt_rtp_arrives_and_rfc4733_end_packets_count_once() {
    let (server, api, rule, _) = pin_route(false);
    let raw = RawSip::new(&server.sip_udp);
    let media = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind RTP");
    let my_port = media.local_addr().expect("addr").port();
    let call_id = format!("raw-pin-{}", std::process::id());
    let branch = RawSip::branch();
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {my_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
    );
    raw.send(&raw.invite(
        &call_id,
        "+15551237007",
        NUMBER,
        "rawtag",
        1,
        &branch,
        &[],
        &sdp,
    ));
    let ok = raw
        .recv_final("INVITE", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no final answer:\n{}", raw.dump()));
    assert_eq!(
        status_of(&ok),
        Some(200),
        "a PIN rule answers at once:\n{}",
        raw.dump()
    );
    let (server_port, te) = answer_media(support::sip::body(&ok));
    assert_eq!(
        te,
        Some(101),
        "telephone-event offered but not answered:\n{ok}"
    );
    raw.send(&raw.in_dialog(&ok, "ACK", 1, ""));

    // The prompt: PCMU (PT 0) packets of 20 ms from the answered port.
    media
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    let mut prompt_packets = 0;
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        if let Ok((n, from)) = media.recv_from(&mut buf)
            && n >= 12
            && buf[1] & 0x7f == 0
            && from.port() == server_port
        {
            assert_eq!(n - 12, 160, "a 20 ms PCMU packet has 160 bytes of payload");
            prompt_packets += 1;
        }
    }
    assert!(
        prompt_packets >= 40,
        "expected the PIN prompt as ~50 PCMU packets/s, got {prompt_packets} in 1.5 s"
    );

    // The PIN, as RFC 4733 events on their own SSRC.
    let to = std::net::SocketAddr::from(([127, 0, 0, 1], server_port));
    let ssrc = 0x5eed_0001;
    let mut seq: u16 = 1000;
    let mut ts: u32 = 160_000;
    for d in "1234#".chars() {
        let event = match d {
            '#' => 11,
            '*' => 10,
            c => c.to_digit(10).expect("a digit") as u8,
        };
        for (i, dur) in [160u16, 320, 480].into_iter().enumerate() {
            let mut payload = vec![event, 10];
            payload.extend_from_slice(&dur.to_be_bytes());
            media
                .send_to(&rtp(101, i == 0, seq, ts, ssrc, &payload), to)
                .expect("send");
            seq = seq.wrapping_add(1);
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut end = vec![event, 0x80 | 10];
        end.extend_from_slice(&640u16.to_be_bytes());
        for _ in 0..3 {
            media
                .send_to(&rtp(101, false, seq, ts, ssrc, &end), to)
                .expect("send");
            std::thread::sleep(Duration::from_millis(5));
        }
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(1600);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_joined(&api, "safe-room", &rule);

    raw.send(&raw.in_dialog(&ok, "BYE", 2, ""));
    let r = raw
        .recv_final("BYE", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no answer to BYE:\n{}", raw.dump()));
    assert_eq!(status_of(&r), Some(200), "{}", raw.dump());
    assert_completed(&api, &call_id, "safe-room", &rule);
}

/// SIP INFO with `application/dtmf` bodies (one digit per body), from a hand-made caller.
#[test]
fn pin_by_sip_info_application_dtmf_joins_the_room() {
    let (server, api, rule, _) = pin_route(false);
    let raw = RawSip::new(&server.sip_udp);
    let call_id = format!("raw-info-{}", std::process::id());
    let branch = RawSip::branch();
    let sdp = PCMU_SDP_TEMPLATE.replace("{port}", "30004");
    raw.send(&raw.invite(
        &call_id,
        "+15551237008",
        NUMBER,
        "rawtag",
        1,
        &branch,
        &[],
        &sdp,
    ));
    let ok = raw
        .recv_final("INVITE", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no final answer:\n{}", raw.dump()));
    assert_eq!(status_of(&ok), Some(200), "{}", raw.dump());
    raw.send(&raw.in_dialog(&ok, "ACK", 1, ""));
    std::thread::sleep(Duration::from_millis(500));
    for (i, d) in "1234#".chars().enumerate() {
        let info = raw.in_dialog(
            &ok,
            "INFO",
            2 + i as u32,
            "Content-Type: application/dtmf\r\n",
        );
        let info = info.replace(
            "Content-Length: 0\r\n\r\n",
            &format!("Content-Length: 1\r\n\r\n{d}"),
        );
        raw.send(&info);
        let r = raw
            .recv_final("INFO", Duration::from_secs(3))
            .unwrap_or_else(|| panic!("no answer to INFO {d}:\n{}", raw.dump()));
        assert_eq!(status_of(&r), Some(200), "{}", raw.dump());
    }
    assert_joined(&api, "safe-room", &rule);
    raw.send(&raw.in_dialog(&ok, "BYE", 10, ""));
    let r = raw
        .recv_final("BYE", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no answer to BYE:\n{}", raw.dump()));
    assert_eq!(status_of(&r), Some(200), "{}", raw.dump());
    assert_completed(&api, &call_id, "safe-room", &rule);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn pin_by_prerecorded_rfc2833_pcaps_joins_the_room() {
    if !is_root() {
        println!("skipped: play_pcap_audio needs a raw socket (root)");
        return;
    }
    let (server, api, rule, _) = pin_route(false);
    let dir = Scratch::new("pin-pcap");
    let sipp = Sipp::new(dir.path(), "pin_pcap", "uac_pin_pcap.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551237005")
        .hold_ms(3000)
        .spawn();
    assert_joined(&api, "safe-room", &rule);
    let run = sipp.wait();
    run.assert_ok();
    assert_completed(&api, &run.call_id(), "safe-room", &rule);
}

#[test]
fn baresip_softphone_enters_the_pin_with_rfc4733_and_joins() {
    let (server, api, rule, _) = pin_route(false);
    let dir = Scratch::new("baresip");
    let mut phone = Baresip::start(dir.path(), "15551237006", &BaresipAudio::default());
    phone.pump(Duration::from_millis(500));
    phone.command("dial", &format!("sip:{NUMBER}@{}", server.sip_udp));
    assert!(
        phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(10)),
        "baresip's call was not answered; events: {:#?}\nlog:\n{}",
        phone.events,
        std::fs::read_to_string(dir.path().join("baresip.log")).unwrap_or_default()
    );
    wait_one(
        &api,
        "a call waiting for its PIN",
        Duration::from_secs(5),
        |c| c["state"] == "pin",
    );
    // Let the prompt start, then key in the PIN.
    phone.pump(Duration::from_millis(1000));
    for d in "1234#".chars() {
        phone.command("sndcode", &d.to_string());
        phone.pump(Duration::from_millis(400));
    }
    let rec = assert_joined(&api, "safe-room", &rule);
    phone.pump(Duration::from_millis(500));
    phone.command("hangup", "");
    assert!(
        phone.wait_event("CALL_CLOSED", Duration::from_secs(5)),
        "baresip did not close the call: {:#?}",
        phone.events
    );
    let id = rec["sip_call_id"].as_str().expect("a Call-ID").to_string();
    assert_completed(&api, &id, "safe-room", &rule);
}
