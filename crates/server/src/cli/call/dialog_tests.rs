//! The UAC dialog driven by scripted server answers: the happy path, retransmissions,
//! rejections, digest retries, CANCEL, the far end's BYE, and hostile or malformed input.

use super::*;
use switchboard_sip::digest::{Expected, NonceKey, Verdict};

const SDP_ANSWER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fn config(credentials: Option<(&str, &str)>) -> DialogConfig {
    DialogConfig {
        from_user: "+15551234567".into(),
        to_user: "+15550100".into(),
        target: "127.0.0.1:5060".into(),
        local: "127.0.0.1:40000".parse().unwrap(),
        sdp: "v=0\r\n".into(),
        credentials: credentials.map(|(u, p)| (u.into(), p.into())),
        call_id: "abc@test".into(),
        from_tag: "ftag".into(),
        seed: "seed".into(),
        user_agent: "test".into(),
        answer_timeout: Duration::from_secs(60),
    }
}

fn parsed(bytes: &[u8]) -> Message {
    message::parse(Bytes::copy_from_slice(bytes)).expect("we send parsable messages")
}

fn sends(actions: &[Action]) -> Vec<Vec<u8>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(b) => Some(b.clone()),
            Action::Event(_) => None,
        })
        .collect()
}

fn events(actions: &[Action]) -> Vec<Event> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(e) => Some(e.clone()),
            Action::Send(_) => None,
        })
        .collect()
}

