//! DTMF digits: RFC 4733 telephone-events carried in RTP, and SIP INFO bodies.
//!
//! - [`TelephoneEvent`] parses and writes the 4-byte RFC 4733 §2.3 payload.
//! - [`DtmfReceiver`] turns the stream of telephone-event payloads of one RTP stream into
//!   digits, each reported once.
//! - [`DtmfSender`] produces the packet train for sending one digit.
//! - [`parse_info_body`] reads a digit from a SIP INFO request (`application/dtmf-relay`
//!   or `application/dtmf`).
//!
//! Like the rest of the crate this is sans-I/O: the caller extracts the RTP timestamp and
//! payload (for the negotiated telephone-event payload type) and sends what it is given.

use std::fmt;

/// Length of an RFC 4733 telephone-event payload.
pub const PAYLOAD_LEN: usize = 4;

/// Volume [`DtmfSender`] puts in its packets: -10 dBm0, within the range RFC 4733 §2.5.2.1
/// (by reference to ITU-T Q.24) expects of a DTMF tone.
pub const DEFAULT_VOLUME: u8 = 10;

/// How many times the final (end-bit) packet of an event is sent (RFC 4733 §2.5.1.4).
pub const END_PACKET_REPEATS: u8 = 3;

/// An RFC 4733 telephone-event payload.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     event     |E|R| volume    |          duration             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// Event code: 0-15 are the DTMF digits (see [`event_to_digit`]).
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level in -dBm0, 0..=63 (only the low 6 bits are written).
    pub volume: u8,
    /// Duration of the event so far, in RTP timestamp units, counted from the packet's
    /// RTP timestamp (the event start).
    pub duration: u16,
}

/// Why a telephone-event payload was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfError {
    /// The payload is not exactly [`PAYLOAD_LEN`] bytes long.
    WrongLength(usize),
}

impl fmt::Display for DtmfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongLength(len) => write!(
                f,
                "telephone-event payload must be {PAYLOAD_LEN} bytes, got {len}"
            ),
        }
    }
}

impl std::error::Error for DtmfError {}

impl TelephoneEvent {
    /// Parses a payload of exactly 4 bytes. The reserved R bit is ignored. (A longer
    /// payload would be several events, which RFC 4733 only allows with RFC 2198
    /// redundancy, a different payload type; it is rejected.)
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, DtmfError> {
        let &[event, flags, hi, lo] = payload else {
            return Err(DtmfError::WrongLength(payload.len()));
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([hi, lo]),
        })
    }

    /// Writes the payload; the R bit is written as 0 and `volume` is masked to 6 bits.
    pub fn write(&self, out: &mut [u8; PAYLOAD_LEN]) {
        let [hi, lo] = self.duration.to_be_bytes();
        *out = [
            self.event,
            (if self.end { 0x80 } else { 0 }) | (self.volume & 0x3F),
            hi,
            lo,
        ];
    }
}

/// Maps a telephone-event code to its DTMF digit: 0-9 → `'0'`-`'9'`, 10 → `'*'`,
/// 11 → `'#'`, 12-15 → `'A'`-`'D'`. Other events (flash, tones) are not digits.
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// Maps a DTMF digit to its telephone-event code; the inverse of [`event_to_digit`].
/// `'a'`-`'d'` are accepted as `'A'`-`'D'`.
pub fn digit_to_event(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(digit as u8 - b'A' + 12),
        'a'..='d' => Some(digit as u8 - b'a' + 12),
        _ => None,
    }
}

/// A packet whose timestamp is at most this far (in RTP units, modulo 2^32) behind the
/// current event is a late or retransmitted packet of an event already seen and is
/// ignored. Anything further behind is taken as a timestamp jump (a new stream) and starts
/// a new event. 2^20 units is about 131 s at 8 kHz.
const LATE_WINDOW: u32 = 1 << 20;

/// An event segment whose duration reached this value is a candidate for RFC 4733
/// §2.5.1.3 long-event segmentation (a new segment continues it under a new timestamp).
/// No real key press lasts this long (7.7 s at 8 kHz), so it cannot merge two presses.
const LONG_EVENT_DURATION: u16 = 0xF000;

