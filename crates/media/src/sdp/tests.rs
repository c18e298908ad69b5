//! Table tests with offers seen from real peers, plus property tests (never panics, answers
//! round-trip).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;

const SIPP_DEFAULT: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

const SIPP_MEDIA: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 8 96 101\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";

/// baresip with many codecs: opus and G722 first, LF line ends, media-level c=, extra
/// attributes we do not know.
const BARESIP: &str = "v=0\no=- 1414 2727 IN IP4 192.168.1.20\ns=-\nt=0 0\n\
m=audio 20000 RTP/AVP 111 9 0 8 101\nc=IN IP4 192.168.1.20\nb=AS:64\n\
a=rtpmap:111 opus/48000/2\na=fmtp:111 stereo=1;sprop-stereo=1\na=rtpmap:9 G722/8000\n\
a=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\n\
a=fmtp:101 0-15\na=rtcp-rsize\na=ssrc:123456 cname:x@y\na=sendrecv\na=label:1\n";

const TWILIO: &str = "v=0\r\no=root 1428587245 1428587245 IN IP4 54.172.60.1\r\n\
s=Twilio Media Gateway\r\nc=IN IP4 54.172.60.1\r\nt=0 0\r\nm=audio 18774 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
a=ptime:20\r\na=maxptime:150\r\na=sendrecv\r\n";

fn offer(text: &str) -> Negotiated {
    let sd = SessionDescription::parse(text.as_bytes()).expect("parses");
    negotiate(&sd, &DEFAULT_PREFERENCE).expect("negotiates")
}

fn addr(s: &str) -> Option<SocketAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn sipp_default_offer() {
    let n = offer(SIPP_DEFAULT);
    assert_eq!((n.codec, n.payload_type), (Codec::Pcmu, 0));
    assert_eq!(n.dtmf_payload_type, None);
    assert_eq!(n.remote_rtp, addr("127.0.0.1:6000"));
    assert_eq!(n.remote_rtcp, addr("127.0.0.1:6001"));
    assert_eq!(n.direction, Direction::SendRecv);
    let a = answer(&n, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 10000, 7, 1);
    assert_eq!(
        a,
        "v=0\r\no=switchboard 7 1 IN IP4 10.0.0.1\r\ns=switchboard\r\nc=IN IP4 10.0.0.1\r\n\
         t=0 0\r\nm=audio 10000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n\
         a=sendrecv\r\n"
    );
}

#[test]
fn sipp_media_offer_takes_first_telephone_event_and_accepts_both() {
    let n = offer(SIPP_MEDIA);
    assert_eq!((n.codec, n.payload_type), (Codec::Pcmu, 0));
    assert_eq!(n.dtmf_payload_type, Some(96));
    assert!(n.dtmf_payload_types.contains(96));
    assert!(n.dtmf_payload_types.contains(101));
    assert!(!n.dtmf_payload_types.contains(97));
    let a = answer(&n, "192.0.2.5".parse().unwrap(), 10002, 1, 2);
    assert!(a.contains("m=audio 10002 RTP/AVP 0 96\r\n"), "{a}");
    assert!(a.contains("a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n"));
    assert!(a.contains("a=ptime:20\r\n"));
}

#[test]
fn baresip_offer_uses_our_preference_not_theirs() {
    let n = offer(BARESIP);
    assert_eq!((n.codec, n.payload_type), (Codec::Pcmu, 0));
    assert_eq!(n.dtmf_payload_type, Some(101));
    assert_eq!(n.remote_rtp, addr("192.168.1.20:20000"));
    let sd = SessionDescription::parse(BARESIP.as_bytes()).unwrap();
    assert_eq!(sd.media[0].fmtp(111), Some("stereo=1;sprop-stereo=1"));
    assert_eq!(sd.media[0].rtpmap(111).unwrap().channels, Some(2));
    // With A-law preferred, PCMA wins although PCMU is offered first.
    let n = negotiate(&sd, &[Codec::Pcma, Codec::Pcmu]).unwrap();
    assert_eq!((n.codec, n.payload_type), (Codec::Pcma, 8));
}

#[test]
fn twilio_offer() {
    let n = offer(TWILIO);
    assert_eq!(
        (n.codec, n.payload_type, n.dtmf_payload_type),
        (Codec::Pcmu, 0, Some(101))
    );
    assert_eq!(n.ptime, Some(20));
    assert_eq!(n.remote_rtp, addr("54.172.60.1:18774"));
}

#[test]
fn offer_order_does_not_matter_and_static_types_need_no_rtpmap() {
    let n = offer("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 18 8 0\r\n");
    assert_eq!((n.codec, n.payload_type), (Codec::Pcmu, 0));
    let n = offer("m=audio 4000 RTP/AVP 18 8\r\nc=IN IP4 1.2.3.4\r\na=rtpmap:18 G729/8000\r\n");
    assert_eq!((n.codec, n.payload_type), (Codec::Pcma, 8));
    // A dynamic payload type mapped to PCMU, lower-case name.
    let n = offer("c=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 98\r\na=rtpmap:98 pcmu/8000\r\n");
    assert_eq!((n.codec, n.payload_type), (Codec::Pcmu, 98));
    // Lines in any order within the session section; session c= after the m-line's own
    // attributes does not exist, so the c= before m= applies.
    let n = offer("t=0 0\r\nc=IN IP4 5.6.7.8\r\ns=x\r\nv=0\r\nm=audio 1234 RTP/AVP 0\r\n");
    assert_eq!(n.remote_rtp, addr("5.6.7.8:1234"));
}

