//! Parser, framer and builder tests: real-world messages, every 400 reason, property
//! tests that nothing panics on arbitrary or mutated input.

use std::net::SocketAddr;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;

pub(crate) const SIPP_INVITE: &str = "INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-12345-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=12345SIPpTag001\r\n\
To: service <sip:service@127.0.0.1:5060>\r\n\
Call-ID: 1-12345@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: sip:sipp@127.0.0.1:5061\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
Content-Type: application/sdp\r\n\
Content-Length:   129\r\n\
\r\n\
v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

const TWILIO_INVITE: &str = "INVITE sip:+15551230000@sip.example.com;transport=udp SIP/2.0\r\n\
Record-Route: <sip:54.172.60.0:5060;lr;r2=on;ftag=a1b2c3>\r\n\
Record-Route: <sip:172.18.0.1;lr;r2=on;ftag=a1b2c3>\r\n\
Via: SIP/2.0/UDP 54.172.60.0:5060;branch=z9hG4bK7f3e.1\r\n\
Via: SIP/2.0/UDP 172.18.0.20:5060;received=10.0.0.1;branch=z9hG4bKabc;rport=5060\r\n\
Max-Forwards: 69\r\n\
From: \"+1 (555) 987-6543\" <sip:+15559876543@54.172.60.0>;tag=94311234_6772d868_a1b2\r\n\
To: <sip:+15551230000@sip.example.com>\r\n\
Call-ID: 2c7d8b1a6f9e4c3b9a8d7e6f5a4b3c2d@0.0.0.0\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:+15559876543@54.172.60.0:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n\
User-Agent: Twilio Gateway\r\n\
X-Twilio-CallSid: CA0123456789abcdef0123456789abcdef\r\n\
X-Twilio-AccountSid: AC0123456789abcdef0123456789abcdef\r\n\
Diversion: <sip:+15550001111@example.com>;reason=unconditional\r\n\
P-Asserted-Identity: <sip:+15559876543@54.172.60.0>\r\n\
Supported: timer, replaces\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 9\r\n\
\r\n\
v=0\r\nxyzTRAILING";

fn p(s: &str) -> Message {
    parse(Bytes::copy_from_slice(s.as_bytes())).expect("parses")
}

#[test]
fn sipp_default_invite() {
    let m = p(SIPP_INVITE);
    assert!(m.is_request());
    assert_eq!(m.request_method(), Some(Method::Invite));
    let ru = m.request_uri().expect("ruri");
    assert_eq!(ru.user, Some("service"));
    assert_eq!(ru.host, "127.0.0.1");
    assert_eq!(ru.port, Some(5060));
    let v = m.top_via().expect("via");
    assert_eq!(v.transport, "UDP");
    assert_eq!(v.host, "127.0.0.1");
    assert_eq!(v.port, Some(5061));
    assert_eq!(v.branch, Some("z9hG4bK-12345-1-0"));
    assert_eq!(v.rport, None);
    let f = m.from().expect("from");
    assert_eq!(f.display, Some("sipp"));
    assert_eq!(f.uri.user, Some("sipp"));
    assert_eq!(f.tag, Some("12345SIPpTag001"));
    let t = m.to().expect("to");
    assert_eq!(t.uri.user, Some("service"));
    assert_eq!(t.tag, None);
    assert_eq!(m.call_id(), Some("1-12345@127.0.0.1"));
    assert_eq!(
        m.cseq(),
        Some(CSeq {
            number: 1,
            method: Method::Invite
        })
    );
    assert_eq!(
        m.contact().expect("contact").uri.raw,
        "sip:sipp@127.0.0.1:5061"
    );
    assert_eq!(m.max_forwards(), Some(70));
    assert_eq!(m.content_type(), Some("application/sdp"));
    assert_eq!(m.body().len(), 129);
    assert!(m.body().starts_with(b"v=0"));
    assert_eq!(m.bad_request(), None);
    assert_eq!(m.headers().count(), 10);
    assert_eq!(m.header("subject"), Some("Performance Test"));
}