/// The event most recently reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CurrentEvent {
    timestamp: u32,
    event: u8,
    ended: bool,
    max_duration: u16,
}

/// Recognises DTMF digits in the telephone-event packets of one RTP stream.
///
/// Feed it the RTP timestamp and payload of every packet carrying the negotiated
/// telephone-event payload type, in arrival order. Every packet of one event carries the
/// event's start timestamp: the start packet, duration updates, and the end packet sent
/// three times. Events are therefore told apart by (RTP timestamp, event code), not by
/// sequence number, and each is reported exactly once. A new timestamp is a new key
/// press even when the digit is the same. Timestamps are compared modulo 2^32, so the
/// stream may wrap around.
///
/// Call [`reset`](Self::reset) when the stream restarts (new SSRC).
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    current: Option<CurrentEvent>,
}

impl DtmfReceiver {
    /// A receiver that has seen no event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the current event, e.g. when the RTP stream's SSRC changes.
    pub fn reset(&mut self) {
        self.current = None;
    }

    /// Processes one telephone-event packet; returns the digit if this packet starts a
    /// new DTMF event. Malformed payloads and non-DTMF events (codes above 15) yield
    /// `None`.
    ///
    /// The digit is reported on the first packet seen for the event rather than on its end
    /// packet: callers entering a PIN or navigating a menu would otherwise wait out the
    /// whole tone before the agent reacts, and some gateways never send an end packet (or
    /// all three are lost), in which case waiting for the end would drop the digit
    /// altogether.
    pub fn on_packet(&mut self, rtp_timestamp: u32, payload: &[u8]) -> Option<char> {
        let packet = TelephoneEvent::parse(payload).ok()?;
        let digit = event_to_digit(packet.event)?;

        if let Some(current) = &mut self.current {
            let ahead = rtp_timestamp.wrapping_sub(current.timestamp);
            if ahead == 0 && packet.event == current.event {
                // Duration update or end packet (or a duplicate) of the current event.
                current.ended |= packet.end;
                current.max_duration = current.max_duration.max(packet.duration);
                return None;
            }
            let behind = current.timestamp.wrapping_sub(rtp_timestamp);
            if ahead != 0 && behind <= LATE_WINDOW {
                // A late or retransmitted packet of an earlier event.
                return None;
            }
            if packet.event == current.event
                && !current.ended
                && current.max_duration >= LONG_EVENT_DURATION
                && ahead <= 0x1_0000
            {
                // RFC 4733 §2.5.1.3: a tone longer than the 16-bit duration field continues
                // in a new segment whose timestamp is the previous one plus its duration.
                *current = CurrentEvent {
                    timestamp: rtp_timestamp,
                    event: packet.event,
                    ended: packet.end,
                    max_duration: packet.duration,
                };
                return None;
            }
        }

        self.current = Some(CurrentEvent {
            timestamp: rtp_timestamp,
            event: packet.event,
            ended: packet.end,
            max_duration: packet.duration,
        });
        Some(digit)
    }
}

/// Reads the digit from a SIP INFO request body.
///
/// - `application/dtmf-relay`: lines of `Key=Value`; the `Signal` key (case-insensitive,
///   whitespace around keys and values ignored, `\r\n` or `\n` line ends) holds the digit:
///   `0`-`9`, `*`, `#`, `A`-`D`, or the event number (`10` for `*`, `11` for `#`, `12`-`15`
///   for `A`-`D`). Other keys such as `Duration` are ignored.
/// - `application/dtmf`: the body is the digit itself, in the same forms.
///
/// Content-type parameters (`; charset=...`) are ignored and the type is matched
/// case-insensitively. Anything else, or a malformed body, gives `None`.
pub fn parse_info_body(content_type: &str, body: &str) -> Option<char> {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/dtmf-relay") {
        let value = body.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            key.trim().eq_ignore_ascii_case("signal").then_some(value)
        })?;
        parse_signal(value)
    } else if media_type.eq_ignore_ascii_case("application/dtmf") {
        parse_signal(body)
    } else {
        None
    }
}

