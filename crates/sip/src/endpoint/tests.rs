//! Deterministic endpoint tests: byte messages in, a fake clock, assertions on transmits
//! and events.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::message::{Message, Method, parse};

const MS: Duration = Duration::from_millis(1);

struct H {
    ep: Endpoint,
    now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    transport: Transport,
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

impl H {
    fn new() -> H {
        H::with(Transport::Udp)
    }

    fn with(transport: Transport) -> H {
        let cfg = EndpointConfig {
            seed: 7,
            ..EndpointConfig::default()
        };
        H {
            ep: Endpoint::new(cfg),
            now: Instant::now(),
            local: addr("127.0.0.1:5060"),
            remote: addr("127.0.0.1:5061"),
            transport,
        }
    }

    fn feed(&mut self, s: &str) {
        let input = Input::Datagram {
            transport: self.transport,
            local: self.local,
            remote: self.remote,
            data: Bytes::copy_from_slice(s.as_bytes()),
        };
        self.ep.handle_input(self.now, input);
    }

    fn sent(&mut self) -> Vec<(SocketAddr, Message)> {
        let mut out = Vec::new();
        while let Some(t) = self.ep.poll_transmit() {
            out.push((t.remote, parse(t.data).expect("we send parsable messages")));
        }
        out
    }

    fn statuses(&mut self) -> Vec<u16> {
        self.sent()
            .iter()
            .map(|(_, m)| m.status().unwrap_or(0))
            .collect()
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.ep.handle_timeout(self.now);
    }

    /// Advance in 10 ms steps, recording when each transmit happened (ms since start).
    fn run_for(&mut self, total: Duration) -> Vec<(u64, Message)> {
        let start = self.now;
        let mut out = Vec::new();
        let end = self.now + total;
        while self.now < end {
            self.advance(10 * MS);
            for (_, m) in self.sent() {
                out.push(((self.now - start).as_millis() as u64, m));
            }
        }
        out
    }