#[test]
fn twilio_style_invite() {
    let m = p(TWILIO_INVITE);
    assert_eq!(m.bad_request(), None);
    assert_eq!(m.vias().count(), 2);
    let v = m.top_via().expect("via");
    assert_eq!(v.branch, Some("z9hG4bK7f3e.1"));
    let f = m.from().expect("from");
    assert_eq!(f.display, Some("+1 (555) 987-6543"));
    assert_eq!(f.uri.user, Some("+15559876543"));
    assert_eq!(f.uri.host, "54.172.60.0");
    assert_eq!(f.tag, Some("94311234_6772d868_a1b2"));
    assert_eq!(m.to().expect("to").uri.user, Some("+15551230000"));
    assert_eq!(m.request_uri().expect("ruri").host, "sip.example.com");
    assert_eq!(m.record_routes().count(), 2);
    assert_eq!(
        m.header("x-twilio-callsid"),
        Some("CA0123456789abcdef0123456789abcdef")
    );
    // Content-Length 9 < available: the trailing bytes are discarded.
    assert_eq!(m.body(), b"v=0\r\nxyzT");
    let names: Vec<&str> = m.headers().map(|(n, _)| n).collect();
    assert_eq!(names.first(), Some(&"Record-Route"));
    assert_eq!(names.last(), Some(&"Content-Length"));
}

#[test]
fn compact_forms_multi_via_ipv6_folding() {
    let s = "INVITE sip:bob@[2001:db8::1]:5070 SIP/2.0\r\n\
v: SIP/2.0/TCP [::1]:5062;branch=z9hG4bKv6;rport, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n\
V: SIP/2.0/UDP 10.0.0.3:5080;branch=z9hG4bKc\r\n\
f: <sip:alice@[::1]>;tag=abc\r\n\
t: Bob\r\n <sip:bob@example.org>\r\n\
i: compact@host\r\n\
CSEQ: 7 INVITE\r\n\
m: <sip:alice@[::1]:5062;transport=tcp>\r\n\
k: timer\r\n\
c: application/sdp\r\n\
l: 4\r\n\
\r\n\
abcd";
    let m = p(s);
    assert_eq!(m.bad_request(), None);
    assert_eq!(m.vias().count(), 3);
    let v = m.top_via().expect("via");
    assert_eq!(v.transport, "TCP");
    assert_eq!(v.host, "[::1]");
    assert_eq!(v.port, Some(5062));
    assert_eq!(v.rport, Some(None));
    let ru = m.request_uri().expect("ruri");
    assert_eq!(ru.host, "[2001:db8::1]");
    assert_eq!(ru.port, Some(5070));
    assert_eq!(m.from().expect("from").uri.host, "[::1]");
    let to = m.to().expect("to");
    assert_eq!(to.display, Some("Bob"));
    assert_eq!(to.uri.user, Some("bob"));
    assert_eq!(m.call_id(), Some("compact@host"));
    assert_eq!(m.cseq().map(|c| c.number), Some(7));
    assert_eq!(m.content_type(), Some("application/sdp"));
    assert_eq!(m.body(), b"abcd");
    assert_eq!(m.header("Supported"), Some("timer"));
    assert_eq!(m.header("Content-Length"), Some("4"));
}

#[test]
fn tel_uri_and_bare_addr_spec() {
    let s = "OPTIONS tel:+15551234567 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n\
From: sip:a@b;tag=1\r\nTo: <sip:+1555;npdi@example.com>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
    let m = p(s);
    assert_eq!(m.bad_request(), None);
    let ru = m.request_uri().expect("ruri");
    assert_eq!(ru.scheme, "tel");
    assert_eq!(ru.user, Some("+15551234567"));
    assert_eq!(m.from().expect("from").tag, Some("1"));
    assert_eq!(m.to().expect("to").uri.user, Some("+1555;npdi"));
    assert_eq!(m.top_via().expect("via").port, None);
}