/// A digit given as itself or as its event number.
fn parse_signal(value: &str) -> Option<char> {
    let value = value.trim();
    if !value.is_empty() && value.len() <= 2 && value.bytes().all(|b| b.is_ascii_digit()) {
        return event_to_digit(value.parse().ok()?);
    }
    let mut chars = value.chars();
    let digit = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    digit_to_event(digit).and_then(event_to_digit)
}

/// Produces the telephone-event packets for one digit (RFC 4733 §2.5.1).
///
/// Yields `(payload, marker)` pairs, one per packetization interval: every packet carries
/// the same RTP timestamp ([`timestamp`](Self::timestamp), the event start) and a growing
/// duration; the last duration is the total, sent with the end bit
/// [`END_PACKET_REPEATS`] times. Only the first packet has the RTP marker bit. The caller
/// supplies the RTP header (sequence numbers increase for every packet, retransmitted end
/// packets included) and the pacing.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    event: u8,
    timestamp: u32,
    packet_duration: u16,
    total_duration: u16,
    /// Duration of the next packet, when the next packet is not an end packet.
    next_duration: u16,
    started: bool,
    end_packets_left: u8,
}

impl DtmfSender {
    /// A sender for `digit` starting at `start_timestamp`, one packet every
    /// `packet_duration` timestamp units (160 for 20 ms at 8 kHz), lasting
    /// `total_duration` units (800 for 100 ms at 8 kHz).
    ///
    /// Returns `None` if `digit` is not a DTMF digit or either duration is zero.
    pub fn new(
        digit: char,
        start_timestamp: u32,
        packet_duration: u16,
        total_duration: u16,
    ) -> Option<Self> {
        let event = digit_to_event(digit)?;
        if packet_duration == 0 || total_duration == 0 {
            return None;
        }
        Some(Self {
            event,
            timestamp: start_timestamp,
            packet_duration,
            total_duration,
            next_duration: packet_duration,
            started: false,
            end_packets_left: END_PACKET_REPEATS,
        })
    }

    /// The RTP timestamp of every packet of this event.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }
}

impl Iterator for DtmfSender {
    type Item = ([u8; PAYLOAD_LEN], bool);

