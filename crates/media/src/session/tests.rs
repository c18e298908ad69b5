//! Deterministic session tests with a fake clock: latching, pacing continuity, DTMF in the
//! shapes SIPp sends it, loss, hold, timeouts, queue and marks, RTCP.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::dtmf::TelephoneEvent;
use crate::g711;
use crate::rtp::{RtpHeader, RtpPacket, write_packet};
use crate::sdp::{self, Codec, DEFAULT_PREFERENCE, SessionDescription};

const SIPP_MEDIA: &str = "v=0\r\no=user1 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
t=0 0\r\nm=audio 6000 RTP/AVP 0 8 96 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\na=sendrecv\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn offer(text: &str) -> Negotiated {
    sdp::negotiate(
        &SessionDescription::parse(text.as_bytes()).unwrap(),
        &DEFAULT_PREFERENCE,
    )
    .unwrap()
}

fn with_direction(direction: &str) -> Negotiated {
    offer(&SIPP_MEDIA.replace("a=sendrecv", direction))
}

struct Harness {
    session: RtpSession,
    t0: Instant,
    caller: SocketAddr,
    frames: Vec<Vec<i16>>,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(offer(SIPP_MEDIA))
    }

    fn with(negotiated: Negotiated) -> Harness {
        let t0 = Instant::now();
        let mut rng = StdRng::seed_from_u64(7);
        Harness {
            session: RtpSession::new(negotiated, SessionConfig::default(), t0, &mut rng),
            t0,
            caller: addr("198.51.100.7:40000"),
            frames: Vec::new(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn feed_from(&mut self, ms: u64, from: SocketAddr, data: &[u8]) -> Inbound {
        let now = self.at(ms);
        let frames = &mut self.frames;
        self.session
            .handle_packet(now, from, data, |f| frames.push(f.to_vec()))
    }

    fn feed(&mut self, ms: u64, data: &[u8]) -> Inbound {
        self.feed_from(ms, self.caller, data)
    }

    fn events(&mut self) -> Vec<SessionEvent> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    /// Polls every 20 ms tick in `[from_ms, to_ms)`; returns the packets sent.
    fn ticks(&mut self, from_ms: u64, to_ms: u64) -> Vec<(Vec<u8>, SocketAddr)> {
        let mut out = Vec::new();
        let mut buf = [0u8; MAX_PACKET_LEN];
        for ms in (from_ms..to_ms).step_by(20) {
            while let Some(t) = self.session.poll_transmit(self.at(ms), &mut buf) {
                out.push((buf[..t.len].to_vec(), t.to));
            }
        }
        out
    }
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 12 + payload.len()];
    let header = RtpHeader {
        marker,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc,
    };
    write_packet(&header, payload, &mut buf).unwrap();
    buf
}

fn event(digit: u8, end: bool, duration: u16) -> [u8; 4] {
    let mut out = [0; 4];
    TelephoneEvent {
        event: digit,
        end,
        volume: 10,
        duration,
    }
    .write(&mut out);
    out
}

fn parse(packet: &[u8]) -> (RtpHeader, Vec<u8>) {
    let p = RtpPacket::parse(packet).unwrap();
    (p.header, p.payload.to_vec())
}

#[test]
fn latches_to_the_first_valid_source_and_sends_there() {
    let mut h = Harness::new();
    let sdp_addr = addr("127.0.0.1:6000");
    // Before any packet, media goes to the SDP address.
    let first = h.ticks(0, 20);
    assert_eq!(first[0].1, sdp_addr);
    // An unknown payload type does not latch; garbage does not either.
    let stranger = addr("203.0.113.9:5000");
    assert_eq!(
        h.feed_from(10, stranger, &rtp(97, 1, 0, 5, false, &[0; 4])),
        Inbound::Ignored(IgnoreReason::UnknownPayloadType)
    );
    assert_eq!(
        h.feed_from(10, stranger, &[1, 2, 3]),
        Inbound::Ignored(IgnoreReason::Malformed)
    );
    assert_eq!(h.session.latched(), None);
    // The caller sends from a NAT address, not the SDP one: latch there.
    assert_eq!(
        h.feed(15, &rtp(0, 100, 0, 0xCA11_0000, true, &[0xFF; 160])),
        Inbound::Audio
    );
    assert_eq!(h.session.latched(), Some(h.caller));
    assert_eq!(h.events(), [SessionEvent::FirstPacket]);
    assert!(h.ticks(20, 100).iter().all(|(_, to)| *to == h.caller));
    // Others are ignored now, even with a valid audio packet.
    assert_eq!(
        h.feed_from(30, stranger, &rtp(0, 5, 0, 9, false, &[0xFF; 160])),
        Inbound::Ignored(IgnoreReason::WrongSource)
    );
    let stats = h.session.stats();
    assert_eq!(
        (
            stats.wrong_source,
            stats.unknown_payload_type,
            stats.malformed,
            stats.packets_in
        ),
        (1, 1, 1, 1)
    );
    // A re-INVITE with a new address drops the latch; the next packet latches again.
    let moved = offer(&SIPP_MEDIA.replace("c=IN IP4 127.0.0.1", "c=IN IP4 192.0.2.44"));
    h.session.set_remote(moved, h.at(100));
    assert_eq!(h.ticks(100, 120)[0].1, addr("192.0.2.44:6000"));
    assert_eq!(
        h.feed_from(130, stranger, &rtp(0, 6, 160, 9, false, &[0xFF; 160])),
        Inbound::Audio
    );
    assert_eq!(h.session.latched(), Some(stranger));
    assert_eq!(h.events(), []); // FirstPacket only once per session
}

#[test]
fn decodes_into_20_ms_frames_whatever_the_packet_size() {
    let mut h = Harness::new();
    let pcm: Vec<i16> = (0..480)
        .map(|i| ((i * 97) % 20000 - 10000) as i16)
        .collect();
    let mut ulaw = vec![0u8; 480];
    g711::encode_ulaw(&pcm, &mut ulaw);
    // Two 30 ms packets (g711a.pcap style ptime) → three 20 ms frames.
    h.feed(0, &rtp(0, 1, 0, 1, true, &ulaw[..240]));
    assert_eq!(h.frames.len(), 1);
    h.feed(30, &rtp(0, 2, 240, 1, false, &ulaw[240..]));
    assert_eq!(h.frames.len(), 3);
    let decoded: Vec<i16> = h.frames.concat();
    let expected: Vec<i16> = ulaw.iter().map(|&c| g711::ulaw_decode(c)).collect();
    assert_eq!(decoded, expected);
    // A duplicate is not played twice.
    assert_eq!(
        h.feed(40, &rtp(0, 2, 240, 1, false, &ulaw[240..])),
        Inbound::Ignored(IgnoreReason::Late)
    );
    assert_eq!(h.frames.len(), 3);
}

#[test]
fn pcma_is_decoded_and_encoded_as_a_law() {
    let mut negotiated = Negotiated::simple(Codec::Pcma, Some(addr("10.0.0.1:4000")));
    negotiated.dtmf_payload_type = None;
    let mut h = Harness::with(negotiated);
    h.feed(0, &rtp(8, 1, 0, 1, true, &[0xD5; 160]));
    assert_eq!(h.frames, [vec![g711::alaw_decode(0xD5); 160]]);
    let sent = h.ticks(0, 20);
    let (header, payload) = parse(&sent[0].0);
    assert_eq!(header.payload_type, 8);
    assert_eq!(payload, [g711::SILENCE_ALAW; 160]);
    assert!(!h.session.send_dtmf('1'), "no telephone-event negotiated");
}

#[test]
fn pacer_keeps_seq_and_ts_continuous_across_silence_prompt_silence() {
    static PROMPT: [i16; 400] = [1000; 400];
    let mut h = Harness::new();
    let mut packets = h.ticks(0, 100); // 5 silence
    h.session.play(&PROMPT[..]);
    packets.extend(h.ticks(100, 160)); // 3 prompt (160 + 160 + 80 padded)
    assert_eq!(h.events(), [SessionEvent::PlaybackDone]);
    assert!(!h.session.is_playing());
    packets.extend(h.ticks(160, 260)); // 5 silence
    assert_eq!(packets.len(), 13);

    let headers: Vec<_> = packets.iter().map(|(p, _)| parse(p)).collect();
    for pair in headers.windows(2) {
        assert_eq!(pair[1].0.sequence, pair[0].0.sequence.wrapping_add(1));
        assert_eq!(pair[1].0.timestamp, pair[0].0.timestamp.wrapping_add(160));
        assert_eq!(pair[1].0.ssrc, pair[0].0.ssrc);
    }
    let markers: Vec<bool> = headers.iter().map(|(h, _)| h.marker).collect();
    let mut expected = [false; 13];
    expected[0] = true; // first packet
    expected[5] = true; // first prompt packet after silence
    assert_eq!(markers, expected);
    let silence = [g711::SILENCE_ULAW; 160];
    assert!(headers[..5].iter().all(|(_, p)| p == &silence));
    assert!(headers[8..].iter().all(|(_, p)| p == &silence));
    let code = g711::ulaw_encode(1000);
    assert_eq!(headers[5].1, [code; 160]);
    assert_eq!(&headers[7].1[..80], &[code; 80]);
    assert_eq!(&headers[7].1[80..], &[g711::SILENCE_ULAW; 80]);
    assert!(headers.iter().all(|(h, _)| h.payload_type == 0));
}

#[test]
fn one_packet_per_tick_bursts_when_late_and_skips_after_a_stall() {
    let mut h = Harness::new();
    let mut buf = [0u8; MAX_PACKET_LEN];
    assert!(h.session.poll_transmit(h.at(0), &mut buf).is_some());
    assert!(h.session.poll_transmit(h.at(0), &mut buf).is_none());
    assert!(h.session.poll_transmit(h.at(19), &mut buf).is_none());
    assert_eq!(h.session.poll_timeout(), h.at(20));
    // 70 ms late: the three due ticks (20, 40, 60) go out back to back.
    assert_eq!(h.ticks(70, 71).len(), 3);
    let (last, _) = parse(&h.ticks(80, 81)[0].0);
    // A 2 s stall: one packet, timestamp jumped by the time missed, marker set.
    let after = h.ticks(2080, 2081);
    assert_eq!(after.len(), 1);
    let (header, _) = parse(&after[0].0);
    assert_eq!(header.sequence, last.sequence.wrapping_add(1));
    assert_eq!(header.timestamp, last.timestamp.wrapping_add(100 * 160));
    assert!(header.marker);
    assert_eq!(h.ticks(2100, 2101).len(), 1);
}

/// SIPp `play_dtmf`: its own SSRC, 20 PT 97 filler packets (seq step 2) first, PT 96 events
/// with 160-unit updates, three end packets with incrementing seq, 200 ms between digits;
/// meanwhile the audio stream continues on the call's SSRC.
#[test]
fn dtmf_like_sipp_play_dtmf() {
    let mut h = Harness::new();
    let mut ms = 0u64;
    let mut audio_seq = 1000u16;
    let mut send_audio = |h: &mut Harness, ms: u64| {
        h.feed(
            ms,
            &rtp(
                0,
                audio_seq,
                (ms * 8) as u32,
                0xCA11_0000,
                false,
                &[0xFF; 160],
            ),
        );
        audio_seq = audio_seq.wrapping_add(1);
    };
    send_audio(&mut h, ms);
    let ssrc = 0x0102_0304;
    let mut seq = 5000u16;
    for _ in 0..20 {
        assert_eq!(
            h.feed(ms, &rtp(97, seq, 0, ssrc, false, &[0; 4])),
            Inbound::Ignored(IgnoreReason::UnknownPayloadType)
        );
        seq = seq.wrapping_add(2);
        ms += 20;
        send_audio(&mut h, ms);
    }
    let mut ts = 80_000u32;
    for digit in [1u8, 2, 11] {
        for i in 1..=10u16 {
            h.feed(
                ms,
                &rtp(96, seq, ts, ssrc, i == 1, &event(digit, false, i * 160)),
            );
            seq = seq.wrapping_add(1);
            ms += 20;
            send_audio(&mut h, ms);
        }
        for _ in 0..3 {
            h.feed(
                ms,
                &rtp(96, seq, ts, ssrc, false, &event(digit, true, 1600)),
            );
            seq = seq.wrapping_add(1);
        }
        ts += 3200;
        ms += 200;
    }
    let digits: String = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            SessionEvent::Dtmf(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(digits, "12#");
    let stats = h.session.stats();
    assert_eq!(stats.dtmf_in, 3);
    assert_eq!(stats.unknown_payload_type, 20);
    // The filler and the DTMF SSRC's sequence space do not count as audio loss.
    assert_eq!(stats.lost, 0);
}

/// `dtmf_2833_1.pcap`: PT 101 (the offer's second telephone-event type), another SSRC, the
/// end packet three times with the same sequence number.
#[test]
fn dtmf_like_the_2833_pcap() {
    let mut h = Harness::new();
    assert_eq!(h.session.negotiated().dtmf_payload_type, Some(96));
    let ssrc = 0x0E05_384E;
    let ts = 0x1234_5678;
    let mut digits = Vec::new();
    for (i, seq) in (17000u16..17006).enumerate() {
        let d = h.feed(
            0,
            &rtp(
                101,
                seq,
                ts,
                ssrc,
                i == 0,
                &event(1, false, (i as u16 + 1) * 160),
            ),
        );
        digits.push(d);
    }
    for _ in 0..3 {
        digits.push(h.feed(0, &rtp(101, 17006, ts, ssrc, false, &event(1, true, 1120))));
    }
    assert_eq!(digits[0], Inbound::Dtmf(Some('1')));
    assert!(digits[1..].iter().all(|d| *d == Inbound::Dtmf(None)));
    assert_eq!(
        h.events(),
        [SessionEvent::FirstPacket, SessionEvent::Dtmf('1')]
    );
}

#[test]
fn loss_counting_with_sequence_wrap() {
    let mut h = Harness::new();
    let mut seq = 65_530u16;
    for i in 0..20u32 {
        // Lose every fifth packet, across the wrap at 65535 → 0.
        if i % 5 != 4 {
            h.feed(
                u64::from(i) * 20,
                &rtp(0, seq, i * 160, 1, false, &[0xFF; 160]),
            );
        }
        seq = seq.wrapping_add(1);
    }
    // The last packet (i = 19) was lost too, but nothing after it shows that yet.
    assert_eq!(h.session.stats().lost, 3);
    h.feed(400, &rtp(0, seq, 20 * 160, 1, false, &[0xFF; 160]));
    assert_eq!(h.session.stats().lost, 4);
    assert_eq!(h.session.stats().packets_in, 17);
    // A new SSRC (e.g. after a transfer) keeps the losses counted so far.
    h.feed(420, &rtp(0, 9, 0, 2, false, &[0xFF; 160]));
    h.feed(440, &rtp(0, 11, 320, 2, false, &[0xFF; 160]));
    assert_eq!(h.session.stats().lost, 5);
}

#[test]
fn hold_stops_sending_and_resume_continues_the_stream() {
    let mut h = Harness::new();
    let before = h.ticks(0, 100);
    let (last, _) = parse(&before.last().unwrap().0);
    // The caller puts us on hold (sendonly): nothing is sent, audio still drains.
    h.session
        .set_remote(with_direction("a=sendonly"), h.at(100));
    h.session.enqueue_pcm(&[500; 320]);
    h.session.mark(1);
    assert!(h.ticks(100, 200).is_empty());
    assert_eq!(h.events(), [SessionEvent::MarkPlayed(1)]);
    // Old-style hold with 0.0.0.0 and inactive: same.
    h.session
        .set_remote(with_direction("a=inactive"), h.at(200));
    assert!(h.ticks(200, 260).is_empty());
    h.session.set_remote(
        offer(&SIPP_MEDIA.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")),
        h.at(260),
    );
    assert!(h.ticks(260, 300).is_empty());
    // Resume: sequence continues, timestamp reflects the time on hold, marker set.
    h.session.set_remote(offer(SIPP_MEDIA), h.at(300));
    let after = h.ticks(300, 340);
    assert_eq!(after.len(), 2);
    let (first, _) = parse(&after[0].0);
    assert_eq!(first.sequence, last.sequence.wrapping_add(1));
    assert_eq!(first.timestamp, last.timestamp.wrapping_add(11 * 160));
    assert!(first.marker);
    assert!(!parse(&after[1].0).0.marker);
    assert_eq!(h.session.stats().packets_out, 7);
}

#[test]
fn media_timeouts() {
    // Nothing at all: 30 s.
    let mut h = Harness::new();
    h.session.handle_timeout(h.at(29_999));
    assert_eq!(h.events(), []);
    assert_eq!(h.session.poll_timeout(), h.at(0)); // the first tick is due
    h.session.handle_timeout(h.at(30_000));
    assert_eq!(h.events(), [SessionEvent::Timeout]);
    h.session.handle_timeout(h.at(40_000));
    assert_eq!(h.events(), [], "raised once");
    assert_eq!(h.session.stats().timeouts, 1);

    // After media started: 15 s after the last packet.
    let mut h = Harness::new();
    h.feed(1000, &rtp(0, 1, 0, 1, false, &[0xFF; 160]));
    h.feed(5000, &rtp(0, 2, 160, 1, false, &[0xFF; 160]));
    h.events();
    h.session.handle_timeout(h.at(19_999));
    assert_eq!(h.events(), []);
    h.session.handle_timeout(h.at(20_000));
    assert_eq!(h.events(), [SessionEvent::Timeout]);

    // On hold with inactive the caller sends nothing: no timeout; resume re-arms it.
    let mut h = Harness::with(with_direction("a=inactive"));
    h.session.handle_timeout(h.at(100_000));
    assert_eq!(h.events(), []);
    h.session.set_remote(offer(SIPP_MEDIA), h.at(100_000));
    h.session.handle_timeout(h.at(129_999));
    assert_eq!(h.events(), []);
    h.session.handle_timeout(h.at(130_000));
    assert_eq!(h.events(), [SessionEvent::Timeout]);
}

#[test]
fn queue_marks_clear_and_priority_over_prompts() {
    static PROMPT: [i16; 320] = [2000; 320];
    let mut h = Harness::new();
    h.session.play(&PROMPT[..]);
    h.session.enqueue_pcm(&[100; 400]);
    h.session.mark(7);
    h.session.enqueue_pcm(&[200; 160]);
    h.session.mark(8);
    let sent = h.ticks(0, 60);
    // Agent audio goes before the prompt.
    let code = |s| g711::ulaw_encode(s);
    assert_eq!(parse(&sent[0].0).1, [code(100); 160]);
    assert_eq!(h.events(), [SessionEvent::MarkPlayed(7)]);
    assert_eq!(&parse(&sent[2].0).1[..80], &[code(100); 80]);
    assert_eq!(&parse(&sent[2].0).1[80..], &[code(200); 80]);
    // Barge-in: clear drops the rest and reports the pending mark.
    h.session.clear();
    assert_eq!(h.session.queued_samples(), 0);
    assert_eq!(h.events(), [SessionEvent::MarkPlayed(8)]);
    // The prompt now plays, then silence.
    let sent = h.ticks(60, 120);
    assert_eq!(parse(&sent[0].0).1, [code(2000); 160]);
    assert_eq!(parse(&sent[1].0).1, [code(2000); 160]);
    assert_eq!(parse(&sent[2].0).1, [g711::SILENCE_ULAW; 160]);
    assert_eq!(h.events(), [SessionEvent::PlaybackDone]);
    // Overflow is counted.
    let cap = SessionConfig::default().queue_capacity;
    assert_eq!(h.session.enqueue_pcm(&vec![1; cap + 10]), cap);
    assert_eq!(h.session.stats().dropped_samples, 10);
}

#[test]
fn sends_rfc_4733_dtmf_that_a_receiver_decodes() {
    let mut h = Harness::new();
    h.session.enqueue_pcm(&[300; 160 * 40]);
    assert!(h.session.send_dtmf('5'));
    assert!(h.session.send_dtmf('#'));
    assert!(!h.session.send_dtmf('x'));
    let sent = h.ticks(0, 800);
    let headers: Vec<_> = sent.iter().map(|(p, _)| parse(p)).collect();
    for pair in headers.windows(2) {
        assert_eq!(pair[1].0.sequence, pair[0].0.sequence.wrapping_add(1));
    }
    // Digit '5': 9 updates + 3 ends = 12 packets on PT 96 with the event start timestamp.
    let start_ts = headers[0].0.timestamp;
    for (i, (header, payload)) in headers[..12].iter().enumerate() {
        assert_eq!(header.payload_type, 96);
        assert_eq!(header.timestamp, start_ts);
        assert_eq!(header.marker, i == 0);
        let ev = TelephoneEvent::parse(payload).unwrap();
        assert_eq!(ev.event, 5);
        assert_eq!(ev.end, i >= 9);
    }
    // Then audio for the gap (5 ticks), timestamps continuing on the 20 ms clock.
    for (i, (header, _)) in headers[12..17].iter().enumerate() {
        assert_eq!(header.payload_type, 0);
        assert_eq!(
            header.timestamp,
            start_ts.wrapping_add((12 + i as u32) * 160)
        );
    }
    assert!(headers[12].0.marker);
    assert_eq!(headers[17].0.payload_type, 96);
    assert_eq!(headers[17].0.timestamp, start_ts.wrapping_add(17 * 160));
    assert_eq!(h.session.stats().dtmf_out, 2);

    // Fed to another session, the stream yields exactly "5#".
    let mut far = Harness::new();
    for (packet, _) in &sent {
        far.feed(0, packet);
    }
    let digits: Vec<_> = far
        .events()
        .into_iter()
        .filter(|e| matches!(e, SessionEvent::Dtmf(_)))
        .collect();
    assert_eq!(digits, [SessionEvent::Dtmf('5'), SessionEvent::Dtmf('#')]);
    assert_eq!(far.session.stats().lost, 0);
}

#[test]
fn receiver_reports() {
    let mut h = Harness::new();
    let mut buf = [0u8; 64];
    assert!(h.session.poll_rtcp(h.at(1000), &mut buf).is_none());
    for (i, seq) in [1u16, 2, 4, 5].iter().enumerate() {
        h.feed(
            i as u64 * 20,
            &rtp(0, *seq, u32::from(*seq) * 160, 0xABCD, false, &[0xFF; 160]),
        );
    }
    // A sender report from the caller, via RTCP port.
    let mut sr = vec![0x80, 200, 0, 6, 0, 0, 0xAB, 0xCD];
    sr.extend_from_slice(&[0, 0, 0x11, 0x22, 0x33, 0x44, 0, 0]);
    sr.extend_from_slice(&[0; 12]);
    let rtcp_from = SocketAddr::new(h.caller.ip(), h.caller.port() + 1);
    h.session.handle_rtcp(h.at(4000), rtcp_from, &sr);
    let t = h.session.poll_rtcp(h.at(5000), &mut buf).unwrap();
    assert_eq!(t.to, rtcp_from);
    let (parts, n) = crate::rtcp::parse_compound(&buf[..t.len]).unwrap();
    assert_eq!(n, 2);
    assert_eq!(parts[0].unwrap().ssrc, h.session.ssrc());
    assert_eq!(&buf[8..12], &0xABCDu32.to_be_bytes());
    assert_eq!(&buf[13..16], &[0, 0, 1]); // one lost
    assert_eq!(&buf[24..28], &0x1122_3344u32.to_be_bytes()); // LSR
    assert_eq!(&buf[28..32], &65536u32.to_be_bytes()); // DLSR = 1 s
    assert!(h.session.poll_rtcp(h.at(9999), &mut buf).is_none());
    assert!(h.session.poll_rtcp(h.at(10_000), &mut buf).is_some());
    assert_eq!(h.session.stats().rtcp_out, 2);
    // RTCP multiplexed on the RTP port is recognised, not counted as malformed RTP.
    assert_eq!(h.feed(10_001, &sr), Inbound::Rtcp);
    assert_eq!(h.session.stats().malformed, 0);
}

#[test]
fn prompts_play_in_order_and_idle_is_reported() {
    static FIRST: [i16; 160] = [1000; 160];
    static SECOND: [i16; 200] = [-1000; 200];
    let mut h = Harness::new();
    assert!(h.session.is_idle());
    assert!(h.session.play(&FIRST[..]));
    assert!(h.session.play(&SECOND[..]));
    assert!(!h.session.is_idle());
    let sent = h.ticks(0, 60);
    assert_eq!(parse(&sent[0].0).1, [g711::ulaw_encode(1000); 160]);
    assert_eq!(parse(&sent[1].0).1, [g711::ulaw_encode(-1000); 160]);
    assert_eq!(&parse(&sent[2].0).1[..40], &[g711::ulaw_encode(-1000); 40]);
    assert_eq!(
        h.events(),
        [SessionEvent::PlaybackDone, SessionEvent::PlaybackDone]
    );
    assert!(h.session.is_idle());
    // The playlist is bounded; stop_playback drops it all.
    assert!(h.session.play(crate::tone::Tone::Beep));
    for _ in 0..MAX_PLAYLIST {
        assert!(h.session.play(crate::prompt::Prompt::Goodbye));
    }
    assert!(!h.session.play(crate::prompt::Prompt::Goodbye));
    h.session.stop_playback();
    assert!(h.session.is_idle());
    h.ticks(60, 200);
    assert_eq!(h.events(), []);
}

#[test]
fn another_callers_audio_is_mixed_on_top_of_the_agents_and_clear_leaves_it() {
    let mut h = Harness::new();
    h.ticks(0, 20); // latch nothing, first packet out
    h.session.enqueue_pcm(&[1000; 480]);
    // Another caller: two frames of cushion, then one per tick.
    h.session.push_live(9, &[-300; 160]);
    h.session.push_live(9, &[-300; 160]);
    let packets = h.ticks(20, 60);
    let decode = |p: &[u8]| g711::ulaw_decode(parse(p).1[0]);
    let mixed = decode(&packets[0].0);
    assert!((650..=750).contains(&mixed), "agent + caller: {mixed}");
    // Barge-in drops the agent's audio, not the other caller's.
    // (It ran dry: two frames of cushion again.)
    h.session.push_live(9, &[-300; 160]);
    h.session.push_live(9, &[-300; 160]);
    h.session.clear();
    let packets = h.ticks(60, 80);
    let only_caller = decode(&packets[0].0);
    assert!(
        (-320..=-280).contains(&only_caller),
        "caller alone: {only_caller}"
    );
    // The caller left: silence.
    h.session.remove_live(9);
    let packets = h.ticks(80, 100);
    assert_eq!(parse(&packets[0].0).1, [g711::SILENCE_ULAW; 160]);
}