#[test]
fn hold_and_resume() {
    // Old-style hold: c=0.0.0.0.
    let n = offer("v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 6000 RTP/AVP 0\r\n");
    assert_eq!(n.remote_rtp, None);
    assert!(!n.may_send());
    assert!(!n.expects_media());
    // sendonly at session level: we answer recvonly and must not send.
    let n = offer("v=0\r\nc=IN IP4 1.1.1.1\r\na=sendonly\r\nm=audio 6000 RTP/AVP 0\r\n");
    assert_eq!(n.direction, Direction::SendOnly);
    assert_eq!(n.local_direction(), Direction::RecvOnly);
    assert!(!n.may_send());
    assert!(n.expects_media());
    let a = answer(&n, "10.0.0.1".parse().unwrap(), 10000, 1, 2);
    assert!(a.ends_with("a=recvonly\r\n"), "{a}");
    // Media level overrides session level.
    let n =
        offer("v=0\r\nc=IN IP4 1.1.1.1\r\na=sendonly\r\nm=audio 6000 RTP/AVP 0\r\na=inactive\r\n");
    assert_eq!(n.local_direction(), Direction::Inactive);
    assert!(!n.may_send() && !n.expects_media());
    // recvonly offer is answered sendonly (RFC 3264 §6.1).
    let n = offer("v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 6000 RTP/AVP 0\r\na=recvonly\r\n");
    assert_eq!(n.local_direction(), Direction::SendOnly);
    assert!(n.may_send() && !n.expects_media());
    // Resume.
    let n = offer("v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 6002 RTP/AVP 0\r\na=sendrecv\r\n");
    assert!(n.may_send() && n.expects_media());
    assert_eq!(n.remote_rtp, addr("1.1.1.1:6002"));
}

#[test]
fn ipv6_and_rtcp_attribute() {
    let n = offer(
        "v=0\r\nc=IN IP6 2001:db8::1\r\nm=audio 7000 RTP/AVP 8\r\na=rtcp:7005 IN IP6 2001:db8::1\r\n",
    );
    assert_eq!(n.remote_rtp, addr("[2001:db8::1]:7000"));
    assert_eq!(n.remote_rtcp, addr("[2001:db8::1]:7005"));
    let a = answer(&n, "2001:db8::2".parse().unwrap(), 10000, 1, 1);
    assert!(a.contains("c=IN IP6 2001:db8::2\r\n"), "{a}");
    assert!(a.contains("a=rtpmap:8 PCMA/8000\r\n"));
    // Multicast TTL suffix is stripped.
    let n = offer("c=IN IP4 224.2.1.1/127\r\nm=audio 7000 RTP/AVP 0\r\n");
    assert_eq!(n.remote_rtp, addr("224.2.1.1:7000"));
}

#[test]
fn other_media_are_rejected_in_place() {
    let text = "v=0\r\nc=IN IP4 1.1.1.1\r\nm=video 9000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                m=audio 0 RTP/AVP 0\r\nm=audio 8000 RTP/SAVP 0\r\nm=audio 8002 RTP/AVP 0 101\r\n\
                a=rtpmap:101 telephone-event/8000\r\n";
    let n = offer(text);
    assert_eq!(n.media_index, 3);
    assert_eq!(n.remote_rtp, addr("1.1.1.1:8002"));
    let a = answer(&n, "10.0.0.1".parse().unwrap(), 10000, 1, 1);
    let m_lines: Vec<_> = a.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(
        m_lines,
        [
            "m=video 0 RTP/AVP 96",
            "m=audio 0 RTP/AVP 0",
            "m=audio 0 RTP/SAVP 0",
            "m=audio 10000 RTP/AVP 0 101"
        ]
    );
}