#[test]
fn responses_parse() {
    let s = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    let m = p(s);
    assert!(!m.is_request());
    assert_eq!(m.status(), Some(180));
    assert_eq!(m.reason(), Some("Ringing"));
    assert_eq!(m.method(), Method::Bye);
    assert_eq!(m.to().and_then(|t| t.tag), Some("2"));
}

fn replace(base: &str, from: &str, to: &str) -> String {
    assert!(base.contains(from), "{from}");
    base.replacen(from, to, 1)
}

#[test]
fn every_400_reason() {
    let b = SIPP_INVITE;
    let cases: Vec<(String, &str)> = vec![
        (
            replace(b, "Call-ID: 1-12345@127.0.0.1\r\n", ""),
            "Missing Call-ID",
        ),
        (
            replace(b, "Call-ID: 1-12345@127.0.0.1", "Call-ID: "),
            "Invalid Call-ID",
        ),
        (
            replace(b, "Call-ID: 1-12345@127.0.0.1", "Call-ID: a b"),
            "Invalid Call-ID",
        ),
        (
            replace(
                b,
                "From: sipp <sip:sipp@127.0.0.1:5061>;tag=12345SIPpTag001\r\n",
                "",
            ),
            "Missing From",
        ),
        (
            replace(
                b,
                "From: sipp <sip:sipp@127.0.0.1:5061>",
                "From: sipp <nourl",
            ),
            "Invalid From",
        ),
        (replace(b, ";tag=12345SIPpTag001", ""), "Missing From Tag"),
        (
            replace(b, "To: service <sip:service@127.0.0.1:5060>\r\n", ""),
            "Missing To",
        ),
        (
            replace(b, "To: service <sip:service@127.0.0.1:5060>", "To: <>"),
            "Invalid To",
        ),
        (replace(b, "CSeq: 1 INVITE\r\n", ""), "Missing CSeq"),
        (
            replace(b, "CSeq: 1 INVITE", "CSeq: one INVITE"),
            "Invalid CSeq",
        ),
        (replace(b, "CSeq: 1 INVITE", "CSeq: 1"), "Invalid CSeq"),
        (
            replace(b, "CSeq: 1 INVITE", "CSeq: 1 BYE"),
            "CSeq Method Mismatch",
        ),
        (
            replace(b, "Content-Length:   129", "Content-Length: abc"),
            "Invalid Content-Length",
        ),
        (
            replace(b, "Content-Length:   129", "Content-Length: 500"),
            "Content-Length Mismatch",
        ),
        (
            replace(b, "Max-Forwards: 70", "Max-Forwards: lots"),
            "Invalid Max-Forwards",
        ),
        (
            replace(
                b,
                "INVITE sip:service@127.0.0.1:5060 SIP",
                "INVITE nothing SIP",
            ),
            "Invalid Request-URI",
        ),
        (
            replace(b, "Subject: Performance Test", "Subject Performance Test"),
            "Malformed Header Line",
        ),
        (
            replace(b, "Subject: Performance Test", "Subject: caf\u{e9}"),
            "",
        ),
    ];
    for (msg, reason) in cases {
        let m = p(&msg);
        let expected = if reason.is_empty() {
            None
        } else {
            Some(reason)
        };
        assert_eq!(m.bad_request(), expected, "{msg}");
    }
    let mut bad = SIPP_INVITE.as_bytes().to_vec();
    let pos = SIPP_INVITE.find("Performance").expect("subject");
    if let Some(c) = bad.get_mut(pos) {
        *c = 0xff;
    }
    let m = parse(Bytes::from(bad)).expect("answerable");
    assert_eq!(m.bad_request(), Some("Non-UTF-8 Header"));
}