    /// Send a new INVITE and return its key (checks the 100 Trying).
    fn invite(&mut self, branch: &str, call_id: &str) -> CallKey {
        self.feed(&invite(branch, call_id, ""));
        let sent = self.sent();
        assert_eq!(sent.len(), 1);
        let trying = &sent.first().expect("100").1;
        assert_eq!(trying.status(), Some(100));
        assert_eq!(trying.to().and_then(|t| t.tag), None);
        match self.events().as_slice() {
            [Event::Invite { key, .. }] => *key,
            other => panic!("expected Invite, got {other:?}"),
        }
    }
}

fn invite(branch: &str, call_id: &str, extra_via: &str) -> String {
    format!(
        "INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch={branch}{extra_via}\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=ftag\r\n\
To: <sip:service@127.0.0.1:5060>\r\n\
Call-ID: {call_id}\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:sipp@127.0.0.1:5061>\r\n\
Max-Forwards: 70\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n"
    )
}

fn in_dialog(method: &str, branch: &str, call_id: &str, to_tag: &str, cseq: u32) -> String {
    format!(
        "{method} sip:service@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch={branch}\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=ftag\r\n\
To: <sip:service@127.0.0.1:5060>;tag={to_tag}\r\n\
Call-ID: {call_id}\r\n\
CSeq: {cseq} {method}\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n"
    )
}

fn to_tag(m: &Message) -> String {
    m.to().and_then(|t| t.tag).unwrap_or("").to_string()
}

#[test]
fn retransmitted_invite_is_absorbed() {
    let mut h = H::new();
    let _key = h.invite("z9hG4bK1", "c1");
    h.feed(&invite("z9hG4bK1", "c1", ""));
    assert_eq!(h.statuses(), vec![100]);
    assert!(h.events().is_empty());
    assert_eq!(h.ep.stats().retransmissions_absorbed, 1);
    // A new branch (auth retry) is a new call.
    h.feed(&invite("z9hG4bK2", "c1", ""));
    assert_eq!(h.statuses(), vec![100]);
    assert!(matches!(h.events().as_slice(), [Event::Invite { .. }]));
}

#[test]
fn non_2xx_timer_g_then_h() {
    let mut h = H::new();
    let key = h.invite("z9hG4bK1", "c1");
    h.ep.respond(h.now, key, Reply::new(404, "Not Found"))
        .expect("respond");
    let sent = h.sent();
    let resp = &sent.first().expect("404").1;
    assert_eq!(resp.status(), Some(404));
    let tag = to_tag(resp);
    assert!(tag.len() >= 8, "To-tag with >= 32 bits: {tag}");
    // Re-sent on INVITE retransmission.
    h.feed(&invite("z9hG4bK1", "c1", ""));
    assert_eq!(h.statuses(), vec![404]);
    let times: Vec<u64> = h
        .run_for(Duration::from_secs(33))
        .iter()
        .map(|(t, _)| *t)
        .collect();
    // T1 doubling capped at T2: 0.5, 1.5, 3.5, 7.5, 11.5, ... until H (32 s).
    assert_eq!(
        times.iter().take(5).copied().collect::<Vec<_>>(),
        vec![500, 1500, 3500, 7500, 11500]
    );
    assert!(times.iter().all(|t| *t < 32_000));
    assert!(matches!(h.events().as_slice(), [Event::Terminated { key: k }] if *k == key));
    assert_eq!(h.ep.stats().calls, 0);
    assert_eq!(h.ep.stats().invite_timeouts, 1);
    assert_eq!(
        h.ep.respond(h.now, key, Reply::new(500, "x")),
        Err(EndpointError::UnknownCall)
    );
}

#[test]
fn non_2xx_ack_then_timer_i() {
    let mut h = H::new();
    let key = h.invite("z9hG4bK1", "c1");
    h.ep.respond(h.now, key, Reply::new(486, "Busy Here"))
        .expect("respond");
    let tag = to_tag(&h.sent().first().expect("486").1);
    let mut ack = in_dialog("ACK", "z9hG4bK1", "c1", &tag, 1);
    h.feed(&ack);
    assert!(h.sent().is_empty());
    assert!(
        h.run_for(Duration::from_secs(2)).is_empty(),
        "no retransmission after ACK"
    );
    ack = ack.replace("Max-Forwards: 70", "Max-Forwards: 69");
    h.feed(&ack);
    assert_eq!(h.ep.stats().retransmissions_absorbed, 1);
    h.advance(Duration::from_secs(4));
    assert!(matches!(h.events().as_slice(), [Event::Terminated { .. }]));
    assert_eq!(h.ep.stats().calls, 0);
}

#[test]
fn two_xx_retransmitted_until_ack() {
    let mut h = H::new();
    let key = h.invite("z9hG4bK1", "c1");
    h.ep.respond(h.now, key, Reply::new(180, "Ringing"))
        .expect("180");
    let ringing = h.sent();
    let tag = to_tag(&ringing.first().expect("180").1);
    h.ep.respond(
        h.now,
        key,
        Reply::new(200, "OK").with_body("application/sdp", "v=0\r\n"),
    )
    .expect("200");
    let ok = h.sent();
    let ok = &ok.first().expect("200").1;
    assert_eq!(to_tag(ok), tag, "same To-tag on 180 and 200");
    assert!(ok.contact().is_some(), "Contact added to 2xx");
    assert_eq!(ok.body(), b"v=0\r\n");
    let times: Vec<u64> = h
        .run_for(Duration::from_millis(1600))
        .iter()
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(times, vec![500, 1500]);
    h.feed(&in_dialog("ACK", "z9hG4bKack", "c1", &tag, 1));
    assert!(matches!(h.events().as_slice(), [Event::Acked { key: k }] if *k == key));
    assert!(h.run_for(Duration::from_secs(40)).is_empty());
    assert!(h.events().is_empty(), "no AckTimeout after ACK");
    // The dialog lives on until BYE / forget.
    assert_eq!(h.ep.stats().calls, 1);
    assert!(h.ep.call_memory(key).is_some());
}

#[test]
fn two_xx_without_ack_times_out() {
    let mut h = H::new();
    let key = h.invite("z9hG4bK1", "c1");
    h.ep.respond(h.now, key, Reply::new(200, "OK"))
        .expect("200");
    h.sent();
    let times: Vec<u64> = h
        .run_for(Duration::from_secs(33))
        .iter()
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(
        times.iter().take(4).copied().collect::<Vec<_>>(),
        vec![500, 1500, 3500, 7500]
    );
    assert!(matches!(h.events().as_slice(), [Event::AckTimeout { key: k }] if *k == key));
    assert_eq!(h.ep.stats().ack_timeouts, 1);
    // The app hangs up.
    h.ep.send_bye(h.now, key, vec![]).expect("bye");
    let bye = h.sent();
    assert_eq!(
        bye.first().and_then(|(_, m)| m.request_method()),
        Some(Method::Bye)
    );
}

#[test]
fn tcp_has_no_retransmissions() {
    let mut h = H::with(Transport::Tcp(9));
    let key = h.invite("z9hG4bK1", "c1");
    h.ep.respond(h.now, key, Reply::new(200, "OK"))
        .expect("200");
    let ok = h.sent();
    assert!(
        ok.first()
            .and_then(|(_, m)| m.contact())
            .is_some_and(|c| c.uri.raw.contains("transport=tcp"))
    );
    assert!(h.run_for(Duration::from_secs(33)).is_empty());
    assert!(matches!(h.events().as_slice(), [Event::AckTimeout { .. }]));
    h.ep.handle_input(h.now, Input::ConnectionClosed { conn: 9 });
    assert!(matches!(h.events().as_slice(), [Event::TransportError { key: k }] if *k == key));
}

#[test]
fn cancel_before_final() {
    let mut h = H::new();
    let key = h.invite("z9hG4bK1", "c1");
    let cancel = invite("z9hG4bK1", "c1", "")
        .replace("INVITE sip", "CANCEL sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    h.feed(&cancel);
    let sent = h.sent();
    let got: Vec<(u16, Method)> = sent
        .iter()
        .map(|(_, m)| (m.status().unwrap_or(0), m.method()))
        .collect();
    assert_eq!(got, vec![(200, Method::Cancel), (487, Method::Invite)]);
    assert!(matches!(h.events().as_slice(), [Event::Cancelled { key: k }] if *k == key));
    assert_eq!(
        h.ep.respond(h.now, key, Reply::new(200, "OK")),
        Err(EndpointError::AlreadyAnswered)
    );
    // CANCEL retransmission: same 200, nothing else.
    h.feed(&cancel);
    assert_eq!(h.statuses(), vec![200]);
}

#[test]
fn cancel_after_final_and_unknown_cancel() {
    let mut h = H::new();
    let key = h.invite("z9hG4bK1", "c1");
    h.ep.respond(h.now, key, Reply::new(200, "OK"))
        .expect("200");
    h.sent();
    let cancel = invite("z9hG4bK1", "c1", "")
        .replace("INVITE sip", "CANCEL sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    h.feed(&cancel);
    assert_eq!(h.statuses(), vec![200], "200 to CANCEL, no 487");
    assert!(h.events().is_empty());
    h.feed(&cancel.replace("z9hG4bK1", "z9hG4bKnope"));
    assert_eq!(h.statuses(), vec![481]);
}

#[test]
fn bye_from_caller() {
    let mut h = H::new();
    let key = h.invite("z9hG4bK1", "c1");
    h.ep.respond(h.now, key, Reply::new(200, "OK"))
        .expect("200");
    let tag = to_tag(&h.sent().first().expect("200").1);
    h.feed(&in_dialog("ACK", "z9hG4bKa", "c1", &tag, 1));
    h.events();
    h.feed(&in_dialog("BYE", "z9hG4bKb", "c1", &tag, 2));
    assert_eq!(h.statuses(), vec![200]);
    assert!(matches!(h.events().as_slice(), [Event::Bye { key: k }] if *k == key));
    // Retransmitted BYE: same answer, no event.
    h.feed(&in_dialog("BYE", "z9hG4bKb", "c1", &tag, 2));
    assert_eq!(h.statuses(), vec![200]);
    assert!(h.events().is_empty());
    h.ep.forget(key);
    assert_eq!(h.ep.stats().calls, 0);
    // BYE for the gone dialog.
    h.feed(&in_dialog("BYE", "z9hG4bKc", "c1", &tag, 3));
    assert_eq!(h.statuses(), vec![481]);
}

#[test]
fn bye_from_us() {
    let mut h = H::new();
    let key = h.invite("z9hG4bK1", "c1");
    assert_eq!(
        h.ep.send_bye(h.now, key, vec![]),
        Err(EndpointError::NotAnswered)
    );
    h.ep.respond(h.now, key, Reply::new(200, "OK"))
        .expect("200");
    let tag = to_tag(&h.sent().first().expect("200").1);
    h.feed(&in_dialog("ACK", "z9hG4bKa", "c1", &tag, 1));
    h.events();
    h.ep.send_bye(h.now, key, vec![("X-Reason".into(), "done".into())])
        .expect("bye");
    let sent = h.sent();
    let (dest, bye) = sent.first().expect("bye");
    assert_eq!(*dest, addr("127.0.0.1:5061"));
    assert_eq!(bye.request_uri_raw(), Some("sip:sipp@127.0.0.1:5061"));
    assert_eq!(bye.from().and_then(|f| f.tag), Some(tag.as_str()));
    assert_eq!(bye.to().and_then(|t| t.tag), Some("ftag"));
    assert_eq!(bye.call_id(), Some("c1"));
    assert_eq!(bye.cseq().map(|c| c.number), Some(2));
    assert_eq!(bye.max_forwards(), Some(70));
    assert!(
        bye.top_via()
            .and_then(|v| v.branch)
            .is_some_and(|b| b.starts_with("z9hG4bK"))
    );
    assert_eq!(bye.header("X-Reason"), Some("done"));
    assert_eq!(
        h.ep.send_bye(h.now, key, vec![]),
        Err(EndpointError::DialogEnded)
    );
    // Timer E retransmission, then the 200.
    let times: Vec<u64> = h
        .run_for(Duration::from_millis(600))
        .iter()
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(times, vec![500]);
    let branch = bye
        .top_via()
        .and_then(|v| v.branch)
        .unwrap_or("")
        .to_string();
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch};rport\r\n\
From: <sip:service@127.0.0.1:5060>;tag={tag}\r\nTo: sipp <sip:sipp@127.0.0.1:5061>;tag=ftag\r\n\
Call-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    h.feed(&ok);
    assert!(
        matches!(h.events().as_slice(), [Event::ByeCompleted { key: k, status: Some(200) }] if *k == key)
    );
    h.feed(&ok);
    assert_eq!(h.ep.stats().stray_responses, 1);
    h.ep.forget(key);
    assert_eq!(h.ep.stats().calls, 0);
}

#[test]
fn bye_from_us_times_out() {
    let mut h = H::new();
    let key = h.invite("z9hG4bK1", "c1");
    h.ep.respond(h.now, key, Reply::new(200, "OK"))
        .expect("200");
    let tag = to_tag(&h.sent().first().expect("200").1);
    h.feed(&in_dialog("ACK", "z9hG4bKa", "c1", &tag, 1));
    h.events();
    h.ep.send_bye(h.now, key, vec![]).expect("bye");
    h.sent();
    let times: Vec<u64> = h
        .run_for(Duration::from_secs(33))
        .iter()
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(
        times.iter().take(5).copied().collect::<Vec<_>>(),
        vec![500, 1500, 3500, 7500, 11500]
    );
    assert!(matches!(
        h.events().as_slice(),
        [Event::ByeCompleted { status: None, .. }]
    ));
}

#[test]
fn options_405_481_and_info() {
    let mut h = H::new();
    let opts = in_dialog("OPTIONS", "z9hG4bKo", "o1", "x", 1).replace(";tag=x", "");
    h.feed(&opts);
    let sent = h.sent();
    let r = &sent.first().expect("200").1;
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.header("Allow"), Some(ALLOW));
    assert_eq!(r.header("Accept"), Some("application/sdp"));
    for m in ["MESSAGE", "SUBSCRIBE", "REGISTER", "PUBLISH", "REFER"] {
        h.feed(&in_dialog(m, &format!("z9hG4bK{m}"), "m1", "x", 1).replace(";tag=x", ""));
        let sent = h.sent();
        let r = &sent.first().expect("405").1;
        assert_eq!(r.status(), Some(405), "{m}");
        assert_eq!(r.header("Allow"), Some(ALLOW));
    }
    h.feed(&in_dialog("BYE", "z9hG4bKb1", "nope", "unknown", 2));
    assert_eq!(h.statuses(), vec![481]);
    h.feed(&in_dialog("BYE", "z9hG4bKb2", "nope", "x", 2).replace(";tag=x", ""));
    assert_eq!(h.statuses(), vec![481], "BYE without To-tag");

    let key = h.invite("z9hG4bK1", "c1");
    h.ep.respond(h.now, key, Reply::new(200, "OK"))
        .expect("200");
    let tag = to_tag(&h.sent().first().expect("200").1);
    let info = in_dialog("INFO", "z9hG4bKi", "c1", &tag, 2).replace(
        "Content-Length: 0\r\n\r\n",
        "Content-Type: application/dtmf-relay\r\nContent-Length: 10\r\n\r\nSignal=5\r\n",
    );
    h.feed(&info);
    assert_eq!(h.statuses(), vec![200]);
    match h.events().as_slice() {
        [
            Event::Info {
                key: k,
                content_type,
                body,
            },
        ] => {
            assert_eq!(*k, key);
            assert_eq!(content_type, "application/dtmf-relay");
            assert_eq!(&body[..], b"Signal=5\r\n");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_requests_and_garbage() {
    let mut h = H::new();
    h.feed(&invite("z9hG4bK1", "c1", "").replace("Call-ID: c1\r\n", ""));
    let sent = h.sent();
    let r = &sent.first().expect("400").1;
    assert_eq!(r.status(), Some(400));
    assert_eq!(r.reason(), Some("Missing Call-ID"));
    h.feed(&invite("z9hG4bK1", "c1", "").replace(";tag=ftag", ""));
    let sent = h.sent();
    assert_eq!(
        sent.first().and_then(|(_, m)| m.reason()),
        Some("Missing From Tag")
    );
    assert!(h.events().is_empty());
    h.feed("\x00\x01garbage");
    h.feed(
        &invite("z9hG4bK1", "c1", "")
            .replace("Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\r\n", ""),
    );
    assert!(h.sent().is_empty());
    let s = h.ep.stats();
    assert_eq!(s.parse_errors_dropped, 2);
    assert_eq!(s.bad_requests_sent, 2);
}

#[test]
fn rport_and_received() {
    let mut h = H::new();
    h.remote = addr("192.0.2.1:40000");
    h.feed(&invite("z9hG4bK1", "c1", ";rport"));
    let sent = h.sent();
    let (dest, trying) = sent.first().expect("100");
    assert_eq!(*dest, addr("192.0.2.1:40000"), "rport: source IP and port");
    let v = trying.top_via().expect("via");
    assert_eq!(v.rport, Some(Some(40000)));
    assert_eq!(v.received, Some("192.0.2.1"));
    // No rport: source IP, sent-by port.
    h.feed(&invite("z9hG4bK2", "c2", ""));
    let sent = h.sent();
    let (dest, trying) = sent.first().expect("100");
    assert_eq!(*dest, addr("192.0.2.1:5061"));
    assert_eq!(trying.top_via().and_then(|v| v.received), Some("192.0.2.1"));
    assert_eq!(trying.top_via().and_then(|v| v.rport), None);
}

#[test]
fn reinvite_answered_by_app() {
    let mut h = H::new();
    let key = h.invite("z9hG4bK1", "c1");
    h.ep.respond(h.now, key, Reply::new(200, "OK"))
        .expect("200");
    let tag = to_tag(&h.sent().first().expect("200").1);
    h.feed(&in_dialog("ACK", "z9hG4bKa", "c1", &tag, 1));
    h.events();
    let reinv = in_dialog("INVITE", "z9hG4bKr", "c1", &tag, 2)
        .replace("Max-Forwards: 70", "Contact: <sip:moved@127.0.0.1:5061>");
    h.feed(&reinv);
    assert_eq!(h.statuses(), vec![100]);
    let req = match h.events().as_slice() {
        [Event::ReInvite { key: k, req, .. }] if *k == key => *req,
        other => panic!("{other:?}"),
    };
    h.feed(&reinv);
    assert_eq!(h.statuses(), vec![100], "retransmitted re-INVITE absorbed");
    h.ep.respond_in_dialog(h.now, req, Reply::new(200, "OK"))
        .expect("200");
    assert_eq!(h.statuses(), vec![200]);
    h.feed(&in_dialog("ACK", "z9hG4bKa2", "c1", &tag, 2));
    assert!(h.events().is_empty(), "ACK absorbed");
    assert!(h.run_for(Duration::from_secs(2)).is_empty());
    h.ep.send_bye(h.now, key, vec![]).expect("bye");
    let sent = h.sent();
    assert_eq!(
        sent.first().and_then(|(_, m)| m.request_uri_raw()),
        Some("sip:moved@127.0.0.1:5061")
    );
    assert_eq!(
        sent.first().and_then(|(_, m)| m.cseq()).map(|c| c.number),
        Some(2)
    );
}

#[test]
fn forget_without_answer_is_silent_and_bounded() {
    let mut h = H::new();
    let key = h.invite("z9hG4bK1", "c1");
    h.ep.forget(key);
    h.feed(&invite("z9hG4bK1", "c1", ""));
    assert_eq!(h.statuses(), vec![100], "retransmission still absorbed");
    assert!(h.events().is_empty());
    h.advance(Duration::from_secs(33));
    assert_eq!(h.ep.stats().calls, 0);
    assert!(h.events().is_empty(), "no Terminated after forget");
}

#[test]
fn release_answers_500() {
    let mut h = H::new();
    let key = h.invite("z9hG4bK1", "c1");
    h.ep.release(h.now, key);
    assert_eq!(h.statuses(), vec![500]);
}

#[test]
fn per_call_memory_is_small() {
    let mut h = H::new();
    let sipp = crate::message::tests::SIPP_INVITE;
    h.feed(sipp);
    h.sent();
    let key = match h.events().as_slice() {
        [Event::Invite { key, .. }] => *key,
        other => panic!("{other:?}"),
    };
    h.ep.respond(h.now, key, Reply::new(180, "Ringing"))
        .expect("180");
    let bytes = h.ep.call_memory(key).expect("call");
    println!(
        "ringing call state: {bytes} bytes (Call struct {} bytes)",
        std::mem::size_of::<state::Call>()
    );
    assert!(bytes < 4096, "{bytes}");
}