    fn next(&mut self) -> Option<Self::Item> {
        let marker = !self.started;
        self.started = true;
        let (duration, end) = if self.next_duration < self.total_duration {
            let duration = self.next_duration;
            self.next_duration = duration.saturating_add(self.packet_duration);
            (duration, false)
        } else if self.end_packets_left > 0 {
            self.end_packets_left -= 1;
            (self.total_duration, true)
        } else {
            return None;
        };
        let mut payload = [0; PAYLOAD_LEN];
        TelephoneEvent {
            event: self.event,
            end,
            volume: DEFAULT_VOLUME,
            duration,
        }
        .write(&mut payload);
        Some((payload, marker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let mut out = [0; 4];
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
        .write(&mut out);
        out
    }

    /// Feeds packets, collecting the digits reported.
    fn feed(receiver: &mut DtmfReceiver, packets: &[(u32, [u8; 4])]) -> String {
        packets
            .iter()
            .filter_map(|(ts, p)| receiver.on_packet(*ts, p))
            .collect()
    }

    /// A realistic train for one key press: start (the marker packet), updates every
    /// 160 units, then the end packet three times.
    fn press(ts: u32, event: u8) -> Vec<(u32, [u8; 4])> {
        let mut train: Vec<_> = (1..=4)
            .map(|i| (ts, payload(event, false, i * 160)))
            .collect();
        train.extend([(ts, payload(event, true, 800)); 3]);
        train
    }

    #[test]
    fn parse_and_write_round_trip() {
        let cases: &[([u8; 4], TelephoneEvent)] = &[
            (
                [0x05, 0x0A, 0x00, 0xA0],
                TelephoneEvent {
                    event: 5,
                    end: false,
                    volume: 10,
                    duration: 160,
                },
            ),
            (
                [0x0B, 0x8A, 0x03, 0x20],
                TelephoneEvent {
                    event: 11,
                    end: true,
                    volume: 10,
                    duration: 800,
                },
            ),
            (
                [0x0F, 0xBF, 0xFF, 0xFF],
                TelephoneEvent {
                    event: 15,
                    end: true,
                    volume: 63,
                    duration: 0xFFFF,
                },
            ),
            (
                [0x00, 0x00, 0x00, 0x00],
                TelephoneEvent {
                    event: 0,
                    end: false,
                    volume: 0,
                    duration: 0,
                },
            ),
            (
                [0x10, 0x07, 0x01, 0x00],
                TelephoneEvent {
                    event: 16,
                    end: false,
                    volume: 7,
                    duration: 256,
                },
            ),
        ];
        for (bytes, event) in cases {
            assert_eq!(TelephoneEvent::parse(bytes), Ok(*event), "{bytes:02x?}");
            let mut out = [0xEE; 4];
            event.write(&mut out);
            assert_eq!(&out, bytes);
        }
    }

    #[test]
    fn parse_ignores_reserved_bit_and_write_clears_it() {
        let parsed = TelephoneEvent::parse(&[0x01, 0xCA, 0x00, 0x50]).unwrap();
        assert_eq!(
            parsed,
            TelephoneEvent {
                event: 1,
                end: true,
                volume: 10,
                duration: 80
            }
        );
        let mut out = [0; 4];
        parsed.write(&mut out);
        assert_eq!(out, [0x01, 0x8A, 0x00, 0x50]);
        // Out-of-range volume is masked rather than spilling into the flag bits.
        TelephoneEvent {
            event: 1,
            end: false,
            volume: 0xFF,
            duration: 0,
        }
        .write(&mut out);
        assert_eq!(out[1], 0x3F);
    }

    #[test]
    fn parse_rejects_wrong_lengths_with_a_message() {
        for len in [0, 1, 2, 3, 5, 8] {
            let bytes = [1u8; 8];
            let err = TelephoneEvent::parse(&bytes[..len]).unwrap_err();
            assert_eq!(err, DtmfError::WrongLength(len));
            assert!(err.to_string().contains(&format!("got {len}")));
        }
    }

    #[test]
    fn digit_event_mapping() {
        let digits = "0123456789*#ABCD";
        for (event, digit) in digits.chars().enumerate() {
            assert_eq!(event_to_digit(event as u8), Some(digit));
            assert_eq!(digit_to_event(digit), Some(event as u8));
        }
        assert_eq!(digit_to_event('a'), Some(12));
        assert_eq!(digit_to_event('d'), Some(15));
        for event in 16..=255 {
            assert_eq!(event_to_digit(event), None);
        }
        for digit in ['E', 'e', ' ', 'x', '+', '٣', '\0'] {
            assert_eq!(digit_to_event(digit), None, "{digit:?}");
        }
    }

    #[test]
    fn receiver_reports_each_press_once() {
        let mut receiver = DtmfReceiver::new();
        let mut train = press(1000, 1); // '1'
        train.extend(press(3000, 11)); // '#'
        train.extend(press(5000, 11)); // '#' again: a new press, new timestamp
        train.push((3000, payload(11, true, 800))); // retransmitted end of the first '#'
        train.push((1000, payload(1, false, 160))); // very late start of '1'
        train.extend(press(7000, 0)); // '0'
        assert_eq!(feed(&mut receiver, &train), "1##0");
    }

    #[test]
    fn receiver_reports_at_the_first_packet() {
        let mut receiver = DtmfReceiver::new();
        assert_eq!(receiver.on_packet(42, &payload(5, false, 160)), Some('5'));
        assert_eq!(receiver.on_packet(42, &payload(5, false, 320)), None);
        assert_eq!(receiver.on_packet(42, &payload(5, true, 480)), None);
    }

    #[test]
    fn receiver_survives_lost_start_and_missing_end() {
        let mut receiver = DtmfReceiver::new();
        // Start lost: the first packet seen is an update.
        assert_eq!(receiver.on_packet(100, &payload(2, false, 480)), Some('2'));
        // No end packet at all, then the same digit pressed again.
        assert_eq!(receiver.on_packet(2000, &payload(2, false, 160)), Some('2'));
        // Only end packets of the next press arrive.
        assert_eq!(receiver.on_packet(4000, &payload(3, true, 800)), Some('3'));
        assert_eq!(receiver.on_packet(4000, &payload(3, true, 800)), None);
    }

    #[test]
    fn receiver_handles_timestamp_wrap_around() {
        let mut receiver = DtmfReceiver::new();
        let before = u32::MAX - 100;
        let mut train = press(before, 4);
        train.extend(press(before.wrapping_add(2000), 4)); // wraps past 0
        train.push((before, payload(4, true, 800))); // late packet from before the wrap
        train.extend(press(before.wrapping_add(4000), 7));
        assert_eq!(feed(&mut receiver, &train), "447");
    }

    #[test]
    fn receiver_treats_a_large_jump_back_as_a_new_stream() {
        let mut receiver = DtmfReceiver::new();
        assert_eq!(feed(&mut receiver, &press(3_000_000_000, 9)), "9");
        assert_eq!(feed(&mut receiver, &press(12_345, 9)), "9");
        receiver.reset();
        assert_eq!(feed(&mut receiver, &press(12_345, 9)), "9");
    }

    #[test]
    fn receiver_joins_long_event_segments() {
        let mut receiver = DtmfReceiver::new();
        let start = 10_000u32;
        assert_eq!(
            receiver.on_packet(start, &payload(8, false, 160)),
            Some('8')
        );
        assert_eq!(receiver.on_packet(start, &payload(8, false, 0xFFFF)), None);
        // RFC 4733 §2.5.1.3: the tone continues in a segment starting at start + 0xFFFF.
        let next = start + 0xFFFF;
        assert_eq!(receiver.on_packet(next, &payload(8, false, 160)), None);
        assert_eq!(receiver.on_packet(next, &payload(8, true, 800)), None);
        // A genuinely new press afterwards is reported.
        assert_eq!(
            receiver.on_packet(next + 2000, &payload(8, false, 160)),
            Some('8')
        );
    }

    #[test]
    fn receiver_ignores_garbage_and_non_digit_events() {
        let mut receiver = DtmfReceiver::new();
        for len in [0usize, 1, 2, 3, 5, 12] {
            assert_eq!(receiver.on_packet(len as u32, &[0u8; 12][..len]), None);
        }
        assert_eq!(receiver.on_packet(50, &payload(16, false, 160)), None); // flash
        assert_eq!(receiver.on_packet(60, &payload(255, true, 0)), None);

        // Pseudo-random payloads (xorshift): never panic; anything reported is a digit.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let r = next();
            let bytes = r.to_le_bytes();
            let len = (r >> 60) as usize % 7;
            if let Some(digit) = receiver.on_packet((next() >> 32) as u32, &bytes[..len]) {
                assert_eq!(len, 4);
                assert!(digit_to_event(digit).is_some());
            }
        }
        // Still works afterwards.
        receiver.reset();
        assert_eq!(feed(&mut receiver, &press(1, 10)), "*");
    }

    #[test]
    fn sender_produces_the_rfc_4733_train() {
        let sender = DtmfSender::new('5', 0xDEAD_BEEF, 160, 800).unwrap();
        assert_eq!(sender.timestamp(), 0xDEAD_BEEF);
        let packets: Vec<_> = sender.collect();
        let expected: Vec<([u8; 4], bool)> = vec![
            (payload(5, false, 160), true),
            (payload(5, false, 320), false),
            (payload(5, false, 480), false),
            (payload(5, false, 640), false),
            (payload(5, true, 800), false),
            (payload(5, true, 800), false),
            (payload(5, true, 800), false),
        ];
        assert_eq!(packets, expected);
    }

    #[test]
    fn sender_edge_durations() {
        // Total not a multiple of the packetization: the end carries the exact total.
        let durations: Vec<_> = DtmfSender::new('#', 0, 160, 500)
            .unwrap()
            .map(|(p, m)| (TelephoneEvent::parse(&p).unwrap(), m))
            .map(|(e, m)| (e.duration, e.end, m))
            .collect();
        assert_eq!(
            durations,
            [
                (160, false, true),
                (320, false, false),
                (480, false, false),
                (500, true, false),
                (500, true, false),
                (500, true, false)
            ]
        );
        // Shorter than one packet: only the end packets, the first with the marker.
        let short: Vec<_> = DtmfSender::new('D', 0, 160, 80).unwrap().collect();
        assert_eq!(
            short,
            [
                (payload(15, true, 80), true),
                (payload(15, true, 80), false),
                (payload(15, true, 80), false)
            ]
        );
        // Near the top of the duration field: no overflow.
        let last = DtmfSender::new('0', 0, 0x8000, 0xFFFF)
            .unwrap()
            .last()
            .unwrap();
        assert_eq!(last, (payload(0, true, 0xFFFF), false));
        assert!(DtmfSender::new('x', 0, 160, 800).is_none());
        assert!(DtmfSender::new('1', 0, 0, 800).is_none());
        assert!(DtmfSender::new('1', 0, 160, 0).is_none());
    }

    #[test]
    fn sender_output_fed_to_receiver_yields_each_digit_once() {
        let mut receiver = DtmfReceiver::new();
        let mut digits = String::new();
        let mut timestamp = u32::MAX - 1500; // crosses the wrap-around
        for digit in "1234567890*#ABCD99".chars() {
            let sender = DtmfSender::new(digit, timestamp, 160, 800).unwrap();
            let ts = sender.timestamp();
            digits.extend(sender.filter_map(|(p, _)| receiver.on_packet(ts, &p)));
            timestamp = timestamp.wrapping_add(1600);
        }
        assert_eq!(digits, "1234567890*#ABCD99");
    }

    #[test]
    fn info_bodies() {
        let relay = "application/dtmf-relay";
        let cases: &[(&str, &str, Option<char>)] = &[
            (relay, "Signal=5\r\nDuration=160\r\n", Some('5')),
            (relay, "Signal=5\nDuration=160", Some('5')),
            (relay, "signal = 7 \r\nduration = 250", Some('7')),
            (relay, "SIGNAL=#\r\n", Some('#')),
            (relay, "Signal=*", Some('*')),
            (relay, "Signal=10\r\nDuration=100", Some('*')),
            (relay, "Signal=11", Some('#')),
            (relay, "Signal=12", Some('A')),
            (relay, "Signal=15", Some('D')),
            (relay, "Signal=d", Some('D')),
            (relay, "Duration=160\r\nSignal=0\r\n", Some('0')),
            (relay, "  Signal\t=\t9  ", Some('9')),
            (
                "Application/DTMF-Relay; charset=utf-8",
                "Signal=3",
                Some('3'),
            ),
            ("application/dtmf", "4", Some('4')),
            ("application/dtmf", " #\r\n", Some('#')),
            ("application/dtmf", "11", Some('#')),
            ("application/dtmf", "B", Some('B')),
            // Malformed or unsupported.
            (relay, "", None),
            (relay, "Duration=160", None),
            (relay, "Signal=", None),
            (relay, "Signal=16", None),
            (relay, "Signal=99", None),
            (relay, "Signal=123", None),
            (relay, "Signal=+5", None),
            (relay, "Signal=-1", None),
            (relay, "Signal=E", None),
            (relay, "Signal=55", None),
            (relay, "Signal=5 5", None),
            (relay, "Signal 5", None),
            (relay, "Signals=5", None),
            (relay, "Signal=é", None),
            (relay, "=\r\n==\r\n", None),
            ("application/dtmf", "", None),
            ("application/dtmf", "12 34", None),
            ("application/dtmf", "Signal=5", None),
            ("text/plain", "Signal=5", None),
            ("application/sdp", "5", None),
            ("", "5", None),
        ];
        for (content_type, body, expected) in cases {
            assert_eq!(
                parse_info_body(content_type, body),
                *expected,
                "{content_type:?} {body:?}"
            );
        }
    }

    #[test]
    fn info_bodies_never_panic_on_odd_input() {
        let odd = [
            "\u{0}",
            "Signal=\u{FFFF}",
            "Signal=٣",
            "Signal==5",
            "\r\r\r",
            "Signal=5=5",
        ];
        for body in odd {
            for content_type in ["application/dtmf-relay", "application/dtmf"] {
                let _ = parse_info_body(content_type, body);
            }
        }
        assert_eq!(parse_info_body("application/dtmf-relay", "Signal==5"), None);
    }
}