#[test]
fn unanswerable_is_parse_error() {
    assert!(parse(Bytes::from_static(b"")).is_err());
    assert!(parse(Bytes::from_static(b"\r\n\r\n")).is_err());
    assert!(parse(Bytes::from_static(b"hello world")).is_err());
    assert!(parse(Bytes::from_static(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")).is_err());
    let no_via = replace(
        SIPP_INVITE,
        "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-12345-1-0\r\n",
        "",
    );
    assert!(parse(Bytes::from(no_via)).is_err());
    let bad_via = replace(SIPP_INVITE, "SIP/2.0/UDP 127.0.0.1:5061", "garbage");
    assert!(parse(Bytes::from(bad_via)).is_err());
}

#[test]
fn response_builder_rport_received() {
    let req = p(&replace(
        SIPP_INVITE,
        "branch=z9hG4bK-12345-1-0",
        "branch=z9hG4bK-1;rport",
    ));
    let src: SocketAddr = "192.0.2.7:40000".parse().expect("addr");
    let r = ResponseBuilder::new(&req, 404, "Not Found")
        .to_tag("abc")
        .source(src)
        .server("switchboard")
        .header("X-Test", "a\r\nInjected: yes")
        .build();
    let resp = parse(r).expect("parses");
    assert_eq!(resp.status(), Some(404));
    let v = resp.top_via().expect("via");
    assert_eq!(v.rport, Some(Some(40000)));
    assert_eq!(v.received, Some("192.0.2.7"));
    assert_eq!(resp.to().and_then(|t| t.tag), Some("abc"));
    assert_eq!(resp.from().and_then(|t| t.tag), Some("12345SIPpTag001"));
    assert_eq!(resp.call_id(), req.call_id());
    assert_eq!(resp.cseq(), req.cseq());
    assert_eq!(resp.header("Server"), Some("switchboard"));
    assert_eq!(resp.header("Injected"), None);
    assert_eq!(resp.header("Content-Length"), Some("0"));

    // Same host, no rport: Via untouched.
    let req = p(SIPP_INVITE);
    let src: SocketAddr = "127.0.0.1:5061".parse().expect("addr");
    let r = parse(
        ResponseBuilder::new(&req, 100, "Trying")
            .to_tag("t")
            .source(src)
            .build(),
    )
    .expect("p");
    assert_eq!(
        r.top_via().map(|v| v.raw),
        Some("SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-12345-1-0")
    );
    assert_eq!(r.to().and_then(|t| t.tag), None, "100 carries no tag");
    // Different host: received added.
    let src: SocketAddr = "10.1.1.1:5061".parse().expect("addr");
    let r = parse(
        ResponseBuilder::new(&req, 200, "OK")
            .source(src)
            .body("application/sdp", b"v=0\r\n")
            .build(),
    )
    .expect("p");
    assert_eq!(r.top_via().and_then(|v| v.received), Some("10.1.1.1"));
    assert_eq!(r.body(), b"v=0\r\n");
    // Multi-Via and Record-Route copied on 2xx.
    let req = p(TWILIO_INVITE);
    let r = parse(ResponseBuilder::new(&req, 200, "OK").to_tag("x").build()).expect("p");
    assert_eq!(r.vias().count(), 2);
    assert_eq!(r.record_routes().count(), 2);
    let r = parse(
        ResponseBuilder::new(&req, 486, "Busy Here")
            .to_tag("x")
            .build(),
    )
    .expect("p");
    assert_eq!(r.record_routes().count(), 0);
}

#[test]
fn dialog_request_builder() {
    let routes: Vec<Box<str>> = vec!["<sip:proxy;lr>".into()];
    let hdrs = vec![("X-Reason".to_string(), "done".to_string())];
    let bye = DialogRequest {
        method: Method::Bye,
        request_uri: "sip:sipp@127.0.0.1:5061",
        transport: "UDP",
        sent_by: "127.0.0.1:5060",
        branch: "z9hG4bKdeadbeef",
        from: "<sip:service@127.0.0.1>;tag=ours",
        to: "sipp <sip:sipp@127.0.0.1:5061>;tag=theirs",
        call_id: "cid",
        cseq: 2,
        route_set: &routes,
        user_agent: Some("switchboard"),
        headers: &hdrs,
        body: None,
    }
    .build();
    let m = parse(bye).expect("parses");
    assert_eq!(m.bad_request(), None);
    assert_eq!(m.request_method(), Some(Method::Bye));
    assert_eq!(m.request_uri_raw(), Some("sip:sipp@127.0.0.1:5061"));
    assert_eq!(m.top_via().and_then(|v| v.branch), Some("z9hG4bKdeadbeef"));
    assert_eq!(m.from().and_then(|f| f.tag), Some("ours"));
    assert_eq!(m.to().and_then(|f| f.tag), Some("theirs"));
    assert_eq!(
        m.cseq(),
        Some(CSeq {
            number: 2,
            method: Method::Bye
        })
    );
    assert_eq!(m.max_forwards(), Some(70));
    assert_eq!(m.header("Route"), Some("<sip:proxy;lr>"));
    assert_eq!(m.header("X-Reason"), Some("done"));
}

#[test]
fn framer_partial_keepalive_limits() {
    let mut f = Framer::new();
    f.push(b"\r\n\r\n");
    assert_eq!(f.next_frame(), Ok(Some(Frame::KeepAlive)));
    assert_eq!(f.next_frame(), Ok(None));
    let msg = SIPP_INVITE.as_bytes();
    let (a, b) = msg.split_at(100);
    f.push(a);
    assert_eq!(f.next_frame(), Ok(None));
    f.push(b);
    f.push(b"\r\n");
    f.push(msg);
    let Ok(Some(Frame::Message(m1))) = f.next_frame() else {
        panic!("frame 1")
    };
    assert_eq!(&m1[..], msg);
    let Ok(Some(Frame::Message(m2))) = f.next_frame() else {
        panic!("frame 2")
    };
    assert_eq!(&m2[..], msg);
    assert_eq!(f.next_frame(), Ok(None));
    assert_eq!(f.buffered(), 0);

    let mut f = Framer::new();
    f.push(&vec![b'a'; MAX_HEADER_LEN + 10]);
    assert_eq!(f.next_frame(), Err(FrameError::HeadersTooLarge));
    let mut f = Framer::new();
    f.push(b"INVITE sip:a@b SIP/2.0\r\nl: 70000\r\n\r\n");
    assert_eq!(f.next_frame(), Err(FrameError::MessageTooLarge));
    let mut f = Framer::new();
    f.push(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n");
    assert_eq!(f.next_frame(), Err(FrameError::BadContentLength));
}

fn exercise(m: &Message) {
    let _ = m.request_uri();
    let _ = m.top_via();
    let _ = m.from();
    let _ = m.to();
    let _ = m.contact();
    let _ = m.call_id();
    let _ = m.cseq();
    let _ = m.body();
    let _ = m.headers().count();
    let _ = m.vias().count();
    let _ = m.bad_request();
    if m.is_request() {
        let src: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let _ = ResponseBuilder::new(m, 400, "Bad")
            .to_tag("t")
            .source(src)
            .build();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(m) = parse(Bytes::from(data.clone())) {
            exercise(&m);
        }
        let mut f = Framer::new();
        f.push(&data);
        while let Ok(Some(_)) = f.next_frame() {}
    }

    #[test]
    fn never_panics_on_mutated_invites(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..12),
        which in 0usize..2,
    ) {
        let base = if which == 0 { SIPP_INVITE } else { TWILIO_INVITE };
        let mut d = base.as_bytes().to_vec();
        for (idx, byte, op) in edits {
            if d.is_empty() { break; }
            let i = idx.index(d.len());
            match op {
                0 => { if let Some(c) = d.get_mut(i) { *c = byte; } }
                1 => { d.remove(i); }
                _ => d.insert(i, [b':', b';', b',', b'<', b'>', b'"', b'\r', b'\n', b' ', b'@', b'[', b']'][usize::from(byte) % 12]),
            }
        }
        if let Ok(m) = parse(Bytes::from(d.clone())) {
            exercise(&m);
        }
        let mut f = Framer::new();
        f.push(&d);
        while let Ok(Some(_)) = f.next_frame() {}
    }
}