/// The server's answer to `request`.
fn answer(
    request: &[u8],
    status: u16,
    reason: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Vec<u8> {
    let req = parsed(request);
    let mut b = ResponseBuilder::new(&req, status, reason).to_tag("srvtag");
    for (n, v) in headers {
        b = b.header(n, v);
    }
    if !body.is_empty() {
        b = b.body("application/sdp", body.as_bytes());
    }
    b.build().to_vec()
}

fn ok_200(invite: &[u8]) -> Vec<u8> {
    answer(
        invite,
        200,
        "OK",
        &[("Contact", "<sip:switchboard@127.0.0.1:5060;transport=udp>")],
        SDP_ANSWER,
    )
}

fn start(credentials: Option<(&str, &str)>) -> (Dialog, Vec<u8>, Instant) {
    let now = Instant::now();
    let (d, actions) = Dialog::start(config(credentials), now);
    let s = sends(&actions);
    assert_eq!(s.len(), 1);
    (d, s[0].clone(), now)
}

fn answered() -> (Dialog, Vec<u8>, Instant) {
    let (mut d, invite, now) = start(None);
    let a = d.on_datagram(&ok_200(&invite), now);
    assert!(matches!(events(&a)[0], Event::Answered { status: 200, .. }));
    (d, invite, now)
}

#[test]
fn the_invite_is_well_formed() {
    let (_, invite, _) = start(None);
    let m = parsed(&invite);
    assert_eq!(m.method(), Method::Invite);
    assert_eq!(m.request_uri_raw(), Some("sip:+15550100@127.0.0.1:5060"));
    assert_eq!(m.call_id(), Some("abc@test"));
    assert_eq!(m.from().unwrap().tag, Some("ftag"));
    assert_eq!(m.to().unwrap().tag, None);
    assert_eq!(m.to().unwrap().uri.user, Some("+15550100"));
    assert_eq!(m.cseq().unwrap().number, 1);
    assert!(m.top_via().unwrap().branch.unwrap().starts_with("z9hG4bK"));
    assert_eq!(m.content_type(), Some("application/sdp"));
    assert_eq!(m.body(), b"v=0\r\n");
    assert!(m.bad_request().is_none());
}

#[test]
fn answered_call_acked_then_bye() {
    let (mut d, invite, now) = start(None);
    let a = d.on_datagram(&answer(&invite, 100, "Trying", &[], ""), now);
    assert_eq!(
        events(&a),
        vec![Event::Provisional {
            status: 100,
            reason: "Trying".into()
        }]
    );
    assert_eq!(d.state(), State::Proceeding);
    let a = d.on_datagram(&answer(&invite, 180, "Ringing", &[], ""), now);
    assert_eq!(events(&a).len(), 1);
    let a = d.on_datagram(&ok_200(&invite), now);
    assert_eq!(
        events(&a),
        vec![Event::Answered {
            status: 200,
            reason: "OK".into(),
            sdp: SDP_ANSWER.as_bytes().to_vec()
        }]
    );
    let ack = parsed(&sends(&a)[0]);
    assert_eq!(ack.method(), Method::Ack);
    assert_eq!(
        ack.request_uri_raw(),
        Some("sip:switchboard@127.0.0.1:5060;transport=udp")
    );
    assert_eq!(ack.cseq().unwrap().number, 1);
    assert_eq!(ack.to().unwrap().tag, Some("srvtag"));
    assert_ne!(
        ack.top_via().unwrap().branch,
        parsed(&invite).top_via().unwrap().branch,
        "the ACK of a 2xx is a new transaction"
    );
    assert_eq!(d.state(), State::Confirmed);
    assert_eq!(d.final_status, Some(200));

    // The 200 again: the ACK again, no new event.
    let a = d.on_datagram(&ok_200(&invite), now);
    assert_eq!(sends(&a), vec![ack.as_bytes().to_vec()]);
    assert!(events(&a).is_empty());

    let a = d.hangup(now);
    let bye = sends(&a)[0].clone();
    let m = parsed(&bye);
    assert_eq!(m.method(), Method::Bye);
    assert_eq!(m.cseq().unwrap().number, 2);
    assert_eq!(m.to().unwrap().tag, Some("srvtag"));
    assert_eq!(m.from().unwrap().tag, Some("ftag"));
    assert_eq!(d.state(), State::Terminating);
    // Timer E: the BYE again after T1.
    assert_eq!(sends(&d.on_timer(now + T1)), vec![bye.clone()]);
    let a = d.on_datagram(&answer(&bye, 200, "OK", &[], ""), now + T1);
    assert_eq!(events(&a), vec![Event::ByeAnswered(Some(200))]);
    assert_eq!(d.state(), State::Done);
    assert_eq!(d.ignored, 0);
}

#[test]
fn the_invite_is_retransmitted_until_answered_then_times_out() {
    let (mut d, invite, t0) = start(None);
    let mut at = Vec::new();
    let mut now = t0;
    while let Some(next) = d.next_timer() {
        now = next;
        let a = d.on_timer(now);
        for s in sends(&a) {
            assert_eq!(s, invite);
            at.push((now - t0).as_millis());
        }
        if events(&a) == vec![Event::NoAnswer] {
            break;
        }
    }
    // Timer A: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; Timer B at 32 s.
    assert_eq!(at, vec![500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!((now - t0).as_secs(), 32);
    assert_eq!(d.state(), State::Done);
    assert_eq!(d.next_timer(), None);

    // A provisional answer stops the retransmissions.
    let (mut d, invite, t0) = start(None);
    d.on_datagram(&answer(&invite, 100, "Trying", &[], ""), t0);
    assert!(sends(&d.on_timer(t0 + Duration::from_secs(5))).is_empty());
    assert_eq!(d.state(), State::Proceeding);
}

#[test]
fn final_rejections_are_acked_and_reported() {
    for (status, reason) in [
        (404, "Not Found"),
        (480, "Temporarily Unavailable (no agent)"),
        (486, "Busy Here"),
        (488, "Not Acceptable Here"),
        (503, "Service Unavailable"),
        (603, "Decline"),
        (301, "Moved Permanently"),
    ] {
        let (mut d, invite, now) = start(None);
        d.on_datagram(&answer(&invite, 180, "Ringing", &[], ""), now);
        let a = d.on_datagram(&answer(&invite, status, reason, &[], ""), now);
        assert_eq!(
            events(&a),
            vec![Event::Rejected {
                status,
                reason: reason.into(),
                challenge: false
            }],
            "{status}"
        );
        let ack = parsed(&sends(&a)[0]);
        let inv = parsed(&invite);
        assert_eq!(ack.method(), Method::Ack);
        assert_eq!(ack.request_uri_raw(), inv.request_uri_raw());
        assert_eq!(ack.top_via().unwrap().branch, inv.top_via().unwrap().branch);
        assert_eq!(ack.to().unwrap().tag, Some("srvtag"));
        assert_eq!(ack.cseq().unwrap().number, 1);
        assert_eq!(d.state(), State::Done);
        assert_eq!(d.final_status, Some(status));
        // The answer repeated: ACKed again, reported once.
        let again = d.on_datagram(&answer(&invite, status, reason, &[], ""), now);
        assert_eq!(sends(&again), vec![ack.as_bytes().to_vec()]);
        assert!(events(&again).is_empty());
    }
}

fn challenge_for(invite: &[u8], status: u16, key: &NonceKey, stale: bool) -> Vec<u8> {
    let m = parsed(invite);
    let c = digest::Challenge {
        realm: "switchboard".into(),
        nonce: key.issue(1000, m.call_id().unwrap()),
        algorithm: Algorithm::Md5,
        stale,
        proxy: status == 407,
    };
    let reason = if status == 407 {
        "Proxy Authentication Required"
    } else {
        "Unauthorized"
    };
    answer(
        invite,
        status,
        reason,
        &[(c.header_name(), &c.header_value())],
        "",
    )
}

#[test]
fn digest_challenges_are_answered_once_with_valid_credentials() {
    let key = NonceKey::new(b"secret key");
    for (status, header) in [(401, "Authorization"), (407, "Proxy-Authorization")] {
        let (mut d, invite, now) = start(Some(("alice", "s3cret")));
        let a = d.on_datagram(&challenge_for(&invite, status, &key, false), now);
        assert_eq!(events(&a), vec![Event::Challenged { status }]);
        let s = sends(&a);
        assert_eq!(s.len(), 2, "the ACK of the challenge, then the new INVITE");
        assert_eq!(parsed(&s[0]).method(), Method::Ack);
        let retry = parsed(&s[1]);
        assert_eq!(retry.method(), Method::Invite);
        assert_eq!(retry.cseq().unwrap().number, 2);
        assert_eq!(retry.call_id(), Some("abc@test"));
        assert_ne!(
            retry.top_via().unwrap().branch,
            parsed(&invite).top_via().unwrap().branch
        );
        let creds = digest::parse_credentials(retry.header(header).unwrap()).unwrap();
        let verdict = digest::verify(
            &creds,
            &Expected {
                username: "alice",
                password: "s3cret",
                realm: "switchboard",
                method: "INVITE",
                call_id: "abc@test",
                algorithms: &[Algorithm::Md5],
            },
            &key,
            1001,
        );
        assert_eq!(verdict, Verdict::Accepted, "{status}");
        assert_eq!(d.state(), State::Calling);

        // Accepted: the retry is answered and ACKed in its own transaction.
        let a = d.on_datagram(&ok_200(&s[1]), now);
        assert!(matches!(events(&a)[0], Event::Answered { .. }));
        assert_eq!(parsed(&sends(&a)[0]).cseq().unwrap().number, 2);
        // A late answer of the first INVITE is not ours any more.
        let before = d.ignored;
        d.on_datagram(&ok_200(&invite), now);
        assert_eq!(d.ignored, before + 1);
    }
}

#[test]
fn challenges_without_credentials_or_repeated_are_rejections() {
    let key = NonceKey::new(b"k");
    let (mut d, invite, now) = start(None);
    let a = d.on_datagram(&challenge_for(&invite, 401, &key, false), now);
    assert_eq!(
        events(&a),
        vec![Event::Rejected {
            status: 401,
            reason: "Unauthorized".into(),
            challenge: true
        }]
    );

    let (mut d, mut invite, now) = start(Some(("a", "wrong")));
    for _ in 0..MAX_AUTH_ATTEMPTS {
        let a = d.on_datagram(&challenge_for(&invite, 407, &key, true), now);
        assert_eq!(events(&a), vec![Event::Challenged { status: 407 }]);
        invite = sends(&a)[1].clone();
    }
    let a = d.on_datagram(&challenge_for(&invite, 407, &key, false), now);
    assert!(matches!(
        events(&a)[..],
        [Event::Rejected {
            status: 407,
            challenge: true,
            ..
        }]
    ));
    assert_eq!(d.state(), State::Done);

    // A challenge we cannot answer (unknown algorithm, no nonce) is a rejection too.
    for header in [
        "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512",
        "Digest realm=\"r\"",
        "Basic realm=\"r\"",
        "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
        "Digest realm=\"unterminated, nonce=\"n\"",
    ] {
        let (mut d, invite, now) = start(Some(("a", "b")));
        let a = d.on_datagram(
            &answer(
                &invite,
                401,
                "Unauthorized",
                &[("WWW-Authenticate", header)],
                "",
            ),
            now,
        );
        assert!(
            matches!(events(&a)[..], [Event::Rejected { status: 401, .. }]),
            "{header}: {a:?}"
        );
    }
}

#[test]
fn challenge_parsing() {
    let c = Challenge::parse(
        "Digest realm=\"sw \\\"x\\\"\",nonce=abc, algorithm=sha-256, qop=\"auth,auth-int\", opaque=\"o\"",
    )
    .unwrap();
    assert_eq!(c.realm, "sw \"x\"");
    assert_eq!(c.nonce, "abc");
    assert_eq!(c.algorithm, Algorithm::Sha256);
    assert!(c.qop_auth);
    assert_eq!(c.opaque.as_deref(), Some("o"));
    let v = c.answer("u", "p", "INVITE", "sip:x@y", "cn").unwrap();
    let creds = digest::parse_credentials(&v).unwrap();
    assert_eq!(creds.realm, "sw \"x\"");
    assert_eq!(creds.opaque.as_deref(), Some("o"));
    assert_eq!(creds.qop.as_deref(), Some("auth"));
    for bad in [
        "",
        "Digest",
        "Digest ",
        "Digest =",
        "Digest a",
        "Digest a=\"",
        "Digest a=\"\\",
    ] {
        assert_eq!(Challenge::parse(bad), None, "{bad:?}");
    }
    assert!(Challenge::parse(&format!("Digest realm=\"{}\"", "x".repeat(5000))).is_none());
}

#[test]
fn hangup_while_ringing_cancels() {
    // Before anything is heard: the CANCEL waits for the first provisional answer.
    let (mut d, invite, now) = start(None);
    assert!(d.hangup(now).is_empty());
    let a = d.on_datagram(&answer(&invite, 180, "Ringing", &[], ""), now);
    let cancel = sends(&a)[0].clone();
    let m = parsed(&cancel);
    let inv = parsed(&invite);
    assert_eq!(m.method(), Method::Cancel);
    assert_eq!(m.top_via().unwrap().branch, inv.top_via().unwrap().branch);
    assert_eq!(m.cseq().unwrap().number, 1);
    assert_eq!(m.request_uri_raw(), inv.request_uri_raw());
    assert_eq!(d.state(), State::Cancelling);
    // The CANCEL's 200, then the INVITE's 487.
    assert!(
        d.on_datagram(&answer(&cancel, 200, "OK", &[], ""), now)
            .is_empty()
    );
    let a = d.on_datagram(&answer(&invite, 487, "Request Terminated", &[], ""), now);
    assert_eq!(events(&a), vec![Event::Cancelled]);
    assert_eq!(parsed(&sends(&a)[0]).method(), Method::Ack);
    assert_eq!(d.state(), State::Done);

    // Answered anyway (the 200 crossed the CANCEL): ACK, then BYE.
    let (mut d, invite, now) = start(None);
    d.on_datagram(&answer(&invite, 180, "Ringing", &[], ""), now);
    d.hangup(now);
    let a = d.on_datagram(&ok_200(&invite), now);
    let methods: Vec<Method> = sends(&a).iter().map(|s| parsed(s).method()).collect();
    assert_eq!(methods, vec![Method::Ack, Method::Bye]);
    assert_eq!(d.state(), State::Terminating);

    // Ringing too long: CANCEL at the answer timeout.
    let (mut d, invite, now) = start(None);
    d.on_datagram(&answer(&invite, 180, "Ringing", &[], ""), now);
    let t = d.next_timer().unwrap();
    assert_eq!(t - now, Duration::from_secs(60));
    let a = d.on_timer(t);
    assert_eq!(parsed(&sends(&a)[0]).method(), Method::Cancel);
    // No 487 ever: given up after Timer B.
    let mut last = Vec::new();
    while let Some(t) = d.next_timer() {
        last = d.on_timer(t);
        if d.state() == State::Done {
            break;
        }
    }
    assert_eq!(events(&last), vec![Event::NoAnswer]);
}

#[test]
fn the_far_end_hangs_up() {
    let (mut d, _, now) = answered();
    let bye = "BYE sip:+15551234567@127.0.0.1:40000 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsrv1\r\n\
        From: <sip:+15550100@127.0.0.1>;tag=srvtag\r\n\
        To: <sip:+15551234567@127.0.0.1>;tag=ftag\r\n\
        Call-ID: abc@test\r\nCSeq: 10 BYE\r\nContent-Length: 0\r\n\r\n";
    let a = d.on_datagram(bye.as_bytes(), now);
    assert_eq!(events(&a), vec![Event::RemoteHangup]);
    let ok = parsed(&sends(&a)[0]);
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.cseq().unwrap().method, Method::Bye);
    assert_eq!(d.state(), State::Done);
    // Its retransmission: answered again, no new event.
    let a = d.on_datagram(bye.as_bytes(), now);
    assert_eq!(parsed(&sends(&a)[0]).status(), Some(200));
    assert!(events(&a).is_empty());

    // A BYE for another call, or from a stranger's tag: 481.
    let (mut d, _, now) = answered();
    for other in [
        bye.replace("abc@test", "other@test"),
        bye.replace("tag=srvtag", "tag=intruder"),
        bye.replace("tag=ftag", "tag=nottag"),
    ] {
        let a = d.on_datagram(other.as_bytes(), now);
        assert_eq!(parsed(&sends(&a)[0]).status(), Some(481), "{other}");
        assert!(events(&a).is_empty());
        assert_eq!(d.state(), State::Confirmed);
    }
    // INFO with a DTMF digit.
    let info = bye.replace("BYE", "INFO").replace(
        "Content-Length: 0\r\n",
        "Content-Type: application/dtmf-relay\r\nContent-Length: 24\r\n",
    ) + "Signal=5\r\nDuration=160\r\n";
    let a = d.on_datagram(info.as_bytes(), now);
    assert_eq!(events(&a), vec![Event::InfoDtmf('5')]);
    assert_eq!(parsed(&sends(&a)[0]).status(), Some(200));
}

#[test]
fn unanswered_bye_ends_after_timer_f() {
    let (mut d, _, now) = answered();
    d.hangup(now);
    let mut sent = 0;
    let mut last = Vec::new();
    while let Some(t) = d.next_timer() {
        last = d.on_timer(t);
        sent += sends(&last).len();
        assert!(t - now <= TRANSACTION_TIMEOUT);
    }
    // T1 doubling to T2: 0.5, 1.5, 3.5, 7.5, 11.5 … 31.5 s.
    assert_eq!(sent, 10);
    assert_eq!(events(&last), vec![Event::ByeAnswered(None)]);
    assert_eq!(d.state(), State::Done);
}

#[test]
fn hostile_and_malformed_input_is_ignored() {
    let (_, invite, _) = start(None);
    let good = String::from_utf8(ok_200(&invite)).unwrap();
    let inv = String::from_utf8(invite.clone()).unwrap();
    let branch = parsed(&invite)
        .top_via()
        .unwrap()
        .branch
        .unwrap()
        .to_owned();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("garbage", b"\x00\xff\xfe garbage".to_vec()),
        ("a status line only", b"SIP/2.0 200 OK\r\n\r\n".to_vec()),
        (
            "status 999",
            good.replacen("200 OK", "999 Huh", 1).into_bytes(),
        ),
        (
            "status 42",
            good.replacen("200 OK", "42 Huh", 1).into_bytes(),
        ),
        (
            "another call",
            good.replace("abc@test", "zzz@test").into_bytes(),
        ),
        (
            "another branch",
            good.replace(&branch, "z9hG4bKother").into_bytes(),
        ),
        (
            "another CSeq",
            good.replace("CSeq: 1 INVITE", "CSeq: 7 INVITE")
                .into_bytes(),
        ),
        (
            "a CSeq for BYE",
            good.replace("CSeq: 1 INVITE", "CSeq: 1 BYE").into_bytes(),
        ),
        ("no Via", {
            let v: Vec<&str> = good
                .split("\r\n")
                .filter(|l| !l.starts_with("Via"))
                .collect();
            v.join("\r\n").into_bytes()
        }),
        ("no CSeq", {
            let v: Vec<&str> = good
                .split("\r\n")
                .filter(|l| !l.starts_with("CSeq"))
                .collect();
            v.join("\r\n").into_bytes()
        }),
        (
            "a truncated body",
            good.as_bytes()[..good.len() - 20].to_vec(),
        ),
        ("our own INVITE echoed", inv.into_bytes()),
        ("huge", {
            let mut h = good.clone();
            h.insert_str(20, &format!("X-Big: {}\r\n", "a".repeat(70_000)));
            h.into_bytes()
        }),
    ];
    for (name, bytes) in cases {
        let (mut d, _, now) = start(None);
        // The INVITE is the same for every start (deterministic ids).
        let a = d.on_datagram(&bytes, now);
        assert!(events(&a).is_empty(), "{name}: {:?}", events(&a));
        assert_eq!(d.state(), State::Calling, "{name}");
        assert!(
            sends(&a).iter().all(|s| parsed(s).status() == Some(481)),
            "{name}: only a 481 to a stray request may be sent"
        );
        // The real answer still works afterwards.
        let a = d.on_datagram(good.as_bytes(), now);
        assert!(matches!(events(&a)[..], [Event::Answered { .. }]), "{name}");
    }

    // A 200 with a hostile Contact: the ACK goes to the Request-URI instead, nothing
    // injected; one without a To tag still gets its ACK.
    for contact in ["<sip:x@y\r\nEvil: 1>", "<http://evil>", "<>", "garbage <<<"] {
        let (mut d, invite, now) = start(None);
        let bytes = answer(&invite, 200, "OK", &[("Contact", contact)], SDP_ANSWER);
        let a = d.on_datagram(&bytes, now);
        for s in sends(&a) {
            let m = parsed(&s);
            assert!(m.header("Evil").is_none(), "{contact}");
            assert!(m.bad_request().is_none(), "{contact}");
        }
    }
}

#[test]
fn mutated_answers_never_panic() {
    let (_, invite, _) = start(None);
    let good = ok_200(&invite);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut bytes = good.clone();
        for _ in 0..(rand() % 8 + 1) {
            let i = (rand() as usize) % bytes.len();
            match rand() % 4 {
                0 => bytes[i] = rand() as u8,
                1 => {
                    bytes.remove(i);
                }
                2 => bytes.insert(i, b"\r\n:;,<>\"= \x00"[(rand() % 11) as usize]),
                _ => bytes.truncate(i),
            }
            if bytes.is_empty() {
                break;
            }
        }
        let (mut d, _, now) = start(Some(("u", "p")));
        d.on_datagram(&bytes, now);
        d.on_datagram(&good, now);
        d.on_datagram(&bytes, now);
        d.hangup(now);
        d.on_datagram(&bytes, now);
        let _ = d.on_timer(now + Duration::from_secs(40));
    }
}