#[test]
fn errors() {
    let parse = |s: &str| SessionDescription::parse(s.as_bytes());
    let neg = |s: &str| parse(s).and_then(|sd| negotiate(&sd, &DEFAULT_PREFERENCE));
    assert_eq!(
        neg("c=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP 18 9 111\r\na=rtpmap:111 opus/48000/2\r\n"),
        Err(SdpError::NoCommonCodec)
    );
    // PT 0 remapped to something else is not PCMU; PCMU at 16 kHz is not ours.
    assert_eq!(
        neg(
            "c=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP 0 97\r\na=rtpmap:0 G729/8000\r\na=rtpmap:97 PCMU/16000\r\n"
        ),
        Err(SdpError::NoCommonCodec)
    );
    assert_eq!(
        negotiate(&parse(SIPP_DEFAULT).unwrap(), &[]),
        Err(SdpError::NoCommonCodec)
    );
    assert_eq!(
        neg("m=audio 4000 RTP/AVP 0\r\n"),
        Err(SdpError::NoConnection)
    );
    assert_eq!(
        neg("c=IN IP4 host.example\r\nm=audio 4000 RTP/AVP 0\r\n"),
        Err(SdpError::NoConnection)
    );
    assert_eq!(
        neg("c=IN IP4 1.1.1.1\r\nm=video 4000 RTP/AVP 0\r\n"),
        Err(SdpError::NoAudio)
    );
    assert_eq!(
        neg("c=IN IP4 1.1.1.1\r\nm=audio 0 RTP/AVP 0\r\n"),
        Err(SdpError::NoAudio)
    );
    assert_eq!(
        neg("c=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/SAVP 0\r\n"),
        Err(SdpError::NoAudio)
    );
    assert_eq!(
        neg("c=IN IP4 1.1.1.1\r\nm=audio 99999 RTP/AVP 0\r\n"),
        Err(SdpError::NoAudio)
    );
    for garbage in ["", "hello", "\0\0\0", "v=0\r\ns=-\r\n", "m", "=audio"] {
        assert_eq!(parse(garbage), Err(SdpError::NoMedia), "{garbage:?}");
    }
    let big = format!("{SIPP_DEFAULT}{}", "a=x\r\n".repeat(4000));
    assert_eq!(parse(&big), Err(SdpError::TooLarge(big.len())));
    let many = format!(
        "c=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP{}\r\n",
        " 0".repeat(65)
    );
    assert_eq!(parse(&many), Err(SdpError::TooManyFormats));
    let media = "m=audio 0 RTP/AVP 0\r\n".repeat(17);
    assert_eq!(parse(&media), Err(SdpError::TooManyMedia));
    assert!(SdpError::NoCommonCodec.to_string().contains("codec"));
}

#[test]
fn odd_but_acceptable_lines() {
    let n = offer(
        "  v=0  \r\nx\r\n=\r\nc=IN IP4\r\nc=IN IP4 9.9.9.9\r\nm=audio 4000/2 RTP/AVP 0 0 abc 300 8\r\n\
         a=rtpmap:\r\na=rtpmap:200 PCMU/8000\r\na=rtpmap:8 PCMA/x\r\na=ptime:20.0\r\na=fmtp:x y\r\n",
    );
    assert_eq!(n.remote_rtp, addr("9.9.9.9:4000"));
    assert_eq!((n.codec, n.payload_type), (Codec::Pcmu, 0));
    assert_eq!(n.ptime, Some(20));
    // Invalid UTF-8 lines are skipped, not fatal.
    let mut bytes = b"c=IN IP4 1.1.1.1\r\n\xff\xfe=\xc3\r\n".to_vec();
    bytes.extend_from_slice(b"m=audio 4000 RTP/AVP 8\r\n");
    let sd = SessionDescription::parse(&bytes).unwrap();
    assert_eq!(
        negotiate(&sd, &DEFAULT_PREFERENCE).unwrap().codec,
        Codec::Pcma
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    const SAMPLES: [&str; 4] = [SIPP_DEFAULT, SIPP_MEDIA, BARESIP, TWILIO];

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(sd) = SessionDescription::parse(&bytes)
                && let Ok(n) = negotiate(&sd, &DEFAULT_PREFERENCE)
            {
                let _ = answer(&n, IpAddr::V4(Ipv4Addr::LOCALHOST), 10000, 1, 1);
            }
        }

        #[test]
        fn mutated_offers_never_panic(
            which in 0..SAMPLES.len(),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..24),
        ) {
            let mut bytes = SAMPLES[which].as_bytes().to_vec();
            for (pos, byte, op) in edits {
                let pos = pos % (bytes.len() + 1);
                match op {
                    0 => bytes.insert(pos, byte),
                    1 if pos < bytes.len() => { bytes.remove(pos); }
                    _ if pos < bytes.len() => bytes[pos] = byte,
                    _ => {}
                }
            }
            if let Ok(sd) = SessionDescription::parse(&bytes)
                && let Ok(n) = negotiate(&sd, &DEFAULT_PREFERENCE)
            {
                let _ = answer(&n, IpAddr::V4(Ipv4Addr::LOCALHOST), 10000, 1, 1);
            }
        }

        /// Our answer, read back as an offer, negotiates to the same codec, payload types
        /// and the address we gave.
        #[test]
        fn answers_round_trip(which in 0..SAMPLES.len(), port in 1u16..u16::MAX, id in any::<u64>()) {
            let n = offer(SAMPLES[which]);
            let text = answer(&n, IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)), port, id, id);
            let back = negotiate(&SessionDescription::parse(text.as_bytes()).unwrap(), &DEFAULT_PREFERENCE).unwrap();
            prop_assert_eq!((back.codec, back.payload_type, back.dtmf_payload_type),
                (n.codec, n.payload_type, n.dtmf_payload_type));
            prop_assert_eq!(back.remote_rtp, Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)), port)));
        }
    }
}
